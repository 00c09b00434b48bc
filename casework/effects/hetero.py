"""Heterogeneity: effects by segment (with multiple-comparison adjustment) and a DR-learner for the CATE.

A word on multiple comparisons: with six Profillagen and ten measure kinds,
sixty subgroup effects are estimated; at the 5 % level three of them would
look "significant" by chance alone. :func:`effects_by` therefore reports
Holm-adjusted p-values (family-wise error) and Benjamini-Hochberg q-values
(false discovery rate) beside the raw ones; boards see subgroup effects only
with that caveat.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, RegressorMixin, clone
from sklearn.linear_model import LinearRegression
from statsmodels.stats.multitest import multipletests

from casework.effects._design import Logit, design_matrix
from casework.effects._fits import NUMERIC_FLOOR, RIDGE_CROSS_FIT, fit_outcome
from casework.effects._guards import overlap_rule
from casework.effects.core import estimate

__all__ = ["effects_by", "DRLearner"]


def effects_by(df: pd.DataFrame, by: str, treatment: str, outcome: str, covariates, *, min_treated: int = 30,
               **kwargs) -> pd.DataFrame:
    """:func:`~casework.effects.estimate` within each level of ``by``, with adjusted p-values.

    Returns
    -------
    DataFrame
        Columns: group (the ``by`` column's name), level, estimate, se, ci_low,
        ci_high, p_value, p_holm, q_bh, n_treated, n_control, note.
    """
    rows = []
    covs = [c for c in covariates if c != by]
    for level, sub in df.groupby(by, observed=True, sort=True):
        n1 = int(sub[treatment].sum())
        base = {"group": by, "level": level, "n_treated": n1, "n_control": int(len(sub) - n1)}
        if n1 < min_treated or len(sub) - n1 < min_treated:
            rows.append({**base, "note": f"fewer than {min_treated} treated or untreated"})
            continue
        try:
            r = estimate(sub, treatment, outcome, covs, min_treated=min(10, min_treated), **kwargs)
        except ValueError as err:
            rows.append({**base, "note": str(err)})
            continue
        rows.append({**base, "estimate": r.estimate, "se": r.se, "ci_low": r.ci_low, "ci_high": r.ci_high,
                     "p_value": r.p_value, "n_treated": r.n_treated, "n_control": r.n_control, "note": ""})
    cols = ["group", "level", "estimate", "se", "ci_low", "ci_high", "p_value", "p_holm", "q_bh", "n_treated",
            "n_control", "note"]
    out = pd.DataFrame(rows).reindex(columns=cols)
    ok = out["p_value"].notna()
    if ok.any():
        out.loc[ok, "p_holm"] = multipletests(out.loc[ok, "p_value"], method="holm")[1]
        out.loc[ok, "q_bh"] = multipletests(out.loc[ok, "p_value"], method="fdr_bh")[1]
    return out


class DRLearner(RegressorMixin, BaseEstimator):
    """Doubly robust learner of the conditional average treatment effect (Kennedy 2023).

    Cross-fitted AIPW pseudo-outcomes ``mu1 - mu0 + T(Y-mu1)/e - (1-T)(Y-mu0)/(1-e)``
    are regressed on the effect modifiers with ``final_model`` (default: linear
    regression, so the coefficients read as effect differences). The nuisance
    models are those of :func:`~casework.effects.estimate`'s AIPW: a ridge logit
    for the propensity and ridge outcome models per arm (logit for a 0/1
    outcome), on standardised covariates; an unpenalised logit extrapolated
    out-of-fold scores to 0 or 1 for persons unlike the training folds.

    Parameters
    ----------
    final_model : regressor, optional
    n_folds : int
    trim : float
        The overlap rule of :func:`~casework.effects.estimate` (relative to the
        treated share, :func:`casework.effects._guards.overlap_rule` for the
        ATE) on the cross-fitted scores: persons outside it are left out of the
        final regression.
    random_state : int

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=(6000, 1))
    >>> t = (rng.random(6000) < 0.5).astype(int)
    >>> y = x[:, 0] + t * (0.1 + 0.2 * (x[:, 0] > 0)) + rng.normal(scale=0.5, size=6000)
    >>> m = DRLearner().fit(pd.DataFrame({"x": x[:, 0]}), t, y)
    >>> bool(m.predict(pd.DataFrame({"x": [2.0]}))[0] > m.predict(pd.DataFrame({"x": [-2.0]}))[0])
    True
    """

    def __init__(self, final_model=None, n_folds: int = 5, trim: float = 0.01, random_state: int = 0):
        self.final_model = final_model
        self.n_folds = n_folds
        self.trim = trim
        self.random_state = random_state

    def fit(self, X: pd.DataFrame, t, y):
        X = pd.DataFrame(X)
        self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        design = design_matrix(X, list(X.columns))
        Z = design.X
        t = np.asarray(t).astype(int)
        y = np.asarray(y, dtype="float64")
        rng = np.random.default_rng(self.random_state)
        fold = rng.permutation(np.arange(len(t)) % self.n_folds)
        e, mu0, mu1 = np.empty(len(t)), np.empty(len(t)), np.empty(len(t))
        binary = bool(np.isin(y, (0.0, 1.0)).all())
        for k in range(self.n_folds):
            tr, te = fold != k, fold == k
            e[te] = Logit(alpha=RIDGE_CROSS_FIT).fit(Z[tr], t[tr]).predict_proba(Z[te])[:, 1]
            for arm, target in ((0, mu0), (1, mu1)):
                rows = tr & (t == arm)
                target[te] = fit_outcome(Z[rows], y[rows], binary)[0](Z[te])
        keep = overlap_rule(e, t, self.trim, "ate")[0]
        self.propensity_ = e.copy()
        e = np.clip(e, NUMERIC_FLOOR, 1 - NUMERIC_FLOOR)
        pseudo = mu1 - mu0 + t * (y - mu1) / e - (1 - t) * (y - mu0) / (1 - e)
        self.pseudo_outcomes_ = pseudo
        self._design_columns = list(X.columns)
        self.model_ = clone(self.final_model if self.final_model is not None else LinearRegression())
        self.model_.fit(self._features(X)[keep], pseudo[keep])
        self.ate_ = float(pseudo[keep].mean())
        return self

    def _features(self, X):
        return pd.get_dummies(pd.DataFrame(X)[self._design_columns], drop_first=False, dtype=float)

    def predict(self, X):
        F = self._features(X).reindex(columns=self.model_.feature_names_in_ if hasattr(
            self.model_, "feature_names_in_") else None, fill_value=0.0)
        return self.model_.predict(F)
