"""The four estimators of :func:`casework.effects.estimate` on a prepared, frozen analysis sample.

Each method takes a :class:`Sample` (the rows left by the overlap rule, as
arrays) and :class:`Options` (the nuisance models and tuning) and returns a
named :class:`Fit`. Standard errors come from influence functions, summed
within clusters when there are clusters.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from sklearn.base import clone

from casework.effects._design import Logit, RowBlocks
from casework.effects._guards import EffectInputError

__all__ = ["Sample", "Options", "Fit", "METHOD_FITS", "fit_propensity", "cross_fitted_propensity",
           "default_n_rep", "se_from_influence", "analysis_propensity", "check_lin_sizes", "unshrunk_residuals",
           "fit_outcome", "prognostic_imbalance", "RIDGE_CROSS_FIT"]

#: Ridge of the default propensity model of IPW, OLS diagnostics and matching (standardised covariates; sklearn's
#: C=1): these methods rest on the propensity alone, so it is kept close to the unpenalised fit.
RIDGE = 1.0
#: Ridge of AIPW's cross-fitted nuisance models (propensity and outcome): the outcome model corrects what the
#: shrinkage costs the propensity, and out-of-fold predictions for persons unlike the training folds (few treated,
#: many dummies) stay tame. Chosen on the hard designs and the Pankow scenario (docs/effects.md).
RIDGE_CROSS_FIT = 10.0
#: Clip of cross-fitted scores: a numerical floor only, the weight guards act long before it matters.
NUMERIC_FLOOR = 1e-3


@dataclass(frozen=True)
class Sample:
    """The analysis sample after the overlap rule: standardised design, treatment, outcome, cluster codes."""

    X: np.ndarray
    t: np.ndarray
    y: np.ndarray
    estimand: str
    binary: bool
    groups: np.ndarray | None = None

    @property
    def n_clusters(self) -> int | None:
        return None if self.groups is None else int(self.groups.max()) + 1


@dataclass(frozen=True)
class Options:
    """Nuisance models and tuning of one estimate."""

    propensity_model: object
    outcome_model: object | None
    n_folds: int
    n_rep: int
    seed: int
    caliper: float
    propensity_fitted: object | None = None  # the full-sample fit when it is the analysis sample's

    def _replace_fitted(self, fitted) -> Options:
        from dataclasses import replace

        return replace(self, propensity_fitted=fitted)


class Fit(NamedTuple):
    """What a method returns: the estimate, its SE, weights and scores used, and the mean of Y(1)."""

    estimate: float
    se: float
    weights: np.ndarray | None
    propensity: np.ndarray
    converged: bool
    y1_mean: float
    n_unmatched: int = 0
    rep_estimates: tuple = ()
    psi: np.ndarray | None = None  # the influence function (estimate - truth ~ its mean), where the method has one


def default_n_rep(n: int) -> int:
    """Repetitions of the cross-fitting: many where rows are few (the split matters), one where they are many.

    Under 2,000 rows 15, under 20,000 9, under 200,000 3, from 200,000 rows 1.
    """
    if n < 2_000:
        return 15
    if n < 20_000:
        return 9
    return 3 if n < 200_000 else 1


def se_from_influence(psi, groups) -> float:
    n = len(psi)
    if groups is None:
        return float(np.sqrt(np.sum(np.square(psi))) / n)
    sums = np.bincount(groups, weights=psi)
    g = len(sums)
    return float(np.sqrt(np.sum(np.square(sums)) * g / max(g - 1, 1)) / n)


def fit_propensity(model, X, t):
    """Fit a propensity model; returns (scores, converged, fitted model). Convergence warnings pass through."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        m = clone(model).fit(X, t)
    converged = bool(getattr(m, "converged_", True)) and not any(
        "converge" in str(w.message).lower() for w in caught)
    for w in caught:
        warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return m.predict_proba(X)[:, 1], converged, m


def analysis_propensity(s: Sample, o: Options):
    if o.propensity_fitted is not None:
        return o.propensity_fitted
    return clone(o.propensity_model).fit(s.X, s.t)


def _ipw_weights(e, t, estimand):
    if estimand == "ate":
        return np.where(t == 1, 1 / e, 1 / (1 - e))
    return np.where(t == 1, 1.0, e / (1 - e))


# --------------------------------------------------------------------------- OLS (Lin 2013)


#: Lin's regression fits one slope per covariate column in each arm; an arm needs at least this many persons per
#: coefficient (Austin & Steyerberg 2015: two per variable for linear regression). With fewer the arm's fit runs
#: through its points, the prediction for the other arm is extrapolation and the HC1 error is near zero
#: (Gelsenkirchen, 30 treated, 35 columns: an ATE of -1.63 with SE 0.05 on a 0/1 outcome).
MIN_ROWS_PER_COEFFICIENT = 2


def check_lin_sizes(t, k, estimand, method="ols"):
    """Refuse a per-arm regression with fewer than :data:`MIN_ROWS_PER_COEFFICIENT` rows per coefficient in an arm
    whose fit predicts the other arm: Lin's regression (``method="ols"``) and matching's bias correction, which
    imputes the ATE's Y(1) of every control from the treated arm's fit (Gelsenkirchen, assisted placement with 33
    treated and about 35 columns: a matching ATE of -1.32, SE 0.12, on a 0/1 outcome)."""
    arms = (1, 0) if estimand == "ate" else (0,)  # the ATT never extrapolates the treated arm's fit
    need = MIN_ROWS_PER_COEFFICIENT * (k + 1)
    what = ("Lin's regression adjustment (method='ols') fits" if method == "ols" else
            "Matching's bias correction (method='match') fits a regression with")
    for arm in arms:
        have = int((t == arm).sum())
        if have < need:
            who = "treated" if arm == 1 else "untreated"
            raise EffectInputError(
                f"{what} {k + 1} coefficients in each arm, but only {have} "
                f"{who} persons are there (fewer than {MIN_ROWS_PER_COEFFICIENT} per coefficient): the fit would run "
                "through their points and its standard error would be meaningless. Use method='aipw' (penalised "
                + ("models), the ATT (estimand='att'), or fewer covariates" if arm == 1 else "models) or fewer "
                   "covariates"))


def unshrunk_residuals(resid, Z, gram_inv):
    """Residuals divided by sqrt(1 - leverage) (HC2; MacKinnon & White 1985, Imbens & Kolesar 2016).

    A least-squares residual is smaller than the noise it estimates by the share of its own point the fit took:
    ``E[r_i^2] = sigma^2 (1 - h_ii)``. In the interacted regression every treated person's leverage is about
    (columns + 1) / treated, so with 150 treated and 35 columns the treated arm's variance came out a quarter too
    small and the ATE's interval covered 85-89 % (Gelsenkirchen, docs/validation.md); HC1's factor n / (n - k)
    over all rows hardly moves it. HC2 is unbiased under homoskedastic noise whatever the arm sizes."""
    lev = np.einsum("ij,ij->i", Z @ gram_inv, Z)
    return resid / np.sqrt(np.clip(1.0 - lev, 1e-3, 1.0))


def _ols(s: Sample, o: Options) -> Fit:
    """Lin's interacted regression; the SE includes the variance of the centring means (influence function), with
    leverage-corrected residuals (HC2, :func:`unshrunk_residuals`)."""
    X, t, y = s.X, s.t, s.y
    n = len(t)
    check_lin_sizes(t, X.shape[1], s.estimand)
    target = (t == 1) if s.estimand == "att" else np.ones(n, dtype=bool)
    centre = X[target].mean(axis=0)
    Xc = X - centre
    Z = np.column_stack([np.ones(n), t, Xc, Xc * t[:, None]])
    beta, *_ = np.linalg.lstsq(Z, y, rcond=None)
    resid = y - Z @ beta
    k = X.shape[1]
    delta = beta[2 + k:]
    gram_inv = np.linalg.pinv(Z.T @ Z)
    psi = n * (Z @ gram_inv[1]) * unshrunk_residuals(resid, Z, gram_inv) + target * (Xc @ delta) / target.mean()
    model = analysis_propensity(s, o)
    e = model.predict_proba(X)[:, 1]
    y1 = float(y[t == 1].mean()) if s.estimand == "att" else float(beta[0] + beta[1])
    return Fit(float(beta[1]), se_from_influence(psi, s.groups), None, e,
               bool(getattr(model, "converged_", True)), y1, psi=psi)


# --------------------------------------------------------------------------- IPW


#: Persons of the smaller arm per propensity coefficient from which IPW's ATE variance counts the estimated
#: propensity's share (M-estimation); below it the ATE uses the known-propensity variance.
MIN_EVENTS_PER_COEFFICIENT = 20


def _propensity_well_determined(t, k) -> bool:
    """Whether the smaller arm has :data:`MIN_EVENTS_PER_COEFFICIENT` persons per coefficient of the propensity.

    Estimating the propensity lowers the ATE's asymptotic variance, and the M-estimation term subtracts that
    gain. With few persons per coefficient the fitted scores follow the treated persons' noise and the term
    subtracts more than is gained: on the built-in scenarios (35 columns, 70-600 treated) IPW's ATE interval
    covered 89-92 % with it and 97 % without (docs/validation.md). For the ATE the known-propensity variance is
    conservative (Lunceford & Davidian 2004), so it is the safe side where the model is not well determined;
    the ATT keeps the term, as its known-propensity variance is not conservative.
    """
    smaller = int(min(t.sum(), len(t) - t.sum()))
    return smaller >= MIN_EVENTS_PER_COEFFICIENT * (k + 1)


def _ipw(s: Sample, o: Options) -> Fit:
    """Normalised (Hajek) IPW; the SE counts the estimated propensity's share where it is well determined."""
    X, t, y = s.X, s.t, s.y
    model = analysis_propensity(s, o)
    e = model.predict_proba(X)[:, 1]
    w = _ipw_weights(e, t, s.estimand)
    n = len(t)
    mu1 = np.sum(w * t * y) / np.sum(w * t)
    mu0 = np.sum(w * (1 - t) * y) / np.sum(w * (1 - t))
    psi1 = t * w * (y - mu1)
    psi0 = (1 - t) * w * (y - mu0)
    d1, d0 = np.mean(w * t), np.mean(w * (1 - t))
    if isinstance(model, Logit) and (s.estimand == "att" or _propensity_well_determined(t, X.shape[1])):
        Xa = np.column_stack([np.ones(n), X])
        h = (Xa * (e * (1 - e))[:, None]).T @ Xa / n
        if_beta = np.linalg.solve(h, (Xa * (t - e)[:, None]).T).T
        dw0 = e / (1 - e) if s.estimand == "ate" else w
        a0 = np.mean(((1 - t) * dw0 * (y - mu0))[:, None] * Xa, axis=0)
        a1 = (np.mean((-t * (1 - e) / e * (y - mu1))[:, None] * Xa, axis=0) if s.estimand == "ate"
              else np.zeros(Xa.shape[1]))
        psi1 = psi1 + if_beta @ a1
        psi0 = psi0 + if_beta @ a0
    infl = psi1 / d1 - psi0 / d0
    return Fit(float(mu1 - mu0), se_from_influence(infl, s.groups), w, e,
               bool(getattr(model, "converged_", True)), float(mu1))


# --------------------------------------------------------------------------- AIPW


def folds(t, n_folds, rng, groups=None):
    """Fold numbers, stratified by arm; with clusters, whole clusters go to one fold."""
    if groups is not None:
        g = int(groups.max()) + 1
        k = min(n_folds, g)
        of_cluster = rng.permutation(np.arange(g) % k)
        fold = of_cluster[groups]
        for f in range(k):
            train = t[fold != f]
            if (train == 1).sum() < 2 or (train == 0).sum() < 2:
                raise EffectInputError(f"with {g} clusters the cross-fitting folds (whole clusters, {k} folds) "
                                       "leave a training fold without treated or untreated persons; use fewer "
                                       "folds (n_folds=2) or method='ipw'")
        return fold
    fold = np.empty(len(t), dtype=int)
    for arm in (0, 1):
        idx = np.flatnonzero(t == arm)
        fold[idx] = rng.permutation(np.arange(len(idx)) % n_folds)
    return fold


def fit_outcome(X, y, binary, outcome_model=None, start=None):
    """Fit the outcome model (default: ridge logit with :data:`RIDGE_CROSS_FIT` for 0/1 outcomes, ridge least
    squares with the strength chosen by leave-one-out cross-validation otherwise, both on standardised covariates);
    returns (predict function, warm start for the next fold)."""
    if binary and 0 < y.mean() < 1 and outcome_model is None:
        init, hessian = (None, None) if start is None else (start[0], start[1] * (len(y) / start[2]))
        m = Logit(alpha=RIDGE_CROSS_FIT).fit(X, y, init=init, hessian=hessian)
        return (lambda Z: m.predict_proba(Z)[:, 1]), (np.r_[m.intercept_, m.coef_], m.hessian_, len(y))
    if isinstance(X, RowBlocks):  # models other than the built-in logit get the rows as one array, in data order
        y = y[X.natural()]
        X = X.array()
    if outcome_model is not None:
        m = clone(outcome_model).fit(X, y)
        if binary and hasattr(m, "predict_proba"):
            return (lambda Z: m.predict_proba(_dense(Z))[:, 1]), None
        return (lambda Z: m.predict(_dense(Z))), None
    intercept, beta = _cv_ridge(X, y)
    return (lambda Z: _dense(Z) @ beta + intercept), None


#: Ridge strengths (standardised covariates) among which leave-one-out cross-validation picks the outcome model's.
CV_GRID = (1e-6, 0.01, 0.1, 0.3, 1.0, 3.0, 10.0, 30.0, 100.0, 300.0, 1e3, 1e4, 1e5)
#: Rows on which the leave-one-out error is scored (evenly spaced); the fit itself uses every row.
CV_ROWS = 20_000


def _cv_ridge(X, y):
    """Ridge least squares (intercept unpenalised) with the strength chosen by leave-one-out cross-validation
    over :data:`CV_GRID`; returns (intercept, coefficients).

    A fixed ridge of 10 shrank the slopes of collinear columns (earnings and squared earnings) in every fold, and
    the weights could not undo it: AIPW's ATE on the heavy-tail design was biased by -0.20 (Monte-Carlo SE 0.025,
    87 % coverage). Cross-validation takes little penalty where the rows support the slopes and much where few
    rows face many columns (few treated, many dummies), which is what the fixed ridge was for. Generalised
    cross-validation was tried and rejected: with 30 rows and 25 noise columns it chose a ridge that predicted
    noise with twice the outcome's spread. The leave-one-out residuals come in closed form from the eigenvectors
    of the Gram matrix (``e_i / (1 - h_ii)``), scored on at most :data:`CV_ROWS` rows.
    """
    n = len(y)
    mx, my = X.mean(axis=0), float(y.mean())
    gram = X.T @ X - n * np.outer(mx, mx)
    xy = X.T @ y - n * mx * my
    s2, V = np.linalg.eigh(gram)
    s2 = np.maximum(s2, 0.0)
    c = V.T @ xy
    rows = slice(None) if n <= CV_ROWS else slice(0, n, n // CV_ROWS)
    P = (X[rows] - mx) @ V
    yc = y[rows] - my
    best, alpha = np.inf, CV_GRID[-1]
    for a in CV_GRID:
        inv = 1.0 / (s2 + a)
        lev = np.square(P) @ inv + 1.0 / n
        resid = (yc - P @ (c * inv)) / np.maximum(1.0 - lev, 1e-12)
        score = float(np.mean(np.square(resid)))
        if score < best:
            best, alpha = score, a
    beta = V @ (c / (s2 + alpha))
    return my - float(mx @ beta), beta


def _dense(Z):
    """An array of the rows (for predictions, whose row order does not matter)."""
    return np.ascontiguousarray(Z.base[Z.positions()]) if isinstance(Z, RowBlocks) else Z


class _FoldLayout:
    """The rows sorted once by (arm, fold): each training set and test fold is then a few ranges of rows
    (:class:`RowBlocks`, views) instead of a boolean-mask copy of the design per fold and arm."""

    def __init__(self, X, t, fold):
        self.k = int(fold.max()) + 1
        key = t.astype(np.intp) * self.k + fold
        self.order = np.argsort(key, kind="stable")
        self.bounds = np.r_[0, np.cumsum(np.bincount(key, minlength=2 * self.k))]
        self.X = np.empty(X.shape, order="F")
        for j in range(X.shape[1]):  # column by column: contiguous gathers from a column-major design
            self.X[:, j] = X[:, j][self.order]

    def _arm(self, arm, first, stop):
        b, base = self.bounds, arm * self.k
        return b[base + first], b[base + stop]

    def train(self, f, arms=(0, 1)) -> RowBlocks:
        ranges = [r for arm in arms for r in (self._arm(arm, 0, f), self._arm(arm, f + 1, self.k))]
        return RowBlocks(self.X, ranges, self.order)

    def test(self, f) -> RowBlocks:
        return RowBlocks(self.X, [self._arm(arm, f, f + 1) for arm in (0, 1)], self.order)

    def sorted(self, values):
        return values[self.order]


def _fold_propensity(o: Options, rows: RowBlocks, t_rows, n, full_ps):
    """The propensity model fitted on one training set (``t_rows`` its treatment in block order; ``n`` all rows)."""
    ps = clone(o.propensity_model)
    if isinstance(ps, Logit) and isinstance(full_ps, Logit):  # warm start at the full-sample solution
        return ps.fit(rows, t_rows, init=np.r_[full_ps.intercept_, full_ps.coef_],
                      hessian=full_ps.hessian_ * (len(rows) / n))
    if isinstance(ps, Logit):
        return ps.fit(rows, t_rows)
    return ps.fit(rows.array(), t_rows[rows.natural()])


def _predict_propensity(ps, rows: RowBlocks):
    return ps.predict_proba(rows if isinstance(ps, Logit) else _dense(rows))[:, 1]


def cross_fitted_propensity(s: Sample, o: Options, rep: int = 0) -> np.ndarray:
    """Out-of-fold propensity scores of repetition ``rep`` (its split), the scores AIPW's weights are made of."""
    rng = np.random.default_rng([o.seed, rep])
    fold = folds(s.t, o.n_folds, rng, s.groups)
    full_ps = analysis_propensity(s, o)
    lay = _FoldLayout(s.X, s.t, fold)
    ts = lay.sorted(s.t)
    e = np.empty(len(s.t))
    for f in range(lay.k):
        tr, te = lay.train(f), lay.test(f)
        if not len(te):
            continue
        e[lay.order[te.positions()]] = _predict_propensity(_fold_propensity(o, tr, tr.gather(ts), len(ts), full_ps), te)
    return e


def _aipw_once(s: Sample, o: Options, rep: int, full_ps):
    t, y = s.t, s.y
    fold = folds(t, o.n_folds, np.random.default_rng([o.seed, rep]), s.groups)
    lay = _FoldLayout(s.X, t, fold)
    ts, ys = lay.sorted(t), lay.sorted(y)
    e, mu0, mu1 = np.empty(len(t)), np.empty(len(t)), np.empty(len(t))  # in data order
    conv = True
    start = {0: None, 1: None}  # each outcome fold starts at the previous fold's solution
    for f in range(lay.k):
        tr, te = lay.train(f), lay.test(f)
        if not len(te):  # a fold without rows (fewer rows than folds) has nothing to predict
            continue
        where = lay.order[te.positions()]
        ps = _fold_propensity(o, tr, tr.gather(ts), len(ts), full_ps)
        conv = conv and bool(getattr(ps, "converged_", True))
        e[where] = _predict_propensity(ps, te)
        for arm, target in ((0, mu0), (1, mu1)) if s.estimand == "ate" else ((0, mu0),):
            rows = lay.train(f, (arm,))
            predict, start[arm] = fit_outcome(rows, rows.gather(ys), s.binary, o.outcome_model, start[arm])
            target[where] = predict(te)
    e = np.clip(e, NUMERIC_FLOOR, 1 - NUMERIC_FLOOR)
    if s.estimand == "ate":
        est, psi, y1 = _hajek_aipw_ate(t, y, e, mu0, mu1)
    else:
        w = e / (1 - e)
        r = y - mu0
        d0 = np.mean((1 - t) * w)
        th1 = np.sum(t * r) / t.sum()
        th0 = np.sum((1 - t) * w * r) / np.sum((1 - t) * w)
        psi = t * (r - th1) / t.mean() - (1 - t) * w * (r - th0) / d0
        est, y1 = float(th1 - th0), float(y[t == 1].mean())
    return est, se_from_influence(psi, s.groups), e, conv, y1, psi


def _hajek_aipw_ate(t, y, e, mu0, mu1):
    """Normalised AIPW for the ATE: the weighted residual corrections use weights that sum to one per arm."""
    w1, w0 = t / e, (1 - t) / (1 - e)
    c1 = np.sum(w1 * (y - mu1)) / w1.sum()
    c0 = np.sum(w0 * (y - mu0)) / w0.sum()
    m1, m0 = mu1.mean() + c1, mu0.mean() + c0
    psi = ((mu1 - mu1.mean()) + w1 / w1.mean() * (y - mu1 - c1)
           - (mu0 - mu0.mean()) - w0 / w0.mean() * (y - mu0 - c0))
    return float(m1 - m0), psi, float(m1)


def _aipw(s: Sample, o: Options) -> Fit:
    """Cross-fitted AIPW, repeated ``n_rep`` times over fresh splits; median aggregation (DoubleML's n_rep)."""
    full_ps = analysis_propensity(s, o)
    runs = [_aipw_once(s, o, rep, full_ps) for rep in range(o.n_rep)]
    ests = np.array([r[0] for r in runs])
    ses = np.array([r[1] for r in runs])
    est = float(np.median(ests))
    se = float(np.sqrt(np.median(np.square(ses) + np.square(ests - est))))
    pick = int(np.argmin(np.abs(ests - est)))  # the repetition nearest the median shows its weights
    e = runs[pick][2]
    return Fit(est, se, _ipw_weights(e, s.t, s.estimand), e, all(r[3] for r in runs),
               float(np.median([r[4] for r in runs])), 0, tuple(float(v) for v in ests), runs[pick][5])


#: The weighting and regression methods (matching: casework.effects._matching).
METHOD_FITS = {"ols": _ols, "ipw": _ipw, "aipw": _aipw}


# --------------------------------------------------------------------------- prognostic balance


def prognostic_imbalance(s: Sample, weights) -> tuple[float, float]:
    """The bias that the weights' remaining imbalance implies, and its sampling noise (standard deviation).

    A prognostic score (Hansen 2008) is the outcome predicted from the covariates
    by a model of the untreated (and, for the ATE, of the treated) arm: ridge
    least squares, or the ridge logit for a 0/1 outcome. Weights that balance
    the covariates balance it; weights that leave a covariate unbalanced which
    matters for the outcome do not, and the weighted difference of the score is
    exactly the amount by which an outcome model would move the estimate (the
    augmentation term of AIPW). IPW, which has no outcome model, is off by it.
    """
    t, X = s.t, s.X
    w1, w0 = np.where(t == 1, weights, 0.0), np.where(t == 0, weights, 0.0)
    arms = (0, 1) if s.estimand == "ate" else (0,)
    gap, var = 0.0, 0.0
    for arm in arms:
        predict, _ = fit_outcome(X[t == arm], s.y[t == arm], s.binary, None)
        m = predict(X)
        if s.estimand == "ate":  # the weighted arm's mean of the score against everybody's
            w = w1 if arm == 1 else w0
            sign = -1.0 if arm == 1 else 1.0  # returned: IPW minus the outcome-augmented estimate
            d, v = _weighted_gap(m, w, np.ones(len(t)))
            gap += sign * d
            var += v
        else:  # the treated against the weighted controls
            d, v = _weighted_gap(m, w0, (t == 1).astype(float))
            gap += d
            var += v
    return float(gap), float(np.sqrt(var))


def _weighted_gap(m, w, target):
    """mean of m over target minus its w-weighted mean; the variance of that difference with weights fixed."""
    a, b = target / target.sum(), w / w.sum()
    ma, mb = a @ m, b @ m
    var_a = np.sum(np.square(a * (m - ma))) if target.sum() < len(target) else 0.0
    return float(ma - mb), float(var_a + np.sum(np.square(b * (m - mb))))
