"""One entry point for the effect of a binary measure: :func:`estimate`.

Methods (``method=``):

``"ols"``
    Regression adjustment with treatment-by-covariate interactions (Lin 2013),
    covariates centred on the target population, so that the treatment
    coefficient is the ATT or ATE; heteroskedasticity-robust (HC1) or
    cluster-robust errors.
``"ipw"``
    Inverse probability weighting, normalised (Hajek) weights; ATT weights
    ``e/(1-e)`` for controls. The standard error accounts for the estimated
    propensity score (M-estimation) when the built-in logit is used.
``"aipw"``
    Augmented IPW (doubly robust) with K-fold cross-fitting; nuisance
    learners pluggable as scikit-learn estimators.
``"match"``
    1:1 nearest-neighbour matching on the logit of the propensity score with
    replacement, a caliper (default 0.2 standard deviations of the logit) and
    regression bias correction; Abadie-Imbens standard errors.

**The overlap rule** is the same for every method, so all methods estimate
the same quantity: persons whose estimated propensity lies outside
``[trim, 1 - trim]`` (ATE) or above ``1 - trim`` (ATT) are excluded before
estimation, and the result says how many. Weights are never clipped: clipping
the propensity biases ATT weights silently, trimming changes the population
openly. The propensity model is an unpenalised (1e-6 ridge) logit fitted by
Newton steps on standardised inputs, with convergence checked.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.base import clone

from casework.effects._design import Logit, check_inputs, design_matrix

__all__ = ["estimate", "EffectResult", "Diagnostics", "METHODS", "ESTIMANDS"]

METHODS = ("ols", "ipw", "aipw", "match")
ESTIMANDS = ("att", "ate")


@dataclass(frozen=True)
class Diagnostics:
    """Balance, overlap and weight diagnostics of one estimate (read-only)."""

    _balance: pd.DataFrame = field(repr=False)
    _propensity: pd.DataFrame = field(repr=False)
    n_trimmed: int
    overlap_rule: str
    ess_treated: float
    ess_control: float
    propensity_converged: bool
    n_unmatched: int = 0

    @property
    def balance(self) -> pd.DataFrame:
        """Columns covariate, smd_before, smd_after (standardised mean differences)."""
        return self._balance.copy()

    @property
    def propensity(self) -> pd.DataFrame:
        """Columns treated (0/1), propensity — the estimated scores of the analysis sample."""
        return self._propensity.copy()

    @property
    def max_abs_smd_before(self) -> float:
        return float(self._balance["smd_before"].abs().max()) if len(self._balance) else float("nan")

    @property
    def max_abs_smd_after(self) -> float:
        return float(self._balance["smd_after"].abs().max()) if len(self._balance) else float("nan")

    def love_plot(self, ax=None, top: int = 25):
        """Standardised mean differences before and after adjustment (matplotlib)."""
        from casework.effects.plots import love_plot

        return love_plot(self.balance, ax=ax, top=top)

    def overlap_plot(self, ax=None):
        """Histograms of the propensity score by treatment group (matplotlib)."""
        from casework.effects.plots import overlap_plot

        return overlap_plot(self.propensity, ax=ax)


@dataclass(frozen=True)
class EffectResult:
    """An immutable effect estimate with its interval, sizes and diagnostics."""

    estimate: float
    se: float
    ci_low: float
    ci_high: float
    p_value: float
    n_treated: int
    n_control: int
    method: str
    estimand: str
    treatment: str
    outcome: str
    diagnostics: Diagnostics = field(repr=False)
    n_clusters: int | None = None
    spec: MappingProxyType = field(default_factory=lambda: MappingProxyType({}), repr=False, compare=False)

    @property
    def n(self) -> int:
        return self.n_treated + self.n_control

    def to_frame(self) -> pd.DataFrame:
        """One tidy row: treatment, outcome, method, estimand, estimate, se, ci_low, ci_high, p_value,
        n_treated, n_control, n_trimmed, max_abs_smd_after."""
        d = self.diagnostics
        return pd.DataFrame([{
            "treatment": self.treatment, "outcome": self.outcome, "method": self.method, "estimand": self.estimand,
            "estimate": self.estimate, "se": self.se, "ci_low": self.ci_low, "ci_high": self.ci_high,
            "p_value": self.p_value, "n_treated": self.n_treated, "n_control": self.n_control,
            "n_trimmed": d.n_trimmed, "max_abs_smd_after": d.max_abs_smd_after}])

    def summary(self, html: bool = False) -> str:
        """A short report as text (or HTML)."""
        d = self.diagnostics
        rows = [
            ("Effect", f"{self.estimand.upper()} of {self.treatment} on {self.outcome} ({self.method})"),
            ("Estimate", f"{self.estimate:.4f} (SE {self.se:.4f})"),
            ("95% interval", f"[{self.ci_low:.4f}, {self.ci_high:.4f}], p = {self.p_value:.3g}"),
            ("Treated / control", f"{self.n_treated:,} / {self.n_control:,}"),
            ("Overlap rule", f"{d.overlap_rule}; {d.n_trimmed:,} excluded"
                             + (f"; {d.n_unmatched:,} without a match within the caliper" if d.n_unmatched else "")),
            ("Balance (max |SMD|)", f"{d.max_abs_smd_before:.3f} before, {d.max_abs_smd_after:.3f} after"),
            ("Effective sample size", f"{d.ess_treated:,.0f} treated, {d.ess_control:,.0f} control"),
            ("Propensity model", "converged" if d.propensity_converged else "did NOT converge"),
        ]
        if self.n_clusters:
            rows.append(("Clusters", f"{self.n_clusters:,} (cluster-robust errors)"))
        if html:
            body = "".join(f"<tr><th style='text-align:left'>{k}</th><td style='text-align:left'>{v}</td></tr>"
                           for k, v in rows)
            return f"<table>{body}</table>"
        width = max(len(k) for k, _ in rows)
        return "\n".join(f"{k:<{width}}  {v}" for k, v in rows)

    def _repr_html_(self) -> str:
        return self.summary(html=True)

    def __str__(self) -> str:
        return self.summary()


def estimate(df: pd.DataFrame, treatment: str, outcome: str, covariates, method: str = "aipw",
             estimand: str = "att", cluster: str | None = None, seed: int = 0, **kwargs) -> EffectResult:
    """Estimate the effect of a binary ``treatment`` on ``outcome``.

    Parameters
    ----------
    df : DataFrame
        One row per person; never modified.
    treatment : str
        0/1 (or bool) column.
    outcome : str
        Numeric column: 0/1 or continuous.
    covariates : list of str
        Baseline (pre-treatment) columns; numeric, bool or categorical.
    method : {"aipw", "ipw", "ols", "match"}
    estimand : {"att", "ate"}
    cluster : str, optional
        Column of cluster ids (e.g. ``jc_id``) for cluster-robust errors.
    seed : int
        Seeds the cross-fitting folds; identical input and seed give identical results.
    trim : float
        Overlap rule (see module docstring); 0 disables it.
    n_folds : int
        Cross-fitting folds for ``"aipw"``.
    propensity_model, outcome_model : scikit-learn estimators, optional
        Nuisance learners; default the built-in Newton logit (propensity,
        binary outcomes) and least squares (continuous outcomes).
    caliper : float
        Matching caliper in standard deviations of the logit propensity.
    min_treated : int
        Fewer treated or control persons than this raise an error.
    max_excluded : float
        When the overlap rule excludes a larger share of rows, there is no
        overlap worth the name and an error is raised instead of an estimate.

    Returns
    -------
    EffectResult

    Notes
    -----
    Runs with single-threaded BLAS: the products here are tall and thin, where
    extra threads gain little and, on a busy machine, cost many times over in
    contention.

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> x = rng.normal(size=4000)
    >>> t = (rng.random(4000) < 1 / (1 + np.exp(-x))).astype(int)
    >>> y = 0.3 * x + 0.2 * t + rng.normal(scale=0.5, size=4000)
    >>> r = estimate(pd.DataFrame({"x": x, "t": t, "y": y}), "t", "y", ["x"])
    >>> bool(r.ci_low < 0.2 < r.ci_high)
    True
    """
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):
        return _estimate(df, treatment, outcome, covariates, method, estimand, cluster, seed, **kwargs)


def _estimate(df: pd.DataFrame, treatment: str, outcome: str, covariates, method: str = "aipw",
             estimand: str = "att", cluster: str | None = None, seed: int = 0, *, trim: float = 0.01,
             n_folds: int = 5, propensity_model=None, outcome_model=None, caliper: float = 0.2,
             min_treated: int = 10, alpha: float = 0.05, max_excluded: float = 0.5) -> EffectResult:
    """The body of :func:`estimate` (which sets single-threaded BLAS around it)."""
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    if estimand not in ESTIMANDS:
        raise ValueError(f"estimand must be one of {ESTIMANDS}, got {estimand!r}")
    if not 0 <= trim < 0.5:
        raise ValueError(f"trim must lie in [0, 0.5), got {trim}")
    covariates = list(covariates)
    check_inputs(df, treatment, outcome, covariates, cluster)
    t_all = df[treatment].to_numpy().astype(int)
    _check_sizes(t_all, treatment, min_treated, "")
    design = design_matrix(df, covariates)
    ps_model = Logit() if propensity_model is None else propensity_model
    e_all, converged, ps_fitted = _fit_propensity(ps_model, design.X, t_all, return_model=True)
    keep, rule = _overlap(e_all, t_all, trim, estimand)
    if (~keep).mean() > max_excluded:
        raise ValueError(f"no overlap between treated and untreated in {treatment!r}: the overlap rule ({rule}) "
                         f"excludes {(~keep).mean():.0%} of the rows (more than max_excluded={max_excluded:g}); "
                         "the covariates almost determine who is treated")
    t = t_all[keep]
    _check_sizes(t, treatment, min_treated, f" after the overlap rule ({rule}); there is too little overlap")
    y = df[outcome].to_numpy(dtype="float64")
    X, raw = design.X, design.raw
    if not keep.all():  # copy only when the overlap rule removed rows
        y, X, raw = y[keep], X[keep], raw[keep]
    groups = pd.factorize(df[cluster])[0][keep] if cluster else None
    if method == "match" and cluster:
        raise ValueError("cluster-robust errors are not available for matching; use method='aipw' or 'ipw'")
    binary = bool(np.isin(y, (0.0, 1.0)).all())
    ctx = _Context(X=X, t=t, y=y, estimand=estimand, binary=binary, seed=seed, n_folds=n_folds,
                   ps_model=ps_model, outcome_model=outcome_model, caliper=caliper, groups=groups,
                   ps_fitted=ps_fitted if keep.all() else None)
    est, se, weights, n_unmatched, converged_sub = _METHOD_FUNCS[method](ctx)
    converged = converged and converged_sub
    z = stats.norm.ppf(1 - alpha / 2)
    p = float(2 * stats.norm.sf(abs(est / se))) if se > 0 else float("nan")
    e_keep = ctx.e_full
    diag = Diagnostics(
        _balance=_balance(raw, t, weights, design.names),
        _propensity=pd.DataFrame({"treated": t, "propensity": e_keep}),
        n_trimmed=int((~keep).sum()), overlap_rule=rule,
        ess_treated=_ess(weights[t == 1]) if weights is not None else float((t == 1).sum()),
        ess_control=_ess(weights[t == 0]) if weights is not None else float((t == 0).sum()),
        propensity_converged=bool(converged), n_unmatched=int(n_unmatched))
    spec = MappingProxyType({"covariates": tuple(covariates), "method": method, "estimand": estimand,
                             "cluster": cluster, "seed": seed, "trim": trim, "n_folds": n_folds,
                             "caliper": caliper, "min_treated": min_treated, "alpha": alpha,
                             "outcome_mean_treated": float(y[t == 1].mean()), "outcome_sd": float(y.std()),
                             "binary_outcome": binary})
    return EffectResult(
        estimate=float(est), se=float(se), ci_low=float(est - z * se), ci_high=float(est + z * se), p_value=p,
        n_treated=int((t == 1).sum()) - (int(n_unmatched) if estimand == "att" else 0),
        n_control=int((t == 0).sum()), method=method, estimand=estimand, treatment=treatment, outcome=outcome,
        diagnostics=diag, n_clusters=int(len(np.unique(groups))) if groups is not None else None, spec=spec)


# --------------------------------------------------------------------------- helpers


class _Context:
    def __init__(self, **kw):
        self.__dict__.update(kw)
        self.e_full = None


def _check_sizes(t, treatment, min_treated, why):
    n1, n0 = int((t == 1).sum()), int((t == 0).sum())
    if n1 < min_treated:
        raise ValueError(f"too few treated in {treatment!r}: {n1} < min_treated={min_treated}{why}")
    if n0 < min_treated:
        raise ValueError(f"too few untreated in {treatment!r}: {n0} < min_treated={min_treated}{why}")


def _fit_propensity(model, X, t, return_model=False):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        m = clone(model).fit(X, t)
    converged = bool(getattr(m, "converged_", True)) and not any(
        "converge" in str(w.message).lower() for w in caught)
    for w in caught:
        warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    if return_model:
        return m.predict_proba(X)[:, 1], converged, m
    return m.predict_proba(X)[:, 1], converged


def _analysis_propensity(ctx):
    """The propensity model on the analysis sample (the full-sample fit when the overlap rule dropped nobody)."""
    if ctx.ps_fitted is not None:
        return ctx.ps_fitted
    return clone(ctx.ps_model).fit(ctx.X, ctx.t)


def _overlap(e, t, trim, estimand):
    if trim == 0:
        return np.ones(len(e), dtype=bool), "no trimming"
    if estimand == "ate":
        return (e >= trim) & (e <= 1 - trim), f"propensity within [{trim:g}, {1 - trim:g}]"
    return e <= 1 - trim, f"propensity at most {1 - trim:g}"


def _moments(raw, weights):
    """Weighted means and (unweighted-style) variances of the columns, by matrix products (no big copies)."""
    mean = (weights @ raw) / weights.sum()
    second = np.einsum("i,ij,ij->j", weights, raw, raw) / weights.sum()
    return mean, np.maximum(second - mean ** 2, 0.0)


def _balance(raw, t, weights, names) -> pd.DataFrame:
    one, zero = (t == 1).astype(float), (t == 0).astype(float)
    m1, v1 = _moments(raw, one)
    m0, v0 = _moments(raw, zero)
    denom = np.sqrt((v1 + v0) / 2)
    denom = np.where(denom > 0, denom, 1.0)
    before = (m1 - m0) / denom
    if weights is None:
        after = np.full(len(names), np.nan)
    else:
        after = (_moments(raw, one * weights)[0] - _moments(raw, zero * weights)[0]) / denom
    return pd.DataFrame({"covariate": list(names), "smd_before": before, "smd_after": after})


def _ess(w) -> float:
    w = np.asarray(w, dtype="float64")
    return float(w.sum() ** 2 / np.square(w).sum()) if w.sum() > 0 else 0.0


def _se_from_influence(psi, groups) -> float:
    n = len(psi)
    if groups is None:
        return float(np.sqrt(np.sum(np.square(psi))) / n)
    sums = np.bincount(groups, weights=psi)
    g = len(sums)
    return float(np.sqrt(np.sum(np.square(sums)) * g / max(g - 1, 1)) / n)


def _ipw_weights(e, t, estimand):
    if estimand == "ate":
        return np.where(t == 1, 1 / e, 1 / (1 - e))
    return np.where(t == 1, 1.0, e / (1 - e))


# --------------------------------------------------------------------------- methods


def _ols(ctx):
    import statsmodels.api as sm

    X, t, y = ctx.X, ctx.t, ctx.y
    centre = X[t == 1].mean(axis=0) if ctx.estimand == "att" else X.mean(axis=0)
    Xc = X - centre
    Z = np.column_stack([np.ones(len(t)), t, Xc, Xc * t[:, None]])
    if ctx.groups is None:
        fit = sm.OLS(y, Z).fit(cov_type="HC1")
    else:
        fit = sm.OLS(y, Z).fit(cov_type="cluster", cov_kwds={"groups": ctx.groups})
    model = _analysis_propensity(ctx)
    ctx.e_full = model.predict_proba(X)[:, 1]
    return float(fit.params[1]), float(fit.bse[1]), None, 0, bool(getattr(model, "converged_", True))


def _ipw(ctx):
    X, t, y = ctx.X, ctx.t, ctx.y
    model = _analysis_propensity(ctx)
    e = model.predict_proba(X)[:, 1]
    ctx.e_full = e
    w = _ipw_weights(e, t, ctx.estimand)
    n = len(t)
    mu1 = np.sum(w * t * y) / np.sum(w * t)
    mu0 = np.sum(w * (1 - t) * y) / np.sum(w * (1 - t))
    psi1 = t * w * (y - mu1)
    psi0 = (1 - t) * w * (y - mu0)
    d1, d0 = np.mean(w * t), np.mean(w * (1 - t))
    if isinstance(model, Logit):
        Xa = np.column_stack([np.ones(n), X])
        h = (Xa * (e * (1 - e))[:, None]).T @ Xa / n
        if_beta = np.linalg.solve(h, (Xa * (t - e)[:, None]).T).T
        dw0 = e / (1 - e) if ctx.estimand == "ate" else w  # d w_control / d eta
        a0 = np.mean(((1 - t) * dw0 * (y - mu0))[:, None] * Xa, axis=0)
        a1 = (np.mean((-t * (1 - e) / e * (y - mu1))[:, None] * Xa, axis=0) if ctx.estimand == "ate"
              else np.zeros(Xa.shape[1]))
        psi1 = psi1 + if_beta @ a1
        psi0 = psi0 + if_beta @ a0
    infl = psi1 / d1 - psi0 / d0
    conv = bool(getattr(model, "converged_", True))
    return float(mu1 - mu0), _se_from_influence(infl, ctx.groups), w, 0, conv


def _folds(t, n_folds, seed):
    rng = np.random.default_rng(seed)
    fold = np.empty(len(t), dtype=int)
    for arm in (0, 1):
        idx = np.flatnonzero(t == arm)
        fold[idx] = rng.permutation(np.arange(len(idx)) % n_folds)
    return fold


def _fit_outcome(ctx, X, y, start=None):
    """Fit the outcome model; returns (predict function, warm start for the next fold)."""
    if ctx.outcome_model is not None:
        m = clone(ctx.outcome_model).fit(X, y)
        if ctx.binary and hasattr(m, "predict_proba"):
            return (lambda Z: m.predict_proba(Z)[:, 1]), None
        return m.predict, None
    if ctx.binary and 0 < y.mean() < 1:
        init, hessian = (None, None) if start is None else (start[0], start[1] * (len(y) / start[2]))
        m = Logit().fit(X, y, init=init, hessian=hessian)
        return (lambda Z: m.predict_proba(Z)[:, 1]), (np.r_[m.intercept_, m.coef_], m.hessian_, len(y))
    Xa = np.column_stack([np.ones(len(y)), X])
    beta = np.linalg.lstsq(Xa, y, rcond=None)[0]
    return (lambda Z: np.column_stack([np.ones(len(Z)), Z]) @ beta), None


def _aipw(ctx):
    X, t, y = ctx.X, ctx.t, ctx.y
    n = len(t)
    fold = _folds(t, ctx.n_folds, ctx.seed)
    e, mu0, mu1 = np.empty(n), np.empty(n), np.empty(n)
    conv = True
    full_ps = _analysis_propensity(ctx)
    init = np.r_[full_ps.intercept_, full_ps.coef_] if isinstance(full_ps, Logit) else None
    ps_hessian = full_ps.hessian_ if isinstance(full_ps, Logit) else None
    # warm starts: the propensity folds begin at the full-sample solution, each outcome fold at the previous
    # fold's (a few cheap steps instead of many)
    start = {0: None, 1: None}
    for k in range(ctx.n_folds):
        tr, te = fold != k, fold == k
        ps = clone(ctx.ps_model)
        if isinstance(ps, Logit):
            ps = ps.fit(X[tr], t[tr], init=init, hessian=ps_hessian * (tr.sum() / len(t)))
        else:
            ps = ps.fit(X[tr], t[tr])
        conv = conv and bool(getattr(ps, "converged_", True))
        X_te = X[te]
        e[te] = ps.predict_proba(X_te)[:, 1]
        for arm, target in ((0, mu0), (1, mu1)) if ctx.estimand == "ate" else ((0, mu0),):
            rows = tr & (t == arm)
            predict, start[arm] = _fit_outcome(ctx, X[rows], y[rows], start[arm])
            target[te] = predict(X_te)
    # numerical guard only: cross-fitted scores of trimmed data rarely come near the bounds
    e = np.clip(e, 1e-3, 1 - 1e-3)
    ctx.e_full = e
    if ctx.estimand == "ate":
        psi = mu1 - mu0 + t * (y - mu1) / e - (1 - t) * (y - mu0) / (1 - e)
        est = float(psi.mean())
        return est, _se_from_influence(psi - est, ctx.groups), _ipw_weights(e, t, "ate"), 0, conv
    w = e / (1 - e)
    r = y - mu0
    p1 = t.mean()
    d0 = np.mean((1 - t) * w)
    th1 = np.sum(t * r) / t.sum()
    th0 = np.sum((1 - t) * w * r) / np.sum((1 - t) * w)
    infl = t * (r - th1) / p1 - (1 - t) * w * (r - th0) / d0
    return float(th1 - th0), _se_from_influence(infl, ctx.groups), _ipw_weights(e, t, "att"), 0, conv


def _nearest(lp_from, lp_to):
    """Index into lp_to of the nearest value for every lp_from (1-D, by sorting)."""
    order = np.argsort(lp_to, kind="stable")
    s = lp_to[order]
    pos = np.clip(np.searchsorted(s, lp_from), 1, len(s) - 1)
    left, right = s[pos - 1], s[pos]
    pick = np.where(np.abs(lp_from - left) <= np.abs(right - lp_from), pos - 1, pos)
    return order[pick]


def _within_arm_variance(lp, y):
    """Abadie-Imbens conditional variance: half the squared difference to the nearest same-arm neighbour."""
    order = np.argsort(lp, kind="stable")
    s, ys = lp[order], y[order]
    n = len(s)
    out = np.empty(n)
    if n < 2:
        return np.zeros(n)
    d_left = np.r_[np.inf, np.diff(s)]
    d_right = np.r_[np.diff(s), np.inf]
    nb = np.where(d_left <= d_right, np.arange(n) - 1, np.arange(n) + 1)
    out[order] = np.square(ys - ys[nb]) / 2
    return out


def _match(ctx):
    X, t, y = ctx.X, ctx.t, ctx.y
    model = _analysis_propensity(ctx)
    e = model.predict_proba(X)[:, 1]
    ctx.e_full = e
    lp = np.log(np.clip(e, 1e-12, 1 - 1e-12) / np.clip(1 - e, 1e-12, 1))
    cal = ctx.caliper * lp.std()
    idx1, idx0 = np.flatnonzero(t == 1), np.flatnonzero(t == 0)
    fits = {arm: _fit_linear(X[t == arm], y[t == arm]) for arm in (0, 1)}
    sigma2 = np.empty(len(t))
    for idx in (idx1, idx0):
        sigma2[idx] = _within_arm_variance(lp[idx], y[idx])
    uses = np.zeros(len(t))
    imputed = {}
    unmatched = np.zeros(len(t), dtype=bool)
    targets = {"att": [(idx1, idx0, 0)], "ate": [(idx1, idx0, 0), (idx0, idx1, 1)]}[ctx.estimand]
    for src, dst, arm in targets:
        j = dst[_nearest(lp[src], lp[dst])]
        ok = np.abs(lp[src] - lp[j]) <= cal
        unmatched[src[~ok]] = True
        np.add.at(uses, j[ok], 1)
        f = fits[arm]
        imputed[arm] = (src[ok], y[j[ok]] + f(X[src[ok]]) - f(X[j[ok]]))
    if ctx.estimand == "att":
        i, y0hat = imputed[0]
        diff = y[i] - y0hat
    else:
        y1 = y.astype("float64").copy()
        y0 = y.astype("float64").copy()
        i0, v0 = imputed[0]
        i1, v1 = imputed[1]
        y0[i0], y1[i1] = v0, v1
        i = np.flatnonzero(~unmatched)
        diff = y1[i] - y0[i]
    tau = float(diff.mean())
    n_t = len(diff)
    var = (np.sum(np.square(diff - tau)) + np.sum((uses * (uses - 1) * sigma2)[~unmatched])) / n_t ** 2
    weights = np.where(t == 1, (~unmatched).astype(float), uses)
    if ctx.estimand == "ate":
        weights = np.where(unmatched, 0.0, 1.0 + uses)
    return tau, float(np.sqrt(var)), weights, int(unmatched.sum()), bool(getattr(model, "converged_", True))


def _fit_linear(X, y):
    Xa = np.column_stack([np.ones(len(y)), X])
    beta = np.linalg.lstsq(Xa, y, rcond=None)[0]
    return lambda Z: np.column_stack([np.ones(len(Z)), Z]) @ beta


_METHOD_FUNCS = {"ols": _ols, "ipw": _ipw, "aipw": _aipw, "match": _match}
