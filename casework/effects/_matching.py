"""Matching for :func:`casework.effects.estimate` (``method="match"``): 1:1 nearest-neighbour matching with
replacement on the logit propensity within a caliper, regression bias correction, Abadie-Imbens variance."""

from __future__ import annotations

import numpy as np

from casework.effects._fits import Fit, Options, Sample, analysis_propensity, check_lin_sizes, unshrunk_residuals

__all__ = ["match"]


def _nearest(lp_from, lp_to):
    """Index into lp_to of the nearest value for every lp_from (1-D, by sorting)."""
    order = np.argsort(lp_to, kind="stable")
    srt = lp_to[order]
    pos = np.clip(np.searchsorted(srt, lp_from), 1, len(srt) - 1)
    left, right = srt[pos - 1], srt[pos]
    pick = np.where(np.abs(lp_from - left) <= np.abs(right - lp_from), pos - 1, pos)
    return order[pick]


def _within_arm_variance(X, resid):
    """Abadie-Imbens (2006) conditional variance: half the squared difference to the nearest same-arm neighbour
    in the standardised covariates, taken of the residuals of the arm's bias-correction regression.

    On raw outcomes the neighbour's difference carries the outcome's slope times the covariate gap, which inflated
    the variance many times over where the covariates predict the outcome strongly (Kang-Schafer with the true
    covariates: SE 0.84 against an RMSE of 0.11, 100 % coverage). Residuals keep the estimator consistent (their
    mean is as smooth as the outcome's) and remove what the regression explains. Neighbours in the propensity
    score alone differed in everything else the outcome depends on (SE 2.3 there)."""
    from sklearn.neighbors import NearestNeighbors

    n = len(resid)
    if n < 2:
        return np.zeros(n)
    idx = NearestNeighbors(n_neighbors=2).fit(X).kneighbors(X, return_distance=False)
    other = np.where(idx[:, 0] == np.arange(n), idx[:, 1], idx[:, 0])  # exact duplicates may come first
    return np.square(resid - resid[other]) / 2


def _fit_linear(X, y):
    """Least squares of y on [1 X]: (coefficients, pseudo-inverse of the Gram matrix)."""
    Xa = np.column_stack([np.ones(len(y)), X])
    gram_inv = np.linalg.pinv(Xa.T @ Xa)
    return gram_inv @ (Xa.T @ y), gram_inv


def _with_intercept(X):
    return np.column_stack([np.ones(len(X)), X])


def match(s: Sample, o: Options) -> Fit:
    """1:1 matching with replacement on the logit propensity within a caliper, regression bias correction.

    The variance is Abadie-Imbens' (2006) with two finite-sample terms they leave to the asymptotics: the
    estimate is linear in every unit's outcome noise, with coefficient (appearances + regression share)/n, where
    appearances count the unit itself (if in the target) and its uses as a match, and the regression share is
    what the bias-correction slope takes from it (``D' (Xa'Xa)^-1 x_k``, ``D`` the summed covariate gap of the
    pairs). Matching on the score alone leaves large gaps in the covariates the score does not weigh, so the
    slope's noise is not negligible (Kang-Schafer with the true covariates, ATE: 89 % coverage without it).
    """
    X, t, y = s.X, s.t, s.y
    check_lin_sizes(t, X.shape[1], s.estimand, method="match")
    model = analysis_propensity(s, o)
    e = model.predict_proba(X)[:, 1]
    lp = np.log(np.clip(e, 1e-12, 1 - 1e-12) / np.clip(1 - e, 1e-12, 1))
    cal = o.caliper * lp.std()
    idx1, idx0 = np.flatnonzero(t == 1), np.flatnonzero(t == 0)
    fits = {arm: _fit_linear(X[t == arm], y[t == arm]) for arm in (0, 1)}
    sigma2 = np.empty(len(t))
    for arm, idx in ((1, idx1), (0, idx0)):
        Xa = _with_intercept(X[idx])
        sigma2[idx] = _within_arm_variance(X[idx], unshrunk_residuals(y[idx] - Xa @ fits[arm][0], Xa, fits[arm][1]))
    uses = np.zeros(len(t))
    share = np.zeros(len(t))  # the regression share of each unit's noise coefficient
    imputed = {}
    unmatched = np.zeros(len(t), dtype=bool)
    targets = {"att": [(idx1, idx0, 0)], "ate": [(idx1, idx0, 0), (idx0, idx1, 1)]}[s.estimand]
    for src, dst, arm in targets:
        j = dst[_nearest(lp[src], lp[dst])]
        ok = np.abs(lp[src] - lp[j]) <= cal
        unmatched[src[~ok]] = True
        np.add.at(uses, j[ok], 1)
        beta, gram_inv = fits[arm]
        gap = _with_intercept(X[src[ok]]) - _with_intercept(X[j[ok]])
        imputed[arm] = (src[ok], y[j[ok]] + gap @ beta)
        share[dst] = _with_intercept(X[dst]) @ (gram_inv @ gap.sum(axis=0))
    if s.estimand == "att":
        i, y0hat = imputed[0]
        diff = y[i] - y0hat
        y1_mean = float(y[i].mean())
        weights = np.where(t == 1, (~unmatched).astype(float), uses)
        own = ((t == 1) & ~unmatched).astype(float)
    else:
        y1 = y.astype("float64").copy()
        y0 = y.astype("float64").copy()
        i0, v0 = imputed[0]
        i1, v1 = imputed[1]
        y0[i0], y1[i1] = v0, v1
        i = np.flatnonzero(~unmatched)
        diff = y1[i] - y0[i]
        y1_mean = float(y1[i].mean())
        weights = np.where(unmatched, 0.0, 1.0 + uses)
        own = (~unmatched).astype(float)
    tau = float(diff.mean())
    n_t = len(diff)
    # the squared differences hold each unit's noise once per appearance; the estimate (appearances + share)^2 times
    appearances = own + uses
    extra = np.square(appearances + share) - appearances
    var = (np.sum(np.square(diff - tau)) + np.sum(extra * sigma2)) / n_t ** 2
    return Fit(tau, float(np.sqrt(max(var, 0.0))), weights, e, bool(getattr(model, "converged_", True)), y1_mean,
               int(unmatched.sum()), psi=_influence(X, t, y, fits, own, appearances + share, tau, n_t))


def _influence(X, t, y, fits, own, noise_weight, tau, n_t):
    """The linear representation of bias-corrected matching (Abadie & Imbens 2011): each target unit's
    regression-predicted effect around the estimate, plus each unit's residual times its noise weight
    (appearances + regression share; signed by arm), scaled so that ``se_from_influence`` gives its spread.
    Used to test matching against AIPW on the same rows (the difference of the two representations)."""
    Xa = _with_intercept(X)
    mu1, mu0 = Xa @ fits[1][0], Xa @ fits[0][0]
    resid = y - np.where(t == 1, mu1, mu0)
    psi = own * (mu1 - mu0 - tau) + np.where(t == 1, 1.0, -1.0) * noise_weight * resid
    return (psi - psi.mean()) * (len(t) / n_t)
