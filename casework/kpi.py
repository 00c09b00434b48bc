"""Key figures of success measurement (§48a SGB II and the seeds' own measures), computed directly.

Each figure has a German definition in :data:`KPI_DEFINITIONS` (docs/kpi.md).
The functions here compute from the case tables with DuckDB SQL over the
dataset's Parquet files (or in-memory tables) and serve as the reference the
dashboards' pre-aggregated cube (:mod:`casework.boards.build`) is tested against.

Definitions:

* **stock (Bestand)** of a month: persons with a benefit spell covering at
  least one day of the month; the average stock of a period is the mean over
  its months.
* **integration**: the start of svB employment, fully qualifying training or
  self-employment; at most one per person and month; starts of publicly
  funded employment (§16i, §16e, programmes) never count (VO §5(1)).
* **K2 Integrationsquote**: integrations in the period ÷ average stock.
* **long-term recipient (Langzeitleistungsbeziehende, LZB)**: in receipt in
  at least 21 of the last 24 months (receipt before the first observed spell
  from ``persons.benefit_months``).
* **K3 Integrationsquote der LZB**: integrations of persons who were LZB in
  the month of integration ÷ average LZB stock.
* **K3E1 Veränderung des LZB-Bestands**: average LZB stock of the period
  against the same period a year earlier, in percent.
* **K2E1 kontinuierliche Beschäftigung**: share of integrations whose
  employment (or a following one) lasts at least 12 months.
* **Beendigung des Leistungsbezugs** (seed 001): integrations into employment
  whose earnings end the need for benefits.
"""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd

from casework import engine
from casework import schema as S
from casework.cells import AGE_GROUPS, KPI_MEASURES, age_band_sql, figures_from_counts, month_ordinal
from casework.privacy import KEY_MODULUS

__all__ = ["KPI_DEFINITIONS", "CELL_DIMS", "key_figures", "key_figure_cells",
           "integration_rate", "ltr_change", "continuous_employment",
           "participation", "module_occupancy", "referrals_by_partner", "contacts_per_customer"]

KPI_DEFINITIONS = {
    "k2": ("Integrationsquote (K2)", "Integrationen im Zeitraum geteilt durch den durchschnittlichen Bestand an "
           "erwerbsfähigen Leistungsberechtigten; höchstens eine Integration je Person und Monat; Beginne "
           "öffentlich geförderter Beschäftigung zählen nicht (§48a SGB II, Verordnung §5)."),
    "integrations": ("Integrationen", "Aufnahmen sozialversicherungspflichtiger Beschäftigung, einer voll "
                     "qualifizierenden Ausbildung oder einer Selbstständigkeit."),
    "avg_stock": ("Durchschnittlicher Bestand", "Mittel der Monatsbestände: Personen mit Leistungsbezug an "
                  "mindestens einem Tag des Monats."),
    "k3": ("Integrationsquote der Langzeitleistungsbeziehenden (K3)", "Integrationen von Personen, die im Monat "
           "der Integration in mindestens 21 der letzten 24 Monate Leistungen bezogen, geteilt durch deren "
           "durchschnittlichen Bestand."),
    "avg_ltr_stock": ("Bestand Langzeitleistungsbeziehende", "Durchschnittlicher Monatsbestand der Personen mit "
                      "mindestens 21 Monaten Leistungsbezug in den letzten 24 Monaten."),
    "k3e1": ("Veränderung des Bestands an Langzeitleistungsbeziehenden (K3E1)", "Durchschnittlicher Bestand im "
             "Zeitraum gegenüber dem gleichen Zeitraum ein Jahr zuvor, in Prozent."),
    "k2e1": ("Kontinuierliche Beschäftigung nach Integration (K2E1)", "Anteil der Integrationen, nach denen die "
             "Person zwölf Monate später noch (oder wieder ohne Unterbrechung) beschäftigt ist."),
    "need_ending": ("Beendigung des Leistungsbezugs", "Integrationen in Beschäftigung, deren Einkommen den "
                    "Bedarf deckt."),
    "participants": ("Teilnehmende", "Personen mit einer Projektteilnahme im Zeitraum."),
    "occupancy": ("Auslastung", "Belegte Plätze im Monatsmittel geteilt durch die angebotenen Plätze."),
    "referrals": ("Zuweisungen", "Vermittlungen an Netzwerkpartner; begonnen, abgeschlossen, abgebrochen."),
    "contacts_per_customer": ("Kontakte je Kundin/Kunde", "Kontakte im Zeitraum geteilt durch den "
                              "durchschnittlichen Bestand."),
}

CELL_DIMS = ["jc_id", "m", "sex", "age_group", "segment"]
CELL_COUNTS = list(KPI_MEASURES)  # the cells are what the dashboards' cube stores
_AGE_SQL = age_band_sql("age")


def _ord(ts) -> int:
    return int(month_ordinal([pd.Timestamp(ts)])[0])


def _con(ds, segments: pd.Series | None, cell_keys: bytes | None = None):
    con = duckdb.connect()
    persons = ds.table("persons")[["person_id", "jc_id", "sex", "birth_year", "entry_date", "benefit_months"]]
    persons["entry_m"] = month_ordinal(persons["entry_date"]).astype("int64")
    _add_record_keys(persons, cell_keys)
    seg = segments if segments is not None else pd.Series(dtype=object)
    persons["segment"] = persons["person_id"].map(seg).fillna("unbekannt").astype(str)
    b = ds.table("benefits")[["person_id", "start", "end"]]
    b = b.assign(s=month_ordinal(b["start"]), e=month_ordinal(b["end"]))
    emp = ds.table("employment")
    con.register("persons", persons.drop(columns="entry_date"))
    con.register("spells", b[["person_id", "s", "e"]])
    con.register("employment", emp)
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


def _where(filters: dict) -> tuple[str, list]:
    clauses, params = [], []
    for key in ("jc_id", "sex", "age_group", "segment"):
        v = (filters or {}).get(key)
        if v is None or v == "alle":
            continue
        values = list(v) if isinstance(v, (list, tuple, set)) else [v]
        clauses.append(f"{key} IN ({', '.join('?' for _ in values)})")
        params += values
    return (" AND " + " AND ".join(clauses)) if clauses else "", params


def key_figures(ds, start, end, filters: dict | None = None, segments: pd.Series | None = None) -> pd.DataFrame:
    """The §48a key figures of a period, for the persons the filters select.

    Parameters
    ----------
    start, end : date
        First and last month of the period (whole months).
    filters : dict, optional
        Any of ``jc_id``, ``sex``, ``age_group`` (age from the birth year in the
        calendar year of each month), ``segment`` — a value or a list.
    segments : Series, optional
        person_id -> segment (e.g. Profillage).

    Returns
    -------
    DataFrame
        Columns kpi, label, value, numerator, denominator — rows integrations,
        avg_stock, k2, ltr_integrations, avg_ltr_stock, k3, need_ending.

    Notes
    -----
    Large datasets and a configured cluster are handled by
    :mod:`casework.engine`: the counts are taken per group of jobcenters
    (read piece by piece from Parquet, or on Dask workers) and added up, so
    the figures are the same wherever they are computed.

    Examples
    --------
    >>> from casework import synth
    >>> ds = synth.generate("gelsenkirchen", seed=1, persons=800)
    >>> kf = key_figures(ds, "2017-01-01", "2017-12-01").set_index("kpi")
    >>> bool(0.05 < kf.loc["k2", "value"] < 0.5)
    True
    """
    lo, hi = _ord(start), _ord(end)
    parts = engine.map_partitions(ds, _key_figure_counts, lo, hi, filters, segments, desc="Kennzahlen",
                                  tables=("persons", "benefits", "employment"))
    stock_months, ltr_months, n_int, n_ltr_int, n_need = (int(sum(col)) for col in zip(*parts))
    n_months = hi - lo + 1
    f = figures_from_counts(stock_months, ltr_months, n_int, n_ltr_int, n_need, n_months)
    rows = [("integrations", f["integrations"], n_int, np.nan), ("avg_stock", f["avg_stock"], stock_months, n_months),
            ("k2", f["k2"], n_int, f["avg_stock"]),
            ("ltr_integrations", f["ltr_integrations"], n_ltr_int, np.nan),
            ("avg_ltr_stock", f["avg_ltr_stock"], ltr_months, n_months),
            ("k3", f["k3"], n_ltr_int, f["avg_ltr_stock"]), ("need_ending", f["need_ending"], n_need, np.nan)]
    out = pd.DataFrame(rows, columns=["kpi", "value", "numerator", "denominator"])
    out.insert(1, "label", [KPI_DEFINITIONS.get(k, (k,))[0] if k in KPI_DEFINITIONS else
                            {"ltr_integrations": "Integrationen von Langzeitleistungsbeziehenden"}.get(k, k)
                            for k in out["kpi"]])
    return out


def _key_figure_counts(ds, lo: int, hi: int, filters, segments) -> tuple[int, int, int, int, int]:
    """Stock months, long-term stock months, integrations, those of long-term recipients, need endings."""
    con = _cells_connection(ds, lo, hi, segments)
    where, params = _where(filters)
    stock_months, ltr_months = con.execute(
        f"SELECT COUNT(*), SUM(CAST(is_ltr AS INT)) FROM ({_STOCK_ROWS.format(lo=lo)}) WHERE TRUE {where}",
        params).fetchall()[0]
    n_int, n_ltr_int, n_need = (v or 0 for v in con.execute(
        f"SELECT COUNT(*), SUM(CAST(is_ltr AS INT)), SUM(CAST(need_ending AS INT)) FROM ({_EVENT_ROWS}) "
        f"WHERE TRUE {where}", params).fetchall()[0])
    con.close()
    return int(stock_months or 0), int(ltr_months or 0), int(n_int), int(n_ltr_int), int(n_need)


def key_figure_cells(ds, start, end, segments: pd.Series | None = None, max_persons: int | None = None,
                     cell_keys: bytes | None = None) -> pd.DataFrame:
    """The key figures' additive counts per jobcenter, month, sex, age group and segment.

    Every figure of :func:`key_figures` for any selection of these dimensions is a ratio of sums over these
    cells (the dashboards' cube, :func:`casework.boards.build.kpi_cube`, and :func:`integration_rate` are built from
    them). Large datasets are counted piece by piece (:func:`casework.engine.map_partitions`, pieces of at
    most ``max_persons``) and the cells added up.

    Returns
    -------
    DataFrame
        Columns jc_id, m (month ordinal, see :func:`casework.cells.month_ordinal`), sex, age_group, segment,
        stock, ltr_stock (person-months in receipt, of them long-term), integrations, ltr_integrations,
        need_ending; one row per cell with any count, sorted by the dimensions.

    With ``cell_keys`` (the dataset's secret, :func:`casework.privacy.dataset_secret`) the cells also carry
    ``<count>_key``: the sum modulo :data:`casework.privacy.KEY_MODULUS` of the record keys of the person-months
    or integrations counted (the cell key method of the boards), and sex is binary as the boards publish it.
    """
    lo, hi = _ord(start), _ord(end)
    parts = engine.map_partitions(ds, _cells_of_piece, lo, hi, segments, cell_keys, desc="Kennzahlen-Zellen",
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


def _cells_of_piece(ds, lo: int, hi: int, segments, cell_keys: bytes | None = None) -> pd.DataFrame:
    con = _cells_connection(ds, lo, hi, segments, cell_keys)
    dims = ", ".join(CELL_DIMS)
    keyed = cell_keys is not None
    stock_keys = _key_sums(_STOCK_KEY, {"stock": None, "ltr_stock": "is_ltr"}) if keyed else ""
    event_keys = _key_sums(_EVENT_KEY, {"integrations": None, "ltr_integrations": "is_ltr",
                                        "need_ending": "need_ending"}) if keyed else ""
    stock = con.execute(f"SELECT {dims}, COUNT(*) AS stock, SUM(CAST(is_ltr AS BIGINT)) AS ltr_stock{stock_keys} "
                        f"FROM ({_STOCK_ROWS.format(lo=lo)}) GROUP BY ALL").df()
    events = con.execute(f"SELECT {dims}, COUNT(*) AS integrations, SUM(CAST(is_ltr AS BIGINT)) AS "
                         f"ltr_integrations, SUM(CAST(need_ending AS BIGINT)) AS need_ending{event_keys} "
                         f"FROM ({_EVENT_ROWS}) GROUP BY ALL").df()
    con.close()
    cells = stock.merge(events, on=CELL_DIMS, how="outer")
    counts = CELL_COUNTS + ([f"{c}_key" for c in CELL_COUNTS] if keyed else [])
    cells[counts] = cells[counts].fillna(0).astype("int64")
    return cells[CELL_DIMS + counts].sort_values(CELL_DIMS).reset_index(drop=True)


def _cells_connection(ds, lo: int, hi: int, segments, cell_keys: bytes | None = None):
    """A DuckDB connection with ``persons``, ``spells``, the receipt islands ``isl`` and the ``events``."""
    con = _con(ds, segments, cell_keys)
    con.execute(_islands_sql(lo, hi))
    con.register("events", _events(ds, lo, hi))
    return con


# Long-term receipt in month m: at least 21 of the 24 months up to m in receipt, counting the receipt before
# entry (``benefit_months``). The months in receipt within [m-23, m] are the overlaps of that window with the
# person's receipt *islands* (benefit spells merged where they share a month), so no person-month panel has
# to be expanded for the look-back.
_PRIOR = "greatest(0, least(p.entry_m - 1, c.m) - greatest(p.entry_m - p.benefit_months, c.m - 23) + 1)"
_FLAGGED = f"""
        flagged AS (
            SELECT c.*, p.jc_id, p.sex, p.segment, p.k0, p.k1, p.k2, p.k3, (1970 + c.m // 12) - p.birth_year AS age,
                   (c.observed + least({_PRIOR}, 24)) >= 21 AS is_ltr
            FROM counted c JOIN persons p USING (person_id))
        SELECT *, {_AGE_SQL} AS age_group FROM flagged"""
# one row per person and month in receipt from {lo} (the islands end at the period's last month)
_STOCK_ROWS = """
        WITH cells AS (
            SELECT person_id, unnest(range(CAST(greatest(s, {lo}) AS BIGINT), CAST(e AS BIGINT) + 1)) AS m
            FROM isl WHERE e >= {lo}),
        counted AS (
            SELECT c.person_id, c.m, SUM(least(i.e, c.m) - greatest(i.s, c.m - 23) + 1) AS observed
            FROM cells c JOIN isl i ON i.person_id = c.person_id AND i.s <= c.m AND i.e >= c.m - 23
            GROUP BY c.person_id, c.m),""" + _FLAGGED.replace("{", "{{").replace("}", "}}")
# one row per counted integration (person and month); least/greatest skip NULLs in DuckDB, so an event without
# an island in its window must be filtered out of the sum, not left to NULL arithmetic
_EVENT_ROWS = """
        WITH counted AS (
            SELECT ev.person_id, ev.m, ev.need_ending,
                   coalesce(SUM(least(i.e, ev.m) - greatest(i.s, ev.m - 23) + 1) FILTER (WHERE i.s IS NOT NULL),
                            0) AS observed
            FROM events ev LEFT JOIN isl i ON i.person_id = ev.person_id AND i.s <= ev.m AND i.e >= ev.m - 23
            GROUP BY ev.person_id, ev.m, ev.need_ending),""" + _FLAGGED


def _islands_sql(lo: int, hi: int) -> str:
    """``isl``: each person's months in receipt from ``lo - 23`` to ``hi`` as disjoint runs [s, e].

    Spells that share a month (an end and a new start in the same month) are merged, so that a month is
    counted once however many spells touch it.
    """
    return f"""
        CREATE TEMP TABLE isl AS
        WITH sp AS (
            SELECT person_id, greatest(s, {lo - 23}) AS s, least(coalesce(e, {hi}), {hi}) AS e
            FROM spells WHERE coalesce(e, {hi}) >= {lo - 23} AND s <= {hi}),
        flagged AS (
            SELECT *, CASE WHEN s <= max(e) OVER (PARTITION BY person_id ORDER BY s, e
                                                  ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)
                           THEN 0 ELSE 1 END AS starts_run
            FROM sp),
        runs AS (
            SELECT *, SUM(starts_run) OVER (PARTITION BY person_id ORDER BY s, e ROWS UNBOUNDED PRECEDING) AS run
            FROM flagged)
        SELECT person_id, min(s) AS s, max(e) AS e FROM runs GROUP BY person_id, run"""


def _events(ds, lo, hi) -> pd.DataFrame:
    emp = ds.table("employment")
    ev = emp.loc[emp["kind"].isin(S.INTEGRATION_KINDS), ["person_id", "start", "need_ending"]]
    ev = ev.assign(m=month_ordinal(ev["start"]).astype("int64"))
    ev = ev[(ev["m"] >= lo) & (ev["m"] <= hi)]
    return ev.groupby(["person_id", "m"], as_index=False)["need_ending"].max()


def integration_rate(ds, start, end, by: str | None = None, segments: pd.Series | None = None) -> pd.DataFrame:
    """K2 (and K3) per group, from one pass over the data (:func:`key_figure_cells`).

    Parameters
    ----------
    by : {"jc_id", "sex", "age_group", "segment"}, optional
        One row per level (every jobcenter, sex, age group or segment, also those without cases);
        default one row for all.

    Returns
    -------
    DataFrame
        Columns ``by`` (when given), integrations, avg_stock, k2, ltr_integrations, avg_ltr_stock, k3,
        need_ending — the values :func:`key_figures` gives with the level as filter.
    """
    levels = {"jc_id": ds.table("jobcenters")["jc_id"].tolist(), "sex": list(S.SEX),
              "age_group": list(AGE_GROUPS),
              "segment": sorted(set(segments)) if segments is not None else ["unbekannt"]}
    if by is not None and by not in levels:
        raise ValueError(f"integration_rate: by must be one of {', '.join(levels)}, not {by!r}")
    cells = key_figure_cells(ds, start, end, segments)
    if by is None:
        sums = cells[CELL_COUNTS].sum().to_frame().T
    else:
        sums = cells.groupby(by)[CELL_COUNTS].sum().reindex(levels[by], fill_value=0)
    f = figures_from_counts(*(sums[c].to_numpy().astype(float) for c in CELL_COUNTS), _ord(end) - _ord(start) + 1)
    out = pd.DataFrame({k: np.broadcast_to(v, len(sums)) for k, v in f.items()})
    return out if by is None else out.assign(**{by: levels[by]})[[by, *f]]


def ltr_change(ds, start, end, filters: dict | None = None) -> float:
    """K3E1: change of the average LZB stock against the same months a year earlier (a share, 0.05 = +5 %)."""
    now = key_figures(ds, start, end, filters).set_index("kpi")["value"]["avg_ltr_stock"]
    s, e = pd.Timestamp(start) - pd.DateOffset(years=1), pd.Timestamp(end) - pd.DateOffset(years=1)
    before = key_figures(ds, s, e, filters).set_index("kpi")["value"]["avg_ltr_stock"]
    return float(now / before - 1) if before else float("nan")


def continuous_employment(ds, start, end, months: int = 12) -> pd.DataFrame:
    """K2E1: of the integrations in the period, the share still employed ``months`` later.

    Employment counts as continuing across spells that follow each other within
    31 days. Returns one row: integrations, continuing, share, observable (integrations
    whose follow-up lies inside the data).
    """
    emp = ds.table("employment")
    ints = emp[emp["kind"].isin(S.INTEGRATION_KINDS)]
    lo, hi = pd.Timestamp(start), pd.Timestamp(end) + pd.offsets.MonthEnd(0)
    ints = ints[(ints["start"] >= lo) & (ints["start"] <= hi)]
    data_end = pd.concat([emp["start"], emp["end"].dropna()]).max()
    check = ints["start"] + pd.DateOffset(months=months)
    observable = check <= data_end
    employed = ds.table("employment")[["person_id", "start", "end"]]
    merged = ints[["person_id", "start"]].assign(check=check).reset_index().merge(employed, on="person_id",
                                                                                   suffixes=("", "_e"))
    covering = merged[(merged["start_e"] <= merged["check"])
                      & (merged["end"].isna() | (merged["end"] >= merged["check"]))]["index"].unique()
    cont = ints.index.isin(covering) & observable.to_numpy()
    n_obs = int(observable.sum())
    return pd.DataFrame([{"integrations": len(ints), "observable": n_obs, "continuing": int(cont.sum()),
                          "share": cont.sum() / n_obs if n_obs else np.nan}])


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
