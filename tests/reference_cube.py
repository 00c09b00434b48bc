"""An independent pandas computation of the dashboards' KPI cube, to test the SQL one against.

It expands every person's months in receipt (person-months) and counts the long-term months with
:func:`casework.boards.build.person_months`, where :func:`casework.kpi.key_figure_cells` works on receipt islands
in DuckDB; the two share no code beyond the age bands and the month numbering.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from casework import schema as S
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
    emp = ds.table("employment")
    ev = emp.loc[emp["kind"].isin(S.INTEGRATION_KINDS), ["person_id", "start", "need_ending"]]
    ev = ev.assign(m=month_ordinal(ev["start"]).astype(int))
    ev = ev.sort_values("need_ending", ascending=False).drop_duplicates(["person_id", "m"])
    return ev[(ev["m"] >= lo) & (ev["m"] <= hi)].drop(columns="start")


def _group(frame: pd.DataFrame, aggs: dict) -> pd.DataFrame:
    year = 1970 + frame["m"] // 12
    m = frame["m"].to_numpy()
    f = frame.assign(month=pd.to_datetime({"year": 1970 + m // 12, "month": m % 12 + 1, "day": 1}).to_numpy(),
                     age_group=age_group((year - frame["birth_year"]).to_numpy()).astype(str).to_numpy())
    return f.groupby(CUBE_DIMS, observed=True).agg(**aggs).reset_index()
