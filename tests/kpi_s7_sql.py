"""FROZEN copy of casework/_kpi_sql.py before the speed work of session 8 (commit 6dcedee); see tests/kpi_s7.py.
Do not edit."""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd

from casework import schema as S
from casework.cells import age_band_sql, month_ordinal
from casework.kpi_defs import NEW_16E_FROM

AGE_SQL = age_band_sql("age")
#: Employment that keeps a person "sozialversicherungspflichtig beschäftigt" for K2E3: regular svB,
#: vocational training and the new § 16e (an svB job with a wage subsidy); not § 16i or programme places.
SVB_KINDS = ("svb", "training")

# Long-term receipt in month m: at least 21 of the 24 months up to m in receipt, counting the receipt before
# entry (``benefit_months``). The months in receipt within [m-23, m] are the overlaps of that window with the
# person's receipt *islands* (benefit spells merged where they share a month), so no person-month panel has
# to be expanded for the look-back.
_PRIOR = "greatest(0, least(p.entry_m - 1, c.m) - greatest(p.entry_m - p.benefit_months, c.m - 23) + 1)"
_FLAGGED = f"""
        flagged AS (
            SELECT c.*, p.jc_id, p.sex, p.segment, p.single_parent, p.k0, p.k1, p.k2, p.k3,
                   (1970 + c.m // 12) - p.birth_year AS age,
                   (c.observed + least({_PRIOR}, 24)) >= 21 AS is_ltr
            FROM counted c JOIN persons p USING (person_id))
        SELECT *, {AGE_SQL} AS age_group FROM flagged"""
# one row per person and month in receipt in [{lo}, {hi}]
STOCK_ROWS = """
        WITH cells AS (
            SELECT person_id, unnest(range(CAST(greatest(s, {lo}) AS BIGINT), CAST(least(e, {hi}) AS BIGINT) + 1))
                   AS m
            FROM isl WHERE e >= {lo} AND s <= {hi}),
        counted AS (
            SELECT c.person_id, c.m, SUM(least(i.e, c.m) - greatest(i.s, c.m - 23) + 1) AS observed
            FROM cells c JOIN isl i ON i.person_id = c.person_id AND i.s <= c.m AND i.e >= c.m - 23
            GROUP BY c.person_id, c.m),""" + _FLAGGED.replace("{", "{{").replace("}", "}}")

def _prior(at: str) -> str:
    """Months of receipt before entry (``benefit_months``) inside the 24 months up to month ``at``."""
    return (f"least(greatest(0, least(p.entry_m - 1, {at}) - greatest(p.entry_m - p.benefit_months, {at} - 23) + 1),"
            f" 24)")


# FLOW_ROWS: STOCK_ROWS with, per row, whether the person is in receipt and long-term in the months before and
# after (in_prev, ltr_prev, in_next, ltr_next; for K1E3/K1E4/K3E3/K3E4). The islands merge adjacent months, so
# the island a row comes from says whether the month before and after are in receipt, and the 24-month
# windows of m - 1 and m + 1 differ from that of m by one month at each end.
FLOW_ROWS = """
        WITH cells AS (
            SELECT person_id, s AS island_s, e AS island_e,
                   unnest(range(CAST(greatest(s, {lo}) AS BIGINT), CAST(least(e, {hi}) AS BIGINT) + 1)) AS m
            FROM isl WHERE e >= {lo} AND s <= {hi}),
        counted AS (
            SELECT c.person_id, c.m, c.m > any_value(c.island_s) AS in_prev, c.m < any_value(c.island_e) AS in_next,
                   SUM(greatest(0, least(i.e, c.m) - greatest(i.s, c.m - 23) + 1)) AS observed,
                   bool_or(i.s <= c.m - 24 AND i.e >= c.m - 24) AS in_back24,
                   bool_or(i.s <= c.m - 23 AND i.e >= c.m - 23) AS in_back23
            FROM cells c JOIN isl i ON i.person_id = c.person_id AND i.s <= c.m AND i.e >= c.m - 24
            GROUP BY c.person_id, c.m),
        flagged AS (
            SELECT c.*, p.jc_id, p.sex, p.segment, p.single_parent, (1970 + c.m // 12) - p.birth_year AS age,
                   (c.observed + """ + _prior("c.m") + """) >= 21 AS is_ltr,
                   c.in_prev AND (c.observed - 1 + CAST(c.in_back24 AS INT) + """ + _prior("c.m - 1") + """) >= 21
                       AS ltr_prev,
                   c.in_next AND (c.observed + 1 - CAST(c.in_back23 AS INT) + """ + _prior("c.m + 1") + """) >= 21
                       AS ltr_next
            FROM counted c JOIN persons p USING (person_id))
        SELECT *, """ + AGE_SQL + """ AS age_group FROM flagged"""


# One row per counted event (person, month and group; {grp} a condition on the group e.grp): only persons in
# the eLb stock, i.e. in receipt in the month before (the reporting date of the previous month) or in the
# month itself (a new entrant of the month). need_obs / cont_obs: the third / twelfth month after lies wholly
# inside the data ({full}).
# least/greatest skip NULLs in DuckDB, so an event without an island in its window must be filtered out of the
# sum, not left to NULL arithmetic.
EVENT_ROWS = """
        WITH ev AS (
            SELECT e.person_id, e.m, e.grp,
                   e.m + 3 <= {full} AS need_obs,
                   e.m + 3 <= {full} AND NOT EXISTS (
                       SELECT 1 FROM isl i WHERE i.person_id = e.person_id AND i.s <= e.m + 3 AND i.e >= e.m + 3)
                       AS need_ending,
                   e.m + 12 <= {full} AS cont_obs,
                   e.m + 12 <= {full} AND (
                       SELECT COUNT(DISTINCT k.k) FROM range(1, 13) k(k) JOIN svb_spells j
                           ON j.person_id = e.person_id AND j.sd <= last_day(DATE '1970-01-01' + to_months(
                               CAST(e.m + k.k AS INTEGER)))
                          AND (j.ed IS NULL OR j.ed >= last_day(DATE '1970-01-01' + to_months(
                               CAST(e.m + k.k AS INTEGER))))) = 12 AS continuous
            FROM events e
            WHERE {grp} AND EXISTS (
                SELECT 1 FROM isl i WHERE i.person_id = e.person_id AND i.s <= e.m AND i.e >= e.m - 1)),
        counted AS (
            SELECT ev.person_id, ev.m, ev.grp, ev.need_obs, ev.need_ending, ev.cont_obs, ev.continuous,
                   coalesce(SUM(least(i.e, ev.m) - greatest(i.s, ev.m - 23) + 1) FILTER (WHERE i.s IS NOT NULL),
                            0) AS observed
            FROM ev LEFT JOIN isl i ON i.person_id = ev.person_id AND i.s <= ev.m AND i.e >= ev.m - 23
            GROUP BY ev.person_id, ev.m, ev.grp, ev.need_obs, ev.need_ending, ev.cont_obs, ev.continuous),""" + _FLAGGED


INTEGRATIONS_ONLY = "e.grp = 'integration'"


def islands_sql(lo: int, hi: int) -> str:
    """``isl``: each person's months in receipt from ``lo`` to ``hi`` as disjoint runs [s, e] with a month
    without receipt between any two.

    Spells that share or adjoin a month are merged, so that a month is counted once however many spells touch
    it, and a run's first and last months are an entry and an exit. A spell without an end runs to ``hi``.
    """
    return f"""
        CREATE TEMP TABLE isl AS
        WITH sp AS (
            SELECT person_id, greatest(s, {lo}) AS s, least(coalesce(e, {hi}), {hi}) AS e
            FROM spells WHERE coalesce(e, {hi}) >= {lo} AND s <= {hi}),
        flagged AS (
            SELECT *, CASE WHEN s <= max(e) OVER (PARTITION BY person_id ORDER BY s, e
                                                  ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) + 1
                           THEN 0 ELSE 1 END AS starts_run
            FROM sp),
        runs AS (
            SELECT *, SUM(starts_run) OVER (PARTITION BY person_id ORDER BY s, e ROWS UNBOUNDED PRECEDING) AS run
            FROM flagged)
        SELECT person_id, min(s) AS s, max(e) AS e FROM runs GROUP BY person_id, run"""


def connection(ds, lo: int, hi: int, segments, first: int | None = None, cell_keys: bytes | None = None):
    """DuckDB with ``persons``, ``spells``, islands ``isl`` from ``first - 23`` (default ``lo``) to ``hi + 12``,
    ``events`` (employment starts of every group in [lo, hi]) and ``svb_spells``; with ``cell_keys`` the persons
    carry the record keys of the cell key method and sex as the boards publish it."""
    con = duckdb.connect()
    persons = ds.table("persons")
    if "single_parent" not in persons.columns:  # hand-made tables may lack it: K2E4 then has no denominator
        persons["single_parent"] = False
    persons = persons[["person_id", "jc_id", "sex", "birth_year", "entry_date", "benefit_months", "single_parent"]]
    persons["entry_m"] = month_ordinal(persons["entry_date"]).astype("int64")
    seg = segments if segments is not None else pd.Series(dtype=object)
    persons["segment"] = persons["person_id"].map(seg).fillna("unbekannt").astype(str)
    persons["single_parent"] = persons["single_parent"].fillna(False).astype(bool)
    _add_record_keys(persons, cell_keys)
    b = ds.table("benefits")[["person_id", "start", "end"]]
    b = b.assign(s=month_ordinal(b["start"]), e=month_ordinal(b["end"]))
    emp = ds.table("employment")[["person_id", "start", "end", "kind"]]
    con.register("persons", persons.drop(columns="entry_date"))
    con.register("spells", b[["person_id", "s", "e"]])
    con.execute(islands_sql((lo if first is None else first) - 23, hi + 12))
    con.register("events", events(emp, lo, hi))
    svb = continuing_employment(emp)
    # as timestamps (an empty or all-open column may come without a datetime dtype)
    con.register("svb_spells", pd.DataFrame({"person_id": svb["person_id"].astype(str),
                                             "sd": pd.to_datetime(svb["start"]), "ed": pd.to_datetime(svb["end"])}))
    return con


def _add_record_keys(persons: pd.DataFrame, cell_keys: bytes | None) -> None:
    """Columns k0..k3 for the record keys of the cell key method (zeros without a secret); with one, sex as the
    boards publish it ("divers"/"ohne Angabe" assigned to f or m, :func:`casework.privacy.binary_sex`)."""
    from casework import privacy

    keys = (privacy.person_keys(persons["person_id"].astype(str), cell_keys) if cell_keys is not None
            else np.zeros((len(persons), 5), dtype="int64"))
    for i in range(4):
        persons[f"k{i}"] = keys[:, i]
    if cell_keys is not None:
        persons["sex"] = privacy.binary_sex(persons["sex"].tolist(), keys[:, 4])


def event_group(emp: pd.DataFrame) -> np.ndarray:
    """Per employment spell: "integration", "minijob", "funded" (publicly funded employment) or None.

    § 16e starts from 01.01.2019 are integrations (Beschäftigung begleitende Leistung, VO § 2 Abs. 2 Nr. 2),
    earlier ones publicly funded employment (old § 16e, Förderung von Arbeitsverhältnissen).
    """
    new_16e = (emp["kind"] == "funded_16e") & (emp["start"] >= pd.Timestamp(NEW_16E_FROM))
    integration = emp["kind"].isin(S.INTEGRATION_KINDS) | new_16e
    funded = emp["kind"].isin(S.FUNDED_KINDS) & ~new_16e
    return np.select([integration, emp["kind"] == "minijob", funded], ["integration", "minijob", "funded"],
                     default=None)


def continuing_employment(emp: pd.DataFrame) -> pd.DataFrame:
    """The svB spells that carry K2E3's continuity: svB, training and the new § 16e."""
    new_16e = (emp["kind"] == "funded_16e") & (emp["start"] >= pd.Timestamp(NEW_16E_FROM))
    return emp[emp["kind"].isin(SVB_KINDS) | new_16e]


def events(emp: pd.DataFrame, lo: int, hi: int) -> pd.DataFrame:
    """One row per person, month and event group in [lo, hi] (at most one integration per person and month)."""
    ev = emp.assign(grp=event_group(emp), m=month_ordinal(emp["start"]).astype("int64"))
    ev = ev[ev["grp"].notna() & (ev["m"] >= lo) & (ev["m"] <= hi)]
    return ev[["person_id", "m", "grp"]].drop_duplicates().reset_index(drop=True)


def where(filters: dict | None, prefix: str = "") -> tuple[str, list]:
    """SQL ``AND ...`` clauses and parameters for the (checked) filters."""
    clauses, params = [], []
    for key in ("jc_id", "sex", "age_group", "segment"):
        v = (filters or {}).get(key)
        if v is None or (isinstance(v, str) and v == "alle"):
            continue
        values = list(v) if isinstance(v, (list, tuple, set)) else [v]
        clauses.append(f"{prefix}{key} IN ({', '.join('?' for _ in values)})")
        params += values
    return (" AND " + " AND ".join(clauses)) if clauses else "", params


def monthly_flows(con, lo_f: int, hi: int, filters) -> pd.DataFrame:
    """Per month in [lo_f, hi]: stock, ltr, sp (single parents), entries, ltr_entries, exits, ltr_exits and the
    previous month's stock and ltr (the flow figures' denominators), for the persons the filters select
    (entries by the attributes of the month, exits by those of the month before); one pass over the rows."""
    w, params = where(filters)
    per_month = con.execute(f"""
        SELECT m, COUNT(*) AS stock, SUM(CAST(is_ltr AS BIGINT)) AS ltr, SUM(CAST(single_parent AS BIGINT)) AS sp,
               SUM(CASE WHEN in_prev THEN 0 ELSE 1 END) AS entries,
               SUM(CASE WHEN is_ltr AND NOT ltr_prev THEN 1 ELSE 0 END) AS ltr_entries,
               SUM(CASE WHEN in_next THEN 0 ELSE 1 END) AS leaving,
               SUM(CASE WHEN is_ltr AND NOT ltr_next THEN 1 ELSE 0 END) AS ltr_leaving
        FROM ({FLOW_ROWS.format(lo=lo_f, hi=hi)}) WHERE TRUE {w} GROUP BY m""", params).df()
    months = pd.DataFrame({"m": np.arange(lo_f, hi + 1, dtype="int64")})
    f = months.merge(per_month, on="m", how="left").fillna(0).astype("int64")
    # who leaves after month m - 1 is an exit of month m, measured against the stock of month m - 1
    before = f[["stock", "ltr", "leaving", "ltr_leaving"]].shift(1, fill_value=0)
    f["exits"], f["ltr_exits"] = before["leaving"], before["ltr_leaving"]
    f["prev_stock"], f["prev_ltr"] = before["stock"], before["ltr"]
    return f.drop(columns=["leaving", "ltr_leaving"])
