"""Monthly benefit amounts (optional table ``benefit_amounts``: LLU and KdU per person and month in receipt).

**Leistungen zum Lebensunterhalt (llu)** are the Regelbedarf of the person's Regelbedarfsstufe in the calendar
year (:data:`REGELBEDARF`, the amounts announced under § 20 Abs. 5 SGB II / § 28a SGB XII, 2014-2025):
RBS 1 for a person living alone or a single parent, RBS 2 for each partner of a couple, RBS 3 for an adult child
under 25 in the parents' BG, RBS 4 for a child aged 14-17. On top: the Mehrbedarf for single parents (§ 21
Abs. 3 Nr. 1 SGB II: 36 % of RBS 1 — the rate for a child under 7 or two or three children under 16; the
generator applies it to every single parent, a simplification), and the Sozialgeld of the BG's children under
15, who are no eLb and not in ``persons`` (RBS 6 for a child under 6, RBS 5 for 6-13; booked on the BG's
first member). A top-up recipient who keeps receipt after an integration has earnings: from the month after
the integration their llu is cut to ``TOPUP_LLU_SHARE`` of the need (assumption; § 11b SGB II allowances are
not modelled). Sanctions and loans are not modelled.

**Kosten der Unterkunft und Heizung (kdu)**, § 22 SGB II, are drawn per BG: :data:`KDU_BG_2024` EUR for an
average BG in 2024 (DOMAIN.md 2.22: KdU 17.46 bn EUR for about 2.9 m BGs, i.e. about 502 EUR per BG and
month), times a factor for the BG's size (members incl. children under 15; :data:`KDU_SIZE`, assumption),
the region type (:data:`KDU_REGION`, assumption), a BG-specific lognormal factor (sd 0.2) and a yearly change
of :data:`KDU_GROWTH` (assumption); the BG's KdU are split equally among its eLb (Kopfteilprinzip).

Simplification: every BG member keeps their own benefit spell (casework.synth.households), so a BG's sum can
change when one member leaves receipt while the shares stay as drawn.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["REGELBEDARF", "benefit_amounts", "regelbedarf", "KDU_BG_2024", "SINGLE_PARENT_SHARE",
           "TOPUP_LLU_SHARE", "LLU_BG_2024"]

#: Regelbedarfsstufen 1-6 in EUR per month by calendar year (Regelbedarfs-Ermittlungsgesetz and the yearly
#: Regelbedarfsstufen-Fortschreibungsverordnungen; 2023: Bürgergeld-Gesetz; 2025: unchanged).
REGELBEDARF = {
    2014: (391, 353, 313, 296, 261, 229),
    2015: (399, 360, 320, 302, 267, 234),
    2016: (404, 364, 324, 306, 270, 237),
    2017: (409, 368, 327, 311, 291, 237),
    2018: (416, 374, 332, 316, 296, 240),
    2019: (424, 382, 339, 322, 302, 245),
    2020: (432, 389, 345, 328, 308, 250),
    2021: (446, 401, 357, 373, 309, 283),
    2022: (449, 404, 360, 376, 311, 285),
    2023: (502, 451, 402, 420, 348, 318),
    2024: (563, 506, 451, 471, 390, 357),
    2025: (563, 506, 451, 471, 390, 357),
}
SINGLE_PARENT_SHARE = 0.36  # § 21 Abs. 3 Nr. 1 SGB II
TOPUP_LLU_SHARE = 0.4  # assumption: earnings cover 60 % of a top-up recipient's llu need
#: DOMAIN.md 2.22 (2024): KdU 17.46 bn and Regelsätze 22.06 bn EUR for about 2.9 m BGs, per BG and month
KDU_BG_2024 = 17.46e9 / 2.9e6 / 12
LLU_BG_2024 = 22.06e9 / 2.9e6 / 12
KDU_SIZE = (0.90, 1.15, 1.35, 1.50, 1.65)  # 1, 2, 3, 4, 5+ persons (assumption, relative to the average BG)
KDU_REGION = {"city": 1.08, "urban_district": 0.97, "rural_district": 0.88}
KDU_GROWTH = 0.025  # yearly change of the KdU (assumption)
_CHILDREN_MEAN = 0.6  # further children under 15 beyond the first (Poisson mean; assumption)


def regelbedarf(year, stufe) -> np.ndarray:
    """The Regelbedarf of Regelbedarfsstufe ``stufe`` (1-6) in ``year`` (arrays); KeyError for a year not covered."""
    year = np.asarray(year)
    table = _table(year)
    return table[year - min(REGELBEDARF), np.asarray(stufe) - 1]


def _table(years) -> np.ndarray:
    """REGELBEDARF as an array (row = year - first year); KeyError naming the years it lacks."""
    lo, hi = (int(np.min(years)), int(np.max(years))) if np.size(years) else (min(REGELBEDARF), min(REGELBEDARF))
    missing = [y for y in range(lo, hi + 1) if y not in REGELBEDARF]
    if missing:
        raise KeyError(f"no Regelbedarf for the year(s) {missing}: casework.synth.amounts.REGELBEDARF covers "
                       f"{min(REGELBEDARF)}-{max(REGELBEDARF)}")
    return np.array([REGELBEDARF[y] for y in range(min(REGELBEDARF), max(REGELBEDARF) + 1)], dtype=float)


def _children(pf: pd.DataFrame, bg: np.ndarray, first: np.ndarray, rng) -> tuple[np.ndarray, np.ndarray]:
    """Children under 15 of each person's BG booked on the BG's first member: (number aged 0-5, number 6-13)."""
    elb_minor = pf["bg_role"].to_numpy() == "child"
    has_minor_elb = np.zeros(bg.max() + 1, dtype=bool)
    np.logical_or.at(has_minor_elb, bg, elb_minor & (pf["draw_year"].to_numpy() - pf["birth_year"].to_numpy() < 18))
    flag = (pf["single_parent"].to_numpy() | pf["children_under_3"].to_numpy() | pf["minor_children"].to_numpy())
    n = len(pf)
    base = np.where(flag & ~has_minor_elb[bg], 1, 0)
    kids = np.where(flag, base + rng.poisson(_CHILDREN_MEAN, n), 0) * first
    young = np.minimum(kids, np.where(pf["children_under_3"].to_numpy(), 1, 0) + rng.binomial(kids, 0.3))
    return young, kids - young


def benefit_amounts(scn, pf: pd.DataFrame, rng, *, region: np.ndarray) -> pd.DataFrame:
    """One row per person and month in receipt (inside the scenario's months): person_id, month, llu, kdu.

    ``region``: the region type of each person's jobcenter.
    """
    n_m = len(scn.months)
    n = len(pf)
    bg_codes, bg = np.unique(pf["bg_code"].to_numpy(), return_inverse=True)
    first = np.zeros(n, dtype=bool)
    first[np.unique(bg, return_index=True)[1]] = True
    young, older = _children(pf, bg, first, rng)
    elb_in_bg = np.bincount(bg, minlength=len(bg_codes))
    kids_in_bg = np.bincount(bg, weights=young + older, minlength=len(bg_codes)).astype(int)
    size = np.minimum(elb_in_bg + kids_in_bg, len(KDU_SIZE)) - 1
    bg_factor = rng.lognormal(-0.02, 0.2, len(bg_codes))
    kdu_person_2024 = (KDU_BG_2024 * np.asarray(KDU_SIZE)[size] * bg_factor / elb_in_bg)[bg]
    kdu_person_2024 = kdu_person_2024 * pd.Series(region).map(KDU_REGION).to_numpy(dtype=float)

    # the amounts of every person in every year of the scenario (persons x years), then one gather per row
    years = np.unique(scn.months.year.to_numpy())
    table = _table(years)[years - min(REGELBEDARF)]  # years x 6
    age = years[None, :] - pf["birth_year"].to_numpy()[:, None]
    role = pf["bg_role"].to_numpy()[:, None]
    stufe = np.where(role == "partner", 2, np.where(role == "child", np.where(age < 18, 4, 3), 1))
    cols = np.arange(len(years))[None, :]
    llu_py = (table[cols, stufe - 1] + SINGLE_PARENT_SHARE * table[cols, 0] * pf["single_parent"].to_numpy()[:, None]
              + young[:, None] * table[cols, 5] + older[:, None] * table[cols, 4]).round(2)
    top_py = (llu_py * TOPUP_LLU_SHARE).round(2)
    kdu_py = (kdu_person_2024[:, None] * (1 + KDU_GROWTH) ** (years[None, :] - 2024)).round(2)

    lo = np.maximum(pf["entry_m"].to_numpy(), 0)
    hi = np.minimum(pf["leave_m"].to_numpy(), n_m)
    count = np.maximum(hi - lo, 0)
    rows = np.repeat(np.arange(n), count)
    m = np.arange(len(rows)) + np.repeat(lo - (np.cumsum(count) - count), count)
    yi = np.searchsorted(years, scn.months.year.to_numpy())[m]
    flat = rows * len(years) + yi
    integ = pf["integration_m"].to_numpy()
    topup = (integ[rows] >= 0) & (m > integ[rows])
    llu = np.where(topup, top_py.ravel()[flat], llu_py.ravel()[flat])
    return pd.DataFrame({"person_id": pf["person_id"].to_numpy()[rows],
                         "month": scn.months.to_numpy().astype("datetime64[ns]")[m],
                         "llu": llu, "kdu": kdu_py.ravel()[flat]})
