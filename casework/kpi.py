"""Key figures in the sense of § 48a SGB II and the seeds' own measures, computed from the case tables.

Each figure has its official lower-case code and a German name and definition in :data:`KPI_DEFINITIONS`
(:mod:`casework.kpi_defs`; docs/kpi.md quotes the Verordnung zur Festlegung der Kennzahlen nach § 48a SGB II
as amended on 15.03.2019 beside each, and lists where this operationalisation differs from BA's).
The counts are DuckDB SQL over the dataset's tables (:mod:`casework._kpi_sql`), taken piece by piece for large
datasets (:mod:`casework.engine`) and added up; the dashboards' cube (:func:`key_figure_cells`) is the same SQL
grouped by cell.

Definitions in short:

* **stock (Bestand)** of a month: persons with a benefit spell covering at least one day of the month.
* **integration** (VO § 5 Abs. 1): the start of svB employment, fully qualifying training or
  self-employment, or of a job supported by a Beschäftigung begleitende Leistung (the new § 16e from
  01.01.2019); never Arbeitsgelegenheiten, § 16i, programme employment or § 16e before 2019; only by a person in
  the eLb stock (in receipt in the month before, or a new entrant of the month); at most one per person and
  month.
* **long-term recipient (LZB)** in a month: in receipt in at least 21 of the last 24 months (receipt before
  the first observed spell from ``persons.benefit_months``).
* **bedarfsdeckend** (BA, not an official figure): no receipt in the third month after the integration.
"""

from __future__ import annotations

import datetime as dt
import re

import duckdb
import numpy as np
import pandas as pd

from casework import _kpi_sql as Q
from casework import engine
from casework import schema as S
from casework.cells import AGE_GROUPS, KPI_MEASURES, figures_from_counts, month_ordinal, month_starts
from casework.kpi_defs import KPI_DEFINITIONS, NOTES, OFFICIAL_CODES
from casework.panel import UNEMPLOYMENT_BRIDGE_DAYS
from casework.privacy import KEY_MODULUS

__all__ = ["KPI_DEFINITIONS", "OFFICIAL_CODES", "CELL_DIMS", "FILTER_KEYS", "key_figures", "key_figure_cells",
           "integration_rate", "ltr_change", "continuous_employment", "parse_month", "parse_date", "caseloads",
           "participation", "module_occupancy", "referrals_by_partner", "contacts_per_customer",
           "long_term_unemployed_months", "LZA_BRIDGE_DAYS"]

CELL_DIMS = ["jc_id", "m", "sex", "age_group", "segment"]
#: Days without registration between two spells of unemployment that do not end the episode: § 18 Abs. 1 Satz 2
#: SGB III, "Zeiten einer Erkrankung oder sonstigen Nicht-Erwerbstätigkeit [...] bis zu sechs Wochen unterbrechen
#: die Dauer der Arbeitslosigkeit nicht" (the same 42 days as the exit outcome of casework.panel).
LZA_BRIDGE_DAYS = UNEMPLOYMENT_BRIDGE_DAYS
CELL_COUNTS = list(KPI_MEASURES)  # the cells are what the dashboards' cube stores
FILTER_KEYS = ("jc_id", "sex", "age_group", "segment")
_ISO = re.compile(r"^\d{4}-\d{2}(-\d{2})?([ T][0-9:.]+)?$")
_GERMAN = re.compile(r"^\d{1,2}\.\d{1,2}\.\d{4}$")


def parse_date(value, what: str = "date") -> pd.Timestamp:
    """A date: ISO (``2021-02-01``, ``2021-02``) or German (``01.02.2021``), or a date object.

    Month-first (``02/01/2021``) and other ambiguous forms are refused, naming the value.

    >>> parse_date("01.02.2021") == parse_date("2021-02-01")
    True
    """
    if isinstance(value, str):
        text = value.strip()
        if _GERMAN.match(text):
            ts = pd.to_datetime(text, format="%d.%m.%Y", errors="coerce")
        elif _ISO.match(text):
            ts = pd.to_datetime(text if len(text) > 7 else text + "-01", format="ISO8601", errors="coerce")
        else:
            ts = pd.NaT
        if pd.isna(ts):
            raise ValueError(f"{what} {value!r}: not a date in ISO form (2021-02-01) or German form (01.02.2021)")
        return ts
    if isinstance(value, (pd.Timestamp, dt.date, np.datetime64)):
        ts = pd.Timestamp(value)
        if pd.isna(ts):
            raise ValueError(f"{what} is missing (NaT)")
        return ts
    raise ValueError(f"{what} {value!r}: expected a date or a date string (ISO 2021-02-01 or German 01.02.2021)")


def parse_month(value, what: str = "date") -> int:
    """Month ordinal of a date given as :func:`parse_date` accepts it.

    >>> parse_month("01.02.2021") == parse_month("2021-02-01") == parse_month("2021-02")
    True
    """
    return int(month_ordinal([parse_date(value, what)])[0])


def _period(start, end) -> tuple[int, int]:
    lo, hi = parse_month(start, "start"), parse_month(end, "end")
    if hi < lo:
        raise ValueError(f"end {end!r} lies before start {start!r}")
    return lo, hi


def _check_filters(ds, filters: dict | None, segments: pd.Series | None) -> dict:
    """The filters, or ValueError naming an unknown key or value (a silent no-op filter is a wrong answer)."""
    filters = dict(filters or {})
    unknown = sorted(set(filters) - set(FILTER_KEYS))
    if unknown:
        raise ValueError(f"unknown filter key(s) {', '.join(map(repr, unknown))}; allowed: {', '.join(FILTER_KEYS)}")
    for key, v in filters.items():
        if v is None or (isinstance(v, str) and v == "alle"):
            continue
        values = list(v) if isinstance(v, (list, tuple, set)) else [v]
        allowed = _filter_levels(ds, key, segments)
        bad = [x for x in values if x not in allowed]
        if bad:
            shown = ", ".join(map(repr, sorted(map(str, allowed))[:20]))
            raise ValueError(f"filter {key}: unknown value(s) {', '.join(map(repr, bad))}; allowed: {shown}")
    return filters


def _filter_levels(ds, key: str, segments) -> set:
    if key == "sex":
        return set(S.SEX)
    if key == "age_group":
        return set(AGE_GROUPS)
    if key == "segment":
        return set(segments.astype(str)) | {"unbekannt"} if segments is not None else {"unbekannt"}
    source = "jobcenters" if "jobcenters" in ds.tables else "persons"
    return set(ds.sql(f"SELECT DISTINCT jc_id FROM {source}")["jc_id"])


def _last_full_month(ds) -> int:
    """The last month wholly inside the data (its last day on or before the latest date of any spell)."""
    ends = ds.sql("SELECT max(d) AS d FROM (SELECT max(start) AS d FROM benefits UNION ALL SELECT max(\"end\") "
                  "FROM benefits UNION ALL SELECT max(start) FROM employment UNION ALL SELECT max(\"end\") "
                  "FROM employment)")["d"].iloc[0]
    if pd.isna(ends):
        return -10**6
    last = pd.Timestamp(ends)
    m = int(month_ordinal([last])[0])
    return m if last.is_month_end else m - 1


_ROWS = ("integrations", "avg_stock", "k2", "ltr_integrations", "avg_ltr_stock", "k3e1", "need_ending",
         "k1", "k1e1", "k1e2", "k1e3", "k1e4", "k2e1", "k2e2", "k2e3", "k2e4", "k3", "k3e2", "k3e3", "k3e4", "lza")


def key_figures(ds, start, end, filters: dict | None = None, segments: pd.Series | None = None) -> pd.DataFrame:
    """The § 48a key figures of a period, for the persons the filters select.

    Parameters
    ----------
    start, end : date or str
        First and last month of the period (whole months): ISO (``2021-02-01``) or German (``01.02.2021``);
        month-first forms are refused. ``end`` is the Bezugsmonat of the figures compared with the year before
        (K1, K1E1, K1E2, K3, K3E2).
    filters : dict, optional
        Any of ``jc_id``, ``sex``, ``age_group`` (age from the birth year in the calendar year of each month),
        ``segment`` — a value or a list. An unknown key or value is a ValueError naming it.
    segments : Series, optional
        person_id -> segment (e.g. Profillage).

    Returns
    -------
    DataFrame
        Columns kpi, label, value, numerator, denominator; one row per figure (see ``_ROWS``; the official
        codes in lower case). Rates are shares (0.25 = 25 %), changes against the year before are
        ``numerator / denominator - 1``. A figure the data cannot give is NaN, and ``attrs["notes"]`` maps its
        code to the German reason.

    Examples
    --------
    >>> from casework import synth
    >>> ds = synth.generate("gelsenkirchen", seed=1, persons=800)
    >>> kf = key_figures(ds, "2017-01-01", "2017-12-01").set_index("kpi")
    >>> bool(0.05 < kf.loc["k2", "value"] < 0.5)
    True
    """
    lo, hi = _period(start, end)
    filters = _check_filters(ds, filters, segments)
    full = _last_full_month(ds)
    tables = [t for t in ("persons", "benefits", "employment", "instruments", "unemployment") if t in ds.tables]
    parts = engine.map_partitions(ds, _key_figure_counts, lo, hi, filters, segments, full, desc="Kennzahlen",
                                  tables=tables)
    counts = {k: sum(p[k] for p in parts) for k in parts[0] if k != "flows"}
    counts.update(_amounts(ds, hi, filters, segments))
    flows = pd.concat([p["flows"] for p in parts]).groupby("m").sum()
    rows, notes = _rows(counts, flows, lo, hi, amount_months=_amount_months(ds),
                        has_instruments="instruments" in ds.tables)
    if "unemployment" in ds.tables:
        rows.append(("lza", float(counts["lza"]), counts["lza"], np.nan))
    else:
        rows.append(("lza", np.nan, np.nan, np.nan))
        notes["lza"] = NOTES["no_unemployment"]
    out = pd.DataFrame(rows, columns=["kpi", "value", "numerator", "denominator"])
    out.insert(1, "label", [KPI_DEFINITIONS[k][0] for k in out["kpi"]])
    out.attrs["notes"] = notes
    return out


def _amount_months(ds) -> tuple[int, int] | None:
    """First and last month of the benefit amounts (None without the table or without rows)."""
    if "benefit_amounts" not in ds.tables:
        return None
    got = ds.sql("SELECT min(month) AS first, max(month) AS last FROM benefit_amounts")
    if got["first"].isna().iloc[0]:
        return None
    return tuple(int(x) for x in month_ordinal(got.iloc[0].to_numpy()))


def _amount_rows(c: dict, hi: int, months: tuple[int, int] | None, ratio, notes: dict) -> list:
    """K1 and K1E1: the sums of the Bezugsmonat against the same month a year earlier, NaN with a note where
    the amounts do not reach both months (a month without any amounts would read as a fall to zero) or the
    KdU are missing for some of them."""
    rows = []
    for code, key in (("k1", "llu"), ("k1e1", "kdu")):
        if months is None:
            reason = "no_amounts"
        elif hi - 12 < months[0] or hi > months[1]:
            reason = "amounts_outside"
        elif key == "kdu" and c["kdu_missing"]:
            reason = "kdu_missing"
        else:
            rows.append(ratio(code, c[f"{key}_now"], c[f"{key}_before"], change=True, missing="no_prior_year"))
            continue
        rows.append((code, np.nan, np.nan, np.nan))
        notes[code] = NOTES[reason]
    return rows


def _rows(c: dict, flows: pd.DataFrame, lo: int, hi: int, amount_months: tuple[int, int] | None,
          has_instruments: bool):
    n = hi - lo + 1
    avg, avg_ltr, avg_sp = c["stock_months"] / n, c["ltr_months"] / n, c["sp_months"] / n
    notes: dict[str, str] = {}

    def ratio(code, num, den, change=False, missing="empty"):
        value = (num / den - 1 if change else num / den) if den else np.nan
        if not den:
            notes[code] = NOTES[missing]
        return (code, float(value), num, den)

    f = flows.reindex(range(min(lo - 1, hi - 12), hi + 1), fill_value=0)
    inside = f.loc[lo:hi]
    rows = [("integrations", c["n_int"], c["n_int"], np.nan), ("avg_stock", avg, c["stock_months"], n),
            ratio("k2", c["n_int"], avg), ("ltr_integrations", c["n_ltr_int"], c["n_ltr_int"], np.nan),
            ("avg_ltr_stock", avg_ltr, c["ltr_months"], n), ratio("k3e1", c["n_ltr_int"], avg_ltr),
            ("need_ending", c["n_need"], c["n_need"], c["n_need_obs"])]
    if not c["n_need_obs"]:
        notes["need_ending"] = NOTES["no_follow_up"]
    rows += _amount_rows(c, hi, amount_months, ratio, notes)
    rows += [ratio("k1e2", f.at[hi, "stock"], f.at[hi - 12, "stock"], change=True, missing="no_prior_year"),
             _mean_rate("k1e3", inside["entries"], inside["stock"], notes),
             _mean_rate("k1e4", inside["exits"], inside["prev_stock"], notes),
             ratio("k2e1", c["n_minijob"], avg), ratio("k2e2", c["n_funded"], avg),
             ratio("k2e3", c["n_cont"], c["n_cont_obs"], missing="no_follow_up"),
             ratio("k2e4", c["n_sp_int"], avg_sp),
             ratio("k3", f.at[hi, "ltr"], f.at[hi - 12, "ltr"], change=True, missing="no_prior_year")]
    if has_instruments:
        rows.append(ratio("k3e2", c["ltr_active"], f.at[hi, "ltr"]))
    else:
        rows.append(("k3e2", np.nan, np.nan, np.nan))
        notes["k3e2"] = NOTES["no_instruments"]
    rows += [_mean_rate("k3e3", inside["ltr_entries"], inside["ltr"], notes),
             _mean_rate("k3e4", inside["ltr_exits"], inside["prev_ltr"], notes)]
    order = {k: i for i, k in enumerate(_ROWS)}
    return sorted(rows, key=lambda r: order[r[0]]), notes


def _mean_rate(code: str, num: pd.Series, den: pd.Series, notes: dict) -> tuple:
    """The mean of the monthly rates num/den over the months with a stock (VO: 'Durchschnitt')."""
    ok = den > 0
    if not ok.any():
        notes[code] = NOTES["empty"]
        return (code, np.nan, int(num.sum()), int(den.sum()))
    return (code, float((num[ok] / den[ok]).mean()), int(num[ok].sum()), int(den[ok].sum()))


def _key_figure_counts(ds, lo: int, hi: int, filters, segments, full: int) -> dict:
    """The additive counts of one piece: person-months, events, flows per month, amounts."""
    lo_f = min(lo - 1, hi - 12)
    con = Q.connection(ds, lo, hi, segments, first=lo_f)
    w, params = Q.where(filters)
    flows = Q.monthly_flows(con, lo_f, hi, filters)
    inside = flows[flows["m"] >= lo]
    out = {"stock_months": int(inside["stock"].sum()), "ltr_months": int(inside["ltr"].sum()),
           "sp_months": int(inside["sp"].sum())}
    by_group = {row[0]: row[1:] for row in con.execute(f"""
        SELECT grp, COUNT(*), SUM(CAST(is_ltr AS INT)), SUM(CAST(single_parent AS INT)),
               SUM(CAST(need_ending AS INT)), SUM(CAST(need_obs AS INT)), SUM(CAST(continuous AS INT)),
               SUM(CAST(cont_obs AS INT))
        FROM ({Q.EVENT_ROWS.format(grp='TRUE', full=full)}) WHERE TRUE {w} GROUP BY grp""", params).fetchall()}
    ints = by_group.get("integration", (0,) * 7)
    for key, v in zip(("n_int", "n_ltr_int", "n_sp_int", "n_need", "n_need_obs", "n_cont", "n_cont_obs"), ints):
        out[key] = int(v or 0)
    out["n_minijob"] = int(by_group.get("minijob", (0,))[0])
    out["n_funded"] = int(by_group.get("funded", (0,))[0])
    out["ltr_active"] = _ltr_active(ds, con, hi, filters)
    out["lza"] = _long_term_unemployed(ds, con, hi, filters)
    con.close()
    out["flows"] = flows
    return out


def _amounts(ds, hi: int, filters, segments) -> dict:
    """Sums of the monthly LLU and KdU amounts in the Bezugsmonat and the same month a year earlier, and the
    number of their rows without KdU, of the persons the filters select.

    One DuckDB query over the whole dataset rather than piece by piece: the amounts are person-months, often the
    largest table, and only two months are needed, which DuckDB reads from the Parquet file alone."""
    if "benefit_amounts" not in ds.tables:
        return {"llu_now": 0.0, "llu_before": 0.0, "kdu_now": 0.0, "kdu_before": 0.0, "kdu_missing": 0}
    con = duckdb.connect()
    try:
        for name in ("benefit_amounts", "persons"):
            _attach(con, ds, name)
        seg = segments if segments is not None else pd.Series(dtype=object)
        con.register("seg", pd.DataFrame({"person_id": seg.index.astype(str), "segment": seg.astype(str).to_numpy()}))
        has_kdu = "kdu" in con.execute("SELECT * FROM benefit_amounts LIMIT 0").df().columns
        first = [month_starts([m])[0] for m in (hi - 12, hi - 11, hi, hi + 1)]
        w, params = Q.where(filters)
        got = con.execute(f"""
            WITH x AS (
                SELECT (year(a.month) - 1970) * 12 + month(a.month) - 1 AS m, a.llu,
                       {'a.kdu' if has_kdu else 'CAST(NULL AS DOUBLE)'} AS kdu, p.jc_id, p.sex, p.birth_year,
                       coalesce(s.segment, 'unbekannt') AS segment
                FROM benefit_amounts a JOIN persons p USING (person_id) LEFT JOIN seg s USING (person_id)
                WHERE (a.month >= DATE '{first[0]}' AND a.month < DATE '{first[1]}')
                   OR (a.month >= DATE '{first[2]}' AND a.month < DATE '{first[3]}')),
            y AS (SELECT *, {Q.AGE_SQL.replace('age', '((1970 + m // 12) - birth_year)')} AS age_group FROM x)
            SELECT m, coalesce(SUM(llu), 0), coalesce(SUM(kdu), 0), COUNT(*) - COUNT(kdu) FROM y WHERE TRUE {w}
            GROUP BY m""", params).fetchall()
    finally:
        con.close()
    sums = {m: (llu, kdu) for m, llu, kdu, _ in got}
    now, before = sums.get(hi, (0.0, 0.0)), sums.get(hi - 12, (0.0, 0.0))
    return {"llu_now": float(now[0]), "llu_before": float(before[0]), "kdu_now": float(now[1]),
            "kdu_before": float(before[1]), "kdu_missing": int(sum(row[3] for row in got))}


def _attach(con, ds, name: str) -> None:
    """Table ``name`` of ``ds`` as a DuckDB view: the Parquet file itself when the table is not in memory
    (DuckDB then reads only the columns and row groups the query needs), else the frame."""
    if ds.path is not None and not ds.is_loaded(name):
        path = str(ds.path / f"{name}.parquet").replace("'", "''")
        con.execute(f"CREATE VIEW {name} AS SELECT * FROM read_parquet('{path}')")
    else:
        con.register(name, ds.table(name))


def _long_term_unemployed(ds, con, hi: int, filters) -> int:
    """Langzeitarbeitslose on the last day of month ``hi`` (:func:`long_term_unemployed_months`)."""
    if "unemployment" not in ds.tables:
        return 0
    long_term = long_term_unemployed_months(ds.table("unemployment"), hi, hi)["person_id"]
    con.register("lza", pd.DataFrame({"person_id": np.unique(con.codes(long_term))}))
    w, params = Q.where(filters)
    age = Q.AGE_SQL.replace("age", f"({1970 + hi // 12} - birth_year)")
    return int(con.execute(f"SELECT COUNT(*) FROM (SELECT *, {age} AS age_group FROM persons WHERE person_id IN "
                           f"(SELECT person_id FROM lza)) WHERE TRUE {w}", params).fetchall()[0][0] or 0)


def long_term_unemployed_months(unemployment: pd.DataFrame, lo: int, hi: int) -> pd.DataFrame:
    """Langzeitarbeitslose (§ 18 Abs. 1 SGB III, as BA counts them: one year = 364 days) on the last day of
    each month from ``lo`` to ``hi`` (month ordinals, :func:`casework.cells.month_ordinal`), from the spells of
    registered unemployment (person_id, start, end): one row (person_id, m) per person and month counted.

    A person counts when a spell covers the month's last day and the episode it belongs to began at least 364
    days before; spells that overlap or follow each other within :data:`LZA_BRIDGE_DAYS` days are one episode.
    ``key_figures`` counts ``lza`` of its Bezugsmonat with this function, and so should any cube of it.
    """
    return Q.long_term_unemployed_months(unemployment["person_id"], unemployment["start"], unemployment["end"],
                                         int(lo), int(hi), LZA_BRIDGE_DAYS)


def _ltr_active(ds, con, hi: int, filters) -> int:
    """Long-term recipients of the Bezugsmonat with a regular instrument covering a day of it (K3E2)."""
    if "instruments" not in ds.tables:
        return 0
    ins = ds.table("instruments")
    ins = ins.assign(s=month_ordinal(ins["start"]), e=month_ordinal(ins["end"]))
    active = ins[(ins["s"] <= hi) & (ins["e"].isna() | (ins["e"] >= hi))]
    con.register("active", pd.DataFrame({"person_id": np.unique(con.codes(active["person_id"]))}))
    w, params = Q.where(filters)
    return int(con.execute(f"SELECT COUNT(*) FROM ({Q.STOCK_ROWS.format(lo=hi, hi=hi)}) WHERE is_ltr AND "
                           f"person_id IN (SELECT person_id FROM active) {w}", params).fetchall()[0][0] or 0)


def key_figure_cells(ds, start, end, segments: pd.Series | None = None, max_persons: int | None = None,
                     cell_keys: bytes | None = None) -> pd.DataFrame:
    """The key figures' additive counts per jobcenter, month, sex, age group and segment.

    K2, K3E1 and the need-ending integrations for any selection of these dimensions are ratios of sums over
    these cells (the dashboards' cube, :func:`casework.boards.build.kpi_cube`, and :func:`integration_rate`), and
    so are K1E2 and K3 (the stock of the last month against the same month a year earlier). Large datasets are
    counted piece by piece (:func:`casework.engine.map_partitions`, pieces of at most ``max_persons``).

    Returns
    -------
    DataFrame
        Columns jc_id, m (month ordinal, see :func:`casework.cells.month_ordinal`), sex, age_group, segment,
        stock, ltr_stock (person-months in receipt, of them long-term), integrations, ltr_integrations,
        need_ending (integrations without receipt three months later); one row per cell with any count.

    With ``cell_keys`` (the dataset's secret, :func:`casework.privacy.dataset_secret`) the cells also carry
    ``<count>_key``: the sum modulo :data:`casework.privacy.KEY_MODULUS` of the record keys of the person-months
    or integrations counted (the cell key method of the boards), and sex is binary as the boards publish it.
    """
    lo, hi = _period(start, end)
    full = _last_full_month(ds)
    parts = engine.map_partitions(ds, _cells_of_piece, lo, hi, segments, full, cell_keys, desc="Kennzahlen-Zellen",
                                  tables=("persons", "benefits", "employment"), max_persons=max_persons)
    if len(parts) == 1:
        return parts[0]
    # a jobcenter cut into pieces by person keys has its cells in several parts: add them up
    counts = [c for c in parts[0].columns if c not in CELL_DIMS]
    cells = pd.concat(parts, ignore_index=True).groupby(CELL_DIMS, observed=True, as_index=False)[counts].sum()
    for c in counts:
        if c.endswith("_key"):
            cells[c] %= KEY_MODULUS
    return cells.sort_values(CELL_DIMS).reset_index(drop=True)


_STOCK_KEY = f"(k0 + m * k1) % {KEY_MODULUS}"  # record key of a person-month in receipt
_EVENT_KEY = f"(k2 + m * k3) % {KEY_MODULUS}"  # record key of an integration


def _key_sums(record_key: str, flags: dict) -> str:
    """SQL sums of record keys: ``{column: condition}`` (condition None for every record)."""
    return "".join(f", CAST(SUM({record_key if cond is None else f'CASE WHEN {cond} THEN {record_key} ELSE 0 END'})"
                   f" % {KEY_MODULUS} AS BIGINT) AS {col}_key" for col, cond in flags.items())


def _cells_of_piece(ds, lo: int, hi: int, segments, full: int, cell_keys: bytes | None = None) -> pd.DataFrame:
    con = Q.connection(ds, lo, hi, segments, cell_keys=cell_keys)
    dims = ", ".join(CELL_DIMS)
    keyed = cell_keys is not None
    stock_keys = _key_sums(_STOCK_KEY, {"stock": None, "ltr_stock": "is_ltr"}) if keyed else ""
    event_keys = _key_sums(_EVENT_KEY, {"integrations": None, "ltr_integrations": "is_ltr",
                                        "need_ending": "need_ending"}) if keyed else ""
    stock = con.execute(f"SELECT {dims}, COUNT(*) AS stock, SUM(CAST(is_ltr AS BIGINT)) AS ltr_stock{stock_keys} "
                        f"FROM ({Q.STOCK_ROWS.format(lo=lo, hi=hi)}) GROUP BY ALL").df()
    events = con.execute(f"SELECT {dims}, COUNT(*) AS integrations, SUM(CAST(is_ltr AS BIGINT)) AS "
                         f"ltr_integrations, SUM(CAST(need_ending AS BIGINT)) AS need_ending{event_keys} "
                         f"FROM ({Q.EVENT_ROWS.format(grp=Q.INTEGRATIONS_ONLY, full=full)}) GROUP BY ALL").df()
    con.close()
    cells = stock.merge(events, on=CELL_DIMS, how="outer")
    counts = CELL_COUNTS + ([f"{c}_key" for c in CELL_COUNTS] if keyed else [])
    cells[counts] = cells[counts].fillna(0).astype("int64")
    return cells[CELL_DIMS + counts].sort_values(CELL_DIMS).reset_index(drop=True)


def integration_rate(ds, start, end, by: str | None = None, segments: pd.Series | None = None) -> pd.DataFrame:
    """K2 (and K3E1) per group, from one pass over the data (:func:`key_figure_cells`).

    Parameters
    ----------
    by : {"jc_id", "sex", "age_group", "segment"}, optional
        One row per level (every jobcenter, sex, age group or segment, also those without cases);
        default one row for all.

    Returns
    -------
    DataFrame
        Columns ``by`` (when given), integrations, avg_stock, k2, ltr_integrations, avg_ltr_stock, k3e1,
        need_ending — the values :func:`key_figures` gives with the level as filter.
    """
    levels = {"jc_id": ds.table("jobcenters")["jc_id"].tolist(), "sex": list(S.SEX),
              "age_group": list(AGE_GROUPS),
              "segment": sorted(set(segments)) if segments is not None else ["unbekannt"]}
    if by is not None and by not in levels:
        raise ValueError(f"integration_rate: by must be one of {', '.join(levels)}, not {by!r}")
    lo, hi = _period(start, end)
    cells = key_figure_cells(ds, start, end, segments)
    if by is None:
        sums = cells[CELL_COUNTS].sum().to_frame().T
    else:
        sums = cells.groupby(by)[CELL_COUNTS].sum().reindex(levels[by], fill_value=0)
    f = figures_from_counts(*(sums[c].to_numpy().astype(float) for c in CELL_COUNTS), hi - lo + 1)
    out = pd.DataFrame({k: np.broadcast_to(v, len(sums)) for k, v in f.items()})
    return out if by is None else out.assign(**{by: levels[by]})[[by, *f]]


def ltr_change(ds, start, end, filters: dict | None = None) -> float:
    """K3: long-term recipients in the last month of the period against the same month a year earlier
    (a change, 0.05 = +5 %; NaN without a stock a year earlier)."""
    return float(key_figures(ds, start, end, filters).set_index("kpi").at["k3", "value"])


def continuous_employment(ds, start, end, filters: dict | None = None) -> pd.DataFrame:
    """K2E3 of the integrations in the period: one row integrations, observable (integrations whose twelve
    following month-ends lie in the data), continuing (svB-employed at each of them), share."""
    kf = key_figures(ds, start, end, filters).set_index("kpi")
    n_obs, cont = kf.at["k2e3", "denominator"], kf.at["k2e3", "numerator"]
    return pd.DataFrame([{"integrations": int(kf.at["integrations", "value"]), "observable": int(n_obs),
                          "continuing": int(cont), "share": kf.at["k2e3", "value"]}])


def caseloads(ds, date) -> pd.DataFrame:
    """Persons per caseworker on a day (Betreuungsschlüssel; seeds 000, 001): caseworker_id, jc_id, team_id,
    fallmanagement, persons (assignments covering the day). A ValueError names the tables the data lack."""
    missing = [t for t in ("caseworkers", "assignments") if t not in ds.tables]
    if missing:
        raise ValueError(f"caseloads need the table(s) {', '.join(missing)} (caseworkers and their assignments), "
                         "which the data do not have")
    day = parse_date(date)
    a = ds.table("assignments")
    a = a[(a["start"] <= day) & (a["end"].isna() | (a["end"] >= day))]
    cw = ds.table("caseworkers")
    out = cw.reindex(columns=["caseworker_id", "jc_id", "team_id", "fallmanagement"])
    out["persons"] = out["caseworker_id"].map(a.groupby("caseworker_id")["person_id"].nunique()).fillna(0)
    return out.astype({"persons": "int64"}).reset_index(drop=True)


def participation(ds, project_id: str | None = None) -> pd.DataFrame:
    """Participants and places per project (enrolments): project_id, name, places, participants, active_now."""
    e = ds.table("enrolments")
    p = ds.table("projects").assign(key=lambda f: f["project_id"].str.split("/").str[0])
    e = e.merge(p[["project_id", "key"]], on="project_id")
    if project_id:
        e, p = e[e["key"] == project_id], p[p["key"] == project_id]
    last = e["start"].max()
    active = e[(e["start"] <= last) & (e["end"].isna() | (e["end"] >= last))]
    out = p.groupby("key").agg(name=("name", "first"), places=("places", "sum")).reset_index()
    out["participants"] = out["key"].map(e.groupby("key")["person_id"].nunique()).fillna(0).astype(int)
    out["active_now"] = out["key"].map(active.groupby("key")["person_id"].nunique()).fillna(0).astype(int)
    return out.rename(columns={"key": "project_id"})


def module_occupancy(ds, project_id: str, since=None) -> pd.DataFrame:
    """Placements and occupancy per offer of a project (seed 004: ABCaktiv modules).

    Columns offer_id, name, measure, capacity, placements (started referrals
    since ``since``), avg_occupied (mean participants per month while running),
    occupancy (avg_occupied ÷ capacity).
    """
    offers = ds.table("offers")
    offers = offers[offers["project_id"].fillna("").str.split("/").str[0] == project_id]
    r = ds.table("referrals")
    r = r[r["offer_id"].isin(offers["offer_id"]) & r["started"].notna()]
    if since is not None:
        r = r[r["started"] >= pd.Timestamp(since)]
    placements = r.groupby("offer_id").size()
    s, e = month_ordinal(r["started"]), month_ordinal(r["ended"].fillna(r["started"].max()))
    months = pd.Series(e - s + 1, index=r.index).clip(lower=1)
    occupied_months = months.groupby(r["offer_id"]).sum()
    span = (month_ordinal(r.groupby("offer_id")["started"].max()) - month_ordinal(r.groupby("offer_id")["started"]
                                                                                  .min()) + 1)
    avg = occupied_months / pd.Series(np.maximum(span, 1), index=occupied_months.index)
    out = offers[["offer_id", "name", "measure", "capacity"]].copy()
    out["placements"] = out["offer_id"].map(placements).fillna(0).astype(int)
    out["avg_occupied"] = out["offer_id"].map(avg).fillna(0.0)
    out["occupancy"] = np.where(out["capacity"] > 0, out["avg_occupied"] / out["capacity"], np.nan)
    return out.reset_index(drop=True)


def referrals_by_partner(ds, start=None, end=None) -> pd.DataFrame:
    """Referrals per partner kind: partner_kind, label, referrals, started, completed, dropped_out, no_show,
    completion_rate (completed ÷ started)."""
    r = ds.table("referrals").merge(ds.table("offers")[["offer_id", "partner_id"]], on="offer_id")
    r = r.merge(ds.table("partners")[["partner_id", "kind"]], on="partner_id")
    if start is not None:
        r = r[r["referred"] >= pd.Timestamp(start)]
    if end is not None:
        r = r[r["referred"] <= pd.Timestamp(end) + pd.offsets.MonthEnd(0)]
    g = r.groupby("kind")
    out = pd.DataFrame({"referrals": g.size(), "started": g["started"].count()})
    for status in ("completed", "dropped_out", "no_show"):
        out[status] = r[r["status"] == status].groupby("kind").size().reindex(out.index).fillna(0).astype(int)
    out["completion_rate"] = out["completed"] / out["started"].where(out["started"] > 0)
    out = out.reset_index(names="partner_kind")
    out.insert(1, "label", out["partner_kind"].map(S.PARTNER_KINDS))
    return out


def contacts_per_customer(ds, start, end) -> float:
    """Contacts in the period ÷ average stock."""
    c = ds.table("contacts")
    lo, hi = pd.Timestamp(start), pd.Timestamp(end) + pd.offsets.MonthEnd(0)
    n = int(((c["date"] >= lo) & (c["date"] <= hi)).sum())
    avg = key_figures(ds, start, end).set_index("kpi")["value"]["avg_stock"]
    return n / avg if avg else float("nan")
