"""Ground truth: every effect the generator built in, computed from the potential outcomes.

All effects are *sample* quantities over the simulated persons: the ATT of a
measure kind is the mean of ``Y(kind) - Y(none)`` over the cohort persons who
received that kind; the ATE is the mean over the cohort persons who received
it or no measure and *could* have received it (positivity). Estimands are
defined in docs/estimands.md.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from casework import schema as S
from casework.synth.scenarios import Scenario
from casework.synth.simulate import BETA, HORIZON, WINDOW, all_kinds, project_window

__all__ = ["ground_truth", "truth_table", "truth_extract", "index_profillage", "ESTIMANDS"]

ESTIMANDS = {
    "cohort": "Persons whose index assessment (their first assessment inside the cohort window) finds them in "
              "benefit receipt and not yet integrated, and who are still in receipt and not integrated at the "
              "landmark (index month + 3).",
    "time_zero": "The landmark: the first day of the third month after the index assessment's month.",
    "treatment": "A measure of the kind started (referrals.started) in the treatment window [index month, "
                 "landmark); the comparison group started no measure in that window (a no-show is untreated).",
    "outcome": "integration_12m: an integration (start of svB employment, training or self-employment; never "
               "publicly funded employment) in the 12 months from the landmark, before any other exit.",
    "outcome_unemployment_exit": "unemployment_exit_12m: among cohort persons registered unemployed at the landmark "
                                 "(the episode covering it; spells less than 42 days apart are one episode), the "
                                 "episode ends before landmark + 12 months; missing for the others "
                                 "(/work/briefs/s8/outcome_def.md, casework.panel).",
    "why": "Because everyone in the cohort survived unintegrated to the landmark and the outcome clock starts "
           "there for treated and untreated alike, waiting time before a measure is never credited to it "
           "(no immortal-time bias).",
    "att": "Mean of Y(kind) - Y(none) over cohort persons who received the kind.",
    "ate": "Mean of Y(kind) - Y(none) over cohort persons who received the kind or none and could have received "
           "the kind (it was offered in their jobcenter and month, and they were eligible).",
    "did": "Mean over project jobcenter-months from the project start to the data end of the monthly "
           "integration rate (integrations / persons in receipt) minus the rate the same jobcenter-months would "
           "have had without the project (same persons, same random draws).",
    "scale": "Effects are differences in proportions: 0.031 = 3.1 percentage points.",
}


def _month_ordinal(dates: pd.Series) -> pd.Series:
    """Monthly period ordinal (0 = January 1970), vectorised."""
    return dates.dt.year * 12 + dates.dt.month - 1 - 1970 * 12


def index_profillage(pf: pd.DataFrame, assessments: pd.DataFrame, scn: Scenario) -> pd.Series | None:
    """The Profillage (rule table of casework.profiling) of each person's index assessment."""
    try:
        from casework.profiling import assign_profillage
    except ImportError:  # profiling not installed: segment-level truth is left out (noted in the truth)
        return None
    base = pd.Timestamp(scn.data_start).to_period("M").ordinal
    want = pd.DataFrame({"person_id": pf["person_id"], "ord": base + pf["index_m"]})[pf["index_m"] >= 0]
    a = assessments.assign(ord=_month_ordinal(assessments["date"]))
    a = a.merge(want, on=["person_id", "ord"], how="inner").drop_duplicates("person_id")
    if a.empty:
        return pd.Series(dtype=object)
    return pd.Series(assign_profillage(a).to_numpy(), index=a["person_id"].to_numpy())


def _effect_records(pf: pd.DataFrame, kinds, segments: pd.Series | None, specs) -> list[dict]:
    recs = []
    cohort = pf[pf["in_cohort"]]
    seg = None if segments is None else cohort["person_id"].map(segments).to_numpy()
    # one mask per Profillage, not one per measure and estimand (object comparisons over the whole cohort)
    in_segment = {} if seg is None else {s: seg == s for s in S.PROFILLAGEN}
    for kind in kinds:
        diff = cohort[f"y_{kind}"] - cohort["y0"]
        treated = cohort["measure"] == kind
        ate_rows = (treated | (cohort["measure"] == "none")) & cohort[f"possible_{kind}"]
        for estimand, rows in (("att", treated), ("ate", ate_rows)):
            groups = [(None, rows)]
            groups += [(s, rows & mask) for s, mask in in_segment.items()]
            for segment, r in groups:
                n = int(r.sum())
                if n == 0:
                    continue
                recs.append({"measure": kind, "estimand": estimand, "outcome": "integration_12m",
                             "segment": segment, "value": round(float(diff[r].mean()), 6), "n": n,
                             "assumption": bool(specs[kind].assumption), "label": S.MEASURES[kind]})
    return recs


def _receipt_end_records(pf: pd.DataFrame, kinds, specs, outcome: str = "receipt_end_12m") -> list[dict]:
    """ATT and ATE of each measure on ending receipt (``receipt_end_12m``, potential outcomes ``e_``) or
    registered unemployment (``unemployment_exit_12m``, ``ux_``: over the persons at risk, unemployed at the
    landmark) within 12 months of the landmark (overall only)."""
    recs = []
    cohort = pf[pf["in_cohort"]]
    pre, base = ("e_", "e0") if outcome == "receipt_end_12m" else ("ux_", "ux0")
    at_risk = cohort[base].notna()
    for kind in kinds:
        diff = cohort[f"{pre}{kind}"] - cohort[base]
        treated = (cohort["measure"] == kind) & at_risk
        ate_rows = (treated | (cohort["measure"] == "none")) & cohort[f"possible_{kind}"] & at_risk
        for estimand, rows in (("att", treated), ("ate", ate_rows)):
            if rows.sum():
                recs.append({"measure": kind, "estimand": estimand, "outcome": outcome, "segment": None,
                             "value": round(float(diff[rows].mean()), 6), "n": int(rows.sum()),
                             "assumption": bool(specs[kind].assumption), "label": S.MEASURES[kind]})
    return recs


def _coverage_records(pf: pd.DataFrame, kinds) -> list[dict]:
    """The effect of meeting a need through the network, per need (the needs-coverage effect).

    At the index assessment: the mean of Y(kind) - Y(none) over cohort persons with the need (severity >= 1)
    who started a measure addressing it (ATT of covering the need), for integration and for the end of
    receipt. Referrals of the other assessments (casework.synth.referrals) carry no effect by construction.
    """
    cohort = pf[pf["in_cohort"]]
    recs = []
    for need in S.NEEDS:
        addressing = [k for k in kinds if S.MEASURE_NEED[k] == need]
        if not addressing:
            continue
        has = cohort[f"need_{need}"].to_numpy() >= 1
        covered = has & cohort["measure"].isin(addressing).to_numpy()
        if not covered.any():
            continue
        c = cohort[covered]
        for outcome, pre in (("integration_12m", "y"), ("receipt_end_12m", "e")):
            own = np.select([c["measure"].to_numpy() == m for m in addressing],
                            [c[f"{pre}_{m}"].to_numpy() for m in addressing], np.nan)
            recs.append({"need": need, "estimand": "att", "outcome": outcome, "when": "index_assessment",
                         "value": round(float(np.mean(own - c[f"{pre}0"].to_numpy())), 6),
                         "n": int(covered.sum()), "measures": addressing})
        recs.append({"need": need, "estimand": "att", "outcome": "integration_12m", "when": "other_assessments",
                     "value": 0.0, "n": None, "measures": addressing})
    return recs


def _did_records(scn: Scenario, did: dict) -> list[dict]:
    if not did or "counterfactual" not in did:
        return []
    recs, jc_ids = [], scn.jobcenters["jc_id"].tolist()
    groups = {}
    for proj in scn.projects:
        if proj.modifies:
            continue
        key = proj.project_id.split("_")[0] if proj.project_id.startswith("pankow") else proj.project_id
        lo, _ = project_window(scn, proj)
        g = groups.setdefault(key, {"jcs": set(proj.jc_ids), "start": lo, "names": []})
        g["start"] = min(g["start"], lo)
        g["names"].append(proj.name)
    for key, g in groups.items():
        if len(g["jcs"]) == len(jc_ids):
            continue  # no comparison jobcenters: DiD not defined
        rows = [jc_ids.index(j) for j in sorted(g["jcs"])]
        act, cf = did["actual"], did["counterfactual"]
        with np.errstate(invalid="ignore", divide="ignore"):
            r1 = act["integrations"][rows, g["start"]:] / act["stock"][rows, g["start"]:]
            r0 = cf["integrations"][rows, g["start"]:] / cf["stock"][rows, g["start"]:]
        ok = np.isfinite(r1) & np.isfinite(r0)
        recs.append({"project": key, "projects": g["names"], "jobcenters": sorted(g["jcs"]),
                     "start": str(scn.months[g["start"]].date()), "outcome": "monthly_integration_rate",
                     "value": round(float((r1 - r0)[ok].mean()), 6), "n_jobcenter_months": int(ok.sum())})
    return recs


def _hazard_records(pf: pd.DataFrame, kinds) -> list[dict]:
    recs = []
    for kind in kinds:
        t = pf[pf["measure"] == kind]
        if len(t) == 0:
            continue
        for phase, col in (("lockin", "tau_lockin"), ("post", "tau_post")):
            recs.append({"term": kind, "phase": phase, "value": round(float(np.exp(t[col].mean())), 6),
                         "scale": "odds ratio of the monthly integration hazard (discrete-time logit), "
                                  "exp(mean log-odds shift over the persons who received the measure)"})
    for term, coef in BETA.items():
        recs.append({"term": term, "phase": None, "value": round(float(np.exp(coef)), 6),
                     "scale": "odds ratio of the monthly integration hazard"})
    return recs


def _by_group(pf: pd.DataFrame, scn: Scenario) -> list[dict]:
    """Extra groupings: e.g. funded employment with and without state-funded coaching (NRW)."""
    out = []
    modifiers = [q for q in scn.projects if q.modifies]
    cohort = pf[pf["in_cohort"]]
    for q in modifiers:
        for spec in q.measures:
            treated = cohort["measure"] == spec.kind
            coached = cohort["jc_id"].isin(q.jc_ids) & (cohort["index_m"] >= project_window(scn, q)[0])
            for label, rows in (("with", treated & coached), ("without", treated & ~coached)):
                if rows.sum():
                    diff = cohort.loc[rows, f"y_{spec.kind}"] - cohort.loc[rows, "y0"]
                    out.append({"measure": spec.kind, "estimand": "att", "outcome": "integration_12m",
                                "group": f"{q.project_id}:{label}", "value": round(float(diff.mean()), 6),
                                "n": int(rows.sum())})
    return out


def truth_extract(pf: pd.DataFrame) -> pd.DataFrame:
    """The rows and columns of a chunk that the ground truth needs (cohort persons and the treated)."""
    keep = pf["in_cohort"].to_numpy() | ~pf["measure"].isin(["none"]).to_numpy() & pf["measure"].notna().to_numpy()
    cols = ["person_id", "jc_id", "index_m", "in_cohort", "measure", "y0", "e0", "ux0", "tau_lockin", "tau_post",
            *[f"need_{k}" for k in S.NEEDS],
            *[c for c in pf.columns if c.startswith(("y_", "e_", "ux_", "possible_"))]]
    return pf.loc[keep, cols]


def _caseload_parts(scn: Scenario, persons: int, counts: pd.Series | None) -> list[dict]:
    """The parts of standing caseloads (seed 004: about 900 market-distant long-term unemployed and about 600
    with health restrictions): who is eligible, places at a time and enrolments, scaled to the population."""
    from casework.synth.simulate import PART_RULES

    scale = persons / scn.default_persons
    counts = counts if counts is not None else pd.Series(dtype=int)
    return [{"project": q.project_id, "part": part.key, "label": part.label, "rule": PART_RULES[part.rule],
             "places": round(part.places * scale, 1), "intake": round(part.intake * scale, 1),
             "enrolled": int(counts.get(part.key, 0)),
             "in_data": "persons.health_restriction: True for the health part, False for the market-distant part"}
            for q in scn.projects for part in q.parts]


def ground_truth(scn: Scenario, pf: pd.DataFrame, segments: pd.Series | None, did: dict, *, seed: int,
                 persons: int, class_counts: pd.Series, part_counts: pd.Series | None = None) -> dict:
    """The ground-truth dictionary stored as ground_truth.json (``pf``: the concatenated truth extracts)."""
    specs = all_kinds(scn)
    kinds = list(specs)
    cohort = pf[pf["in_cohort"]]
    return {
        "scenario": scn.name,
        "label": scn.label,
        "seed": seed,
        "persons": persons,
        "window_months": WINDOW,
        "cohort_window": [str(pd.Timestamp(scn.cohort_start).date()), str(scn.cohort_end.date())],
        "horizon_months": HORIZON,
        "estimands": ESTIMANDS,
        "effects": (_effect_records(pf, kinds, segments, specs) + _receipt_end_records(pf, kinds, specs)
                    + _receipt_end_records(pf, kinds, specs, "unemployment_exit_12m")),
        "coverage": _coverage_records(pf, kinds),
        "effects_by_group": _by_group(pf, scn),
        "did": _did_records(scn, did),
        "caseload_parts": _caseload_parts(scn, persons, part_counts),
        "hazard_ratios": _hazard_records(pf, kinds),
        "measures": {k: {"label": S.MEASURES[k], "duration_months": s.duration, "lockin_logit": s.lockin,
                         "post_logit": s.post, "assumption": s.assumption} for k, s in specs.items()},
        "latent_classes": {"shares": (class_counts / class_counts.sum()).round(4).to_dict()},
        "cohort": {"persons": int(len(cohort)),
                   "treated": {k: int(v) for k, v in cohort["measure"].value_counts().items()},
                   "integration_12m_untreated": round(float(cohort.loc[cohort["measure"] == "none",
                                                                       "y0"].mean()), 4)},
        "confounding": scn.confounding,
        "segments_available": segments is not None,
        "notes": list(scn.notes),
    }


def truth_table(scn: Scenario, pf: pd.DataFrame) -> pd.DataFrame:
    """Person-level truth: latent class, confounder, propensities and potential outcomes."""
    kinds = list(all_kinds(scn))
    base = pd.Timestamp(scn.data_start).to_period("M")

    def month(col):
        m = pf[col].to_numpy()
        out = pd.PeriodIndex.from_ordinals(base.ordinal + np.maximum(m, 0), freq="M").to_timestamp()
        return pd.Series(out).where(m >= 0)

    integ = pf[[f"y_{k}" for k in kinds]]
    observed = np.where(pf["in_cohort"], np.where(pf["measure"] == "none", pf["y0"], pf["y1"]), np.nan)
    cols = {
        "person_id": pf["person_id"], "jc_id": pf["jc_id"], "latent_class": pf["latent_class_key"],
        "latent_class_label": pf["latent_class_label"], "u": pf["u"].round(6),
        "minor_children": pf["minor_children"].astype(bool),
        "index_month": month("index_m"), "landmark": month("landmark_m"), "in_cohort": pf["in_cohort"],
        "measure": pf["measure"], "enrolled_project": pf["enrolled_project_key"].replace("", None),
        "enrolled_part": pf["enrolled_part"].replace("", None),
        "propensity": pf["propensity"], "y0": pf["y0"], "y1": pf["y1"], "integration_12m": observed,
        "e0": pf["e0"], "e1": pf["e1"],
        "receipt_end_12m": np.where(pf["in_cohort"], np.where(pf["measure"] == "none", pf["e0"], pf["e1"]), np.nan),
        "ux0": pf["ux0"], "unemployment_exit_12m": pf["unemployment_exit_12m"],
        "tau_lockin": pf["tau_lockin"], "tau_post": pf["tau_post"],
        **{f"y_{k}": integ[f"y_{k}"] for k in kinds}, **{f"e_{k}": pf[f"e_{k}"] for k in kinds},
        **{f"ux_{k}": pf[f"ux_{k}"] for k in kinds},
        **{f"p_{k}": pf[f"p_{k}"] for k in kinds},
        **{f"possible_{k}": pf[f"possible_{k}"] for k in kinds},
    }
    return pd.DataFrame({k: (v.to_numpy() if hasattr(v, "to_numpy") else v) for k, v in cols.items()})
