"""Capacity planning: the next quarters' cases per segment and the places each offer kind will need.

The model (seed 001: an agreed programme with expected case numbers per target
group and the integration offers they need), per jobcenter:

1. **Start**: persons in receipt in the last month of the data (or ``start``),
   by segment (the Profillage of their latest assessment).
2. **Each quarter**: the stock keeps ``1 - exit rate`` of each segment (exit
   rates observed over the last four quarters), moves between segments with
   the observed transition matrix (rescaled from the mean interval between
   assessments to a quarter), and receives the quarterly inflow of the last
   four quarters times ``1 + inflow_change`` (distributed like the recent
   entrants' first Profillage).
3. **Places**: starts per quarter of offer kind *k* = cases × share with the
   need *k* addresses (``MEASURE_NEED``) × quarterly take-up among those with
   the need (observed, or ``coverage`` if given: the share of needs to be met
   within a quarter); places needed = starts × mean duration in quarters.
4. **Offered**: the capacity of the jobcenter's offers of that kind.

All rates are estimates from the data and are returned in ``frame.attrs``.

**Is the effect measurable?** :func:`minimum_detectable_effect` gives the
smallest effect on an integration share that a comparison of ``n_treated``
participants with ``n_control`` others detects with 80 % power (two-sided 5 %
test), and :func:`participants_needed` the number of places a project needs
for a hoped-for effect; :func:`casework.fmt.mde_sentence` says it to a board.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from casework import schema as S
from casework.panel import month_ordinal

__all__ = ["plan_capacity", "minimum_detectable_effect", "participants_needed"]


def _z_sum(alpha: float, power: float) -> float:
    from scipy import stats

    if not (0 < alpha < 1 and 0 < power < 1):
        raise ValueError(f"alpha and power must lie in (0, 1), got {alpha} and {power}")
    return float(stats.norm.ppf(1 - alpha / 2) + stats.norm.ppf(power))


def minimum_detectable_effect(n_treated: int, n_control: int, outcome_rate: float, *, alpha: float = 0.05,
                              power: float = 0.8, design_effect: float = 1.0) -> float:
    """The smallest rise of a share detectable with ``power`` by a two-sided test at level ``alpha``.

    ``outcome_rate`` is the share without the measure (``p0``); the MDE ``d``
    solves ``d = (z_{1-alpha/2} + z_power) sqrt(design_effect (p1 (1 - p1) / n_treated + p0 (1 - p0) /
    n_control))`` with ``p1 = p0 + d`` (normal approximation, by fixed-point
    iteration). ``design_effect`` > 1 for clustered samples or weights
    (``1 + (m - 1) icc``, or ``n / ESS``); adjustment for covariates makes
    the realised MDE smaller. For an estimate already made,
    :attr:`casework.effects.EffectResult.mde` uses its own standard error.

    Examples
    --------
    >>> round(minimum_detectable_effect(300, 3000, 0.25), 4)
    0.0792
    """
    if n_treated < 1 or n_control < 1:
        raise ValueError(f"need at least one treated and one control person, got {n_treated} and {n_control}")
    if not 0 < outcome_rate < 1:
        raise ValueError(f"outcome_rate must lie in (0, 1), got {outcome_rate}")
    z, p0 = _z_sum(alpha, power), outcome_rate
    d = 0.0
    for _ in range(100):
        p1 = min(p0 + d, 1.0)
        new = z * float(np.sqrt(design_effect * (p1 * (1 - p1) / n_treated + p0 * (1 - p0) / n_control)))
        if abs(new - d) < 1e-12:
            break
        d = new
    return d


def participants_needed(effect: float, outcome_rate: float, *, controls_per_participant: float = 5.0,
                        alpha: float = 0.05, power: float = 0.8, design_effect: float = 1.0) -> int:
    """Participants a project needs so that a rise of the share by ``effect`` is detectable.

    The inverse of :func:`minimum_detectable_effect` with ``controls_per_participant`` comparison persons per
    participant.

    Examples
    --------
    >>> participants_needed(0.05, 0.25, controls_per_participant=10)
    719
    """
    if effect <= 0 or outcome_rate + effect >= 1:
        raise ValueError(f"effect must be positive and outcome_rate + effect below 1, got {effect}")
    p0, p1 = outcome_rate, outcome_rate + effect
    var = design_effect * (p1 * (1 - p1) + p0 * (1 - p0) / controls_per_participant)
    return int(np.ceil(var * (_z_sum(alpha, power) / effect) ** 2))


def _quarter_label(ts: pd.Timestamp) -> str:
    return f"{ts.year}-Q{(ts.month - 1) // 3 + 1}"


def _in_receipt(benefits: pd.DataFrame, at: pd.Timestamp) -> pd.Index:
    b = benefits[(benefits["start"] <= at) & (benefits["end"].isna() | (benefits["end"] >= at))]
    return pd.Index(b["person_id"].unique())


def plan_capacity(ds, jc_id: str | None = None, quarters: int = 4, inflow_change: float = 0.0, start=None,
                  coverage: float | None = None, segments: pd.DataFrame | None = None) -> pd.DataFrame:
    """Project cases per segment and places needed per offer kind for the next quarters.

    Parameters
    ----------
    ds : Dataset
    jc_id : str, optional
        One jobcenter (default: all together).
    quarters : int
        Quarters to project.
    inflow_change : float
        Scenario: relative change of the inflow (0.1 = +10 %).
    start : date, optional
        Planning date (default: the last month of the data).
    coverage : float, optional
        Plan for this share of needs met within a quarter instead of the observed take-up.
    segments : DataFrame, optional
        :func:`casework.profiling.profillagen` of the dataset (computed when not given).

    Returns
    -------
    DataFrame
        Columns quarter, segment, offer_kind, label, cases, places_needed,
        places_offered, gap — one row per quarter, segment and offer kind, plus
        rows with segment "alle" (the jobcenter total, where ``gap`` =
        offered - needed is meaningful; per segment it is left empty).
    """
    from casework.profiling import profillagen

    persons = ds.table("persons")
    if jc_id is not None:
        if jc_id not in set(persons["jc_id"]):
            raise ValueError(f"jobcenter {jc_id!r} is not in the dataset")
        persons = persons[persons["jc_id"] == jc_id]
    ids = set(persons["person_id"])
    benefits = ds.table("benefits")
    benefits = benefits[benefits["person_id"].isin(ids)]
    last = pd.Timestamp(start) if start is not None else pd.Timestamp(max(benefits["start"].max(),
                                                                         benefits["end"].max()))
    at = last.to_period("M").to_timestamp()
    seg = segments if segments is not None else profillagen(ds)
    seg = seg[seg["person_id"].isin(ids) & (seg["date"] <= at)].sort_values(["person_id", "date"])
    keys = list(S.PROFILLAGEN)

    stock_ids = _in_receipt(benefits, at)
    latest = seg.drop_duplicates("person_id", keep="last").set_index("person_id")["profillage"]
    stock = latest.reindex(stock_ids).dropna().value_counts().reindex(keys, fill_value=0).astype(float)

    exit_rate = _exit_rates(benefits, latest, at, keys)
    inflow, inflow_mix = _inflow(persons, seg, at, keys)
    trans = _quarterly_transitions(seg, keys)
    need_share, take_up, duration, offered = _offer_parameters(ds, ids, latest, stock_ids, at, jc_id, keys)
    if coverage is not None:
        take_up = pd.Series(float(coverage), index=take_up.index)

    rows = []
    cases = stock.to_numpy()
    q_start = at + pd.offsets.QuarterBegin(startingMonth=1)
    for q in range(quarters):
        cases = (cases * (1 - exit_rate.to_numpy())) @ trans.to_numpy() + inflow * (1 + inflow_change) * \
            inflow_mix.to_numpy()
        label = _quarter_label(q_start + pd.DateOffset(months=3 * q))
        for kind in take_up.index:
            need = need_share.loc[:, kind].to_numpy()
            needed = cases * need * take_up[kind] * duration[kind]
            for s, c, n in zip(keys, cases, needed):
                rows.append({"quarter": label, "segment": s, "offer_kind": kind, "cases": c, "places_needed": n,
                             "places_offered": np.nan, "gap": np.nan})
            total = float(needed.sum())
            rows.append({"quarter": label, "segment": "alle", "offer_kind": kind, "cases": float(cases.sum()),
                         "places_needed": total, "places_offered": float(offered.get(kind, 0.0)),
                         "gap": float(offered.get(kind, 0.0)) - total})
    out = pd.DataFrame(rows)
    out.insert(3, "label", out["offer_kind"].map(S.MEASURES))
    out.attrs.update({"start_stock": stock.to_dict(), "exit_rate": exit_rate.to_dict(), "inflow_per_quarter": inflow,
                      "take_up": take_up.to_dict(), "duration_quarters": duration.to_dict(),
                      "transitions": trans.to_dict()})
    return out


def _exit_rates(benefits, latest, at, keys) -> pd.Series:
    """Quarterly exit rate per segment: share of the stock four quarters ago ... now that left within a quarter."""
    rates = []
    for back in range(1, 5):
        t0 = at - pd.DateOffset(months=3 * back)
        t1 = t0 + pd.DateOffset(months=3)
        s0, s1 = _in_receipt(benefits, t0), _in_receipt(benefits, t1)
        seg0 = latest.reindex(s0).dropna()
        left = ~seg0.index.isin(s1)
        rates.append(pd.Series(left, index=seg0.index).groupby(seg0).mean())
    r = pd.concat(rates, axis=1).mean(axis=1).reindex(keys)
    return r.fillna(r.mean() if r.notna().any() else 0.0)


def _inflow(persons, seg, at, keys) -> tuple[float, pd.Series]:
    lo = at - pd.DateOffset(months=12)
    new = persons[(persons["entry_date"] > lo) & (persons["entry_date"] <= at)]
    first = seg.drop_duplicates("person_id").set_index("person_id")["profillage"]
    mix = first.reindex(new["person_id"]).dropna().value_counts(normalize=True).reindex(keys, fill_value=0.0)
    if mix.sum() == 0:
        mix = first.value_counts(normalize=True).reindex(keys, fill_value=0.0)
    return len(new) / 4.0, mix


def _quarterly_transitions(seg, keys) -> pd.DataFrame:
    from casework.profiling import transition_matrix

    p = transition_matrix(seg, "profillage").reindex(index=keys, columns=keys, fill_value=0.0)
    for k in keys:  # a segment never seen as a starting point stays where it is
        if p.loc[k].sum() == 0:
            p.loc[k, k] = 1.0
    gaps = seg.groupby("person_id")["date"].diff().dt.days.dropna()
    months = float(gaps.mean() / 30.4375) if len(gaps) else 12.0
    scale = min(1.0, 3.0 / max(months, 3.0))
    return pd.DataFrame(np.eye(len(keys)) + scale * (p.to_numpy() - np.eye(len(keys))), index=keys, columns=keys)


def _offer_parameters(ds, ids, latest, stock_ids, at, jc_id, keys):
    a = ds.table("assessments")
    a = a[a["person_id"].isin(ids) & (a["date"] <= at)].sort_values(["person_id", "date"])
    a = a.drop_duplicates("person_id", keep="last").set_index("person_id")
    a = a.reindex(stock_ids).dropna(subset=["date"])
    a["segment"] = latest.reindex(a.index)
    kinds = list(S.MEASURES)
    need_share = pd.DataFrame(0.0, index=keys, columns=kinds)
    for k in kinds:
        col = S.NEED_COLUMNS[S.MEASURE_NEED[k]]
        if col in a:
            need_share[k] = (a[col] >= 1).groupby(a["segment"]).mean().reindex(keys).fillna(0.0)
    r = ds.table("referrals").merge(ds.table("offers")[["offer_id", "measure", "partner_id"]], on="offer_id")
    r = r[r["person_id"].isin(ids) & r["started"].notna()]
    # take-up over the last four quarters in which the network took anyone at all (a quiet last year would
    # otherwise plan zero places)
    hi = min(at, r["started"].max()) if len(r) else at
    lo = hi - pd.DateOffset(months=12)
    recent = r[(r["started"] > lo) & (r["started"] <= hi)]
    with_need = {k: float((need_share[k] * latest.reindex(stock_ids).value_counts().reindex(keys, fill_value=0))
                          .sum()) for k in kinds}
    take_up = pd.Series({k: (recent["measure"] == k).sum() / 4.0 / with_need[k] if with_need[k] else 0.0
                         for k in kinds})
    ended = r[r["ended"].notna()]
    months = (month_ordinal(ended["ended"]) - month_ordinal(ended["started"]) + 1)
    duration = pd.Series(months, index=ended.index).groupby(ended["measure"]).mean().reindex(kinds) / 3.0
    duration = duration.fillna(duration.mean() if duration.notna().any() else 1.0).clip(lower=1 / 3)
    offers = ds.table("offers").merge(ds.table("partners")[["partner_id", "jc_id"]], on="partner_id")
    if jc_id is not None:
        offers = offers[offers["jc_id"] == jc_id]
    offered = offers.groupby("measure")["capacity"].sum()
    return need_share, take_up, duration, offered
