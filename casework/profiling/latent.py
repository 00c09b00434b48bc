"""Latent profiles of needs: a latent class model (EM) over categorical need indicators.

No well-kept library on the project's registries fits without heavy extras
(StepMix pulls in a second model stack), so this is a tested EM of our own:
local independence given the class, one categorical distribution per item and
class, several random starts, the number of classes chosen by BIC, stability
by bootstrap (adjusted Rand index). :func:`latent_classes` fits it on one item
per key group (the key group with its sub-needs), which are independent given
the class where the twelve need columns are not; on the synthetic scenarios
(five true classes) it classifies as well as the true classes' own profiles
allow (``tests/test_profiling.py``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClusterMixin
from sklearn.metrics import adjusted_rand_score
from threadpoolctl import threadpool_limits
from tqdm.auto import tqdm

from casework import schema as S
from casework.summary import SummaryFace

__all__ = ["LatentClassModel", "LatentClassResult", "latent_classes", "NEED_ITEMS", "key_group_items"]

NEED_ITEMS = [S.NEED_COLUMNS[k] for k in S.NEEDS]


def key_group_items(a: pd.DataFrame) -> pd.DataFrame:
    """One categorical item per key group of the 4-phase model: its severity and which of its sub-needs are present.

    A key group holds its sub-needs (``schema.SUB_NEED_GROUP``: a sub-need comes with a need in its key group),
    so the twelve need columns are not independent given a latent class, which the model assumes; the key
    groups with their sub-needs are (each block depends on the class only). Code: severity x 2^(number of
    sub-needs) + the sub-needs present as bits. Columns ``kg_<key group>``.
    """
    out = {}
    for group in S.KEY_GROUPS:
        code = a[S.NEED_COLUMNS[group]].fillna(0).astype(int).to_numpy()
        for sub in [s for s, g in S.SUB_NEED_GROUP.items() if g == group]:
            code = code * 2 + (a[S.NEED_COLUMNS[sub]].fillna(0).to_numpy() >= 1)
        out[f"kg_{group}"] = code
    return pd.DataFrame(out, index=a.index)


def _logsumexp_rows(a: np.ndarray) -> np.ndarray:
    m = a.max(axis=1)
    return m + np.log(np.exp(a - m[:, None]).sum(axis=1))


class LatentClassModel(ClusterMixin, BaseEstimator):
    """Latent class analysis for categorical items (scikit-learn estimator).

    Parameters
    ----------
    n_classes : int or None
        Number of classes; None chooses it by BIC among 1..``max_classes``.
    max_classes : int
    n_init : int
        Random starts per number of classes (the best log-likelihood wins).
    max_iter : int
    tol : float
        Stop when the log-likelihood improves by less than ``tol`` (relative).
    random_state : int

    Attributes
    ----------
    n_classes_, weights_ (class shares), item_probs_ (list per item of a
    classes × levels array), levels_ (observed levels per item), bic_table_
    (classes, log_likelihood, n_parameters, bic), log_likelihood_, columns_.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> z = rng.integers(0, 2, 3000)
    >>> X = pd.DataFrame({f"i{j}": (rng.random(3000) < np.where(z == 1, 0.8, 0.1)).astype(int) for j in range(6)})
    >>> m = LatentClassModel(n_classes=2, random_state=0).fit(X)
    >>> bool(adjusted_rand_score(z, m.predict(X)) > 0.8)
    True
    """

    def __init__(self, n_classes: int | None = None, max_classes: int = 8, n_init: int = 4, max_iter: int = 400,
                 tol: float = 1e-6, random_state: int = 0):
        self.n_classes = n_classes
        self.max_classes = max_classes
        self.n_init = n_init
        self.max_iter = max_iter
        self.tol = tol
        self.random_state = random_state

    # ------------------------------------------------------------------ encoding
    def _encode(self, X) -> np.ndarray:
        X = pd.DataFrame(X)
        blocks = []
        for col, levels in zip(self.columns_, self.levels_):
            if col not in X:
                raise ValueError(f"column {col!r} missing (the model was fitted on {self.columns_})")
            v = X[col].to_numpy()
            if pd.isna(v).any():
                raise ValueError(f"column {col!r} has missing values")
            blocks.append((v[:, None] == np.asarray(levels)[None, :]).astype(float))
        return np.hstack(blocks)

    def _fit_k(self, Z, k, rng):
        n = len(Z)
        best = None
        for _ in range(self.n_init):
            resp = rng.dirichlet(np.ones(k), size=n)
            ll_old = -np.inf
            for _ in range(self.max_iter):
                w, log_theta = self._m_step(Z, resp)
                log_joint = np.log(w)[None, :] + Z @ log_theta.T
                norm = _logsumexp_rows(log_joint)
                ll = float(norm.sum())
                resp = np.exp(log_joint - norm[:, None])
                if ll - ll_old < self.tol * abs(ll):
                    break
                ll_old = ll
            if best is None or ll > best[0]:
                best = (ll, w, log_theta)
        return best

    def _m_step(self, Z, resp):
        w = np.clip(resp.mean(axis=0), 1e-12, None)
        counts = resp.T @ Z + 1e-3  # a whisper of smoothing keeps log-probabilities finite
        theta = np.empty_like(counts)
        for sl in self._slices:
            theta[:, sl] = counts[:, sl] / counts[:, sl].sum(axis=1, keepdims=True)
        return w / w.sum(), np.log(theta)

    def _n_params(self, k):
        return (k - 1) + k * sum(len(lv) - 1 for lv in self.levels_)

    # ------------------------------------------------------------------ API
    def fit(self, X, y=None):
        X = pd.DataFrame(X)
        self.columns_ = list(X.columns)
        self.levels_ = [np.sort(pd.unique(X[c].dropna())) for c in self.columns_]
        sizes = [len(lv) for lv in self.levels_]
        edges = np.cumsum([0, *sizes])
        self._slices = [slice(a, b) for a, b in zip(edges[:-1], edges[1:])]
        Z = self._encode(X)
        rng = np.random.default_rng(self.random_state)
        ks = [self.n_classes] if self.n_classes else list(range(1, self.max_classes + 1))
        rows, fits = [], {}
        for k in tqdm(ks, desc="latent classes", disable=len(ks) < 3 or None):
            # thin matrix products: threads only add contention (many times slower on a busy machine)
            with threadpool_limits(1):
                ll, w, log_theta = self._fit_k(Z, k, rng)
            p = self._n_params(k)
            rows.append({"classes": k, "log_likelihood": ll, "n_parameters": p, "bic": -2 * ll + p * np.log(len(Z))})
            fits[k] = (ll, w, log_theta)
        self.bic_table_ = pd.DataFrame(rows)
        k = int(self.bic_table_.loc[self.bic_table_["bic"].idxmin(), "classes"])
        ll, w, log_theta = fits[k]
        order = np.argsort(-w)  # largest class first: stable, readable labels
        self.n_classes_ = k
        self.weights_ = w[order]
        self._log_theta = log_theta[order]
        self.item_probs_ = [np.exp(self._log_theta[:, sl]) for sl in self._slices]
        self.log_likelihood_ = ll
        return self

    def predict_proba(self, X) -> np.ndarray:
        Z = self._encode(X)
        log_joint = np.log(self.weights_)[None, :] + Z @ self._log_theta.T
        return np.exp(log_joint - _logsumexp_rows(log_joint)[:, None])

    def predict(self, X) -> np.ndarray:
        return self.predict_proba(X).argmax(axis=1)

    def fit_predict(self, X, y=None):
        return self.fit(X).predict(X)

    def describe(self, threshold: float = 0.5) -> pd.DataFrame:
        """Each class with its share, the items whose need (level >= 1) is most frequent, and a German name.

        Columns: latent_class, share, label (German, by dominant needs), dominant (item -> share with a need).
        """
        rows = []
        for c in range(self.n_classes_):
            shares = {}
            for col, levels, probs in zip(self.columns_, self.levels_, self.item_probs_):
                shares[col] = float(probs[c][np.asarray(levels) >= 1].sum())
            top = sorted(shares.items(), key=lambda kv: -kv[1])
            dominant = [(k, v) for k, v in top if v >= threshold][:3]
            names = [S.NEEDS.get(k.removeprefix("need_").removeprefix("kg_"), k) for k, _ in dominant]
            if not dominant:
                label = "Geringe Handlungsbedarfe"
            else:
                label = "Schwerpunkt " + ", ".join(names)
            rows.append({"latent_class": c, "share": float(self.weights_[c]), "label": label,
                         "dominant": "; ".join(f"{k.removeprefix('need_').removeprefix('kg_')} {v:.0%}"
                                               for k, v in top[:5])})
        return pd.DataFrame(rows)

    def bootstrap_stability(self, X, n_boot: int = 20, progress: bool | None = None) -> np.ndarray:
        """ARI between this model's classes and those of refits on bootstrap samples (same number of classes)."""
        X = pd.DataFrame(X)
        base = self.predict(X)
        rng = np.random.default_rng(self.random_state + 1)
        out = []
        for b in tqdm(range(n_boot), desc="bootstrap", disable=True if progress is None else not progress):
            idx = rng.integers(0, len(X), len(X))
            m = LatentClassModel(n_classes=self.n_classes_, n_init=max(1, self.n_init // 2), max_iter=self.max_iter,
                                 tol=self.tol, random_state=self.random_state + 100 + b).fit(X.iloc[idx])
            out.append(adjusted_rand_score(base, m.predict(X)))
        return np.asarray(out)


@dataclass(frozen=True)
class LatentClassResult(SummaryFace):
    """Latent need classes of a dataset: every person's class, the fitted model and its class description.

    ``classes``: one row per person (person_id, latent_class, label, probability); ``model``: the fitted
    :class:`LatentClassModel` (BIC table, item profiles, :meth:`~LatentClassModel.bootstrap_stability`);
    ``description``: one row per class (:meth:`LatentClassModel.describe`).
    """

    classes: pd.DataFrame
    model: LatentClassModel
    description: pd.DataFrame

    def to_frame(self) -> pd.DataFrame:
        """The persons' classes (a copy): person_id, latent_class, label, probability."""
        return self.classes.copy()

    def _summary_rows(self) -> list[tuple[str, str]]:
        n = len(self.classes)
        rows = [("Persons classified", f"{n:,}"), ("Classes", f"{self.model.n_classes_} (chosen by BIC)"
                                                   if self.model.n_classes is None else f"{self.model.n_classes_}"),
                ("Mean posterior probability", f"{self.classes['probability'].mean():.3f}")]
        for r in self.description.itertuples():
            rows.append((f"Class {r.latent_class}", f"{r.share:.1%}  {r.label}"))
        return rows

    def __repr__(self) -> str:
        return f"LatentClassResult({len(self.classes):,} persons, {self.model.n_classes_} classes)"


def latent_classes(ds, n_classes: int | None = None, random_state: int = 0, model: LatentClassModel | None = None,
                   fit_sample: int | None = 50_000) -> LatentClassResult:
    """Latent need class of every person from the first assessment.

    The model is fitted on a seeded random sample of ``fit_sample`` persons when there are more (the
    class parameters are estimated just as well from 50,000 people; classification is then done for
    everyone); ``None`` fits on all.

    The items are the key groups with their sub-needs (:func:`key_group_items`) when all need columns are
    there, else the need columns present.

    Returns
    -------
    LatentClassResult
        ``.classes`` has columns person_id, latent_class (int, largest class 0), label (German),
        probability; ``.model`` is the fitted model, ``.description`` one row per class.
    """
    a = ds.table("assessments").sort_values(["person_id", "date"], kind="stable").drop_duplicates("person_id")
    if all(S.NEED_COLUMNS[k] in a for k in S.NEEDS):
        a = pd.concat([a[["person_id"]], key_group_items(a)], axis=1)
        items = [f"kg_{g}" for g in S.KEY_GROUPS]
    else:  # an export without some need columns: the columns there are
        items = [c for c in NEED_ITEMS if c in a]
    fit_rows = a[items]
    if fit_sample is not None and len(fit_rows) > fit_sample:
        fit_rows = fit_rows.sample(fit_sample, random_state=random_state)
    m = model if model is not None else LatentClassModel(n_classes=n_classes, random_state=random_state).fit(fit_rows)
    proba = m.predict_proba(a[items])
    cls = proba.argmax(axis=1)
    description = m.describe()
    labels = description.set_index("latent_class")["label"]
    out = pd.DataFrame({"person_id": a["person_id"].to_numpy(), "latent_class": cls,
                        "label": labels.reindex(cls).to_numpy(), "probability": proba.max(axis=1)})
    return LatentClassResult(out, m, description)


def oracle_ari(X: np.ndarray, truth: np.ndarray) -> float:
    """The best agreement any classification of ``X`` can reach: each person assigned to the true class under
    which their items are most likely, with the true classes' own item shares (add-half smoothed). A latent
    class model is judged against this ceiling, not against 1 (docs/profiling.md)."""
    classes = np.unique(truth)
    loglik = np.zeros((len(X), len(classes)))
    for i, k in enumerate(classes):
        members = X[truth == k]
        loglik[:, i] = np.log((truth == k).mean())
        for j in range(X.shape[1]):
            share = {v: (np.sum(members[:, j] == v) + 0.5) / (len(members) + 1.0) for v in np.unique(X[:, j])}
            loglik[:, i] += np.log([share[v] for v in X[:, j]])
    return adjusted_rand_score(truth, classes[loglik.argmax(axis=1)])
