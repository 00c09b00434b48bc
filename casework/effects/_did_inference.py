"""Estimators and randomisation inference for difference-in-differences on a unit x month matrix.

Every estimator here is *linear* in the outcome matrix for a fixed
assignment of start months to units. That makes exact test inversion cheap:
under the sharp null "the project shifted every treated unit-month by tau",
the estimate of a re-assignment ``A`` on the adjusted outcomes is
``a_A - tau * b_A`` with ``a_A`` the estimate on the outcomes and ``b_A`` the
estimate on the observed treatment indicator. The p-value of ``tau`` is the
share of assignments whose absolute statistic is at least the observed one;
the interval is the set of ``tau`` whose p-value exceeds ``1 - level``. The
interval and the p-value therefore always agree.

Assignments are all distinct arrangements of the observed start months over
the eligible units when there are at most ``max_enumerate`` of them (an exact
test: with one treated of eight units there are eight, so no p-value can fall
below 1/8), otherwise random arrangements plus the observed one.
"""

from __future__ import annotations

from itertools import combinations
from math import factorial

import numpy as np
import pandas as pd

NEVER = np.iinfo(np.int64).max // 2  # start index of units never treated in the panel


def panel_matrix(panel: pd.DataFrame, outcome: str, unit: str, time: str):
    """Outcome as a unit x month matrix (NaN where missing); also the unit labels and the sorted months."""
    for col in (outcome, unit, time):
        if col not in panel.columns:
            raise ValueError(f"did: the panel has no column {col!r} (columns: {list(panel.columns)})")
    d = panel[[unit, time, outcome]].copy()
    d[time] = pd.to_datetime(d[time]).dt.to_period("M").dt.to_timestamp()
    y = pd.to_numeric(d[outcome], errors="coerce")
    bad = np.isinf(y.to_numpy(dtype="float64"))
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise ValueError(f"did: column {outcome!r} is infinite in panel row {d.index[row]!r}")
    dup = d.duplicated([unit, time], keep=False)
    if dup.any():
        r = d[dup].iloc[0]
        raise ValueError(f"did: the panel has {int(dup.sum())} rows for the same {unit!r} and {time!r}, "
                         f"e.g. {r[unit]!r} in {r[time]:%Y-%m} (panel row {d[dup].index[0]!r})")
    d[outcome] = y
    wide = d.pivot(index=unit, columns=time, values=outcome)
    return wide.to_numpy(dtype="float64"), list(wide.index), list(wide.columns)


def n_arrangements(starts: np.ndarray) -> int:
    _, counts = np.unique(starts, return_counts=True)
    out = factorial(len(starts))
    for c in counts:
        out //= factorial(int(c))
    return out


def arrangements(starts: np.ndarray, max_enumerate: int, n_draws: int, rng) -> tuple[np.ndarray, bool]:
    """Assignments of the observed start months to units: all of them (exact) or random ones.

    Returns ``(array of shape (K, units), exhaustive)``; the observed
    assignment is row 0.
    """
    starts = np.asarray(starts, dtype=np.int64)
    if n_arrangements(starts) <= max_enumerate:
        rows = [starts] + [a for a in _all_arrangements(starts) if not np.array_equal(a, starts)]
        return np.array(rows), True
    draws = [rng.permutation(starts) for _ in range(n_draws)]
    return np.array([starts, *draws]), False


def _all_arrangements(starts: np.ndarray):
    values, counts = np.unique(starts, return_counts=True)
    order = np.argsort(counts)  # the most frequent value fills the remaining places
    values, counts = values[order], counts[order]
    n = len(starts)

    def fill(free: tuple, k: int, current: np.ndarray):
        if k == len(values) - 1:
            current[list(free)] = values[k]
            yield current.copy()
            return
        for chosen in combinations(free, int(counts[k])):
            current[list(chosen)] = values[k]
            rest = tuple(i for i in free if i not in chosen)
            yield from fill(rest, k + 1, current)

    yield from fill(tuple(range(n)), 0, np.empty(n, dtype=np.int64))


def treatment_matrix(starts: np.ndarray, n_months: int, valid: np.ndarray) -> np.ndarray:
    """1 for unit-months at or after the unit's start (0 elsewhere, NaN where the outcome is missing)."""
    d = (np.arange(n_months)[None, :] >= starts[:, None]).astype("float64")
    return np.where(valid, d, np.nan)


def twfe(stack: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Two-way fixed-effects coefficient of the treatment indicator, for every matrix in ``stack`` (k, G, T)."""
    valid = ~np.isnan(stack[0])
    dt = _demean(treatment_matrix(starts, stack.shape[2], valid), valid)
    return np.einsum("kgt,gt->k", np.nan_to_num(stack), dt) / np.sum(dt * dt)


def _demean(x: np.ndarray, valid: np.ndarray, tol: float = 1e-12, max_iter: int = 1000) -> np.ndarray:
    """Two-way within transformation on the observed cells by alternating projections (unbalanced panels)."""
    x = np.where(valid, x, 0.0)
    n_u, n_t = np.maximum(valid.sum(1), 1), np.maximum(valid.sum(0), 1)
    for _ in range(max_iter):
        x = x - (x.sum(1) / n_u)[:, None] * valid
        mt = x.sum(0) / n_t
        x = x - mt[None, :] * valid
        if np.max(np.abs(mt)) < tol:
            break
    return x


def group_time(stack: np.ndarray, starts: np.ndarray, comparison: str):
    """Callaway-Sant'Anna group-time ATTs without covariates, for every matrix of ``stack`` (k, G, T).

    ATT(g, t) is the mean change from the month before ``g`` to ``t`` of the
    units starting in ``g`` minus that of the comparison units: those never
    treated in the panel (``never_treated``) or, in addition, those not yet
    treated by ``max(t, g - 1)`` (``not_yet_treated``), as in R's ``did``
    package with a universal base period. Units missing in ``t`` or in the
    base month leave that cell.

    Returns ``groups`` (start indices), ``att`` (k, groups, T) and the weights
    ``w`` (k, groups, T): the number of group units in the cell, 0 where the
    cell is undefined.
    """
    k, n_units, n_t = stack.shape
    valid = ~np.isnan(stack)
    y = np.nan_to_num(stack)
    groups = np.unique(starts[starts < NEVER])
    att = np.zeros((k, len(groups), n_t))
    w = np.zeros((k, len(groups), n_t))
    t_idx = np.arange(n_t)
    for gi, g in enumerate(groups):
        base = g - 1
        diff = y - y[:, :, base][:, :, None]
        ok = valid & valid[:, :, base][:, :, None]
        if comparison == "never_treated":
            comp = np.broadcast_to((starts >= NEVER)[:, None], (n_units, n_t))
        else:
            comp = (starts[:, None] > np.maximum(t_idx, base)[None, :]) & (starts != g)[:, None]
        in_g, in_c = ok & (starts == g)[None, :, None], ok & comp[None]
        n_g, n_c = in_g.sum(1), in_c.sum(1)
        defined = (n_g > 0) & (n_c > 0)
        with np.errstate(invalid="ignore", divide="ignore"):
            est = (diff * in_g).sum(1) / n_g - (diff * in_c).sum(1) / n_c
        att[:, gi] = np.where(defined, est, 0.0)
        w[:, gi] = np.where(defined, n_g, 0)
    return groups, att, w


def simple_att(groups, att, w, n_t: int) -> np.ndarray:
    """Mean of the post-start group-time ATTs weighted by group units: the mean over treated unit-months."""
    post = (np.arange(n_t)[None, :] >= groups[:, None])[None]
    with np.errstate(invalid="ignore", divide="ignore"):
        return (att * w * post).sum((1, 2)) / (w * post).sum((1, 2))


def event_bins(groups, att, w, n_t: int, bins: list[list[int]]) -> np.ndarray:
    """Pooled ATT per bin of months relative to the start (k, bins); -1 (the base month) is never in a bin."""
    rel = (np.arange(n_t)[None, :] - groups[:, None]).ravel()
    member = np.stack([np.isin(rel, months) for months in bins], axis=1).astype("float64")  # (cells, bins)
    k = att.shape[0]
    with np.errstate(invalid="ignore", divide="ignore"):
        return ((att * w).reshape(k, -1) @ member) / (w.reshape(k, -1) @ member)


def p_value(a: np.ndarray, b: np.ndarray, a_obs: float, b_obs: float, tau: float = 0.0) -> float:
    """Share of assignments (the observed one included) whose |statistic| under ``tau`` is >= the observed."""
    stat = np.abs(a - tau * b)
    obs = abs(a_obs - tau * b_obs)
    return float(np.mean(stat >= obs - 1e-12 * max(1.0, obs)))


def invert(a: np.ndarray, b: np.ndarray, a_obs: float, b_obs: float, alpha: float) -> tuple[float, float]:
    """Hull of the effects ``tau`` not rejected at ``alpha`` (p-value > alpha); bounds may be infinite.

    The p-value is piecewise constant in ``tau`` and only changes where
    ``|a_A - tau b_A| = |a_obs - tau b_obs|`` for some assignment, so it is
    evaluated at these points and between them: the interval is exact.
    """
    with np.errstate(invalid="ignore", divide="ignore"):
        roots = np.concatenate([(a - a_obs) / (b - b_obs), (a + a_obs) / (b + b_obs)])
    roots = np.unique(roots[np.isfinite(roots)])
    if len(roots) == 0:
        roots = np.array([a_obs / b_obs if b_obs else 0.0])
    span = max(1.0, float(np.ptp(roots)), float(np.max(np.abs(roots))))
    mids = (roots[1:] + roots[:-1]) / 2
    points = np.sort(np.concatenate([roots, mids, [roots[0] - span, roots[-1] + span]]))
    p = _p_values(a, b, a_obs, b_obs, points)
    ok = p > alpha
    if not ok.any():
        return float("nan"), float("nan")
    lo = -np.inf if ok[0] else float(points[np.argmax(ok)])
    hi = np.inf if ok[-1] else float(points[len(ok) - 1 - np.argmax(ok[::-1])])
    return lo, hi


def _p_values(a, b, a_obs, b_obs, taus: np.ndarray, chunk: int = 2_000_000) -> np.ndarray:
    """:func:`p_value` at many ``taus`` at once (in chunks that bound the memory)."""
    step = max(1, chunk // max(len(a), 1))
    out = np.empty(len(taus))
    for i in range(0, len(taus), step):
        t = taus[i:i + step, None]
        obs = np.abs(a_obs - t * b_obs)
        out[i:i + step] = np.mean(np.abs(a[None, :] - t * b[None, :]) >= obs - 1e-12 * np.maximum(1.0, obs), axis=1)
    return out
