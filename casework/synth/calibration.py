"""The calibration table: each target figure of the synthetic population, its public source and its tolerance.

:func:`calibration_table` measures every figure on a generated dataset with the
project's own definitions (the stock and long-term receipt of
:func:`casework.kpi.key_figures`, the Profillage rules of
:mod:`casework.profiling`, needs coverage of :mod:`casework.network`) and
checks it against the target. docs/synthetic.md shows the table;
tests/test_synth.py asserts every row on the demo scenarios. The targets are
population figures: they hold at any size (a small population only widens the
noise, which the tolerances allow for).

Examples
--------
>>> from casework import synth
>>> from casework.synth.calibration import calibration_table
>>> t = calibration_table(synth.generate("pankow", seed=1, persons=3000))
>>> {"figure", "source", "low", "high", "value", "ok"} <= set(t.columns)
True
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from casework import schema as S

__all__ = ["Target", "TARGETS", "calibration_table", "stock_on", "key_group_violations"]


@dataclass(frozen=True)
class Target:
    """One calibration target: ``low <= value <= high`` where it applies (``scenarios``: None = every one)."""

    key: str
    figure: str
    source: str
    target: str
    low: float
    high: float
    scenarios: tuple[str, ...] | None = None


_NATIONAL = ("pankow", "nrw_teilhabe", "scale")
TARGETS = (
    Target("u25_share", "eLb aged 15-24, share of the stock on 30.06. (every year, lowest and highest)",
           "DOMAIN.md 0.6 (BA Statistik, recalled)", "about 18-20 %", 0.16, 0.23),
    Target("youngest_age", "youngest age at entry", "§ 7 Abs. 1 SGB II; schema.ELB_AGE", "15", 15, 15),
    Target("ltr_share", "long-term recipients (21 of 24 months) / average stock, last full year",
           "DOMAIN.md 0.6, 2.20, 3.2", "about 62-66 % nationally", 0.61, 0.67, _NATIONAL),
    Target("ltr_share_ruhr", "long-term recipients (21 of 24 months) / average stock, last full year",
           "DOMAIN.md 0.6", "about 70 % in Ruhr cities", 0.67, 0.73, ("gelsenkirchen",)),
    Target("non_german_2015_2019", "non-German eLb, share of the stock on 30.06. of 2015-2019 (lowest, highest)",
           "DOMAIN.md 0.6 (recalled)", "about 25-35 %", 0.25, 0.37, ("gelsenkirchen", "pankow", "nrw_teilhabe")),
    Target("non_german_rise", "non-German share on 30.06. of the last year minus the first year",
           "DOMAIN.md 0.6, 2.18 (rising to 47 % in 2024)", "> 0 (rising)", 0.0, 1.0),
    Target("non_german_2024", "non-German eLb, share of the stock on 30.06.2024", "DOMAIN.md 2.18 (found)",
           "47.4 %", 0.42, 0.55, ("pankow",)),
    Target("unemployed", "registered unemployed (§ 16 SGB III), share of the stock on 30.06. of the last year",
           "DOMAIN.md 3.11, 8 (about 45 %; 38-47 % in 2007-2017)", "about 40-47 %", 0.37, 0.52),
    Target("long_term_unemployed", "long-term unemployed (12 months and longer, § 18 SGB III), share of the stock "
           "on the same day", "DOMAIN.md 0.5, 2.20 (about 20 % of eLb)", "about 20 %", 0.14, 0.27),
    Target("health_restriction", "placement-relevant health restriction, share of persons", "DOMAIN.md 3.2",
           "about 45 %", 0.37, 0.55),
    Target("no_vocational", "no vocational qualification, share of persons",
           "DOMAIN.md 3.2, 8 (40 % of recipients, 60-75 % of the SGB II unemployed)", "40-75 %", 0.40, 0.75),
    Target("debt", "debt problems at the first assessment", "DOMAIN.md 3.6, 8", "about 25 %", 0.18, 0.35),
    Target("addiction", "addiction at the first assessment", "DOMAIN.md 3.6, 8", "about 10 %", 0.06, 0.15),
    Target("psychosocial", "psychosocial problems at the first assessment", "DOMAIN.md 3.6, 8", "about 23 %",
           0.17, 0.33),
    Target("two_barriers", "persons in the stock on 30.06. of the last year with two or more barriers of the "
           "PASS study (receipt for 21+ months, health restriction, aged 50+, little German, no vocational degree, "
           "mother of a child under 3)", "DOMAIN.md 3.1 (more than 3/4 with two or more)", "more than 75 %",
           0.70, 0.92),
    Target("three_barriers", "the same, three or more barriers", "DOMAIN.md 3.1, 8 (almost half)", "about 45-50 %",
           0.38, 0.60),
    Target("k2_median", "annual integrations / average stock, median over jobcenter-years",
           "DOMAIN.md 2.2, 8 (K2 24-27 % in 2011-2016, range 14-50 %)", "about 20-27 %", 0.14, 0.32),
    Target("key_group_violations", "assessments with a sub-need more severe than its key group, or a health "
           "restriction without a need in Leistungsfähigkeit, or no vocational degree without one in Qualifikation",
           "DOMAIN.md 1.2 (key groups of the 4-phase model); schema.SUB_NEED_GROUP", "0", 0, 0),
    Target("coverage_spread", "needs coverage (an offer started within 3 months): highest minus lowest share "
           "over the needs that have network offers", "issue 17 (no public statistic: it must vary by need)",
           "> 5 points", 0.05, 1.0),
    Target("project_coverage_uplift", "needs coverage of the needs a project's offers address: the project's "
           "jobcenter while it runs minus the comparison jobcenters", "seed 002 (the network is the project)",
           "> 3 points", 0.03, 1.0, ("pankow",)),
    Target("stabilisierung_condition", "first assessments with a need in Leistungsfähigkeit plus at least two "
           "further key groups and no integration expected within 12 months",
           "DOMAIN.md 1.15 (rule); no official distribution (section 9.3)",
           "frequent (health is the most frequent barrier)", 0.15, 0.60),
    Target("llu_rbs1", "median LLU per month of eLb alone in their BG (no partner, not a single parent, no child "
           "under 3) / Regelbedarfsstufe 1 of the year, every year (lowest, highest)",
           "Regelbedarfsstufe 1 (§ 20 SGB II; 2014: 391 ... 2024: 563 EUR; casework.synth.amounts.REGELBEDARF)",
           "1 (exactly RBS 1)", 1.0, 1.0),
    Target("llu_per_bg_2024", "LLU (Regelbedarf, Sozialgeld, Mehrbedarfe) per BG in receipt, June 2024, EUR",
           "DOMAIN.md 2.22: Regelsätze 22.06 bn EUR / 2.9 m BG / 12 = 634 EUR (Mehrbedarfe on top)",
           "about 634 EUR", 634 * 0.8, 634 * 1.3, ("pankow",)),
    Target("kdu_per_bg_2024", "KdU per BG in receipt, June 2024, EUR",
           "DOMAIN.md 2.22: KdU 17.46 bn EUR / 2.9 m BG / 12 = 502 EUR", "about 502 EUR", 502 * 0.8, 502 * 1.2,
           ("pankow",)),
    Target("k3e2", "K3E2: long-term recipients with a regular instrument in the last full month / long-term "
           "recipients", "assumption (no figure in DOMAIN.md; published K3E2 values are around a tenth)",
           "about 8-18 %", 0.08, 0.18),
    Target("share_16i_2019", "§ 16i starts / starts of § 16i and § 16e from 01.01.2019",
           "DOMAIN.md 4.2 (about 3/4 of 118,000 starts by 09/2023 were § 16i)", "about 75 %", 0.62, 0.88,
           ("pankow",)),
    Target("16i_of_unemployed", "persons in § 16i on 30.06.2022 / registered unemployed that day",
           "DOMAIN.md 4.17 (NRW, January 2022: 13,594, about 4 % of the unemployed)", "about 4 %", 0.025, 0.065,
           ("pankow",)),
    Target("caseload_ue25", "persons per caseworker of the Ü25 teams on 30.06. of the last year (mean over the "
           "teams of three or more)",
           "Betreuungsschlüssel 1:150 for adults (BT-Drs. 16/3953)", "about 150", 120, 180),
    Target("caseload_u25", "persons per caseworker of the U25 teams on 30.06. of the last year (mean)",
           "Betreuungsschlüssel 1:75 for under-25s (BT-Drs. 16/3953)", "about 75", 60, 90),
    Target("caseload_fm", "persons per caseworker in Fallmanagement on 30.06. of the last year (mean)",
           "assumption: the smaller caseload of the FM concept, 1:75 (DOMAIN.md 7.3)", "about 75", 55, 95),
)


def stock_on(ds, date) -> pd.Series:
    """person_id of everybody in benefit receipt on ``date``."""
    b = ds.table("benefits")
    d = pd.Timestamp(date)
    return b.loc[(b["start"] <= d) & (b["end"].isna() | (b["end"] >= d)), "person_id"].drop_duplicates()


def key_group_violations(a: pd.DataFrame, persons: pd.DataFrame) -> int:
    """Assessments whose key groups are less severe than their sub-needs or the covariates behind them."""
    bad = np.zeros(len(a), dtype=bool)
    for sub, group in S.SUB_NEED_GROUP.items():
        bad |= a[S.NEED_COLUMNS[sub]].to_numpy() > a[S.NEED_COLUMNS[group]].to_numpy()
    p = a[["person_id"]].merge(persons[["person_id", "health_restriction", "vocational"]], on="person_id",
                               how="left")
    bad |= p["health_restriction"].fillna(False).to_numpy(dtype=bool) & (a["need_health"].to_numpy() == 0)
    bad |= (p["vocational"] == "none").to_numpy() & (a["need_qualification"].to_numpy() == 0)
    return int(bad.sum())


def _data_start(ds) -> pd.Timestamp:
    a = ds.table("assessments")["date"]
    return a.min() if len(a) else pd.Timestamp("2000-01-01")


def _data_end(ds) -> pd.Timestamp:
    dates = [ds.table("assessments")["date"].max(), ds.table("benefits")["start"].max()]
    return max(dates)


def _stock_figures(ds) -> dict:
    p = ds.table("persons").set_index("person_id")
    end = _data_end(ds)
    years = [y for y in range(_data_start(ds).year, end.year + 1) if pd.Timestamp(f"{y}-06-30") <= end]
    u25, non_german = {}, {}
    for y in years:
        q = p.loc[stock_on(ds, f"{y}-06-30")]
        u25[y] = float(((y - q["birth_year"]) < 25).mean())
        non_german[y] = float((q["citizenship"] != "german").mean())
    mid = {y: v for y, v in non_german.items() if 2015 <= y <= 2019}
    out = {"u25_share": (min(u25.values()), max(u25.values())),
           "non_german_rise": non_german[years[-1]] - non_german[years[0]],
           "youngest_age": int((p["entry_date"].dt.year - p["birth_year"]).min())}
    if mid:
        out["non_german_2015_2019"] = (min(mid.values()), max(mid.values()))
    if 2024 in non_german:
        out["non_german_2024"] = non_german[2024]
    out["by_year"] = {"u25": u25, "non_german": non_german}
    return out


def _barriers(ds) -> tuple[float, float]:
    """Shares with two and with three or more PASS barriers (DOMAIN.md 3.1) in the stock of the last 30.06."""
    end = _data_end(ds)
    date = pd.Timestamp(f"{end.year if end.month >= 7 else end.year - 1}-06-30")
    p = ds.table("persons").set_index("person_id").loc[stock_on(ds, date)]
    months_in = (date.year - p["entry_date"].dt.year) * 12 + date.month - p["entry_date"].dt.month
    barriers = ((months_in + p["benefit_months"] >= 21).astype(int) + p["health_restriction"].astype(int)
                + (date.year - p["birth_year"] >= 50).astype(int)
                + p["german_level"].isin(["basic", "none"]).astype(int) + (p["vocational"] == "none").astype(int)
                + ((p["sex"] == "f") & p["children_under_3"]).astype(int))
    return float((barriers >= 2).mean()), float((barriers >= 3).mean())


def _unemployed(ds) -> tuple[float, float]:
    """Registered unemployed and long-term unemployed (spell of 12 months or more) in the stock of the last 30.06."""
    end = _data_end(ds)
    date = pd.Timestamp(f"{end.year if end.month >= 7 else end.year - 1}-06-30")
    stock = set(stock_on(ds, date))
    u = ds.table("unemployment")
    u = u[(u["start"] <= date) & (u["end"].isna() | (u["end"] >= date)) & u["person_id"].isin(stock)]
    long_term = u[u["start"] <= date - pd.DateOffset(months=12)]
    return u["person_id"].nunique() / len(stock), long_term["person_id"].nunique() / len(stock)


def _ltr_share(ds) -> float:
    from casework.kpi import key_figures

    end = _data_end(ds)
    year = end.year if end.month == 12 else end.year - 1
    kf = key_figures(ds, f"{year}-01-01", f"{year}-12-01").set_index("kpi")["value"]
    return float(kf["avg_ltr_stock"] / kf["avg_stock"])


def _assessment_figures(ds) -> dict:
    from casework.profiling.rules import KEY_GROUP_COLUMNS

    a = ds.table("assessments")
    first = a.sort_values("date", kind="stable").drop_duplicates("person_id")
    groups = first[list(KEY_GROUP_COLUMNS.values())] >= 1
    others = groups.drop(columns="need_health").sum(axis=1)
    stabil = groups["need_health"] & (others >= 2) & ~first["horizon_12m"].astype(bool)
    return {"debt": float((first["need_debt"] >= 1).mean()),
            "addiction": float((first["need_addiction"] >= 1).mean()),
            "psychosocial": float((first["need_psychosocial"] >= 1).mean()),
            "stabilisierung_condition": float(stabil.mean()),
            "key_group_violations": key_group_violations(a, ds.table("persons"))}


def _k2_median(ds) -> float:
    from casework import panel

    jm = panel.jobcenter_months(ds)
    annual = jm.assign(year=jm["month"].dt.year).groupby(["jc_id", "year"]).agg(
        i=("integrations", "sum"), s=("stock", "mean"))
    annual = annual[annual["s"] >= 50]  # jobcenter-years too small to give a rate are left out
    return float((annual["i"] / annual["s"]).median())


def _coverage_spread(ds) -> float:
    from casework.network import needs_coverage

    offered = set(ds.table("offers")["need"])
    cov = needs_coverage(ds)
    cov = cov[cov["need"].isin(offered) & (cov["needs"] >= 50)]
    return float(cov["share"].max() - cov["share"].min()) if len(cov) >= 2 else float("nan")


def _project_coverage_uplift(ds) -> float:
    """Coverage of the needs a running open project's offers address, in its jobcenters minus the others."""
    from casework.network import needs_coverage
    from casework.store import Dataset

    projects = ds.table("projects")
    offers = ds.table("offers")
    proj = projects[projects["project_id"].isin(offers["project_id"].dropna())].sort_values("start").iloc[0]
    needs = set(offers.loc[offers["project_id"] == proj["project_id"], "need"])
    start = proj["start"]
    end = proj["end"] if pd.notna(proj["end"]) else ds.table("assessments")["date"].max()
    persons = ds.table("persons")
    shares = []
    for inside in (True, False):
        ids = set(persons.loc[(persons["jc_id"] == proj["jc_id"]) == inside, "person_id"])
        a, r = ds.table("assessments"), ds.table("referrals")
        sub = Dataset.from_tables({"assessments": a[a["person_id"].isin(ids)],
                                   "referrals": r[r["person_id"].isin(ids)],
                                   "offers": offers, "partners": ds.table("partners")})
        cov = needs_coverage(sub, start=start, end=end)
        cov = cov[cov["need"].isin(needs)]
        shares.append(cov["covered"].sum() / cov["needs"].sum())
    return float(shares[0] - shares[1])


def _last_june(ds) -> pd.Timestamp:
    end = _data_end(ds)
    return pd.Timestamp(f"{end.year if end.month >= 7 else end.year - 1}-06-30")


def _amount_figures(ds) -> dict:
    """LLU of persons alone in their BG against RBS 1 per year; LLU and KdU per BG in June 2024."""
    from casework.synth.amounts import regelbedarf

    p = ds.table("persons")
    a = ds.table("benefit_amounts")
    alone = p[(p["bg_id"].map(p["bg_id"].value_counts()) == 1) & ~p["single_parent"] & ~p["children_under_3"]]
    mine = a[a["person_id"].isin(alone["person_id"])]
    median = mine.groupby(mine["month"].dt.year)["llu"].median()
    ratio = median / regelbedarf(median.index.to_numpy(), 1)
    out = {"llu_rbs1": (float(ratio.min()), float(ratio.max()))}
    june = a[a["month"] == pd.Timestamp("2024-06-01")]
    if len(june):
        per_bg = june.merge(p[["person_id", "bg_id"]], on="person_id").groupby("bg_id")[["llu", "kdu"]].sum()
        out["llu_per_bg_2024"], out["kdu_per_bg_2024"] = float(per_bg["llu"].mean()), float(per_bg["kdu"].mean())
    return out


def _instrument_figures(ds) -> dict:
    from casework.kpi import key_figures

    out = {}
    end = _data_end(ds)
    year = end.year if end.month == 12 else end.year - 1
    out["k3e2"] = float(key_figures(ds, f"{year}-12-01", f"{year}-12-01").set_index("kpi").at["k3e2", "value"])
    ins = ds.table("instruments")
    new = ins[(ins["start"] >= "2019-01-01") & ins["kind"].isin(["16i", "16e"])]
    if len(new) >= 50:
        out["share_16i_2019"] = float((new["kind"] == "16i").mean())
    day = pd.Timestamp("2022-06-30")
    if _data_start(ds) <= day <= end:
        u = ds.table("unemployment")
        unemployed = u[(u["start"] <= day) & (u["end"].isna() | (u["end"] >= day))]["person_id"].nunique()
        in16i = ins[(ins["kind"] == "16i") & (ins["start"] <= day) & (ins["end"].isna() | (ins["end"] >= day))]
        out["16i_of_unemployed"] = in16i["person_id"].nunique() / max(unemployed, 1)
    return out


def _caseload_figures(ds) -> dict:
    from casework.kpi import caseloads

    c = caseloads(ds, _last_june(ds))
    team = c["team_id"].str.rsplit("-", n=1).str[-1]
    # teams of at least three: a small population's one-person teams are staffed above their caseload
    big = c["team_id"].map(c["team_id"].value_counts()) >= 3
    return {f"caseload_{t}": float(c.loc[big & (team == t), "persons"].mean()) for t in ("ue25", "u25", "fm")
            if (big & (team == t)).any()}


def measure(ds) -> dict:
    """Every calibration figure of a dataset (keys of :data:`TARGETS`; ranges as (lowest, highest))."""
    p = ds.table("persons")
    out = _stock_figures(ds)
    out.update(_assessment_figures(ds))
    out["ltr_share"] = out["ltr_share_ruhr"] = _ltr_share(ds)
    out["two_barriers"], out["three_barriers"] = _barriers(ds)
    if "unemployment" in ds.tables:
        out["unemployed"], out["long_term_unemployed"] = _unemployed(ds)
    if "benefit_amounts" in ds.tables:
        out.update(_amount_figures(ds))
    if "instruments" in ds.tables:
        out.update(_instrument_figures(ds))
    if {"caseworkers", "assignments"} <= set(ds.tables):
        out.update(_caseload_figures(ds))
    out["health_restriction"] = float(p["health_restriction"].mean())
    out["no_vocational"] = float((p["vocational"] == "none").mean())
    out["k2_median"] = _k2_median(ds)
    out["coverage_spread"] = _coverage_spread(ds)
    if ds.table("persons")["jc_id"].nunique() > 1 and ds.table("offers")["project_id"].notna().any():
        out["project_coverage_uplift"] = _project_coverage_uplift(ds)
    return out


def calibration_table(ds, scenario: str | None = None) -> pd.DataFrame:
    """The targets that apply to the dataset's scenario, with the measured value and whether it is met.

    Columns: key, figure, source, target, low, high, value (a number, or "lowest-highest" for per-year
    figures), ok.
    """
    scenario = scenario or (ds.ground_truth or {}).get("scenario")
    values = measure(ds)
    rows = []
    for t in TARGETS:
        if (t.scenarios is not None and scenario not in t.scenarios) or t.key not in values:
            continue
        v = values[t.key]
        lo, hi = (v if isinstance(v, tuple) else (v, v))
        ok = bool(np.isfinite(lo) and np.isfinite(hi) and t.low <= lo and hi <= t.high)
        shown = f"{lo:.3f}-{hi:.3f}" if isinstance(v, tuple) else round(float(v), 3)
        rows.append({"key": t.key, "figure": t.figure, "source": t.source, "target": t.target, "low": t.low,
                     "high": t.high, "value": shown, "ok": ok})
    return pd.DataFrame(rows)
