"""Spells of registered unemployment (table ``unemployment``, § 16 SGB III) while in receipt.

Not every eLb is registered unemployed (DOMAIN.md 3.11: 53-62 % were not, 2007-2017; section 8: about 45 % are):
pupils under 18, parents of a child under 3 (§ 10 Abs. 1 Nr. 3 SGB II), people in measures, with minijobs of
15 hours or more, or unable to work for a while are not. Of the eLb who can be (aged 18+, no child under 3), a
share ``P_REGISTERS`` registers; their registered unemployment alternates with gaps (a measure, illness, a
short job: a gap of six weeks or more starts a new count under § 18 SGB III) — spells of about ``SPELL_MONTHS``,
gaps of about ``GAP_MONTHS`` on average (assumptions, calibrated so that long-term unemployed, 12 months and
longer, are about 20 % of the stock, DOMAIN.md 2.20). Spells end when receipt ends (integration or exit).

Simplification: the spells do not know about the person's measures (a referral does not end a spell).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from casework.synth.dates import ids, scenario_month_start

__all__ = ["unemployment_spells", "P_REGISTERS", "SPELL_MONTHS", "GAP_MONTHS"]

P_REGISTERS = 0.70
SPELL_MONTHS = 18.0
GAP_MONTHS = 4.0
_MAX_SPELLS = 8


def unemployment_spells(scn, pf: pd.DataFrame, rng, data_end, *, base: int = 0) -> pd.DataFrame:
    """One row per spell: spell_id, person_id, start, end (empty while ongoing at the data end)."""
    n_m = len(scn.months)
    age = pf["draw_year"].to_numpy() - pf["birth_year"].to_numpy()
    can = (age >= 18) & ~pf["children_under_3"].to_numpy(dtype=bool)
    registers = can & (rng.random(len(pf)) < P_REGISTERS)
    idx = np.flatnonzero(registers)
    adult_m = (pf["birth_year"].to_numpy()[idx] + 18 - pd.Timestamp(scn.data_start).year) * 12
    lo = np.maximum(pf["entry_m"].to_numpy()[idx], adult_m)  # from the start of receipt, at 18 at the earliest
    hi = np.minimum(pf["leave_m"].to_numpy()[idx], n_m)  # first month no longer in receipt
    # alternate spells and gaps from the entry; a first gap of 0-2 months before registering
    spell = np.maximum(1, rng.geometric(1 / SPELL_MONTHS, (len(idx), _MAX_SPELLS)))
    gap = np.maximum(2, rng.geometric(1 / GAP_MONTHS, (len(idx), _MAX_SPELLS)))
    first_gap = rng.integers(0, 3, len(idx))
    starts = lo[:, None] + first_gap[:, None] + np.cumsum(spell + gap, axis=1) - spell - gap
    ends = starts + spell  # first month after the spell
    ends = np.minimum(ends, hi[:, None])
    ok = (starts < hi[:, None]) & (ends > starts) & (ends > 0)
    rows, k = np.nonzero(ok)
    s_m, e_m = starts[rows, k], ends[rows, k]
    start = scenario_month_start(scn, s_m).to_numpy()
    end = scenario_month_start(scn, np.minimum(e_m, n_m)).to_numpy() - np.timedelta64(1, "D")
    end = np.where(e_m >= n_m, np.datetime64("NaT"), end)
    entry = pf["entry_date"].to_numpy()[idx][rows]
    start = np.maximum(start, entry)  # not registered before receipt began
    keep = pd.isna(end) | (end >= start)
    return pd.DataFrame({"spell_id": ids("U", int(keep.sum()), start=base, width=10),
                         "person_id": pf["person_id"].to_numpy()[idx][rows][keep],
                         "start": start[keep].astype("datetime64[ns]"), "end": end[keep].astype("datetime64[ns]")})
