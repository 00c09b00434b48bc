"""An independent pandas computation of the dashboards' KPI cube, to test the SQL one against.

It expands every person's months in receipt (person-months) and counts the long-term months with
:func:`casework.boards.build.person_months`, where :func:`casework.kpi.key_figure_cells` works on receipt islands
in DuckDB; the two share no code beyond the age bands and the month numbering.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from casework.boards.build import CUBE_DIMS, KPI_MEASURES, age_group, person_months
from casework.panel import month_ordinal


def reference_cube(ds, start, end, segments: pd.Series | None = None) -> pd.DataFrame:
    """Columns jc_id, month, sex, age_group, segment and the five counts, sorted like ``board.kpi_cube``."""
    lo, hi = (int(month_ordinal([pd.Timestamp(t)])[0]) for t in (start, end))
    attrs = ds.table("persons")[["person_id", "jc_id", "sex", "birth_year", "entry_date", "benefit_months"]]
    seg = segments if segments is not None else pd.Series(dtype=object)
    attrs = attrs.assign(segment=attrs["person_id"].map(seg).fillna("unbekannt").astype(str))
    pm = person_months(ds, start, end).merge(attrs, on="person_id")
    stock = _group(pm, {"stock": ("person_id", "size"), "ltr_stock": ("ltr", "sum")})
    ev = _integration_events(ds, lo, hi).merge(attrs, on="person_id")
    ev["ltr"] = _long_term_at_events(ds, ev, lo, end)
    ints = _group(ev, {"integrations": ("person_id", "size"), "ltr_integrations": ("ltr", "sum"),
                       "need_ending": ("need_ending", "sum")})
    cube = stock.merge(ints, on=CUBE_DIMS, how="outer")
    cube[list(KPI_MEASURES)] = cube[list(KPI_MEASURES)].astype("float64").fillna(0).astype("int64")
    return cube[CUBE_DIMS + list(KPI_MEASURES)].sort_values(CUBE_DIMS).reset_index(drop=True)


def _long_term_at_events(ds, ev: pd.DataFrame, lo: int, end) -> np.ndarray:
    """Receipt months in the 24 months up to each event month (plus receipt before entry) >= 21."""
    first = pd.Timestamp(year=1970 + (lo - 24) // 12, month=(lo - 24) % 12 + 1, day=1)
    pm = person_months(ds, first, end)
    months = pm.groupby("person_id")["m"].apply(np.asarray)
    observed = [int(((mm := months.get(p, np.array([]))) <= m).sum() - (mm <= m - 24).sum())
                for p, m in zip(ev["person_id"], ev["m"])]
    entry_m = month_ordinal(ev["entry_date"])
    overlap = np.minimum(entry_m - 1, ev["m"]) - np.maximum(entry_m - ev["benefit_months"], ev["m"] - 23) + 1
    return (np.asarray(observed) + np.clip(overlap, 0, 24)) >= 21


def _integration_events(ds, lo, hi) -> pd.DataFrame:
    """Integrations per VO § 5 Abs. 1 (as amended 15.03.2019), written from its text: svB, training,
    self-employment, or a new § 16e job (from 2019; old § 16e and § 16i are publicly funded employment); by a
    person in the eLb stock (in receipt in the month before or new in the month); one per person and month;
    need_ending: no receipt in the third month after, when that month lies wholly in the data."""
    emp = ds.table("employment")
    counts = emp["kind"].isin(["svb", "training", "self_employed"]) | (
        (emp["kind"] == "funded_16e") & (emp["start"] >= pd.Timestamp("2019-01-01")))
    ev = emp.loc[counts, ["person_id", "start"]]
    ev = ev.assign(m=month_ordinal(ev["start"]).astype(int)).drop_duplicates(["person_id", "m"])
    ev = ev[(ev["m"] >= lo) & (ev["m"] <= hi)].drop(columns="start").reset_index(drop=True)
    ev = ev[receipt_in(ds, ev, ev["m"] - 1) | receipt_in(ds, ev, ev["m"])].reset_index(drop=True)
    observable = ev["m"] + 3 <= last_full_month(ds)
    return ev.assign(need_ending=observable & ~receipt_in(ds, ev, ev["m"] + 3))


def receipt_in(ds, ev: pd.DataFrame, months: pd.Series) -> np.ndarray:
    """Per row of ``ev`` (person_id): a benefit spell covers a day of the month ``months`` (ordinals)."""
    b = ds.table("benefits")
    b = b.assign(s=month_ordinal(b["start"]), e=month_ordinal(b["end"].fillna(pd.Timestamp("2262-01-01"))))
    q = pd.DataFrame({"person_id": ev["person_id"].to_numpy(), "q": np.asarray(months), "row": np.arange(len(ev))})
    hit = q.merge(b[["person_id", "s", "e"]], on="person_id")
    hit = hit[(hit["s"] <= hit["q"]) & (hit["e"] >= hit["q"])]
    return np.isin(np.arange(len(ev)), hit["row"].to_numpy())


def last_full_month(ds) -> int:
    """The last month whose last day is on or before the latest date of any benefit or employment spell."""
    dates = pd.concat([ds.table(t)[c] for t in ("benefits", "employment") for c in ("start", "end")]).dropna()
    last = dates.max()
    m = int(month_ordinal([last])[0])
    return m if last == last + pd.offsets.MonthEnd(0) else m - 1


def _group(frame: pd.DataFrame, aggs: dict) -> pd.DataFrame:
    year = 1970 + frame["m"] // 12
    m = frame["m"].to_numpy()
    f = frame.assign(month=pd.to_datetime({"year": 1970 + m // 12, "month": m % 12 + 1, "day": 1}).to_numpy(),
                     age_group=age_group((year - frame["birth_year"]).to_numpy()).astype(str).to_numpy())
    return f.groupby(CUBE_DIMS, observed=True).agg(**aggs).reset_index()
