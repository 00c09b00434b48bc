"""Statistical profiling: the chance of integration within 12 months from baseline data, and its fairness.

Column roles (any DataFrame): numeric and bool columns are scaled, object or
categorical columns one-hot coded (unknown levels ignored at prediction). The
target is 0/1. Segments follow an AMS-like rule (DOMAIN.md 5.1): **high** if
the predicted chance exceeds ``thresholds[1]`` (default 0.66), **low** if it is
below ``thresholds[0]`` (default 0.25), **middle** otherwise. The AMS applied
these cut-offs to two different targets; here both apply to the one target,
integration within 12 months, and are parameters to set per jobcenter.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.calibration import CalibratedClassifierCV, calibration_curve
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import brier_score_loss, log_loss, roc_auc_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

__all__ = ["StatisticalProfiler", "SEGMENTS", "fairness_audit", "fairness_plot", "tradeoff_curve",
           "tradeoff_statement", "profiling_frame", "PROFILING_FEATURES", "AUDIT_GROUPS"]

SEGMENTS = {"high": "hohe Chance", "middle": "mittlere Chance", "low": "geringe Chance"}
#: Baseline features of :func:`profiling_frame` (known at the first assessment, before any measure).
PROFILING_FEATURES = ["age", "female", "citizenship", "german_level", "school", "vocational", "single_parent",
                      "children_under_3", "health_restriction", "disability", "receipt_months",
                      "unemployment_months", "strengths", "horizon_12m", "need_qualification", "need_health",
                      "need_motivation", "need_framework", "need_childcare", "need_care_duties", "need_housing",
                      "need_debt", "need_addiction", "need_mobility", "need_language", "need_psychosocial"]
AUDIT_GROUPS = ["sex", "citizenship", "age_group", "disability"]


class StatisticalProfiler(ClassifierMixin, BaseEstimator):
    """Predicts integration within 12 months; a scikit-learn classifier.

    Parameters
    ----------
    model : {"logit", "gbm"}
        Interpretable logistic regression (``coefficients_``) or histogram gradient boosting.
    calibrate : bool
        Wrap the model in probability calibration (sigmoid for the logit, isotonic for boosting; 3 folds).
    thresholds : (low, high)
        Segment cut-offs on the predicted probability.
    random_state : int

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame({"age": rng.integers(18, 64, 2000), "school": rng.choice(["none", "lower"], 2000)})
    >>> y = (rng.random(2000) < 1 / (1 + np.exp(0.05 * (X["age"] - 40)))).astype(int)
    >>> p = StatisticalProfiler(random_state=0).fit(X, y)
    >>> p.predict_proba(X).shape, sorted(set(p.segment(X)) <= {"high", "middle", "low"} for _ in [0])
    ((2000, 2), [True])
    """

    def __init__(self, model: str = "logit", calibrate: bool = True, thresholds: tuple = (0.25, 0.66),
                 random_state: int = 0):
        self.model = model
        self.calibrate = calibrate
        self.thresholds = thresholds
        self.random_state = random_state

    def _pipeline(self, X: pd.DataFrame) -> Pipeline:
        cats = [c for c in X.columns if not (pd.api.types.is_numeric_dtype(X[c]) or pd.api.types.is_bool_dtype(X[c]))]
        nums = [c for c in X.columns if c not in cats]
        prep = ColumnTransformer([("num", StandardScaler(), nums),
                                  ("cat", OneHotEncoder(handle_unknown="ignore", drop="first"), cats)],
                                 sparse_threshold=0.0)
        if self.model == "logit":
            est = LogisticRegression(C=1.0, max_iter=2000)
        elif self.model == "gbm":
            est = HistGradientBoostingClassifier(max_iter=200, learning_rate=0.08, random_state=self.random_state)
        else:
            raise ValueError(f"model must be 'logit' or 'gbm', got {self.model!r}")
        return Pipeline([("prep", prep), ("model", est)])

    def fit(self, X, y):
        X = pd.DataFrame(X)
        y = np.asarray(y).astype(int)
        if set(np.unique(y)) - {0, 1}:
            raise ValueError("the target must be 0/1 (integration within 12 months)")
        if X.isna().any().any():
            bad = X.columns[X.isna().any()].tolist()
            raise ValueError(f"missing values in {bad}; impute or drop them first")
        low, high = self.thresholds
        if not 0 <= low < high <= 1:
            raise ValueError(f"thresholds must satisfy 0 <= low < high <= 1, got {self.thresholds}")
        self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        pipe = self._pipeline(X)
        self.base_ = clone(pipe).fit(X, y)
        if self.calibrate:
            method = "sigmoid" if self.model == "logit" else "isotonic"
            self.estimator_ = CalibratedClassifierCV(pipe, method=method, cv=3).fit(X, y)
        else:
            self.estimator_ = self.base_
        self.classes_ = np.array([0, 1])
        if self.model == "logit":
            names = self.base_.named_steps["prep"].get_feature_names_out()
            coefs = self.base_.named_steps["model"].coef_[0]
            self.coefficients_ = (pd.DataFrame({"feature": [n.split("__", 1)[1] for n in names], "coefficient": coefs,
                                                "odds_ratio": np.exp(coefs)})
                                  .sort_values("coefficient", key=np.abs, ascending=False).reset_index(drop=True))
        return self

    def predict_proba(self, X) -> np.ndarray:
        return self.estimator_.predict_proba(pd.DataFrame(X)[list(self.feature_names_in_)])

    def predict(self, X) -> np.ndarray:
        return (self.predict_proba(X)[:, 1] >= 0.5).astype(int)

    def segment(self, X=None, proba=None) -> np.ndarray:
        """AMS-like segments "high" / "middle" / "low" (from ``X`` or from given probabilities)."""
        p = self.predict_proba(X)[:, 1] if proba is None else np.asarray(proba)
        low, high = self.thresholds
        return np.where(p > high, "high", np.where(p < low, "low", "middle"))

    def score(self, ds, cohort_start=None, cohort_end=None) -> pd.DataFrame:
        """Scores for every cohort person of a dataset: person_id, jc_id, probability, segment.

        Runs piece by piece (out-of-core or on a cluster, :mod:`casework.engine`) for large datasets; the
        scores are the same either way.
        """
        from casework import engine
        from casework.panel import COHORT_TABLES, cohort_window, data_end

        lo, hi = cohort_window(ds, cohort_start, cohort_end)
        parts = engine.map_partitions(ds, _score_piece, self, lo, hi, data_end(ds), desc="Profiling",
                                      tables=COHORT_TABLES)
        out = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
        return out.sort_values("person_id", kind="stable").reset_index(drop=True)

    def evaluate(self, X, y, bins: int = 10) -> dict:
        """Held-out evaluation: auc, brier, log_loss, base_rate, segment shares and a calibration table."""
        y = np.asarray(y).astype(int)
        p = self.predict_proba(X)[:, 1]
        frac, mean_pred = calibration_curve(y, p, n_bins=bins, strategy="quantile")
        seg = pd.Series(self.segment(proba=p)).value_counts(normalize=True)
        return {"auc": float(roc_auc_score(y, p)), "brier": float(brier_score_loss(y, p)),
                "log_loss": float(log_loss(y, p)), "base_rate": float(y.mean()),
                "segments": {k: float(seg.get(k, 0.0)) for k in SEGMENTS},
                "calibration": pd.DataFrame({"mean_predicted": mean_pred, "observed": frac})}


def _score_piece(ds, profiler: StatisticalProfiler, lo, hi, data_end) -> pd.DataFrame:
    from casework.panel import cohort_piece

    frame = profiling_frame(ds, cohort_piece(ds, lo, hi, data_end))
    proba = profiler.predict_proba(frame)[:, 1]
    return pd.DataFrame({"person_id": frame["person_id"].to_numpy(), "jc_id": frame["jc_id"].to_numpy(),
                         "probability": proba, "segment": profiler.segment(proba=proba)})


def profiling_frame(ds, cohort: pd.DataFrame | None = None) -> pd.DataFrame:
    """Baseline features, target and audit groups for profiling, one row per cohort person.

    Columns: person_id, jc_id, the :data:`PROFILING_FEATURES`, ``integration_12m`` (target) and the audit
    groups sex, citizenship, age_group, disability (German labels).
    """
    from casework import schema as S
    from casework.cells import age_band
    from casework.panel import analysis_cohort

    c = analysis_cohort(ds) if cohort is None else cohort
    out = c[["person_id", "jc_id", *[f for f in PROFILING_FEATURES if f in c], "integration_12m"]].copy()
    out["sex"] = np.where(c["female"] == 1, "weiblich", "männlich")
    out["citizenship_group"] = c["citizenship"].map(S.CITIZENSHIP).to_numpy()
    out["age_group"] = age_band(c["age"].to_numpy()).astype(str)
    out["disability_group"] = np.select([c["disability"].isna(), c["disability"] == 1],
                                        ["nicht erfasst", "schwerbehindert"], "nicht schwerbehindert")
    unobserved = [f for f in PROFILING_FEATURES if f in out and out[f].isna().any()]
    if unobserved:  # optional fields an export did not provide: never filled in, left out and said so
        import warnings

        warnings.warn(f"profiling features not provided by the data, left out: {', '.join(unobserved)}; the "
                      f"fairness audit shows persons without a disability record as 'nicht erfasst'", stacklevel=2)
        out = out.drop(columns=unobserved)
    return out


def fairness_audit(y_true, proba, segments, groups: pd.DataFrame) -> pd.DataFrame:
    """Per group of every audit attribute: sizes, segment shares, calibration, false "low chance" rates.

    Parameters
    ----------
    y_true : array of 0/1
    proba : predicted probabilities
    segments : array of "high"/"middle"/"low"
    groups : DataFrame
        One column per attribute (e.g. sex, citizenship, age group, disability).

    Returns
    -------
    DataFrame
        attribute, group, n, share_low, share_high, mean_predicted, observed_rate,
        calibration_gap (predicted - observed), false_low_rate (share labelled "low"
        among those who integrated), false_low_ratio (against the attribute's
        lowest false-low rate), auc.

    Examples
    --------
    >>> y = np.array([1, 1, 1, 1, 0, 0]); p = np.array([.2, .2, .6, .6, .2, .5])
    >>> seg = np.where(p < .25, "low", "middle")
    >>> a = fairness_audit(y, p, seg, pd.DataFrame({"g": ["a", "a", "b", "b", "a", "b"]}))
    >>> a.set_index("group")["false_low_rate"].to_dict()
    {'a': 1.0, 'b': 0.0}
    """
    y, p, seg = np.asarray(y_true).astype(int), np.asarray(proba, dtype=float), np.asarray(segments)
    rows = []
    for attr in groups.columns:
        g = groups[attr].astype(str).to_numpy()
        for level in sorted(pd.unique(g)):
            m = g == level
            pos = m & (y == 1)
            auc = roc_auc_score(y[m], p[m]) if len(np.unique(y[m])) == 2 else np.nan
            rows.append({"attribute": attr, "group": level, "n": int(m.sum()),
                         "share_low": float((seg[m] == "low").mean()), "share_high": float((seg[m] == "high").mean()),
                         "mean_predicted": float(p[m].mean()), "observed_rate": float(y[m].mean()),
                         "calibration_gap": float(p[m].mean() - y[m].mean()),
                         "false_low_rate": float((seg[pos] == "low").mean()) if pos.any() else np.nan,
                         "auc": float(auc)})
    out = pd.DataFrame(rows)
    floor = out.groupby("attribute")["false_low_rate"].transform("min")
    out["false_low_ratio"] = out["false_low_rate"] / floor.replace(0, np.nan)
    return out


def fairness_plot(audit: pd.DataFrame, ax=None):
    """False "low chance" rate among people who did integrate, by group (matplotlib)."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(7, 0.32 * len(audit) + 1))
    labels = [f"{a}: {g}" for a, g in zip(audit["attribute"], audit["group"])]
    ax.barh(labels, audit["false_low_rate"] * 100, color="#0072B2")
    ax.invert_yaxis()
    ax.set_xlabel('Anteil „geringe Chance" unter Personen, die eine Arbeit fanden (%)')
    return ax


def tradeoff_curve(y_true, proba, group, thresholds=None) -> pd.DataFrame:
    """Accuracy against equity as the low cut-off moves (Desiere & Struyven 2021).

    For each cut-off: accuracy of the "low" label for non-integration, the
    false-low rate of each group and their ratio (max / min).
    Columns: threshold, accuracy, false_low_max, false_low_min, ratio.
    """
    y, p, g = np.asarray(y_true).astype(int), np.asarray(proba, dtype=float), np.asarray(group).astype(str)
    rows = []
    for t in (thresholds if thresholds is not None else np.linspace(0.05, 0.5, 19)):
        low = p < t
        acc = float(((low & (y == 0)) | (~low & (y == 1))).mean())
        rates = [float(low[(g == lv) & (y == 1)].mean()) for lv in np.unique(g) if ((g == lv) & (y == 1)).any()]
        hi, lo = max(rates), min(rates)
        rows.append({"threshold": float(t), "accuracy": acc, "false_low_max": hi, "false_low_min": lo,
                     "ratio": hi / lo if lo > 0 else np.nan})
    return pd.DataFrame(rows)


def tradeoff_statement(audit: pd.DataFrame, attribute: str) -> str:
    """One plain sentence (German) on the fairness trade-off for ``attribute``."""
    a = audit[audit["attribute"] == attribute].dropna(subset=["false_low_rate"])
    if len(a) < 2:
        return f"Für „{attribute}“ gibt es zu wenige Gruppen für einen Vergleich."
    worst, best = a.loc[a["false_low_rate"].idxmax()], a.loc[a["false_low_rate"].idxmin()]
    ratio = worst["false_low_rate"] / best["false_low_rate"] if best["false_low_rate"] > 0 else float("inf")
    from casework import fmt

    return (f"Von den Personen, die tatsächlich eine Arbeit fanden, stufte das Modell in der Gruppe „{worst['group']}“ "
            f"{fmt.percent(worst['false_low_rate'])} als „geringe Chance“ ein, in der Gruppe „{best['group']}“ "
            f"{fmt.percent(best['false_low_rate'])} (das {fmt.number(ratio, 1)}-Fache). Eine niedrigere Schwelle "
            "für „geringe Chance“ verringert diesen Unterschied, kostet aber Treffsicherheit; wer das Modell nutzt, "
            "muss diese Abwägung bewusst treffen – die Fachkraft entscheidet im Einzelfall.")
