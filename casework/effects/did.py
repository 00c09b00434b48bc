"""Model-project evaluation: difference-in-differences at jobcenter-month level.

The outcome is the monthly integration rate of each jobcenter
(:func:`casework.panel.jobcenter_months`); the estimate is the mean effect
over the project jobcenter-months from each jobcenter's project start
(unweighted, as in docs/estimands.md).

* **One start date** (all project jobcenters begin together): two-way fixed
  effects (jobcenter and month), which equals the classic 2x2 comparison.
* **Staggered starts**: Callaway & Sant'Anna group-time ATTs (the month
  before each group's start as base; comparison jobcenters never treated or,
  with ``comparison="not_yet_treated"``, also those not yet started),
  aggregated to the mean over treated jobcenter-months. Never collapsed to
  the earliest start.

**Inference by randomisation.** A model project has one or a few project
jobcenters; cluster-robust errors and the wild bootstrap fail there. The
p-value compares the estimate with the estimates of every other assignment
of the same start months to the eligible jobcenters (all of them when there
are at most ``max_enumerate``, else ``n_boot`` random ones); the interval is
the set of effects that test does not reject, so interval and p-value agree.
With ``n`` assignments no p-value can fall below ``1/n`` (one project
jobcenter of eight: 1/8): when the requested level is out of reach the
result says so and gives the interval at the highest attainable level
(``ci_level``). The event study and its pre-trend test use the same
assignments.

**Jobcenters of unequal noise** (a small project jobcenter rests on few
persons): by default the test does not move the project label but the
jobcenters' residual series, each standardised by its own noise before the
first start and rescaled to the noise of the place it lands in (Ferman &
Pinto 2019; :mod:`casework.effects._did_scale`), so every reference draw
has the observed jobcenters' noise levels. ``scale="size"`` uses their
model ``A + B / stock`` instead, ``scale=None`` the plain label permutation.
Noise that appears only after the start cannot be told from an effect by any
test; ``noise_change`` measures it and the result warns
(docs/validation_did.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from casework import fmt
from casework.effects import _did_inference as ri
from casework.effects import _did_scale as sc
from casework.summary import SummaryFace

__all__ = ["DidResult", "did", "event_study", "project_did", "project_groups", "board_sentence"]

_ROW = ("estimate", "se", "ci_low", "ci_high", "ci_level", "level", "p_value", "min_p", "p_value_analytic",
        "n_clusters", "n_treated_clusters", "n_excluded", "n_obs", "n_assignments", "exhaustive", "staggered",
        "comparison", "pretrend_p", "scale", "noise_ratio", "noise_unexplained", "noise_change", "warning")
#: Project jobcenters whose month-to-month noise before the start exceeds, by this factor, what the test allows
#: for make it liberal (validation_did.md: plain test, twice the noise: size 11.5 % instead of 5 %)
NOISE_RATIO_LIMIT = 1.5
#: Project jobcenters whose noise grew from before to after the start by this factor more than the comparison's:
#: no test can separate that from an effect (validation_did.md)
NOISE_CHANGE_LIMIT = 1.5
_SCALE_TEXT = {"pre_period": "residuals rescaled to each jobcenter's own noise before the start",
               "size": "residuals rescaled to the size model A + B / size", None: "not allowed for (plain test)"}


@dataclass(frozen=True)
class DidResult(SummaryFace):
    """A difference-in-differences estimate with randomisation inference.

    ``ci_low``/``ci_high`` hold the interval at ``ci_level``: the requested
    ``level`` when it is attainable, else the highest attainable level
    ``1 - min_p``. ``se`` is the standard deviation of the estimates under
    re-assignment (a randomisation standard error, for orientation only).
    """

    estimate: float
    se: float
    ci_low: float
    ci_high: float
    p_value: float
    p_value_analytic: float
    n_clusters: int
    n_treated_clusters: int
    n_obs: int
    start: pd.Timestamp
    warning: str = ""
    _event_study: pd.DataFrame | None = field(default=None, repr=False)
    pretrend_p: float = float("nan")
    level: float = 0.95
    ci_level: float = 0.95
    min_p: float = float("nan")
    n_assignments: int = 0
    exhaustive: bool = False
    staggered: bool = False
    comparison: str = "never_treated"
    n_excluded: int = 0
    _group_time: pd.DataFrame | None = field(default=None, repr=False)
    noise_ratio: float = float("nan")
    scale: str | None = "pre_period"
    noise_unexplained: float = float("nan")
    noise_change: float = float("nan")

    @property
    def event_study(self) -> pd.DataFrame | None:
        """event_time (first month of the bin, relative to the start), months, estimate, se, ci_low, ci_high,
        p_value; relative to the month before the start."""
        return None if self._event_study is None else self._event_study.copy()

    @property
    def group_time(self) -> pd.DataFrame | None:
        """Group-time ATTs: group (start month), month, att, units."""
        return None if self._group_time is None else self._group_time.copy()

    @property
    def level_attainable(self) -> bool:
        return self.ci_level >= self.level - 1e-12

    def to_frame(self) -> pd.DataFrame:
        """One row: estimate, se, ci_low, ci_high, ci_level, level, p_value, min_p, p_value_analytic,
        n_clusters, n_treated_clusters, n_excluded, n_obs, n_assignments, exhaustive, staggered, comparison,
        pretrend_p, scale, noise_ratio, noise_unexplained, noise_change, warning."""
        return pd.DataFrame([{k: getattr(self, k) for k in _ROW}])

    def _summary_rows(self) -> list[tuple[str, str]]:
        """The report's rows, the warning last."""
        design = ("staggered starts, group-time ATTs (Callaway-Sant'Anna, " + self.comparison.replace("_", "-")
                  + " comparison)" if self.staggered else "one start date, two-way fixed effects")
        test = (f"all {self.n_assignments:,} assignments" if self.exhaustive
                else f"{self.n_assignments - 1:,} random assignments + the observed one")
        level = f"{self.ci_level:.1%} interval" + ("" if self.level_attainable else
                                                   f" ({self.level:.0%} not attainable)")
        return [("Design", design),
                ("Estimate", f"{self.estimate:.5f} (randomisation SE {self.se:.5f})"),
                (level.capitalize(), f"[{self.ci_low:.5f}, {self.ci_high:.5f}] (test inversion)"),
                ("p-value", f"{self.p_value:.3g} (randomisation, {test}; smallest possible {self.min_p:.3g})"),
                ("Unequal noise", _SCALE_TEXT[self.scale] + f" (project/comparison noise {self.noise_ratio:.2f})"),
                ("Jobcenters", f"{self.n_treated_clusters} treated of {self.n_clusters}"
                               + (f", {self.n_excluded} of other projects left out" if self.n_excluded else "")),
                ("Jobcenter-months", f"{self.n_obs:,}"),
                ("Pre-trend test", f"p = {self.pretrend_p:.3g} (same randomisation)")
                ] + ([("Warning", self.warning)] if self.warning else [])


def did(panel: pd.DataFrame, treated, start=None, outcome: str = "rate", unit: str = "jc_id", time: str = "month",
        n_boot: int = 999, seed: int = 0, event_window: tuple[int, int] = (-12, 12), *, exclude=(),
        level: float = 0.95, comparison: str = "never_treated", bin_months: int = 3,
        max_enumerate: int = 2000, scale: str | None = "pre_period", size: str | None = None) -> DidResult:
    """Difference-in-differences with randomisation inference and an event study.

    Parameters
    ----------
    panel : DataFrame
        One row per unit and month (e.g. :func:`casework.panel.jobcenter_months`).
    treated : iterable or mapping
        The units that run the project; a mapping ``unit -> start`` gives each
        its own start (staggered adoption).
    start : date or mapping, optional
        First month of the project (one date for all, or ``unit -> start``).
    n_boot : int
        Random assignments drawn when there are more than ``max_enumerate``.
    exclude : iterable
        Units kept out of the comparison group (e.g. jobcenters of other
        projects).
    level : float
        Requested interval level; see ``DidResult.ci_level`` for the one given.
    comparison : {"never_treated", "not_yet_treated"}
        Comparison units for staggered starts.
    bin_months : int
        Width of the event-study bins in months.
    scale : {"pre_period", "size", None}
        How the test allows for jobcenters that differ in noise (module
        :mod:`casework.effects._did_scale`, Ferman & Pinto 2019): standardised
        residuals are permuted and rescaled to each place's noise, measured
        before the first start as each jobcenter's own residual SD
        (``"pre_period"``, default) or from the size model ``A + B / size``
        (``"size"``, needs ``size``); ``None``: the plain label permutation
        (assumes jobcenters exchangeable).
    size : str, optional
        Column with the persons behind each cell (e.g. ``"stock"``) for ``scale="size"``.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> months = pd.date_range("2019-01-01", periods=36, freq="MS")
    >>> p = pd.DataFrame([(j, m) for j in range(12) for m in months], columns=["jc_id", "month"])
    >>> p["rate"] = 0.02 + 0.001 * p["jc_id"] + rng.normal(0, 0.002, len(p))
    >>> p.loc[(p["jc_id"] < 3) & (p["month"] >= "2020-07-01"), "rate"] += 0.005
    >>> r = did(p, treated=[0, 1, 2], start="2020-07-01")
    >>> bool(r.ci_low < 0.005 < r.ci_high), r.exhaustive, r.n_assignments
    (True, True, 220)
    """
    if comparison not in ("never_treated", "not_yet_treated"):
        raise ValueError(f"did: comparison must be 'never_treated' or 'not_yet_treated', not {comparison!r}")
    if not 0 < level < 1:
        raise ValueError(f"did: level must lie between 0 and 1, not {level!r}")
    y, units, months = ri.panel_matrix(panel, outcome, unit, time)
    m = ri.panel_matrix(panel, size, unit, time)[0] if size is not None else None
    start_of = _starts(treated, start)
    excluded = _excluded(exclude, start_of, units)
    keep = [i for i, u in enumerate(units) if u not in excluded and not np.isnan(y[i]).all()]
    y, units = y[keep], [units[i] for i in keep]
    starts = _start_indices(start_of, units, months, unit)
    m = None if m is None else _pre_size(m[keep], starts)
    scales, raw_sd, used = sc.unit_scales(y, starts, scale, m)
    if used is not None and sc.PRETREND_SHORT:
        scales = (scales, sc.unit_scales(y, starts, scale, m, lags=0)[0])
    if not (starts >= ri.NEVER).any() and comparison == "never_treated":
        raise ValueError("did: no comparison unit is left (all are treated or excluded); with staggered starts "
                         "use comparison='not_yet_treated'")
    staggered = len(set(starts[starts < ri.NEVER])) > 1
    return _estimate(y, starts, units, months, staggered=staggered, n_boot=n_boot, seed=seed,
                     window=event_window, level=level, comparison=comparison, bin_months=bin_months,
                     max_enumerate=max_enumerate, n_excluded=len(excluded & set(_labels(panel, unit))),
                     scales=scales, raw_sd=raw_sd, scale=used, scale_asked=scale)


def _pre_size(m: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Harmonic mean of each unit's size over the months before the first start (the variance goes with 1/M)."""
    pre = m[:, : int(starts[starts < ri.NEVER].min())]
    with np.errstate(divide="ignore", invalid="ignore"):
        return 1.0 / np.nanmean(np.where(pre > 0, 1.0 / pre, np.nan), axis=1)


def _labels(panel, unit):
    return set(panel[unit].unique())


def _starts(treated, start) -> dict:
    if isinstance(treated, Mapping):
        return {u: pd.Timestamp(s) for u, s in treated.items()}
    units = list(dict.fromkeys(treated))
    if isinstance(start, Mapping):
        missing = [u for u in units if u not in start]
        if missing:
            raise ValueError(f"did: no start given for treated units {missing}")
        return {u: pd.Timestamp(start[u]) for u in units}
    if start is None:
        raise ValueError("did: give the project start (a date, or a mapping unit -> start)")
    return {u: pd.Timestamp(start) for u in units}


def _excluded(exclude, start_of: dict, units: list) -> set:
    excluded = set(exclude)
    both = excluded & set(start_of)
    if both:
        raise ValueError(f"did: units {sorted(both)} are both treated and excluded")
    return excluded


def _start_indices(start_of: dict, units: list, months: list, unit: str) -> np.ndarray:
    missing = [u for u in start_of if u not in units]
    if missing:
        raise ValueError(f"did: treated units {missing} have no data in column {unit!r} of the panel")
    month_index = pd.DatetimeIndex(months)
    starts = np.full(len(units), ri.NEVER, dtype=np.int64)
    for i, u in enumerate(units):
        if u not in start_of:
            continue
        s = start_of[u].to_period("M").to_timestamp()
        k = int(month_index.searchsorted(s))
        if k == 0:
            raise ValueError(f"did: unit {u!r} starts {s:%Y-%m}, but the panel has no month before its start "
                             f"(first month {months[0]:%Y-%m})")
        if k >= len(months):
            raise ValueError(f"did: unit {u!r} starts {s:%Y-%m}, after the panel's last month "
                             f"{months[-1]:%Y-%m}")
        starts[i] = k
    if not (starts < ri.NEVER).any():
        raise ValueError("did: no treated unit")
    return starts


def _bins(window: tuple[int, int], bin_months: int) -> tuple[list[int], list[list[int]]]:
    """Event-time bins (first month, members); the base month -1 belongs to none."""
    by_bin: dict[int, list[int]] = {}
    for e in range(window[0], window[1] + 1):
        if e != -1:
            by_bin.setdefault(e // bin_months * bin_months, []).append(e)
    keys = sorted(by_bin)
    return keys, [by_bin[k] for k in keys]


def _estimate(y, starts, units, months, *, staggered, n_boot, seed, window, level, comparison, bin_months,
              max_enumerate, n_excluded, scales, raw_sd, scale, scale_asked) -> DidResult:
    n_t = len(months)
    valid = ~np.isnan(y)
    d_obs = ri.treatment_matrix(starts, n_t, valid)
    keys, members = _bins(window, bin_months)
    rel = np.arange(n_t)[None, :] - starts[:, None]
    d_bins = [np.where(valid, np.isin(rel, m) & (starts < ri.NEVER)[:, None], np.nan) for m in members]
    y_pre = np.where(d_obs == 1, np.nan, y)  # no treated month: the pre-trend test sees no effect at all
    stack = np.stack([y, d_obs, *d_bins, y_pre])
    rng = np.random.default_rng(seed)
    assignments, exhaustive = ri.arrangements(starts, max_enumerate, n_boot, rng)
    if isinstance(scales, tuple):
        scales = sc.layer_scales(*scales, len(stack))
    draws = None if scale is None else (sc.standardised_residuals(stack, scales), scales, ~np.isnan(stack))
    main, es_a, es_b, pre = _statistics(stack, assignments, staggered, comparison, n_t, members, draws)
    leads = [j for j, k in enumerate(keys) if k < 0]
    n_assign = len(assignments)
    min_p = 1.0 / n_assign
    alpha = max(1 - level, min_p)
    a, b = main
    lo, hi = ri.invert(a, b, a[0], b[0], alpha)
    estimate = float(a[0] / b[0])
    es = _event_frame(keys, members, es_a, es_b, alpha, estimate)
    pre_stat = np.nansum(pre[:, leads] ** 2, axis=1) if leads else None
    pretrend_p = float(np.mean(pre_stat >= pre_stat[0] * (1 - 1e-12))) if leads and np.isfinite(pre_stat[0]) \
        else float("nan")
    n_treated = int((starts < ri.NEVER).sum())
    result = dict(estimate=estimate, se=float(np.nanstd(a - estimate * b)), ci_low=lo, ci_high=hi,
                  p_value=ri.p_value(a, b, a[0], b[0]),
                  p_value_analytic=float("nan") if staggered else _analytic_p(y, starts),
                  n_clusters=len(units), n_treated_clusters=n_treated, n_obs=int(valid.sum()),
                  start=pd.Timestamp(months[int(starts.min())]), level=level, ci_level=1 - alpha, min_p=min_p,
                  n_assignments=n_assign, exhaustive=exhaustive, staggered=staggered, comparison=comparison,
                  n_excluded=n_excluded, pretrend_p=pretrend_p, _event_study=es,
                  _group_time=_group_time_frame(y, starts, months, comparison), scale=scale,
                  noise_change=sc.noise_change(y, starts))
    result["noise_ratio"], result["noise_unexplained"] = _noise_ratios(raw_sd, scales, starts, scale)
    return DidResult(warning=_warning(result, level, scale_asked), **result)


def _statistics(stack, assignments, staggered, comparison, n_t, members, draws=None):
    """Main estimate on (y, d_obs), event bins on y and on each bin's indicator, pre-trend bins, per assignment.

    ``draws`` (standardised residuals, scales, observed cells): instead of moving the start months, move the
    residual series and rescale them (:mod:`casework.effects._did_scale`); the estimator stays the observed one.
    """
    n_b = len(members)
    a, b = np.empty(len(assignments)), np.empty(len(assignments))
    es_a, es_b, pre = (np.empty((len(assignments), n_b)) for _ in range(3))
    observed = assignments[0]
    for r, s in enumerate(assignments):
        if draws is not None and r > 0:
            stack = sc.residual_draw(draws[0], draws[1], sc.permutation_for(s, observed), draws[2])
            s = observed
        groups, att, w = ri.group_time(stack, s, comparison)
        bins = ri.event_bins(groups, att, w, n_t, members)
        main = ri.simple_att(groups, att, w, n_t)[:2] if staggered else ri.twfe(stack[:2], s)
        a[r], b[r] = main
        es_a[r], pre[r] = bins[0], bins[-1]
        es_b[r] = np.diagonal(bins[2:2 + n_b]) if n_b else []
    # an assignment whose estimate is undefined counts as at least as extreme as the observed one (conservative)
    undefined = ~np.isfinite(a) | ~np.isfinite(b)
    a[undefined], b[undefined] = np.inf, 0.0
    return (a, b), es_a, es_b, pre


def _event_frame(keys, members, es_a, es_b, alpha, estimate) -> pd.DataFrame:
    rows = []
    for j, k in enumerate(keys):
        a, b = es_a[:, j], es_b[:, j]
        if not np.isfinite(a[0]) or not np.isfinite(b[0]) or b[0] == 0:
            continue
        ok = np.isfinite(a) & np.isfinite(b)
        a_c, b_c = np.where(ok, a, np.inf), np.where(ok, b, 0.0)
        lo, hi = ri.invert(a_c, b_c, a[0], b[0], alpha)
        est = a[0] / b[0]
        rows.append({"event_time": k, "months": len(members[j]), "estimate": est,
                     "se": float(np.std((a - est * b)[ok])), "ci_low": lo, "ci_high": hi,
                     "p_value": ri.p_value(a_c, b_c, a[0], b[0])})
    return pd.DataFrame(rows, columns=["event_time", "months", "estimate", "se", "ci_low", "ci_high", "p_value"])


def _group_time_frame(y, starts, months, comparison) -> pd.DataFrame:
    groups, att, w = ri.group_time(y[None], starts, comparison)
    gi, t = np.nonzero(w[0] > 0)
    return pd.DataFrame({"group": [months[groups[g]] for g in gi], "month": [months[k] for k in t],
                         "att": att[0][gi, t], "units": w[0][gi, t].astype(int)})


def _noise_ratios(raw_sd, scales, starts, scale) -> tuple[float, float]:
    """(noise_ratio, noise_unexplained): the project units' mean pre-start residual SD over the comparison
    units' median; and the part of it the test does not allow for (own SD over the scale used; the whole
    ratio for the plain test, 1 when each unit's own SD is the scale)."""
    treated = starts < ri.NEVER
    scales = np.atleast_2d(scales)[0]
    ok = np.isfinite(raw_sd[~treated])
    control = np.median(raw_sd[~treated][ok]) if ok.any() else np.nan
    ratio = float(np.nanmean(raw_sd[treated]) / control) if control > 0 else float("nan")
    if scale is None:
        return ratio, ratio
    with np.errstate(invalid="ignore", divide="ignore"):
        own = raw_sd[treated] / scales[treated]
    if scale == "size":  # relative to what the size model gives the comparison units themselves
        ctrl = raw_sd[~treated] / scales[~treated]
        own = own / np.nanmedian(ctrl) if np.isfinite(ctrl).any() else own
    return ratio, float(np.nanmean(own))


def _analytic_p(y, starts) -> float:
    """Cluster-robust t-test of the TWFE coefficient with t(G - 1) (shown for comparison only)."""
    valid = ~np.isnan(y)
    dt = ri._demean(ri.treatment_matrix(starts, y.shape[1], valid), valid)
    yt = ri._demean(y, valid)
    s = np.sum(dt * dt)
    delta = np.sum(dt * yt) / s
    scores = np.sum(dt * (yt - delta * dt), axis=1)
    n_g, n = len(scores), int(valid.sum())
    se = np.sqrt(n_g / max(n_g - 1, 1) * (n - 1) / max(n - 1, 1) * np.sum(scores ** 2)) / s
    return float(2 * stats.t.sf(abs(delta / se), df=max(n_g - 1, 1))) if se > 0 else float("nan")


def _warning(r: dict, level: float, scale_asked=None) -> str:
    parts = []
    if scale_asked is not None and r["scale"] is None:
        parts.append(f"Fewer than {sc.MIN_PRE_MONTHS} months before the start: the noise of each jobcenter cannot "
                     "be measured, so the test assumes all jobcenters equally noisy.")
    if r["ci_level"] < level - 1e-12:
        parts.append(f"With {r['n_treated_clusters']} treated of {r['n_clusters']} jobcenters there are only "
                     f"{r['n_assignments']} possible assignments, so no p-value can fall below "
                     f"1/{r['n_assignments']} = {r['min_p']:.3f}: a {level:.0%} interval is not attainable; the "
                     f"interval shown is the {r['ci_level']:.1%} interval.")
    if r["n_treated_clusters"] == 1:
        parts.append("Only one project jobcenter: the estimate cannot be told apart from that jobcenter's own "
                     "changes at the same time.")
    if not np.isfinite(r["ci_low"]) or not np.isfinite(r["ci_high"]):
        parts.append("The interval is unbounded: the data cannot rule out effects of any size in that direction.")
    if r["noise_unexplained"] > NOISE_RATIO_LIMIT:
        how = ("the randomisation test treats them as alike" if r["scale"] is None else
               "more than their size explains, and the size model of the noise does not allow for that")
        parts.append(f"The project jobcenters varied {r['noise_ratio']:.1f} times as much as the comparison "
                     f"jobcenters before the start, {how}: the test rejects too often; read the p-value and "
                     "interval as too optimistic (scale='pre_period' allows for it).")
    if r["noise_change"] > NOISE_CHANGE_LIMIT:
        parts.append(f"The project jobcenters' month-to-month noise grew {r['noise_change']:.1f} times as much as "
                     "the comparison jobcenters' from before to after the start (or the effect changed over "
                     "time): no test can tell noise that appears only with the project from an effect, so the "
                     "p-value and interval may be too optimistic.")
    if r["pretrend_p"] <= 0.05:
        parts.append(f"The project jobcenters already moved apart before the start (pre-trend p = "
                     f"{r['pretrend_p']:.3f}): the comparison is doubtful.")
    return " ".join(parts)


def event_study(panel, treated, start=None, outcome="rate", unit="jc_id", time="month", window=(-12, 12),
                bin_months=3, **kwargs):
    """Leads and lags of the project in bins of ``bin_months``, relative to the month before the start.

    Returns ``(frame, pretrend_p)`` (see :attr:`DidResult.event_study`); the
    pre-trend p-value is the randomisation test that all leads are zero,
    computed without the treated months. Other keyword arguments go to
    :func:`did`.
    """
    r = did(panel, treated, start, outcome, unit, time, event_window=window, bin_months=bin_months, **kwargs)
    return r.event_study, r.pretrend_p



def project_groups(projects: pd.DataFrame) -> pd.DataFrame:
    """Projects evaluated together by DiD: key, jc_ids, start (the earliest), starts (per jobcenter), names.

    Rows that share the part of ``project_id`` before "/" form one project
    (one row per jobcenter); phases of one project (``pankow_modell``,
    ``pankow_verstetigung``: same jobcenters, same prefix before "_") are
    joined; a project whose jobcenters are a strict subset of another's
    running at the same time is an add-on (e.g. state-funded coaching) and is
    not evaluated on its own. ``starts`` holds each jobcenter's own first
    project month (staggered adoption when they differ).
    """
    p = projects.assign(key=projects["project_id"].str.split("/").str[0])
    g = p.groupby("key").agg(jc_ids=("jc_id", lambda s: tuple(sorted(set(s)))), start=("start", "min"),
                             names=("name", lambda s: tuple(dict.fromkeys(s))))
    g = g.reset_index()
    g["stem"] = g["key"].str.split("_").str[0]
    merged = g.groupby(["stem", "jc_ids"]).agg(
        key=("key", lambda s: s.iloc[0] if len(s) == 1 else s.iloc[0].split("_")[0]), members=("key", tuple),
        start=("start", "min"), names=("names", lambda s: tuple(n for t in s for n in t))).reset_index()
    first = p.groupby(["key", "jc_id"])["start"].min()
    merged["starts"] = [tuple(min(first[(k, j)] for k in members if (k, j) in first.index) for j in jcs)
                        for members, jcs in zip(merged["members"], merged["jc_ids"])]
    sets = [set(j) for j in merged["jc_ids"]]
    addon = [any(a < b for b in sets) for a in sets]
    return merged.loc[~np.array(addon, dtype=bool),
                      ["key", "jc_ids", "start", "starts", "names"]].reset_index(drop=True)


def project_did(ds, project: str | None = None, n_boot: int = 999, seed: int = 0, *,
                comparison: str = "never_treated", panel: pd.DataFrame | None = None, events: bool = False,
                outcome: str = "integration_12m", scale: str | None = "pre_period"):
    """DiD of every model project of a dataset against the jobcenters without any project.

    ``outcome`` picks the monthly series per jobcenter (:data:`casework.panel.DID_SERIES`):
    ``"integration_12m"`` (default: integrations / stock), ``"receipt_end_12m"`` (ends of receipt /
    stock) or ``"unemployment_exit_12m"`` (exits from registered unemployment / registered unemployed;
    needs the table ``unemployment``, else a ValueError naming it). ``scale``: see :func:`did` (``"size"``
    uses the stock behind each rate: ``stock`` or, for unemployment exits, ``unemployed``).

    Jobcenters of other projects (of the ``projects`` table) never enter the
    comparison group; each project jobcenter starts at its own first project
    month (staggered adoption when these differ). ``panel``: the dataset's
    :func:`casework.panel.jobcenter_months` when already at hand.

    Returns
    -------
    DataFrame
        Columns project (ground-truth key), outcome, start (earliest), jobcenters,
        the columns of :meth:`DidResult.to_frame` and ``sentence`` (German, for
        boards). With ``events=True`` a pair: that table and the event-study
        estimates of every project (column ``project`` added).
    """
    from casework.panel import DID_SERIES, jobcenter_months, require_outcome

    require_outcome(ds, outcome)
    series = DID_SERIES[outcome][0]
    projects = ds.table("projects")
    groups = project_groups(projects)
    if project is not None:
        groups = groups[groups["key"] == project]
    all_jcs, in_projects = set(ds.table("jobcenters")["jc_id"]), set(projects["jc_id"])
    panel = jobcenter_months(ds) if panel is None else panel
    if series not in panel.columns:
        raise ValueError(f"project_did: the panel has no column {series!r} for outcome {outcome!r}; build it "
                         "with casework.panel.jobcenter_months on this dataset")
    rows, studies = [], []
    for g in groups.itertuples():
        if not all_jcs - in_projects:
            continue  # every jobcenter runs some project: no comparison group
        r = did(panel, dict(zip(g.jc_ids, g.starts)), outcome=series, exclude=in_projects - set(g.jc_ids),
                n_boot=n_boot, seed=seed, comparison=comparison, scale=scale,
                size=("unemployed" if series == "unemployment_exit_rate" else "stock") if scale == "size" else None)
        row = {"project": g.key, "outcome": outcome, "start": g.start, "jobcenters": len(g.jc_ids),
               **r.to_frame().iloc[0]}
        rows.append({**row, "sentence": board_sentence(row)})
        if r.event_study is not None:
            studies.append(r.event_study.assign(project=g.key))
    table = pd.DataFrame(rows)
    return (table, pd.concat(studies, ignore_index=True) if studies else pd.DataFrame()) if events else table


def _level_label(level: float) -> str:
    return fmt.number(100 * level, 1).removesuffix(",0") + "-%-Intervall"


def board_sentence(row: Mapping) -> str:
    """The plain-German board text of one row of :func:`project_did`.

    Examples
    --------
    >>> row = {"start": "2020-01-01", "jobcenters": 1, "estimate": 0.0021, "ci_low": -0.001, "ci_high": 0.004,
    ...        "ci_level": 0.875, "level": 0.95, "p_value": 0.25, "min_p": 0.125, "n_clusters": 8,
    ...        "n_treated_clusters": 1, "staggered": False, "pretrend_p": 0.5}
    >>> "ein 95-%-Intervall ist deshalb nicht möglich" in board_sentence(row)
    True
    """
    from casework.panel import DID_SERIES

    _, series_name, unit = DID_SERIES[row.get("outcome", "integration_12m")]
    per100 = 100 * float(row["estimate"])
    where = "im Projektjobcenter" if row["jobcenters"] == 1 else f"in den {row['jobcenters']} Projektjobcentern"
    since = (f"Seit den gestaffelten Projektstarts (ab {fmt.date(row['start'])})" if row.get("staggered")
             else f"Seit Projektbeginn ({fmt.date(row['start'])})")
    lo, hi, label = row["ci_low"], row["ci_high"], _level_label(row["ci_level"])
    bounds = (f"{label} {fmt.number(100 * lo, 2)} bis {fmt.number(100 * hi, 2)}" if np.isfinite([lo, hi]).all()
              else f"ein {label} lässt sich nach {'unten' if not np.isfinite(lo) else 'oben'} nicht eingrenzen")
    text = (f"{since} lag {series_name} {where} um {fmt.number(abs(per100), 2)} {unit} "
            f"{'höher' if per100 >= 0 else 'niedriger'} als ohne das Projekt zu erwarten ({bounds}).")
    attainable = row["ci_level"] >= row["level"] - 1e-12
    if not attainable:
        n_t, n = row["n_treated_clusters"], row["n_clusters"]
        who = "einem Projektjobcenter" if n_t == 1 else f"{n_t} Projektjobcentern"
        text += (f" Mit {who} unter {n} Jobcentern kann der Vergleich keine Irrtumswahrscheinlichkeit unter "
                 f"{fmt.percent(row['min_p'])} erreichen; ein {_level_label(row['level'])} ist deshalb nicht "
                 f"möglich, angegeben ist das {label}. Ob der Unterschied mehr als Zufall ist, lässt sich so "
                 "nicht sichern.")
    elif row["p_value"] <= 1 - row["level"]:
        text += " Der Unterschied ist statistisch gesichert."
    else:
        text += " Der Unterschied ist statistisch nicht gesichert."
    if row["n_treated_clusters"] == 1:
        text += (" Mit nur einem Projektjobcenter lässt sich das Projekt nicht sicher von anderen Veränderungen "
                 "in diesem Jobcenter trennen.")
    if row.get("noise_unexplained", row.get("noise_ratio", 1.0)) > NOISE_RATIO_LIMIT:
        text += (" Die Projektjobcenter schwankten schon vor Projektbeginn stärker als die Vergleichsjobcenter; "
                 "das Intervall ist deshalb eher zu eng.")
    if row.get("noise_change", 1.0) > NOISE_CHANGE_LIMIT:
        text += (" Seit Projektbeginn schwanken die Projektjobcenter stärker als zuvor; das lässt sich von einer "
                 "Wirkung nicht sicher trennen, das Intervall ist deshalb eher zu eng.")
    if row.get("pretrend_p", 1.0) <= 0.05:
        text += (" Achtung: Schon vor Projektbeginn entwickelten sich Projekt- und Vergleichsjobcenter "
                 "unterschiedlich; der Vergleich ist deshalb fraglich.")
    return text
