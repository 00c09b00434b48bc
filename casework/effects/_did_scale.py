"""Randomisation inference for DiD that holds when jobcenters differ in noise (few treated, heteroskedastic).

The plain randomisation test (:mod:`casework.effects._did_inference`) moves
the project label to other jobcenters. If the project jobcenter is noisier
than the others (a small one: its monthly rate rests on few persons), its
estimate varies more than the re-assigned ones and the test rejects too
often; a larger, quieter one makes it conservative.

Following Ferman & Pinto (2019, "Inference in differences-in-differences with
few treated groups and heteroskedasticity", REStat), the test here permutes
*standardised residuals* instead of labels: under the null "the project
shifted every treated month by tau" each jobcenter's two-way residual series
of ``y - tau * D`` is divided by the jobcenter's noise scale, the series are
re-arranged over the jobcenters, multiplied by the scale of the place they
land in, and the observed estimator is applied. Every reference draw thus
has the observed jobcenters' noise levels. With all scales equal this is the
plain test exactly. Everything stays linear in ``tau``, so interval and
p-value still come from one inversion.

The scale of a jobcenter is estimated from the months before the first start
(no effect in them):

* ``"pre_period"``: its own long-run residual standard deviation in those
  months (Bartlett weights over the cube root of the months: the effect is a
  contrast of means over many correlated months); a noise level that the
  months before the start reveal is corrected, whatever its cause. The
  pre-trend test's layer uses the month-to-month SD (:func:`layer_scales`);
* ``"size"``: Ferman & Pinto's model of the variance as a function of size,
  ``sigma^2 = A + B / M`` with ``M`` the persons per cell (the stock), fitted
  over all jobcenters; a project jobcenter noisier than its size explains is
  not corrected.

No method can correct noise that shows only after the start: with one
project jobcenter, a change in its noise at the start cannot be told from an
effect.
"""

from __future__ import annotations

import numpy as np

from casework.effects import _did_inference as ri

SCALES = ("pre_period", "size", None)
#: Fewer months before the first start than this: the noise scales are not measured (plain test, with a warning).
MIN_PRE_MONTHS = 6


def pre_period_sd(y: np.ndarray, starts: np.ndarray, lags: int | None = 0) -> np.ndarray:
    """Each unit's residual SD (two-way fixed effects) in the months before the first start; NaN below 3.

    ``lags`` > 0: the long-run SD (Newey-West, Bartlett weights over that many months; ``None``: the cube
    root of the months), which is what the noise of a mean over many months scales with when months are
    correlated.
    """
    first = int(starts[starts < ri.NEVER].min())
    pre = y[:, :first]
    valid = ~np.isnan(pre)
    resid = np.where(valid, ri._demean(pre, valid), 0.0)
    n = valid.sum(1)
    var = np.sum(resid ** 2, axis=1) / np.maximum(n - 1, 1)
    lags = int(np.ceil(first ** (1 / 3))) if lags is None else lags
    for lag in range(1, min(lags, first - 1) + 1):
        cov = np.sum(resid[:, lag:] * resid[:, :-lag], axis=1) / np.maximum(n - 1, 1)
        var = var + 2 * (1 - lag / (lags + 1)) * cov
    return np.where(n >= 3, np.sqrt(np.maximum(var, 0)), np.nan)


#: Lags of the long-run SD used as scale (``None``: cube root of the months before the start); see validation.
SCALE_LAGS: int | None = None
#: The pre-trend test's layer rescaled by the month-to-month SD (see :func:`layer_scales`).
PRETREND_SHORT = True


def size_model(sd: np.ndarray, size: np.ndarray) -> tuple[np.ndarray, float, float]:
    """Ferman & Pinto's variance model: fitted SDs ``sqrt(A + B / M)`` for every unit, and A, B.

    Least squares (A, B >= 0) of the units' squared noise SDs before the start (:func:`pre_period_sd`) on
    ``1 / M``, over all units: many months per unit make the fit precise (the squared before/after contrast
    of each comparison unit, one number per unit, was too noisy to extrapolate to a small project
    jobcenter: size 17.5 % instead of 5 % in the validation design).
    """
    from scipy.optimize import nnls

    ok = np.isfinite(sd) & np.isfinite(size) & (size > 0)
    if ok.sum() < 5:
        raise ValueError("did: scale='size' fits the noise over the jobcenters and needs at least 5 with months "
                         "before the start and a positive size; use scale='pre_period'")
    X = np.column_stack([np.ones(ok.sum()), 1.0 / size[ok]])
    (a, b), _ = nnls(X, sd[ok] ** 2)
    if a + b == 0:
        raise ValueError("did: the size model of the noise is degenerate (no variation left); use "
                         "scale='pre_period'")
    with np.errstate(divide="ignore"):
        fitted = np.sqrt(a + b / size)
    return fitted, float(a), float(b)


def unit_scales(y: np.ndarray, starts: np.ndarray, method: str | None, size: np.ndarray | None = None,
                lags: int | None = -1):
    """``(scales, raw SDs, method used)``: the noise scale of every unit for :func:`residual_draw` (ones for
    ``method=None``, and when fewer than :data:`MIN_PRE_MONTHS` months precede the first start); ``lags``
    of :func:`pre_period_sd` (default :data:`SCALE_LAGS`)."""
    if method not in SCALES:
        raise ValueError(f"did: scale must be one of {SCALES}, not {method!r}")
    sd = pre_period_sd(y, starts, SCALE_LAGS if lags == -1 else lags)
    if method is None or int(starts[starts < ri.NEVER].min()) < MIN_PRE_MONTHS:
        return np.ones(len(y)), sd, None
    if method == "size":
        if size is None:
            raise ValueError("did: scale='size' needs size= (the column with the persons per cell, e.g. 'stock')")
        scales = size_model(sd, size)[0]
    else:
        scales = sd.copy()
    ok = np.isfinite(scales) & (scales > 0)
    if not ok.any():
        raise ValueError("did: no jobcenter has enough months before the start to measure its noise; use "
                         "scale=None")
    # a unit without a measurable scale gets the median; a zero scale would blow its residuals up
    floor = 1e-3 * np.median(scales[ok])
    return np.where(ok, np.maximum(scales, floor), np.median(scales[ok])), sd, method


def layer_scales(scales: np.ndarray, short: np.ndarray, n_layers: int) -> np.ndarray:
    """Scales per layer (layers, units): the last layer (the pre-trend test's outcome) uses ``short``.

    The effect is a contrast of means over many months, whose noise grows with the long-run SD; the
    pre-trend test compares short bins of months with the single month before the start, whose noise is
    closer to the month-to-month SD.
    """
    out = np.repeat(scales[None, :], n_layers, axis=0)
    out[-1] = short
    return out


def standardised_residuals(stack: np.ndarray, scales: np.ndarray) -> np.ndarray:
    """Two-way within residuals of every layer (on its own observed cells) divided by the unit scales
    (one vector for all layers, or one row per layer)."""
    scales = np.broadcast_to(scales, stack.shape[:2])
    out = np.empty_like(stack)
    for k, layer in enumerate(stack):
        valid = ~np.isnan(layer)
        out[k] = np.where(valid, ri._demean(layer, valid), np.nan) / scales[k][:, None]
    return out


def permutation_for(assignment: np.ndarray, observed: np.ndarray) -> np.ndarray:
    """Rows to place at each position so that the observed estimator on the moved rows equals the
    estimator of ``assignment``: the units given start ``g`` fill the positions observed with ``g``."""
    perm = np.empty(len(observed), dtype=np.int64)
    for g in np.unique(observed):
        perm[np.flatnonzero(observed == g)] = np.flatnonzero(assignment == g)
    return perm


def residual_draw(z: np.ndarray, scales: np.ndarray, perm: np.ndarray, position_valid: np.ndarray) -> np.ndarray:
    """Standardised residual series moved by ``perm`` and rescaled to the noise of the place they land in.

    A cell is missing where the moved series or the place lacks it (the months an observed project unit
    leaves out of the pre-trend layer move with its series, as they move with its label in the plain test).
    """
    moved = z[:, perm] * np.broadcast_to(scales, z.shape[:2])[:, :, None]
    return np.where(position_valid, moved, np.nan)


def noise_change(y: np.ndarray, starts: np.ndarray) -> float:
    """How much more the project units' noise grew from before to after their start than the comparison's.

    Residuals of the two-way model with the treatment indicator (a constant
    effect removed); per unit the SD from its start (comparison units: from
    the first start) over the SD before the first start; the treated units'
    mean ratio over the comparison units' median. Noise that rises only after
    the start is what no test can correct (a changing effect raises it too).
    """
    valid = ~np.isnan(y)
    d = ri.treatment_matrix(starts, y.shape[1], valid)
    dt, yt = ri._demean(d, valid), ri._demean(y, valid)
    delta = np.sum(dt * yt) / np.sum(dt * dt)
    resid = np.where(valid, yt - delta * dt, np.nan)
    first = int(starts[starts < ri.NEVER].min())
    t = np.arange(y.shape[1])[None, :]
    post = t >= np.where(starts < ri.NEVER, starts, first)[:, None]
    before = t < first

    def sd(mask):
        r = np.where(mask, resid, np.nan)
        n = (~np.isnan(r)).sum(1)
        return np.where(n >= 3, np.sqrt(np.nansum(r ** 2, axis=1) / np.maximum(n - 1, 1)), np.nan)

    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = sd(post) / sd(before)
    treated = starts < ri.NEVER
    control = np.nanmedian(ratio[~treated]) if np.isfinite(ratio[~treated]).any() else np.nan
    return float(np.nanmean(ratio[treated]) / control) if control > 0 else float("nan")
