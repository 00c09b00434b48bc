"""The DuckDB SQL behind :mod:`casework.kpi`: receipt islands, stock rows, event rows, monthly flows.

Months are ordinals (months since January 1970, :func:`casework.cells.month_ordinal`). A person is in the
stock of month ``m`` when a benefit spell covers at least one day of it. Everything here works on one piece
of a dataset (:func:`casework.engine.map_partitions`); the counts it returns are additive over pieces.
"""

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
# person's receipt *islands* (benefit spells merged where they share or adjoin a month), so no person-month panel
# has to be expanded for the look-back. A row's own island gives its overlap directly; only the rows whose
# person has an earlier island ending in the 24 months before (``prev_e``) are joined to it and summed (most
# persons have one island in the window, and a join and a group over every person-month were most of the time).
_PRIOR = "greatest(0, least(p.entry_m - 1, c.m) - greatest(p.entry_m - p.benefit_months, c.m - 23) + 1)"
_FLAGGED = f"""
        flagged AS (
            SELECT c.*, p.jc_id, p.sex, p.segment, p.single_parent, p.k0, p.k1, p.k2, p.k3,
                   (1970 + c.m // 12) - p.birth_year AS age,
                   (c.observed + least({_PRIOR}, 24)) >= 21 AS is_ltr
            FROM counted c JOIN persons p USING (person_id))
        SELECT *, {AGE_SQL} AS age_group FROM flagged"""
# the person-months in receipt in [{lo}, {hi}] with the receipt in their 24-month window (``observed``), whether
# the months before and after are in receipt (``in_prev``, ``in_next``: the row's island says so, because islands
# merge adjacent months) and whether months m - 24 and m - 23 are (``in_back24``, ``in_back23``)
_COUNTED = """
        WITH cells AS (
            SELECT person_id, s AS island_s, e AS island_e, prev_e,
                   unnest(range(greatest(s, {lo}), least(e, {hi}) + 1)) AS m
            FROM isl WHERE e >= {lo} AND s <= {hi}),
        earlier AS (
            SELECT c.person_id, c.m, SUM(greatest(0, least(i.e, c.m) - greatest(i.s, c.m - 23) + 1)) AS obs,
                   bool_or(i.s <= c.m - 24 AND i.e >= c.m - 24) AS back24,
                   bool_or(i.s <= c.m - 23 AND i.e >= c.m - 23) AS back23
            FROM cells c JOIN isl i ON i.person_id = c.person_id AND i.e < c.island_s AND i.e >= c.m - 24
            WHERE c.prev_e >= c.m - 24
            GROUP BY c.person_id, c.m),
        counted AS (
            SELECT c.person_id, c.m, c.m > c.island_s AS in_prev, c.m < c.island_e AS in_next,
                   c.m - greatest(c.island_s, c.m - 23) + 1 + coalesce(x.obs, 0) AS observed,
                   c.island_s <= c.m - 24 OR coalesce(x.back24, FALSE) AS in_back24,
                   c.island_s <= c.m - 23 OR coalesce(x.back23, FALSE) AS in_back23
            FROM cells c LEFT JOIN earlier x ON x.person_id = c.person_id AND x.m = c.m),"""
# one row per person and month in receipt in [{lo}, {hi}]
STOCK_ROWS = _COUNTED + _FLAGGED.replace("{", "{{").replace("}", "}}")


def _prior(at: str) -> str:
    """Months of receipt before entry (``benefit_months``) inside the 24 months up to month ``at``."""
    return (f"least(greatest(0, least(p.entry_m - 1, {at}) - greatest(p.entry_m - p.benefit_months, {at} - 23) + 1),"
            f" 24)")


# FLOW_ROWS: STOCK_ROWS with, per row, whether the person is long-term in the months before and after (ltr_prev,
# ltr_next; for K3E3/K3E4): the 24-month windows of m - 1 and m + 1 differ from that of m by one month at each end.
FLOW_ROWS = _COUNTED + """
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
# inside the data ({full}). continuous: the month-ends of the twelve months after are all covered by one run of
# svB employment (``svb_runs``).
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
                   e.m + 12 <= {full} AND EXISTS (
                       SELECT 1 FROM svb_runs j WHERE j.person_id = e.person_id AND j.a <= e.m + 1
                           AND j.b >= e.m + 12) AS continuous
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


#: ``prev_e`` of a person's first island: no month is within 24 months of it.
NO_PREVIOUS = -10**7


def merge_runs(codes: np.ndarray, s: np.ndarray, e: np.ndarray, bridge: int = 0
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per person (``codes``), the integer ranges [s, e] merged where they overlap or adjoin (a range starting
    at most ``1 + bridge`` after the reach of the ranges before it joins their run): the runs as (codes, s, e),
    sorted by person and start.

    >>> [x.tolist() for x in merge_runs(np.array([0, 0, 0, 1]), np.array([1, 4, 9, 1]), np.array([3, 6, 9, 2]))]
    [[0, 0, 1], [1, 9, 1], [6, 9, 2]]
    >>> [x.tolist() for x in merge_runs(np.array([0, 0]), np.array([1, 9]), np.array([3, 9]), bridge=5)]
    [[0], [1], [9]]
    """
    if not len(codes):
        return codes.astype("int64"), s.astype("int64"), e.astype("int64")
    c, s, e, first = _run_rows(codes, s, e, bridge)[1:]
    starts = np.flatnonzero(first)
    return c[starts], s[starts], np.maximum.reduceat(e, starts)


def _run_rows(codes: np.ndarray, s: np.ndarray, e: np.ndarray, bridge: int):
    """The order sorting the ranges by person, start and end, the sorted (codes, s, e), and per sorted range
    whether it starts a run (see :func:`merge_runs`)."""
    order = np.lexsort((e, s, codes))
    c, s, e = codes[order].astype("int64"), s[order].astype("int64"), e[order].astype("int64")
    # a running maximum within each person: every person's values are lifted above all earlier persons' values
    base, span = min(s.min(), e.min()), int(max(s.max(), e.max()) - min(s.min(), e.min())) + 2
    reach = np.maximum.accumulate(e - base + c * span)
    first = np.ones(len(c), dtype=bool)
    first[1:] = (c[1:] != c[:-1]) | (s[1:] - base + c[1:] * span > reach[:-1] + 1 + bridge)
    return order, c, s, e, first


def islands(codes: np.ndarray, s: np.ndarray, e: np.ndarray, lo: int, hi: int) -> pd.DataFrame:
    """``isl``: each person's months in receipt from ``lo`` to ``hi`` as disjoint runs [s, e] with a month
    without receipt between any two, and the end of the person's run before (``prev_e``; :data:`NO_PREVIOUS`
    for the first).

    Spells that share or adjoin a month are merged, so that a month is counted once however many spells touch
    it, and a run's first and last months are an entry and an exit. A spell without an end (``e`` infinite)
    runs to ``hi``.
    """
    e = np.minimum(e, hi)
    keep = (codes >= 0) & (e >= lo) & (s <= hi)
    c, s, e = merge_runs(codes[keep], np.maximum(s[keep], lo), e[keep])
    prev_e = np.full(len(c), NO_PREVIOUS, dtype="int64")
    same = np.flatnonzero(c[1:] == c[:-1]) + 1
    prev_e[same] = e[same - 1]
    return pd.DataFrame({"person_id": c, "s": s, "e": e, "prev_e": prev_e})


def svb_runs(codes: np.ndarray, start: pd.Series, end: pd.Series, lo: int, hi: int) -> pd.DataFrame:
    """``svb_runs``: per person the runs [a, b] of months in [lo, hi] whose last day an svB spell covers (K2E3).

    A spell from ``start`` to ``end`` covers the last day of month M when start <= last_day(M) <= end: M from
    the month of ``start`` to the month of ``end`` (the month before when ``end`` is not a month's last day).
    Twelve month-ends M + 1 .. M + 12 (inside [lo, hi]) are all covered exactly when one run holds them, and
    which of them are covered does not depend on the months outside, so the ranges are cut to [lo, hi]."""
    end = _datetimes(end)
    a = np.maximum(month_ordinal(_datetimes(start)), lo)
    b = np.minimum(month_ordinal(end) - (~end.dt.is_month_end).to_numpy(), hi)  # an open spell: inf - 1 -> hi
    keep = (codes >= 0) & (b >= a)
    c, a, b = merge_runs(codes[keep], a[keep], b[keep])
    return pd.DataFrame({"person_id": c, "a": a, "b": b})


def long_term_unemployed_months(ids: pd.Series, start: pd.Series, end: pd.Series, lo: int, hi: int,
                                bridge_days: int = 0) -> pd.DataFrame:
    """Person-months (person_id, m) in [lo, hi] in which the person is registered unemployed on the month's
    last day, in an episode of unemployment that began at least 364 days before (§ 18 Abs. 1 SGB III:
    "Langzeitarbeitslose sind Arbeitslose, die ein Jahr und länger arbeitslos sind").

    An episode joins spells that overlap, follow each other without a day between, or (``bridge_days``) leave a
    gap of at most that many days; it begins with its first spell. A day in such a gap is no day of
    unemployment: the month-end must lie in a spell."""
    last = int(_day_numbers(pd.Series([_month_end(hi)]))[0])
    s, e = _day_numbers(start), _day_numbers(end)
    keep = s <= last  # a later spell can neither cover a month-end up to hi nor move an episode's start
    if not keep.any():
        return pd.DataFrame({"person_id": pd.Series(dtype=object), "m": pd.Series(dtype="int64")})
    codes, uniques = pd.factorize(ids[keep])
    s, e = s[keep], np.where(np.isnan(e[keep]), last + 10**6, e[keep])
    c, s, e, first = _run_rows(codes, s, e, bridge_days)[1:]
    episode_start = s[np.flatnonzero(first)][np.cumsum(first) - 1]
    m_from = np.maximum(np.maximum(_month_of(s), _month_of(episode_start + 364)), lo)
    end_is_month_end = _month_of(e + 1) != _month_of(e)
    m_to = np.minimum(_month_of(e) - ~end_is_month_end, hi)
    n = np.maximum(m_to - m_from + 1, 0)
    rows = np.repeat(np.arange(len(c)), n)
    months = m_from[rows] + np.arange(n.sum()) - np.repeat(np.cumsum(n) - n, n)
    out = pd.DataFrame({"person_id": uniques[c[rows]], "m": months.astype("int64")})
    return out.drop_duplicates().reset_index(drop=True)


def _month_of(days: np.ndarray) -> np.ndarray:
    """Month ordinals of day numbers."""
    return np.asarray(days, dtype="int64").astype("datetime64[D]").astype("datetime64[M]").astype("int64")


def _month_end(m: int) -> pd.Timestamp:
    return pd.Timestamp(year=1970 + m // 12, month=m % 12 + 1, day=1) + pd.offsets.MonthEnd(0)


def _datetimes(values: pd.Series) -> pd.Series:
    """``values`` as datetimes (pd.to_datetime samples even a datetime column element by element first)."""
    return values if pd.api.types.is_datetime64_dtype(values) else pd.to_datetime(values)


def _day_numbers(dates: pd.Series) -> np.ndarray:
    """Days since 01.01.1970 as floats (a missing date -> NaN)."""
    d = _datetimes(dates).to_numpy().astype("datetime64[D]")
    return np.where(np.isnat(d), np.nan, d.astype("int64").astype("float64"))


class Connection:
    """DuckDB over one piece, with the person pseudonyms replaced by integer codes (the person's row in the
    piece's persons table): joins and groups on integers are several times faster than on the string keys.
    :meth:`codes` gives the code of any person key (-1 for a person outside the piece, whose rows no query
    would have joined anyway); frames registered by :meth:`register` must carry codes already."""

    def __init__(self, persons: pd.DataFrame):
        self.index = pd.Index(persons["person_id"])
        if not self.index.is_unique:
            raise ValueError("persons.person_id: a person key occurs more than once")
        self.con = duckdb.connect()
        self.con.register("_persons_in", persons.assign(person_id=np.arange(len(persons), dtype="int64")))
        self.con.execute("CREATE TEMP TABLE persons AS SELECT * FROM _persons_in")  # scanned once, read often
        self.con.unregister("_persons_in")

    def codes(self, person_ids: pd.Series) -> np.ndarray:
        return self.index.get_indexer(person_ids)

    def register(self, name: str, frame: pd.DataFrame) -> None:
        self.con.register(name, frame)

    def execute(self, query: str, params=None):
        return self.con.execute(query, params or [])

    def close(self) -> None:
        self.con.close()


def connection(ds, lo: int, hi: int, segments, first: int | None = None, cell_keys: bytes | None = None
               ) -> Connection:
    """DuckDB with ``persons``, islands ``isl`` from ``first - 23`` (default ``lo``) to ``hi + 12``, ``events``
    (employment starts of every group in [lo, hi]) and ``svb_runs``; with ``cell_keys`` the persons carry the
    record keys of the cell key method and sex as the boards publish it. ``person_id`` is an integer code in
    every table (:class:`Connection`)."""
    persons = ds.table("persons")
    if "single_parent" not in persons.columns:  # hand-made tables may lack it: K2E4 then has no denominator
        persons["single_parent"] = False
    persons = persons[["person_id", "jc_id", "sex", "birth_year", "entry_date", "benefit_months", "single_parent"]]
    persons["entry_m"] = month_ordinal(persons["entry_date"]).astype("int64")
    seg = segments if segments is not None else pd.Series(dtype=object)
    persons["segment"] = persons["person_id"].map(seg).fillna("unbekannt").astype(str)
    persons["single_parent"] = persons["single_parent"].fillna(False).astype(bool)
    _add_record_keys(persons, cell_keys)
    con = Connection(persons.drop(columns="entry_date"))
    b = ds.table("benefits")[["person_id", "start", "end"]]
    con.register("isl", islands(con.codes(b["person_id"]), month_ordinal(b["start"]), month_ordinal(b["end"]),
                                (lo if first is None else first) - 23, hi + 12))
    emp = ds.table("employment")[["person_id", "start", "end", "kind"]]
    ev = events(emp, lo, hi)
    codes = con.codes(ev["person_id"])
    con.register("events", ev.assign(person_id=codes)[codes >= 0])
    # continuity is asked only of the events' persons, for the month-ends from lo + 1 to hi + 12
    svb = continuing_employment(emp)
    svb_codes = con.codes(svb["person_id"])
    svb_codes[~np.isin(svb_codes, codes)] = -1
    con.register("svb_runs", svb_runs(svb_codes, svb["start"], svb["end"], lo + 1, hi + 12))
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
