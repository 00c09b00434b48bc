"""Analysis cohorts and panels, rebuilt from the observed tables only.

``analysis_cohort`` implements the estimand of docs/estimands.md on any
dataset of the case data model (synthetic or real):

* **index assessment**: a person's first assessment whose month lies in the
  cohort window ``[cohort_start, cohort_end]``;
* **landmark** (time zero): the first day of the third month after the index
  month; the **treatment window** is ``[index month, landmark)``;
* **cohort**: persons still in benefit receipt at the landmark and without an
  integration between entry and the landmark;
* **treatment**: the measure kind of the first referral *started* in the
  treatment window (a no-show is untreated), else ``"none"``;
* **outcome** ``integration_12m``: an integration (svB, training or
  self-employment) starting in the 12 months from the landmark;
* **outcome** ``receipt_end_12m`` (seed 001: the end of transfer payments,
  derived from the benefit spells): the receipt running at the landmark
  (spells without a day between merged) ends before 12 months have passed;
  the synthetic ground truth's outcome of the same name;
* **outcome** ``unemployment_exit_12m`` (needs the optional table
  ``unemployment``): among persons registered unemployed at the landmark
  (spells with gaps of at most six weeks merged, § 18 Abs. 1 SGB III), the
  unemployment ends before 12 months have passed; missing for persons not
  unemployed at the landmark (docs/estimands.md).

Because everyone is followed from the same landmark, waiting time before a
measure is never credited to it.

Examples
--------
>>> from casework import synth, panel
>>> ds = synth.generate("gelsenkirchen", seed=1, persons=2000)
>>> cohort = panel.analysis_cohort(ds)
>>> {"person_id", "measure", "integration_12m"} <= set(cohort.columns)
True
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from casework import schema as S
from casework.cells import month_ordinal, month_starts
from casework.kpi_defs import NEW_16E_FROM

__all__ = ["analysis_cohort", "cohort_window", "COHORT_COVARIATES", "CATEGORICAL_COVARIATES", "available_covariates",
           "OUTCOMES", "OUTCOME_TABLES", "TIME_TO_EVENT", "at_risk", "require_outcome", "UNEMPLOYMENT_BRIDGE_DAYS",
           "spell_runs", "DID_SERIES",
           "jobcenter_months", "month_ordinal", "data_end", "WINDOW_MONTHS", "HORIZON_MONTHS"]

WINDOW_MONTHS = 3
#: The tables a cohort is built from.
COHORT_TABLES = ("persons", "assessments", "employment", "benefits", "referrals", "offers")
HORIZON_MONTHS = 12
#: The cohort's binary outcomes (columns), for ``casework.effects.measure_effects(outcome=...)``.
OUTCOMES = {"integration_12m": "Integration innerhalb von 12 Monaten",
            "receipt_end_12m": "Ende des Leistungsbezugs innerhalb von 12 Monaten",
            "unemployment_exit_12m": "Ende der Arbeitslosigkeit innerhalb von 12 Monaten"}
#: Optional tables an outcome needs (a dataset without them cannot give it).
OUTCOME_TABLES = {"unemployment_exit_12m": "unemployment"}
#: The (duration in months from the landmark, 0/1 event) columns of each outcome, for the survival models.
TIME_TO_EVENT = {"integration_12m": ("months_to_event", "event"),
                 "receipt_end_12m": ("months_to_receipt_end", "receipt_end_event"),
                 "unemployment_exit_12m": ("months_to_unemployment_exit", "unemployment_exit_event")}
#: Gaps between registered unemployment spells of up to six weeks do not end the unemployment: § 18 Abs. 1
#: Satz 2 SGB III, "Zeiten einer Erkrankung oder sonstigen Nicht-Erwerbstätigkeit [...] bis zu sechs Wochen
#: unterbrechen die Dauer der Arbeitslosigkeit nicht".
UNEMPLOYMENT_BRIDGE_DAYS = 42
_DAYS_PER_MONTH = 30.4375
_FAR = pd.Timestamp("2262-01-01")

NEED_COVARIATES = [S.NEED_COLUMNS[k] for k in S.NEEDS]
CATEGORICAL_COVARIATES = ["citizenship", "german_level", "school", "vocational", "jc_id", "index_year"]
#: Baseline covariates measured at the index assessment (before any treatment).
COHORT_COVARIATES = [
    "age", "female", "single_parent", "children_under_3", "health_restriction", "disability",
    "receipt_months", "unemployment_months", *NEED_COVARIATES, "strengths", "horizon_12m",
    *CATEGORICAL_COVARIATES,
]


def available_covariates(cohort: pd.DataFrame, covariates=None, warn: bool = True) -> list[str]:
    """The covariates without missing values in ``cohort``; the others are left out, saying so.

    Optional fields of the model (``unemployment_months``, ``disability``) are
    empty when an export did not provide them; an analysis adjusts only for
    what was observed and warns which covariates it left out and why.

    Examples
    --------
    >>> import warnings
    >>> c = pd.DataFrame({"age": [30, 40], "disability": [np.nan, 1.0]})
    >>> with warnings.catch_warnings(record=True) as w:
    ...     warnings.simplefilter("always")
    ...     kept = available_covariates(c, ["age", "disability"])
    >>> kept, "disability" in str(w[0].message)
    (['age'], True)
    """
    import warnings

    covariates = list(COHORT_COVARIATES if covariates is None else covariates)
    missing = {c: int(cohort[c].isna().sum()) for c in covariates if c in cohort and cohort[c].isna().any()}
    if missing and warn:
        shown = ", ".join(f"{c} (missing for {n:,} of {len(cohort):,} persons)" for c, n in missing.items())
        warnings.warn(f"left out of the covariates, not provided by the data: {shown}; the estimates do not "
                      f"adjust for them", stacklevel=2)
    return [c for c in covariates if c not in missing]


def _month_start(ordinals) -> pd.DatetimeIndex:
    return pd.DatetimeIndex(month_starts(ordinals).astype("datetime64[ns]"))


def cohort_window(ds, cohort_start=None, cohort_end=None) -> tuple[pd.Timestamp, pd.Timestamp]:
    """The cohort window: given, from a synthetic dataset's scenario, or from the data.

    Without arguments on real data: from the first assessment month to 15
    months before the last observed date (so that window and horizon fit).
    """
    if cohort_start is None or cohort_end is None:
        gt = getattr(ds, "ground_truth", None)
        if gt and gt.get("cohort_window"):
            lo, hi = gt["cohort_window"]
        else:
            a = ds.table("assessments")["date"]
            last = max(a.max(), ds.table("employment")["start"].max())
            lo = a.min()
            hi = last - pd.DateOffset(months=WINDOW_MONTHS + HORIZON_MONTHS)
        cohort_start = cohort_start or lo
        cohort_end = cohort_end or hi
    lo, hi = pd.Timestamp(cohort_start), pd.Timestamp(cohort_end)
    if hi < lo:
        raise ValueError(f"cohort window is empty: {lo.date()} .. {hi.date()}")
    return lo, hi


def analysis_cohort(ds, cohort_start=None, cohort_end=None) -> pd.DataFrame:
    """One row per cohort person with baseline covariates, treatment and outcome.

    Parameters
    ----------
    ds : Dataset
        Any dataset of the case data model.
    cohort_start, cohort_end : date-like, optional
        Cohort window for the index assessment (default: see :func:`cohort_window`).

    Returns
    -------
    DataFrame
        Columns: ``person_id``, ``jc_id``, ``assessment_id`` (index
        assessment), ``index_date``, ``landmark``, ``measure`` (kind or
        ``"none"``), ``measure_start``, ``measure_end``, ``integration_12m``
        (0/1), ``receipt_end_12m`` (0/1), ``unemployment_exit_12m`` (0/1, missing when not unemployed at the
        landmark; only when the dataset has the table ``unemployment``), see :data:`OUTCOMES`; for each its
        time to event (:data:`TIME_TO_EVENT`: ``months_to_event`` and ``event`` for integration, censored at
        the end of receipt or the data end; ``months_to_receipt_end``/``receipt_end_event`` and
        ``months_to_unemployment_exit``/``unemployment_exit_event``, censored at the data end), and the
        covariates in :data:`COHORT_COVARIATES`.
    """
    from casework import engine

    lo, hi = cohort_window(ds, cohort_start, cohort_end)
    end = data_end(ds)
    tables = COHORT_TABLES + tuple(t for t in set(OUTCOME_TABLES.values()) if t in ds.tables)
    parts = engine.map_partitions(ds, cohort_piece, lo, hi, end, desc="Kohorte", tables=tables)
    out = parts[0] if len(parts) == 1 else pd.concat(parts, ignore_index=True)
    return out.sort_values("person_id", kind="stable").reset_index(drop=True)


def data_end(ds) -> pd.Timestamp:
    """The last observed date: benefit starts and ends, integration starts (censoring point of the outcome)."""
    kinds = ", ".join(f"'{k}'" for k in S.INTEGRATION_KINDS)
    row = ds.sql(f"""SELECT (SELECT max("start") FROM benefits), (SELECT max("end") FROM benefits),
                            (SELECT max("start") FROM employment WHERE kind IN ({kinds}))""").iloc[0]
    return max(pd.Timestamp(v) for v in row if pd.notna(v))


def cohort_piece(ds, lo, hi, data_end) -> pd.DataFrame:
    """:func:`analysis_cohort` for the persons of ``ds`` with a window and data end fixed from outside."""
    idx = _index_assessments(ds.table("assessments"), lo, hi)
    persons = ds.table("persons")
    c = idx.merge(persons, on="person_id", how="inner", validate="one_to_one")
    lm_ord = month_ordinal(c["date"]) + WINDOW_MONTHS
    c["index_date"] = c["date"]
    c["landmark"] = _month_start(lm_ord)
    ints = _integrations(ds.table("employment"))
    c = _drop_not_at_risk(c, ints, ds.table("benefits"))
    c = _treatment(c, ds.table("referrals"), ds.table("offers"))
    c = _outcome(c, ints, ds.table("benefits"), data_end)
    outcomes = ["integration_12m", "receipt_end_12m"]
    if "unemployment" in ds.tables:
        c = _unemployment_exit(c, ds.table("unemployment"), data_end)
        outcomes.append("unemployment_exit_12m")
    c = _covariates(c)
    cols = ["person_id", "jc_id", "assessment_id", "index_date", "landmark", "measure", "measure_start",
            "measure_end", *outcomes, *(col for o in outcomes for col in TIME_TO_EVENT[o]), *COHORT_COVARIATES]
    return c[list(dict.fromkeys(cols))].reset_index(drop=True)


def _index_assessments(a: pd.DataFrame, lo, hi) -> pd.DataFrame:
    m = month_ordinal(a["date"])
    inside = (m >= month_ordinal([lo])[0]) & (m <= month_ordinal([hi])[0])
    return a[inside].sort_values(["person_id", "date"], kind="stable").drop_duplicates("person_id")


def _integrations(emp: pd.DataFrame) -> pd.DataFrame:
    """Integration events: starts of svB, training or self-employment, and of the new § 16e (from 2019, a
    Beschäftigung begleitende Leistung, VO zu § 48a SGB II § 2 Abs. 2 Nr. 2); never other funded employment."""
    new_16e = (emp["kind"] == "funded_16e") & (emp["start"] >= pd.Timestamp(NEW_16E_FROM))
    return emp.loc[emp["kind"].isin(S.INTEGRATION_KINDS) | new_16e, ["person_id", "start"]]


def _drop_not_at_risk(c: pd.DataFrame, ints: pd.DataFrame, benefits: pd.DataFrame) -> pd.DataFrame:
    j = ints.merge(c[["person_id", "entry_date", "landmark"]], on="person_id")
    # month precision: the monthly clock of the case data (an integration in the entry month counts)
    since_entry = month_ordinal(j["start"]) >= month_ordinal(j["entry_date"])
    before = j.loc[since_entry & (j["start"] < j["landmark"]).to_numpy(), "person_id"].unique()
    b = benefits.merge(c[["person_id", "landmark"]], on="person_id")
    covering = b.loc[(b["start"] <= b["landmark"]) & (b["end"].isna() | (b["end"] >= b["landmark"])),
                     "person_id"].unique()
    return c[~c["person_id"].isin(before) & c["person_id"].isin(covering)].copy()


def _treatment(c: pd.DataFrame, referrals: pd.DataFrame, offers: pd.DataFrame) -> pd.DataFrame:
    r = referrals.merge(offers[["offer_id", "measure"]], on="offer_id", how="left")
    r = r.merge(c[["person_id", "index_date", "landmark"]], on="person_id")
    index_month = _month_start(month_ordinal(r["index_date"]))
    in_window = r["started"].notna() & (r["started"] >= index_month) & (r["started"] < r["landmark"])
    first = r[in_window].sort_values(["person_id", "started"], kind="stable").drop_duplicates("person_id")
    episode = r[r["started"].notna()].merge(first[["person_id", "measure"]], on=["person_id", "measure"])
    span = episode.groupby("person_id").agg(measure_start=("started", "min"), measure_end=("ended", "max"))
    c = c.merge(first[["person_id", "measure"]], on="person_id", how="left")
    c["measure"] = c["measure"].fillna("none")
    return c.merge(span, on="person_id", how="left")


def _outcome(c: pd.DataFrame, ints: pd.DataFrame, benefits: pd.DataFrame, data_end) -> pd.DataFrame:
    j = ints.merge(c[["person_id", "landmark"]], on="person_id")
    first = j[j["start"] >= j["landmark"]].groupby("person_id")["start"].min()
    c = c.assign(first_integration=c["person_id"].map(first))
    horizon_end = c["landmark"] + pd.DateOffset(months=HORIZON_MONTHS)
    c["integration_12m"] = (c["first_integration"] < horizon_end).astype(int)
    b_end = c["person_id"].map(benefits.groupby("person_id")["end"].max())
    censor = b_end.where(b_end.notna(), data_end).clip(upper=data_end)
    stop = c["first_integration"].where(c["first_integration"].notna(), censor)
    c["event"] = c["first_integration"].notna().astype(int)
    c["months_to_event"] = ((stop - c["landmark"]).dt.days / 30.4375).clip(lower=0).round(3)
    return _receipt_end(c, benefits, data_end)


def spell_runs(spells: pd.DataFrame, bridge_days: int = 0) -> pd.DataFrame:
    """Spells of one kind merged per person into runs: a spell starting at most ``bridge_days`` days after
    the last day reached so far (0: overlapping or without a day between) continues the run.

    Returns person_id, start, end (the run's last day; missing while its last spell is ongoing).

    Examples
    --------
    >>> s = pd.DataFrame({"person_id": ["a", "a", "a"], "start": pd.to_datetime(["2020-01-01", "2020-03-01",
    ...                   "2020-06-01"]), "end": pd.to_datetime(["2020-02-29", "2020-04-30", None])})
    >>> spell_runs(s)["end"].dt.strftime("%Y-%m-%d").fillna("ongoing").tolist()
    ['2020-04-30', 'ongoing']
    >>> len(spell_runs(s, bridge_days=42))
    1
    """
    codes, persons = pd.factorize(spells["person_id"])
    day = np.timedelta64(1, "D")
    start = spells["start"].to_numpy(dtype="datetime64[D]")
    far = np.datetime64(_FAR, "D")
    end = np.where(spells["end"].isna(), far, spells["end"].to_numpy(dtype="datetime64[D]"))
    epoch = start.min() if len(start) else far
    code, s, e = _runs((start - epoch) // day, (end - epoch) // day, codes, 1 + bridge_days)
    end = (epoch + e * day).astype("datetime64[ns]")
    return pd.DataFrame({"person_id": np.asarray(persons)[code], "start": (epoch + s * day).astype("datetime64[ns]"),
                         "end": pd.Series(end).where(end < np.datetime64(_FAR, "ns")).to_numpy()})


def _runs(s: np.ndarray, e: np.ndarray, codes: np.ndarray, gap: int):
    """Runs of integer intervals ``[s, e]`` per person code: a spell continues the run when it starts at most
    ``gap`` after the furthest end so far. Returns (code, start, end) per run, in person and time order."""
    s, e, codes = (np.asarray(x, dtype=np.int64) for x in (s, e, codes))
    order = np.lexsort((s, codes))
    c, s, e = codes[order], s[order], e[order]
    # a running maximum restarted per person: offset each person's ends beyond every earlier person's
    shift = (e.max() - e.min() + 1) if len(e) else 0
    key = (c - (c.min() if len(c) else 0)) * shift + (e - (e.min() if len(e) else 0))
    reach = np.maximum.accumulate(key) - (key - e) if len(e) else e
    new = np.ones(len(s), dtype=bool)
    new[1:] = (c[1:] != c[:-1]) | (s[1:] > reach[:-1] + gap)
    first = np.flatnonzero(new)
    last = np.r_[first[1:] - 1, len(s) - 1].astype(np.int64) if len(s) else first
    return c[first], s[first], reach[last]


def _run_at_landmark(c: pd.DataFrame, runs: pd.DataFrame) -> pd.DataFrame:
    """The run covering each person's landmark (person_id, landmark, end; at most one: runs do not overlap)."""
    r = runs.merge(c[["person_id", "landmark"]], on="person_id")
    covers = (r["start"] <= r["landmark"]) & (r["end"].isna() | (r["end"] >= r["landmark"]))
    return r[covers].drop_duplicates("person_id")


def _time_to_end(at: pd.DataFrame, data_end) -> tuple[pd.Series, pd.Series]:
    """Months from the landmark to the first day after the run (event 1), or to the data end (censored)."""
    ended = at["end"].notna() & (at["end"] <= data_end)
    stop = (at["end"] + pd.Timedelta(days=1)).where(ended, pd.Timestamp(data_end))
    months = ((stop - at["landmark"]).dt.days / _DAYS_PER_MONTH).clip(lower=0).round(3)
    return months, ended.astype(int)


def _ended_within_horizon(at: pd.DataFrame) -> pd.Series:
    return (at["end"].notna() & (at["end"] < at["landmark"] + pd.DateOffset(months=HORIZON_MONTHS))).astype(int)


def _receipt_end(c: pd.DataFrame, benefits: pd.DataFrame, data_end) -> pd.DataFrame:
    """``receipt_end_12m``: 1 where the receipt running at the landmark ends before 12 months have passed
    (spells that overlap or follow each other without a day between form one receipt); with its time to
    event. Every cohort person is in receipt at the landmark (else not in the cohort)."""
    runs = spell_runs(benefits.loc[benefits["person_id"].isin(c["person_id"])])
    at = _run_at_landmark(c, runs).set_index("person_id")
    months, event = _time_to_end(at, data_end)
    pid = c["person_id"]
    return c.assign(receipt_end_12m=pid.map(_ended_within_horizon(at)).fillna(0).astype(int).to_numpy(),
                    months_to_receipt_end=pid.map(months).to_numpy(), receipt_end_event=pid.map(event).to_numpy())


def _unemployment_exit(c: pd.DataFrame, unemployment: pd.DataFrame, data_end) -> pd.DataFrame:
    """``unemployment_exit_12m`` (docs/estimands.md): among persons registered unemployed at the landmark,
    1 where that unemployment (spells with gaps of at most six weeks merged) ends before 12 months have
    passed; missing for persons not unemployed at the landmark; with its time to event."""
    runs = spell_runs(unemployment.loc[unemployment["person_id"].isin(c["person_id"])], UNEMPLOYMENT_BRIDGE_DAYS)
    at = _run_at_landmark(c, runs).set_index("person_id")
    months, event = _time_to_end(at, data_end)
    pid = c["person_id"]
    return c.assign(unemployment_exit_12m=pid.map(_ended_within_horizon(at).astype(float)).to_numpy(),
                    months_to_unemployment_exit=pid.map(months).to_numpy(),
                    unemployment_exit_event=pid.map(event.astype(float)).to_numpy())


def require_outcome(ds_or_cohort, outcome: str) -> None:
    """Raise a ValueError when ``outcome`` is not a cohort outcome, or the data lack the table it needs.

    Accepts a dataset (checks its tables) or a cohort (checks its columns).
    """
    if outcome not in OUTCOMES:
        raise ValueError(f"unknown outcome {outcome!r}; available outcomes: {', '.join(OUTCOMES)}")
    table = OUTCOME_TABLES.get(outcome)
    if table is None:
        return
    has = (table in ds_or_cohort.tables) if hasattr(ds_or_cohort, "tables") else outcome in ds_or_cohort.columns
    if not has:
        raise ValueError(f"outcome {outcome!r} needs the table {table!r} (registered unemployment spells, "
                         f"§ 16 SGB III), which this dataset does not have; available without it: "
                         f"{', '.join(o for o in OUTCOMES if o not in OUTCOME_TABLES)}")


def at_risk(cohort: pd.DataFrame, outcome: str) -> pd.DataFrame:
    """The cohort rows for which ``outcome`` is defined (for ``unemployment_exit_12m``: unemployed at the
    landmark), after :func:`require_outcome`."""
    require_outcome(cohort, outcome)
    return cohort[cohort[outcome].notna()]


def _covariates(c: pd.DataFrame) -> pd.DataFrame:
    idx_year = c["index_date"].dt.year
    entry = c["entry_date"]
    receipt = ((c["index_date"] - entry).dt.days / 30.4375).clip(lower=0) + c["benefit_months"]
    return c.assign(
        age=(idx_year - c["birth_year"]).astype(int),
        female=(c["sex"] == "f").astype(int),
        receipt_months=receipt.round(1),
        index_year=idx_year.astype(str),
        **{k: _flag(c[k]) for k in ["single_parent", "children_under_3", "health_restriction", "disability",
                                     "horizon_12m"]},
    )


def _flag(values: pd.Series) -> pd.Series:
    """Yes/no as 0/1; an optional field the export lacked stays missing (float NaN) instead of becoming 0."""
    return values.astype(float) if values.isna().any() else values.astype(int)


def jobcenter_months(ds, start=None, end=None) -> pd.DataFrame:
    """Integrations, ends of receipt, exits from unemployment and their stocks per jobcenter and month.

    A person is in the stock of a month when a benefit spell covers at least
    one day of it (counted once); an integration counts in the month it
    starts (at most one per person and month); an end of receipt in the month
    of the last day of a receipt (spells without a day between merged, as
    ``receipt_end_12m``). With the table ``unemployment``: the registered
    unemployed of the month (a spell covers a day of it) and the exits from
    unemployment (the last day of an unemployment, spells with gaps of up to
    six weeks merged, as ``unemployment_exit_12m``). The panel runs from
    ``start`` (default: the first month with an assessment or an employment
    start, i.e. where case data are observed) to ``end`` (default: the last
    observed month).

    Returns
    -------
    DataFrame
        Columns ``jc_id``, ``month`` (first day), ``stock``, ``integrations``,
        ``rate`` (integrations / stock), ``receipt_ends``, ``receipt_end_rate``
        (/ stock) and, with unemployment spells, ``unemployed``,
        ``unemployment_exits``, ``unemployment_exit_rate`` (/ unemployed);
        the DiD series of :data:`DID_SERIES`.
    """
    from casework import engine

    if start is None or end is None:
        kinds = ", ".join(f"'{k}'" for k in S.INTEGRATION_KINDS)
        first, last = ds.sql(f"""SELECT min(d), max(d) FROM (SELECT "date" AS d FROM assessments UNION ALL
                                 SELECT "start" FROM employment WHERE kind IN ({kinds}))""").iloc[0]
        start, end = (first if start is None else start), (last if end is None else end)
    lo = int(month_ordinal([pd.Timestamp(start)])[0])
    hi = int(month_ordinal([pd.Timestamp(end)])[0])
    tables = ("persons", "benefits", "employment") + (("unemployment",) if "unemployment" in ds.tables else ())
    parts = engine.map_partitions(ds, _jobcenter_months_piece, lo, hi, desc="Jobcenter-Monate", tables=tables)
    if len(parts) == 1:
        return parts[0]
    # a large jobcenter may be cut into several pieces of persons: add their counts up
    counts = [c for c in _COUNTS if c in parts[0].columns]
    out = pd.concat(parts).groupby(["jc_id", "month"], as_index=False, sort=True)[counts].sum()
    return _with_rates(out)


#: Monthly DiD series (column of :func:`jobcenter_months`) of each outcome, with its German name and unit.
DID_SERIES = {"integration_12m": ("rate", "die monatliche Integrationsrate", "Integrationen je 100 Personen im "
                                  "Bestand"),
              "receipt_end_12m": ("receipt_end_rate", "die monatliche Abgangsrate aus dem Leistungsbezug",
                                  "Abgänge je 100 Personen im Bestand"),
              "unemployment_exit_12m": ("unemployment_exit_rate", "die monatliche Abgangsrate aus Arbeitslosigkeit",
                                        "Abgänge je 100 Arbeitslose")}
_COUNTS = ("stock", "integrations", "receipt_ends", "unemployed", "unemployment_exits")
_RATES = {"rate": ("integrations", "stock"), "receipt_end_rate": ("receipt_ends", "stock"),
          "unemployment_exit_rate": ("unemployment_exits", "unemployed")}


def _with_rates(out: pd.DataFrame) -> pd.DataFrame:
    for rate, (num, den) in _RATES.items():
        if num in out.columns:
            d = out[den].where(out[den] > 0)
            out[rate] = np.where(out[den] > 0, out[num] / d, np.nan)
    return out


def _month_stock(spells: pd.DataFrame, jc_pos: pd.Series, lo: int, hi: int) -> np.ndarray:
    """Persons (jobcenter x month) with a spell covering a day of the month, each person once per month."""
    n_m = hi - lo + 1
    s = month_ordinal(spells["start"]).astype(np.int64)
    e = np.where(spells["end"].isna(), hi, month_ordinal(spells["end"].fillna(spells["start"]))).astype(np.int64)
    # spells of one person touching the same month are merged so that the month counts once
    codes, persons = pd.factorize(spells["person_id"])
    jc_of = pd.Series(spells["jc_id"].to_numpy()).groupby(codes).first().to_numpy()
    code, s, e = _runs(s, e, codes, 0)
    d = pd.DataFrame({"jc_id": jc_of[code], "s": s, "e": e})
    stock = np.zeros((len(jc_pos), n_m + 1))
    rows = jc_pos[d["jc_id"]].to_numpy()
    np.add.at(stock, (rows, np.clip(d["s"].to_numpy() - lo, 0, n_m)), 1)
    np.add.at(stock, (rows, np.clip(d["e"].to_numpy() - lo + 1, 0, n_m)), -1)
    return np.cumsum(stock, axis=1)[:, :n_m]


def _month_counts(jc_ids, dates, jc_pos: pd.Series, lo: int, hi: int) -> np.ndarray:
    m = month_ordinal(dates).astype(np.int64)
    inside = (m >= lo) & (m <= hi)
    count = np.zeros((len(jc_pos), hi - lo + 1))
    np.add.at(count, (jc_pos[np.asarray(jc_ids)[inside]].to_numpy(), m[inside] - lo), 1)
    return count


def _run_ends(spells: pd.DataFrame, persons: pd.DataFrame, bridge_days: int) -> pd.DataFrame:
    runs = spell_runs(spells, bridge_days)
    return runs[runs["end"].notna()].merge(persons, on="person_id")


def _jobcenter_months_piece(ds, lo: int, hi: int) -> pd.DataFrame:
    persons = ds.table("persons")[["person_id", "jc_id"]]
    benefits = ds.table("benefits")
    b = benefits.merge(persons, on="person_id")
    jcs = np.sort(persons["jc_id"].unique())
    jc_pos = pd.Series(np.arange(len(jcs)), index=jcs)
    ints = _integrations(ds.table("employment")).merge(persons, on="person_id")
    ints = ints.assign(m=month_ordinal(ints["start"]).astype(int)).drop_duplicates(["person_id", "m"])
    cols = {"stock": _month_stock(b, jc_pos, lo, hi),
            "integrations": _month_counts(ints["jc_id"], ints["start"], jc_pos, lo, hi)}
    ends = _run_ends(benefits, persons, 0)
    cols["receipt_ends"] = _month_counts(ends["jc_id"], ends["end"], jc_pos, lo, hi)
    if "unemployment" in ds.tables:
        u = ds.table("unemployment")
        cols["unemployed"] = _month_stock(u.merge(persons, on="person_id"), jc_pos, lo, hi)
        exits = _run_ends(u, persons, UNEMPLOYMENT_BRIDGE_DAYS)
        cols["unemployment_exits"] = _month_counts(exits["jc_id"], exits["end"], jc_pos, lo, hi)
    n_m = hi - lo + 1
    months = _month_start(np.arange(lo, hi + 1))
    out = pd.DataFrame({"jc_id": np.repeat(jcs, n_m), "month": np.tile(months, len(jcs)),
                        **{k: v.ravel().astype(int) for k, v in cols.items()}})
    return _with_rates(out)
