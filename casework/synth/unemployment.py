"""Spells of registered unemployment (table ``unemployment``, § 16 SGB III) while in receipt.

Not every eLb is registered unemployed (DOMAIN.md 3.11: 53-62 % were not, 2007-2017; section 8: about 45 % are):
pupils under 18, parents of a child under 3 (§ 10 Abs. 1 Nr. 3 SGB II), people in measures, with minijobs of
15 hours or more, or unable to work for a while are not. Of the eLb who can be (aged 18+, no child under 3), a
share ``P_REGISTERS`` registers; their registered unemployment alternates with gaps (a measure, illness, a
short job: a gap of six weeks or more starts a new count under § 18 SGB III) — spells of about ``SPELL_MONTHS``,
gaps of about ``GAP_MONTHS`` on average (assumptions, calibrated so that long-term unemployed, 12 months and
longer, are about 20 % of the stock, DOMAIN.md 2.20). A spell ends at the end of the month of an integration
(the person works) or when receipt ends, whichever comes first.

Simplification: the spells do not know about the person's measures (a referral does not end a spell; the
network's offers are no Maßnahmen of § 16 Abs. 2 SGB III, but the regular instruments would be).

Ground truth of ``unemployment_exit_12m`` (/work/briefs/s8/outcome_def.md, casework.panel): a cohort person
is at risk when a spell covers the landmark L; the outcome is 1 when that spell ends before L + 12 months. The
spells' draws do not depend on the measure, and a measure acts only from the landmark on, so being at risk is
the same in every world; under measure kind k the spell ends at the earlier of its drawn end and the end of
the month of the integration under k (``t_<k>``, common random numbers) or the other exit. Spells are at least
two months apart, so no two of them form one episode (gaps of up to 42 days would, § 18 Abs. 1 SGB III).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from casework.synth.dates import ids, scenario_month_start

__all__ = ["unemployment_spells", "P_REGISTERS", "SPELL_MONTHS", "GAP_MONTHS", "exit_truth"]

P_REGISTERS = 0.77
SPELL_MONTHS = 18.0
GAP_MONTHS = 4.0
_MAX_SPELLS = 8


def unemployment_spells(scn, pf: pd.DataFrame, rng, data_end, *, base: int = 0, kinds=()):
    """The spells (spell_id, person_id, start, end: empty while ongoing at the data end) and the ground truth of
    ``unemployment_exit_12m`` per person (:func:`exit_truth`; ``kinds``: the measure kinds of the scenario)."""
    n_m = len(scn.months)
    age = pf["draw_year"].to_numpy() - pf["birth_year"].to_numpy()
    can = (age >= 18) & ~pf["children_under_3"].to_numpy(dtype=bool)
    registers = can & (rng.random(len(pf)) < P_REGISTERS)
    idx = np.flatnonzero(registers)
    adult_m = (pf["birth_year"].to_numpy()[idx] + 18 - pd.Timestamp(scn.data_start).year) * 12
    lo = np.maximum(pf["entry_m"].to_numpy()[idx], adult_m)  # from the start of receipt, at 18 at the earliest
    integ = pf["integration_m"].to_numpy()[idx]
    # first month no longer unemployed: out of receipt, or the month after the one the job started in
    hi = np.minimum(np.minimum(pf["leave_m"].to_numpy()[idx], np.where(integ >= 0, integ + 1, n_m)), n_m)
    # alternate spells and gaps from the entry; a first gap of 0-2 months before registering
    spell = np.maximum(1, rng.geometric(1 / SPELL_MONTHS, (len(idx), _MAX_SPELLS)))
    gap = np.maximum(2, rng.geometric(1 / GAP_MONTHS, (len(idx), _MAX_SPELLS)))
    first_gap = rng.integers(0, 3, len(idx))
    starts = lo[:, None] + first_gap[:, None] + np.cumsum(spell + gap, axis=1) - spell - gap
    drawn_ends = starts + spell  # first month after the spell
    truth = exit_truth(pf, idx, starts, drawn_ends, kinds, n_m)
    ends = np.minimum(drawn_ends, hi[:, None])
    ok = (starts < hi[:, None]) & (ends > starts) & (ends > 0)
    rows, k = np.nonzero(ok)
    s_m, e_m = starts[rows, k], ends[rows, k]
    start = scenario_month_start(scn, s_m).to_numpy()
    end = scenario_month_start(scn, np.minimum(e_m, n_m)).to_numpy() - np.timedelta64(1, "D")
    end = np.where(e_m >= n_m, np.datetime64("NaT"), end)
    entry = pf["entry_date"].to_numpy()[idx][rows]
    start = np.maximum(start, entry)  # not registered before receipt began
    keep = pd.isna(end) | (end >= start)
    spells = pd.DataFrame({"spell_id": ids("U", int(keep.sum()), start=base, width=10),
                           "person_id": pf["person_id"].to_numpy()[idx][rows][keep],
                           "start": start[keep].astype("datetime64[ns]"), "end": end[keep].astype("datetime64[ns]")})
    return spells, truth


def exit_truth(pf: pd.DataFrame, idx, starts, drawn_ends, kinds, n_m: int) -> pd.DataFrame:
    """Per person of ``pf``: ``ux0`` and ``ux_<kind>``, the potential outcomes of unemployment_exit_12m (NaN when
    not in the cohort, not at risk, or the kind was not possible), and the observed ``unemployment_exit_12m``.

    ``idx``: the rows that register; ``starts``/``drawn_ends``: their spells' first month and first month after,
    as drawn (before receipt or an integration cuts them).
    """
    n = len(pf)
    landmark = pf["landmark_m"].to_numpy()[idx]
    cohort = pf["in_cohort"].to_numpy()[idx]
    covers = (starts <= landmark[:, None]) & (drawn_ends > landmark[:, None])
    at_risk = cohort & covers.any(axis=1)
    spell_end = drawn_ends[np.arange(len(idx)), covers.argmax(axis=1)]
    exit_other = pf["exit_other_m"].to_numpy()[idx]
    out = {}
    for name, t_col in (("ux0", "t0"), *((f"ux_{k}", f"t_{k}") for k in kinds)):
        t = pf[t_col].to_numpy()[idx]
        end = np.minimum.reduce([spell_end, t + 1, exit_other, np.full(len(idx), n_m)])
        col = np.full(n, np.nan)
        col[idx] = np.where(at_risk & (t >= 0), (end <= landmark + 12).astype(float), np.nan)
        out[name] = col
    measure = pf["measure"].to_numpy()
    observed = out["ux0"].copy()
    for k in kinds:
        observed = np.where(measure == k, out[f"ux_{k}"], observed)
    out["unemployment_exit_12m"] = np.where(pf["in_cohort"].to_numpy(), observed, np.nan)
    return pd.DataFrame(out, index=pf.index)
