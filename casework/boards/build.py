"""Aggregates for the board dashboards, computed once by the pipeline and stored as results.

Dashboards never touch person-level rows: the pipeline condenses the case data
into additive cells (numerators and denominators per jobcenter, month, sex,
age group and segment; :func:`casework.kpi.key_figure_cells`), so that every
filter combination is a sum over cells and every rate a ratio of sums. Small cells are suppressed only at display
time (:mod:`casework.privacy`), after the filter has summed them up.

Definitions (docs/kpi.md):

* **stock** of a month: persons with a benefit spell covering at least one day of it;
* **integration**: start of svB employment, fully qualifying training or self-employment
  (never publicly funded employment), at most one per person and month;
* **long-term recipient** in a month: in receipt in at least 21 of the last 24 months
  (receipt before the first observed spell counted from ``persons.benefit_months``);
* **age group** from the birth year in the calendar year of the month.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from casework import fmt, privacy
from casework import schema as S
from casework.boards import spec as R
from casework.cells import AGE_GROUPS, KPI_DIMS, KPI_MEASURES, age_band, cube_figures, month_ordinal, month_starts

__all__ = ["AGE_GROUPS", "age_group", "person_months", "kpi_cube", "lza_cube", "caseload_cube", "referral_cube",
           "cube_figures",
           "CUBE_DIMS", "build_board", "stored_segments",
           "project_facts", "participant_profiles", "programme_transitions", "jobcenter_comparison", "board_meta"]

CUBE_DIMS = list(KPI_DIMS)
# DuckDB expands each piece's months in receipt (~85 a person) to count the stock by cell: pieces of at most
# this many persons keep the build under 1 GB (1M persons: 29 s; pieces of 500,000: 24 s but 2.9 GB)
CUBE_PIECE_PERSONS = 100_000
_REFERRAL_STATUSES = ("completed", "dropped_out", "no_show")


def age_group(age) -> pd.Series:
    """Age bands of the boards (:func:`casework.cells.age_band`) as a categorical Series.

    Examples
    --------
    >>> list(age_group(pd.Series([18, 25, 49, 50])))
    ['unter 25', '25 bis 34', '35 bis 49', '50 und älter']
    """
    return pd.Series(pd.Categorical(age_band(age), categories=AGE_GROUPS))


def _month_start(ordinal) -> pd.DatetimeIndex:
    return pd.DatetimeIndex(month_starts(ordinal).astype("datetime64[ns]"))


def person_months(ds, start=None, end=None) -> pd.DataFrame:
    """One row per person and month in receipt: person_id, m (month ordinal), ltr (long-term recipient).

    ``start``/``end`` bound the months (default: the observed range of case data).
    """
    persons = ds.table("persons")[["person_id", "entry_date", "benefit_months"]]
    b = ds.table("benefits")
    lo, hi = _bounds(ds, start, end)
    s = np.maximum(month_ordinal(b["start"]), lo - 24).astype(int)
    e = np.minimum(month_ordinal(b["end"]), hi).astype(int)
    ok = e >= s
    s, e, pid = s[ok], e[ok], b["person_id"].to_numpy()[ok]
    n = e - s + 1
    rows = np.repeat(np.arange(len(s)), n)
    m = s[rows] + (np.arange(n.sum()) - np.repeat(np.cumsum(n) - n, n))
    pm = pd.DataFrame({"person_id": pid[rows], "m": m}).drop_duplicates()
    pm = pm.merge(persons, on="person_id", how="left")
    pm["ltr"] = _long_term(pm)
    return pm.loc[(pm["m"] >= lo) & (pm["m"] <= hi), ["person_id", "m", "ltr"]].reset_index(drop=True)


def _long_term(pm: pd.DataFrame) -> np.ndarray:
    """Receipt months in the 24 months up to each person-month (observed rows + receipt before entry) >= 21."""
    codes = pd.factorize(pm["person_id"])[0].astype("int64")
    months = pm["m"].to_numpy().astype("int64")
    key = np.sort(codes * 100_000 + months)
    observed = np.searchsorted(key, codes * 100_000 + months, side="right") - np.searchsorted(
        key, codes * 100_000 + months - 23, side="left")
    entry_m = month_ordinal(pm["entry_date"])
    overlap = np.minimum(entry_m - 1, months) - np.maximum(entry_m - pm["benefit_months"].to_numpy(), months - 23) + 1
    return (observed + np.clip(overlap, 0, 24)) >= 21


def _bounds(ds, start, end) -> tuple[int, int]:
    first, last = (start, end) if start is not None and end is not None else _observed_range(ds)
    lo = int(month_ordinal([pd.Timestamp(start if start is not None else first)])[0])
    hi = int(month_ordinal([pd.Timestamp(end if end is not None else last)])[0])
    return lo, hi


def _observed_range(ds) -> tuple:
    """First and last date of the case data (assessments, integrations), by SQL: reading the tables would
    keep them in memory and make :mod:`casework.engine` split the dataset in memory instead of from disk."""
    kinds = ", ".join("'" + k.replace("'", "''") + "'" for k in S.INTEGRATION_KINDS)
    r = ds.sql("SELECT min(d) AS first, max(d) AS last FROM (SELECT date AS d FROM assessments UNION ALL "
               f"SELECT start AS d FROM employment WHERE kind IN ({kinds}))")
    return r["first"].iloc[0], r["last"].iloc[0]


def _attributes(ds, segments: pd.Series | None, cell_keys: bytes | None = None, only=None,
                record_keys: bool = False) -> pd.DataFrame:
    """The persons' cell dimensions (only those in ``only``, if given); with ``record_keys`` also k0, k1 of
    their person-month record keys (:func:`casework.privacy.person_keys`, computed once)."""
    p = ds.table("persons")[["person_id", "jc_id", "sex", "birth_year", "entry_date", "benefit_months"]]
    if only is not None:
        p = p[p["person_id"].isin(only)].copy()
    seg = segments if segments is not None else pd.Series(dtype=object)
    p["segment"] = p["person_id"].map(seg).fillna("unbekannt").astype(str)
    if cell_keys is not None:  # sex as the boards publish it (casework.privacy.binary_sex)
        keys = privacy.person_keys(p["person_id"].astype(str), cell_keys)
        p["sex"] = privacy.binary_sex(p["sex"].tolist(), keys[:, 4])
        if record_keys:
            p["k0"], p["k1"] = keys[:, 0], keys[:, 1]
    return p


def kpi_cube(ds, segments: pd.Series | None = None, start=None, end=None, cell_keys: bytes | None = None
             ) -> pd.DataFrame:
    """Additive cells of the key figures per jobcenter, month, sex, age group and segment.

    Parameters
    ----------
    segments : Series, optional
        person_id -> segment label (e.g. the Profillage); default "unbekannt".

    Returns
    -------
    DataFrame
        Columns jc_id, month, sex, age_group, segment, stock, integrations,
        ltr_stock, ltr_integrations, need_ending (integrations whose earnings
        end the need for benefits).

    The cells are :func:`casework.kpi.key_figure_cells` (the same SQL as :func:`casework.kpi.key_figures`),
    with the month as a date. Large datasets are condensed piece by piece (:func:`casework.engine.map_partitions`:
    whole jobcenters, or person-key ranges of a large one, at most ``CUBE_PIECE_PERSONS``; from Parquet or on Dask
    workers) and the cells added up, so that memory follows the piece size, not the dataset; the cube is the same
    either way (tests/test_engine.py). ``cell_keys``: the dataset's secret; the cells then carry the key sums
    of the cell key method (``<measure>_key``, :func:`casework.kpi.key_figure_cells`).
    """
    from casework import engine
    from casework.kpi import key_figure_cells

    lo, hi = _bounds(ds, start, end)
    cells = key_figure_cells(ds, _month_start([lo])[0], _month_start([hi])[0], segments,
                             max_persons=min(engine.partition_persons(), CUBE_PIECE_PERSONS), cell_keys=cell_keys)
    cells.insert(1, "month", _month_start(cells.pop("m").to_numpy()).to_numpy())
    keys = [f"{m}{privacy.KEY_SUFFIX}" for m in KPI_MEASURES] if cell_keys is not None else []
    return cells[CUBE_DIMS + list(KPI_MEASURES) + keys].sort_values(CUBE_DIMS).reset_index(drop=True)


def lza_cube(ds, segments: pd.Series | None = None, start=None, end=None, cell_keys: bytes | None = None
             ) -> pd.DataFrame | None:
    """Long-term unemployed (§ 18 Abs. 1 SGB III) on the last day of each month, per jobcenter, month, sex, age
    group and segment; None when the dataset has no ``unemployment`` table.

    A person counts in month m as :func:`casework.kpi.long_term_unemployed_months` counts (the same function
    gives ``lza`` of :func:`casework.kpi.key_figures` for its Bezugsmonat; tests/test_board_glossary.py checks
    that the months agree). Columns jc_id, month, sex, age_group, segment, lza (and ``lza_key``, the key
    sum of the person-months counted, with ``cell_keys``).
    """
    if "unemployment" not in ds.tables:
        return None
    from casework.kpi import long_term_unemployed_months

    lo, hi = _bounds(ds, start, end)
    pm = long_term_unemployed_months(ds.table("unemployment"), lo, hi)  # the one count of key_figures' lza
    attrs = _attributes(ds, segments, cell_keys, only=pm["person_id"].unique(), record_keys=True)
    pm = pm.merge(attrs, on="person_id", how="inner")
    pm["age_group"] = age_band((1970 + pm["m"] // 12 - pm["birth_year"]).to_numpy())
    pm["lza"] = 1
    if cell_keys is not None:  # the record key of a person-month, as in the stock of the KPI cube
        pm["lza_key"] = (pm["k0"] + pm["m"] * pm["k1"]) % privacy.KEY_MODULUS
    dims = ["jc_id", "m", "sex", "age_group", "segment"]
    measures = ["lza"] + (["lza_key"] if cell_keys is not None else [])
    cells = pm.groupby(dims, observed=True, dropna=False)[measures].sum().reset_index()
    if cell_keys is not None:
        cells["lza_key"] %= privacy.KEY_MODULUS
    cells.insert(1, "month", _month_start(cells.pop("m").to_numpy()).to_numpy())
    return cells[CUBE_DIMS + measures].sort_values(CUBE_DIMS).reset_index(drop=True)


def caseload_cube(ds, projects: list, segments: pd.Series | None = None, start=None, end=None,
                  cell_keys: bytes | None = None) -> pd.DataFrame | None:
    """The caseload of each project on the last day of each month: persons with an enrolment of the project
    (``project_id`` starting with its key) covering that day, counted once, per jobcenter, month, sex, age
    group, segment and project (:data:`casework.boards.spec.PROJECT_COLUMN`); None without enrolments.

    Seed 004's "circa 900 Personen" is such a standing caseload; the cumulative enrolments are another figure.
    Columns as :func:`lza_cube` with the measure ``caseload`` (and ``caseload_key``).
    """
    e = ds.table("enrolments")[["person_id", "project_id", "start", "end"]] if "enrolments" in ds.tables else None
    if e is None or e.empty or not projects:
        return None
    lo, hi = _bounds(ds, start, end)
    first = np.maximum(month_ordinal(e["start"]), lo)
    # the last month whose last day the enrolment reaches (an open one reaches every month)
    last = np.minimum(month_ordinal(e["end"]) - np.where(e["end"].notna() & ~e["end"].dt.is_month_end, 1, 0), hi)
    ok = last >= first
    first, last = first[ok].astype("int64"), last[ok].astype("int64")
    n = last - first + 1
    rows = np.repeat(np.arange(len(first)), n)
    m = first[rows] + (np.arange(n.sum()) - np.repeat(np.cumsum(n) - n, n))
    pm = pd.DataFrame({"person_id": e["person_id"].to_numpy()[ok][rows], "m": m,
                       "project_id": e["project_id"].astype(str).to_numpy()[ok][rows]})
    parts = [pm[pm["project_id"].str.startswith(p)].drop(columns="project_id").drop_duplicates().assign(
        **{R.PROJECT_COLUMN: p}) for p in projects]
    pm = pd.concat(parts, ignore_index=True)
    if pm.empty:
        return None
    attrs = _attributes(ds, segments, cell_keys, only=pm["person_id"].unique(), record_keys=True)
    pm = pm.merge(attrs, on="person_id", how="inner")
    pm["age_group"] = age_band((1970 + pm["m"] // 12 - pm["birth_year"]).to_numpy())
    pm["caseload"] = 1
    measures = ["caseload"]
    if cell_keys is not None:  # the record key of a person-month, as in the stock of the KPI cube
        pm["caseload_key"] = (pm["k0"] + pm["m"] * pm["k1"]) % privacy.KEY_MODULUS
        measures.append("caseload_key")
    dims = ["jc_id", "m", "sex", "age_group", "segment", R.PROJECT_COLUMN]
    cells = pm.groupby(dims, observed=True, dropna=False)[measures].sum().reset_index()
    if cell_keys is not None:
        cells["caseload_key"] %= privacy.KEY_MODULUS
    cells.insert(1, "month", _month_start(cells.pop("m").to_numpy()).to_numpy())
    return cells[[*CUBE_DIMS, R.PROJECT_COLUMN, *measures]].sort_values([*CUBE_DIMS, R.PROJECT_COLUMN]).reset_index(
        drop=True)


def referral_cube(ds, segments: pd.Series | None = None, cell_keys: bytes | None = None) -> pd.DataFrame:
    """Referrals per jobcenter, month referred, partner kind, measure, sex, age group and segment.

    Returns
    -------
    DataFrame
        Columns jc_id, month, partner_kind, measure, project_id, sex, age_group, segment,
        referrals, started, completed, dropped_out, no_show, persons; with ``cell_keys`` (the dataset's
        secret) also the key sums of the referral records counted (``referrals_key``, ``started_key``, ...).
    """
    r = ds.table("referrals").merge(ds.table("offers")[["offer_id", "partner_id", "measure", "project_id"]],
                                    on="offer_id", how="left")
    r = r.merge(ds.table("partners")[["partner_id", "kind"]].rename(columns={"kind": "partner_kind"}),
                on="partner_id", how="left")
    r = r.merge(_attributes(ds, segments, cell_keys), on="person_id", how="left")
    r["m"] = month_ordinal(r["referred"]).astype(int)
    r["project_id"] = r["project_id"].fillna("").astype(str).str.split("/").str[0]
    year = 1970 + r["m"] // 12
    r = r.assign(month=_month_start(r["m"].to_numpy()).to_numpy(),
                 age_group=age_group((year - r["birth_year"]).to_numpy()).astype(str).to_numpy())
    dims = ["jc_id", "month", "partner_kind", "measure", "project_id", "sex", "age_group", "segment"]
    counted = {"referrals": np.ones(len(r), bool), "started": r["started"].notna().to_numpy(),
               **{s: (r["status"] == s).to_numpy() for s in _REFERRAL_STATUSES}}
    # one vectorised sum per count (a Python call per cell took 5 minutes at 1.1 million persons)
    columns = {c: flag.astype("int64") for c, flag in counted.items()}
    if cell_keys is not None:
        rk = privacy.record_keys(r["referral_id"].astype(str), cell_keys, "referral")
        columns |= {f"{c}{privacy.KEY_SUFFIX}": np.where(flag, rk, 0) for c, flag in counted.items()}
    keys = [r[d] for d in dims]
    out = pd.DataFrame(columns, index=r.index).groupby(keys, observed=True).sum()
    out.insert(2, "persons", r["person_id"].groupby(keys, observed=True).nunique())
    for c in out.columns[len(counted) + 1:]:
        out[c] %= privacy.KEY_MODULUS
    return out.reset_index()


def stored_segments(ds) -> pd.Series | None:
    """person_id -> Profillage at the first assessment, from the profiling results (None if not there)."""
    if not ds.has_result("profillagen"):
        return None
    p = ds.result("profillagen")
    if "date" in p:
        p = p.sort_values(["person_id", "date"], kind="stable")
    p = p.drop_duplicates("person_id")
    return p.set_index("person_id")["profillage"]


def _key(project_id: pd.Series) -> pd.Series:
    return project_id.fillna("").astype(str).str.split("/").str[0]


def project_facts(ds, project: str, stand=None) -> pd.DataFrame:
    """Headline facts of a project: fact (key), label (German), value (count).

    With enrolments: the caseload in care on ``stand`` (default: the data stand, :func:`board_meta`), i.e. the
    persons with an enrolment covering that day (seed 004's "circa 900 Personen" is such a standing caseload),
    and, labelled as such, every person ever enrolled since the start. Without enrolments: the persons who
    started an offer of the project since the start. Then places, offers, placements since the start,
    jobcenters. A project with neither enrolments nor offers in the data (e.g. state-funded coaching on top
    of a programme) has only its places and jobcenters, not zeros that would read as findings.
    """
    projects = ds.table("projects")
    prefix = projects["project_id"].str.startswith(project)
    proj = projects[prefix]
    offers = ds.table("offers")
    own = offers[_key(offers["project_id"]).str.startswith(project)]
    r = ds.table("referrals")
    placed = r[r["offer_id"].isin(own["offer_id"]) & r["started"].notna()]
    e = ds.table("enrolments")
    enrolled = e[e["project_id"].isin(proj["project_id"])]
    if len(enrolled):
        day = pd.Timestamp(stand if stand is not None else board_meta(ds)["data_stand"])
        in_care = enrolled[(enrolled["start"] <= day) & (enrolled["end"].isna() | (enrolled["end"] >= day))]
        rows = [("caseload", f"Teilnehmende in Betreuung am {fmt.date(day)}", in_care["person_id"].nunique()),
                ("participants", "Teilnehmende insgesamt seit Projektbeginn (auch schon ausgeschiedene)",
                 enrolled["person_id"].nunique())]
    elif len(own):
        rows = [("participants", "Personen mit einem begonnenen Projektangebot seit Projektbeginn",
                 placed["person_id"].nunique())]
    else:  # neither enrolments nor offers (e.g. state-funded coaching on top of a programme): no zeros shown
        places = int(proj.drop_duplicates("project_id")["places"].sum())
        return pd.DataFrame([("places", "Geplante Plätze", places),
                             ("jobcenters", "Beteiligte Jobcenter", proj["jc_id"].nunique())],
                            columns=["fact", "label", "value"])
    rows += [("places", "Geplante Plätze", int(proj.drop_duplicates("project_id")["places"].sum())),
            ("offers", "Angebote / Module", len(own)),
            ("placements", f"Platzbelegungen seit {fmt.month(placed['started'].min())}" if len(placed)
             else "Platzbelegungen", len(placed)),
            ("jobcenters", "Beteiligte Jobcenter", proj["jc_id"].nunique())]
    return pd.DataFrame(rows, columns=["fact", "label", "value"])


def participant_profiles(ds, project: str, baseline: pd.DataFrame | None = None) -> pd.DataFrame:
    """Needs (moderate or serious) at the first assessment: participants of the project against the others.

    Columns need, label, participants, participants_n, others, others_n (shares and counts), participants_total,
    others_total (the persons the shares are of).
    """
    from casework.describe import baseline_assessments

    a = baseline_assessments(ds) if baseline is None else baseline
    e = ds.table("enrolments")
    offers = ds.table("offers")
    own = offers[_key(offers["project_id"]).str.startswith(project)]["offer_id"]
    r = ds.table("referrals")
    members = set(e.loc[_key(e["project_id"]).str.startswith(project), "person_id"]) | set(
        r.loc[r["offer_id"].isin(own) & r["started"].notna(), "person_id"])
    inside = a["person_id"].isin(members)
    rows = []
    for need, label in S.NEEDS.items():
        col = S.NEED_COLUMNS[need]
        if col not in a:
            continue
        has = a[col] >= 1
        rows.append({"need": need, "label": label, "participants": has[inside].mean() if inside.any() else np.nan,
                     "participants_n": int(has[inside].sum()), "others": has[~inside].mean(),
                     "others_n": int(has[~inside].sum()), "participants_total": int(inside.sum()),
                     "others_total": int((~inside).sum())})
    out = pd.DataFrame(rows)
    out.attrs["n_participants"] = int(inside.sum())
    return out.sort_values("participants", ascending=False).reset_index(drop=True)


def programme_transitions(ds, months: int = 6) -> pd.DataFrame:
    """After publicly funded employment ended: integrated within ``months``? Columns group, ended, integrated, share.

    Groups by whether the person's jobcenter had state-funded coaching (a project whose jobcenters are a subset
    of the programme's), else one group "alle".
    """
    emp = ds.table("employment")
    funded = emp[emp["kind"].isin(S.FUNDED_KINDS) & emp["end"].notna()]
    ints = emp[emp["kind"].isin(S.INTEGRATION_KINDS)][["person_id", "start"]]
    m = funded[["person_id", "end"]].merge(ints, on="person_id", how="left")
    hit = (m["start"] > m["end"]) & (m["start"] <= m["end"] + pd.DateOffset(months=months))
    done = m.assign(hit=hit).groupby(["person_id", "end"])["hit"].any().reset_index()
    jc = ds.table("persons").set_index("person_id")["jc_id"]
    done["jc_id"] = done["person_id"].map(jc)
    coach = ds.table("projects")
    coached = set(coach.loc[coach["project_id"].str.startswith("teilhabe_land"), "jc_id"])
    done["group"] = np.where(done["jc_id"].isin(coached), "mit Landes-Coaching",
                             "ohne Landes-Coaching") if coached else "alle"
    out = done.groupby("group").agg(ended=("hit", "size"), integrated=("hit", "sum")).reset_index()
    out["share"] = out["integrated"] / out["ended"]
    return out


def jobcenter_comparison(ds, year: int, project: str, cube: pd.DataFrame | None = None) -> pd.DataFrame:
    """K2 of one year per jobcenter, compared within its SGB II comparison type (``jobcenters.comparison_type``;
    DOMAIN 0.12: one ranking of all jobcenters is misleading).

    Columns jc_id, name, comparison_type, project (a member of the project), integrations, avg_stock, k2,
    sorted by comparison type and, within it, by K2 (highest first). ``cube``: a :func:`kpi_cube` of the
    dataset's observed range (any segments or cell keys); its months of ``year`` are used when the range holds the
    whole year (a month's counts do not depend on the range: tests/test_scale.py), else the year is counted anew.
    """
    lo, hi = _bounds(ds, None, None)
    first, last = month_ordinal([pd.Timestamp(f"{year}-01-01"), pd.Timestamp(f"{year}-12-01")])
    if cube is None or not lo <= first <= last <= hi:
        cube = kpi_cube(ds, start=f"{year}-01-01", end=f"{year}-12-01")
    else:
        cube = cube[pd.DatetimeIndex(cube["month"]).year == year]
    g = cube.groupby("jc_id")[["integrations", "stock"]].sum()
    g["avg_stock"] = g["stock"] / 12
    g["k2"] = g["integrations"] / g["avg_stock"]
    proj = ds.table("projects")
    members = set(proj.loc[proj["project_id"].str.startswith(project), "jc_id"])
    jc = ds.table("jobcenters").set_index("jc_id")
    out = g.reset_index()[["jc_id", "integrations", "avg_stock", "k2"]]
    out.insert(1, "name", out["jc_id"].map(jc["name"]))
    out.insert(2, "comparison_type", out["jc_id"].map(jc["comparison_type"]).fillna("ohne Vergleichstyp"))
    out.insert(3, "project", out["jc_id"].isin(members))
    return out.sort_values(["comparison_type", "k2"], ascending=[True, False]).reset_index(drop=True)

def board_meta(ds) -> dict:
    """Data stand (last date in the benefit spells) and sizes, for the landing page."""
    b = ds.table("benefits")
    last = max(b["start"].max(), b["end"].max())
    return {"data_stand": str(pd.Timestamp(last).date()), "persons": int(len(ds.table("persons"))),
            "jobcenters": int(len(ds.table("jobcenters")))}


def build_board(ds, segments: pd.Series | None = None, project: str | None = None) -> dict:
    """Compute and store every aggregate the dashboards read (results ``board_*``).

    Every count a board shows carries a cell key (:mod:`casework.privacy`, cell key method): the cubes the sums
    of their records' keys, the fixed tables a key from the cell (:func:`casework.privacy.label_key`); both come
    from the dataset's secret (:func:`casework.privacy.dataset_secret`), which the board never reads.
    """
    from casework.network import needs_coverage

    secret = privacy.dataset_secret(ds.path)
    project = project or _main_project(ds)
    projects = board_projects(ds, project)
    meta = board_meta(ds)
    # "project": whose facts a board without a project of its own shows; "projects": every project stored
    ds.save_result(R.BOARD_META, {**meta, "project": project, "projects": projects})
    out = {R.BOARD_KPI_CUBE: kpi_cube(ds, segments, cell_keys=secret),
           R.BOARD_REFERRALS: referral_cube(ds, segments, cell_keys=secret),
           R.NEEDS_COVERAGE: _label_keys(needs_coverage(ds), "needs_coverage", ["needs", "covered"], secret)}
    months = out[R.BOARD_KPI_CUBE]["month"]
    span = {"start": months.min(), "end": months.max()} if len(months) else {}
    for name, cube in ((R.BOARD_LZA_CUBE, lza_cube(ds, segments, cell_keys=secret, **span)),
                       (R.BOARD_CASELOAD_CUBE, caseload_cube(ds, projects, segments, cell_keys=secret, **span))):
        if cube is not None:
            out[name] = cube
        else:  # no unemployment spells or enrolments (any more): the board says so instead of an old cube
            for stale in ds.results_dir.glob(f"{name}.*"):
                stale.unlink()
    if projects:
        out.update(_project_results(ds, projects, out[R.BOARD_KPI_CUBE], meta["data_stand"], secret))
    for name, frame in out.items():
        ds.save_result(name, frame)
    return out


def board_projects(ds, main: str | None) -> list[str]:
    """The projects whose facts the boards can show: ``main`` first, then every project key of the projects
    table (``project_id`` up to "/") and its stem (up to "_": phases such as ``pankow_modell`` and
    ``pankow_verstetigung`` together), so that ``casework board new --project`` finds any of them."""
    if not main:
        return []
    keys = set(_key(ds.table("projects")["project_id"]).dropna()) - {""}
    return list(dict.fromkeys([main, *sorted(keys | {k.split("_")[0] for k in keys})]))


def _project_results(ds, projects: list, cube: pd.DataFrame, stand, secret: bytes) -> dict:
    """Facts, participant profiles, modules and the jobcenter comparison of every project, one table each
    with the project in :data:`casework.boards.spec.PROJECT_COLUMN`; the transitions after funded
    employment (one table for the dataset)."""
    from casework.describe import baseline_assessments
    from casework.kpi import module_occupancy

    baseline = baseline_assessments(ds)
    offer_keys = sorted(set(_key(ds.table("offers")["project_id"])) - {""})
    several_jcs = ds.table("jobcenters")["jc_id"].nunique() > 1
    last_full = pd.Timestamp(cube["month"].max()).year - 1
    parts: dict[str, list] = {}
    for p in projects:
        tables = {R.BOARD_PROJECT_FACTS: _label_keys(project_facts(ds, p, stand), "facts", ["value"], secret,
                                                     "fact")}
        profiles = participant_profiles(ds, p, baseline)
        if profiles.attrs["n_participants"]:  # no shares of nobody
            tables[R.BOARD_PARTICIPANT_PROFILES] = _label_keys(
                profiles, "profiles", ["participants_n", "others_n", "participants_total", "others_total"], secret,
                "need")
        occupancy = [module_occupancy(ds, k) for k in offer_keys if k.startswith(p)]
        if occupancy:
            modules = pd.concat(occupancy).groupby("name", sort=False).agg(
                measure=("measure", "first"), capacity=("capacity", "sum"), placements=("placements", "sum"),
                avg_occupied=("avg_occupied", "sum")).reset_index()
            modules["occupancy"] = modules["avg_occupied"] / modules["capacity"].where(modules["capacity"] > 0)
            tables[R.BOARD_MODULES] = _label_keys(modules, "modules", ["placements", "avg_occupied"], secret, "name")
        if several_jcs:
            tables[R.BOARD_JOBCENTERS] = jobcenter_comparison(ds, last_full, p, cube)
        for name, frame in tables.items():
            if len(frame):
                parts.setdefault(name, []).append(frame.assign(**{R.PROJECT_COLUMN: p}))
    out = {name: pd.concat(frames, ignore_index=True) for name, frames in parts.items()}
    if ds.table("employment")["kind"].isin(S.FUNDED_KINDS).any():
        out[R.BOARD_TRANSITIONS] = _label_keys(programme_transitions(ds), "transitions", ["ended", "integrated"],
                                               secret, "group")
    return out


def _label_keys(frame: pd.DataFrame, table: str, counts: list, secret: bytes, label: str = "label") -> pd.DataFrame:
    """``<count>_key`` columns for a fixed table: the cell key of each count from its table, row, column and value
    (a table without filters needs no additivity; a new value gets a fresh key)."""
    frame = frame.copy()
    for col in counts:
        frame[f"{col}{privacy.KEY_SUFFIX}"] = [privacy.label_key(secret, table, row, col, round(float(v), 6))
                                               for row, v in zip(frame[label], frame[col])]
    return frame


def _main_project(ds) -> str | None:
    """The project a board is about: the earliest project's key (pankow phases share the stem)."""
    p = ds.table("projects")
    if p.empty:
        return None
    key = _key(p.sort_values("start")["project_id"]).iloc[0]
    return key.split("_")[0] if key.startswith("pankow") else key
