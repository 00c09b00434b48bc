"""Build the tables of the case data model from the simulated person frame."""

from __future__ import annotations

import numpy as np
import pandas as pd

from casework import schema as S
from casework.synth.amounts import benefit_amounts
from casework.synth.dates import date_in_month, dates_or_nat, ids, scenario_month_start
from casework.synth.instruments import instrument_spells
from casework.synth.population import NEED_ORDER, consistent_needs
from casework.synth.referrals import network_referrals, referral_rows
from casework.synth.scenarios import Scenario, project_key
from casework.synth.simulate import WINDOW, all_kinds
from casework.synth.staff import assignments, caseworker_table
from casework.synth.unemployment import unemployment_spells

__all__ = ["network_tables", "person_tables", "ids", "CHUNK_BASE"]

_MODULE_THEMES = ("Ernährung", "Bewegung", "Motivation")


#: Stock of the jobcenter whose network MeasureSpec.capacity describes, and the stock's share of all persons
#: generated over a scenario (about 7,500 of 20,000 in Gelsenkirchen).
REFERENCE_STOCK = 2000
STOCK_FRACTION = 0.37

#: Keys of the person-level tables are unique across chunks: chunk i numbers from i * CHUNK_BASE.
CHUNK_BASE = 10**8


def network_tables(scn: Scenario, persons: int | None = None) -> dict[str, pd.DataFrame]:
    """The tables that do not depend on persons' draws: jobcenters, projects, partners, offers, caseworkers (their
    number follows the population size ``persons``, default the scenario's)."""
    persons = persons or scn.default_persons
    return {"jobcenters": scn.jobcenters[["jc_id", "name", "land", "region_type", "comparison_type"]].copy(),
            "projects": _projects(scn), **_network(scn),
            "caseworkers": caseworker_table(scn, persons)}


def person_tables(scn: Scenario, pf: pd.DataFrame, rng: np.random.Generator, network: dict,
                  chunk: int = 0, quota_scale: float = 1.0) -> dict[str, pd.DataFrame]:
    """The person-level tables of one chunk (``pf``: persons with simulation results), and under ``"_truth"``
    person-level ground truth made with them (the potential outcomes of unemployment exit), aligned with ``pf``.

    ``quota_scale``: the share of the offers' places this chunk fills (population scale x chunk share).
    """
    n_m = len(scn.months)
    data_end = pd.Timestamp(scn.data_end)
    base = chunk * CHUNK_BASE
    pf = pf.assign(entry_date=date_in_month(scn, pf["entry_m"].to_numpy(), rng))
    assessments, a_rows, a_month, a_needs = _assessments(scn, pf, rng, n_m, base)
    out = {"persons": _persons(scn, pf, rng), "assessments": assessments}
    process = network_referrals(scn, pf, a_rows, a_month, a_needs, network["offers"], network["partners"], rng,
                                quota_scale=quota_scale)
    referrals, steps_src = _referrals(scn, pf, network["offers"], network["partners"], rng, data_end, base,
                                      extra=referral_rows(scn, process, rng, data_end))
    out["referrals"] = referrals
    out["plans"], out["plan_steps"] = _plans(scn, pf, steps_src, rng, a_rows, a_month, base)
    out["contacts"] = _contacts(scn, pf, rng, n_m, base)
    out["employment"] = _employment(scn, pf, rng, n_m, data_end, base)
    out["enrolments"] = _enrolments(scn, pf, data_end, base)
    out["benefits"] = _benefits(scn, pf, rng, n_m, base)
    kinds = list(all_kinds(scn))
    out["unemployment"], out["_truth"] = unemployment_spells(scn, pf, rng, data_end, base=base, kinds=kinds)
    out.update(_case_model(scn, pf, np.random.default_rng(rng.integers(2**63)), network, out, data_end, base))
    return out


def _case_model(scn, pf, rng, network, out, data_end, base) -> dict[str, pd.DataFrame]:
    """The optional tables of the case model: amounts, instruments (with their funded jobs), assignments.

    Their own generator (one draw of the chunk's): the tables before them stay what they were without them.
    """
    region = scn.jobcenters["region_type"].to_numpy()[pf["jc_idx"].to_numpy()]
    instruments, employment = instrument_spells(scn, pf, out["employment"], rng, data_end, base=base)
    benefit_end = out["benefits"]["end"].to_numpy()  # one spell per person, in pf's order
    return {"benefit_amounts": benefit_amounts(scn, pf, rng, region=region), "instruments": instruments,
            "employment": employment,
            "assignments": assignments(scn, pf, network["caseworkers"], out["enrolments"], rng, benefit_end)}


# ---------------------------------------------------------------- network
def _projects(scn: Scenario) -> pd.DataFrame:
    rows = []
    for proj in scn.projects:
        end = pd.Timestamp(proj.end) if proj.end else pd.NaT
        if len(proj.jc_ids) == 1:
            rows.append((proj.project_id, proj.jc_ids[0], proj.name, pd.Timestamp(proj.start), end,
                         proj.target_group, proj.places))
            continue
        for jc in proj.jc_ids:
            rows.append((f"{proj.project_id}/{jc}", jc, proj.name, pd.Timestamp(proj.start), end, proj.target_group,
                         int(proj.places_by_jc.get(jc, 0))))
    cols = ["project_id", "jc_id", "name", "start", "end", "target_group", "places"]
    return pd.DataFrame(rows, columns=cols).astype({"start": "datetime64[ns]", "end": "datetime64[ns]",
                                                    "places": "int64"})


def _offer_name(spec, i: int) -> str:
    label = S.MEASURES[spec.kind]
    if spec.kind == "health_module":
        return f"Modul {i + 1}: {_MODULE_THEMES[i % 3]}"
    return label if spec.offers == 1 else f"{label} {i + 1}"


def _network(scn: Scenario) -> dict[str, pd.DataFrame]:
    partners, offers = [], []
    jc_names = dict(zip(scn.jobcenters["jc_id"], scn.jobcenters["name"]))

    seen = set()
    # a jobcenter's regular network grows with its caseload (assumption: the capacities of MeasureSpec are those of
    # a jobcenter with REFERENCE_STOCK eLb); project offers keep the places their source gives
    w = scn.jobcenters.set_index("jc_id")["weight"]
    size = (w / w.sum() * scn.default_persons * STOCK_FRACTION / REFERENCE_STOCK).to_dict()

    def add(jc, spec, project_id):
        short = jc_names[jc].replace("Jobcenter ", "")
        tag = "p" if project_id else "r"
        own_partner = spec.kind == "neighbourhood_centre"  # every neighbourhood centre is its own partner
        for i in range(spec.offers):
            pid = f"PA-{jc}-{spec.kind}-{tag}{i + 1 if own_partner else 1}"
            if pid not in seen:  # a partner serves every phase of a project
                seen.add(pid)
                suffix = f" {i + 1}" if own_partner else ""
                partners.append((pid, jc, f"{S.PARTNER_KINDS[spec.partner_kind]} {short}{suffix}", spec.partner_kind))
            capacity = spec.capacity if project_id else max(1, round(spec.capacity * size[jc]))
            offers.append((f"OF-{jc}-{spec.kind}-{project_id or 'r'}-{i + 1:02d}", pid, project_id,
                           _offer_name(spec, i), spec.kind, S.MEASURE_NEED[spec.kind], capacity))

    for jc in scn.jobcenters["jc_id"]:
        for spec in (*scn.measures, *scn.network_offers):
            add(jc, spec, None)
    for proj in scn.projects:
        if proj.modifies:
            continue
        for jc in proj.jc_ids:
            for spec in proj.measures:
                add(jc, spec, project_key(proj, jc))
    part = pd.DataFrame(partners, columns=["partner_id", "jc_id", "name", "kind"])
    off = pd.DataFrame(offers, columns=["offer_id", "partner_id", "project_id", "name", "measure", "need", "capacity"])
    return {"partners": part, "offers": off.astype({"capacity": "int64"})}


# ---------------------------------------------------------------- persons
def _persons(scn, pf, rng) -> pd.DataFrame:
    entry = pf["entry_date"].to_numpy()
    dur_before = np.maximum(-pf["entry_m"].to_numpy(), 0)
    unemp = np.where(dur_before > 0, np.round(dur_before * rng.uniform(0.5, 0.95, len(pf))),
                     rng.integers(0, 13, len(pf))).astype("int64")
    return pd.DataFrame({
        "person_id": pf["person_id"].to_numpy(),
        "jc_id": scn.jobcenters["jc_id"].to_numpy()[pf["jc_idx"].to_numpy()],
        "entry_date": entry,
        "birth_year": pf["birth_year"].astype("int64").to_numpy(),
        "sex": pf["sex"].to_numpy(), "citizenship": pf["citizenship"].to_numpy(),
        "german_level": pf["german_level"].to_numpy(),
        "single_parent": pf["single_parent"].astype(bool).to_numpy(),
        "children_under_3": pf["children_under_3"].astype(bool).to_numpy(),
        "school": pf["school"].to_numpy(), "vocational": pf["vocational"].to_numpy(),
        "benefit_months": pf["benefit_months"].astype("int64").to_numpy(),
        "unemployment_months": unemp,
        "health_restriction": pf["health_restriction"].astype(bool).to_numpy(),
        "disability": pf["disability"].astype(bool).to_numpy(),
        "bg_id": pf["bg_id"].to_numpy(),
    })


def _assessments(scn, pf, rng, n_m, base=0) -> pd.DataFrame:
    first = pf["first_assess_m"].to_numpy()
    last = np.minimum(pf["leave_m"].to_numpy(), n_m) - 1
    count = np.where(first <= last, (last - first) // 6 + 1, 0)
    rows = np.repeat(np.arange(len(pf)), count)
    k = np.arange(len(rows)) - np.repeat(np.cumsum(count) - count, count)
    month = first[rows] + 6 * k
    landmark = pf["landmark_m"].to_numpy()[rows]
    after = (landmark >= 0) & (month >= landmark)
    steps_after = np.where(after, (month - landmark) // 6 + 1, 0)
    measure = pf["measure"].to_numpy()[rows]
    needs = {}
    for need in NEED_ORDER:
        sev0 = pf[f"need_{need}"].to_numpy()[rows].astype(np.int16)
        addressed = np.isin(measure, [m for m, n in S.MEASURE_NEED.items() if n == need])
        p_drop = 1 - (1 - np.where(addressed, 0.30, 0.10)) ** steps_after
        drop = (rng.random(len(rows)) < p_drop).astype(np.int16)
        needs[f"need_{need}"] = np.maximum(sev0 - drop, 0)
    cov = {c: pf[c].to_numpy()[rows] for c in ("vocational", "school", "health_restriction", "disability",
                                               "minor_children")}
    needs = {k: v.astype("int64") for k, v in consistent_needs(needs, cov).items()}  # key groups >= sub-needs
    eta12 = pf["p12"].to_numpy()[rows]
    horizon = (eta12 > 0.28) ^ (rng.random(len(rows)) < 0.12)
    strengths = rng.binomial(5, np.where(pf["latent_class"].to_numpy()[rows] == 0, 0.55, 0.3)).astype("int64")
    return pd.DataFrame({
        "assessment_id": ids("A", len(rows), start=base, width=10),
        "person_id": pf["person_id"].to_numpy()[rows],
        "date": date_in_month(scn, month, rng),
        **needs,
        "strengths": strengths,
        "horizon_12m": horizon.astype(bool),
        "profillage": pd.Series([None] * len(rows), dtype=object),
    }), rows, month, needs


def _referrals(scn, pf, offers, partners, rng, data_end, base=0, extra=None):
    jc_of_partner = dict(zip(partners["partner_id"], partners["jc_id"]))
    offers = offers.assign(jc_id=offers["partner_id"].map(jc_of_partner))
    treated = pf.index[pf["measure"].notna() & (pf["measure"] != "none")]
    t = pf.loc[treated]
    n_mod = np.maximum(t["n_modules"].to_numpy(), 1)
    rows = np.repeat(np.arange(len(t)), n_mod)
    j = np.arange(len(rows)) - np.repeat(np.cumsum(n_mod) - n_mod, n_mod)
    mod_len = (t["part_dur"].to_numpy() // n_mod)[rows]
    start_m = t["part_start_m"].to_numpy()[rows] + j * mod_len
    end_m = start_m + np.maximum(mod_len, 1)
    offer_id = _pick_offers(t, rows, j, offers, rng)
    started = date_in_month(scn, start_m, rng)
    referred = started - rng.integers(3, 28, len(rows)).astype("timedelta64[D]")
    index_date = scenario_month_start(scn, t["index_m"].to_numpy()[rows]).to_numpy()
    referred = np.maximum(referred, index_date)
    ended = started + (np.maximum(end_m - start_m, 1) * 30.4).astype("timedelta64[D]")
    integ = t["integration_m"].to_numpy()[rows]
    integ_date = np.where(integ >= 0, scenario_month_start(scn, np.maximum(integ, 0)).to_numpy(), np.datetime64("NaT"))
    cut = (integ >= 0) & (integ_date < ended) & (integ_date > started)
    ended = np.where(cut, integ_date, ended)
    drop = rng.random(len(rows)) < 0.12
    status = np.where(drop, "dropped_out", "completed").astype(object)
    running = ended > np.datetime64(data_end)
    status[running] = "started"
    ended = np.where(running, np.datetime64("NaT"), ended)
    ref = pd.DataFrame({"person_id": t["person_id"].to_numpy()[rows], "offer_id": offer_id,
                        "referred": referred.astype("datetime64[ns]"), "started": started,
                        "ended": ended.astype("datetime64[ns]"), "status": status})
    noshow = _no_shows(scn, pf, offers, rng)
    ref = pd.concat([ref, noshow, *([extra] if extra is not None and len(extra) else [])], ignore_index=True)
    ref.insert(0, "referral_id", ids("R", len(ref), start=base, width=10))
    steps_src = ref.assign(jc=None)
    return ref, steps_src


def _pick_offers(t, rows, j, offers, rng) -> np.ndarray:
    """The offer each participation row uses: same jobcenter and kind, the enrolled project's offers first;
    consecutive modules of one person go to consecutive offers."""
    jc = t["jc_id"].to_numpy()[rows]
    kind = t["measure"].to_numpy()[rows]
    proj = t["enrolled_project_key"].to_numpy()[rows]
    out = np.empty(len(rows), dtype=object)
    key = pd.Series([f"{a}|{b}|{c}" for a, b, c in zip(jc, kind, proj)])
    # one pass over the offers instead of a scan per group (400 jobcenters x kinds per chunk)
    offer_ids, projects = offers["offer_id"].to_numpy(), offers["project_id"].to_numpy()
    groups = offers.groupby(["jc_id", "measure"], sort=False).indices
    by_jc_kind = {k: (offer_ids[i], projects[i]) for k, i in groups.items()}
    nothing = np.array([], dtype=object)
    for k, idx in key.groupby(key).groups.items():
        jc_id, measure, project = k.split("|")
        cand, cand_project = by_jc_kind.get((jc_id, measure), (nothing, nothing))
        own = cand[cand_project == project] if project else cand[pd.isna(cand_project)]
        pool = own if len(own) else cand
        idx = np.asarray(idx)
        out[idx] = pool[(j[idx] + rng.integers(0, len(pool), len(idx))) % len(pool)]
    return out


def _no_shows(scn, pf, offers, rng) -> pd.DataFrame:
    """Referrals that were never started (part of the untreated group: treatment = a start)."""
    cand = pf.index[(pf["measure"] == "none") & (rng.random(len(pf)) < 0.05)]
    c = pf.loc[cand]
    regular = offers[offers["project_id"].isna()]
    by_jc = regular.groupby("jc_id")["offer_id"].apply(np.asarray)
    offer = [by_jc[j][rng.integers(0, len(by_jc[j]))] for j in c["jc_id"]]
    referred = date_in_month(scn, c["index_m"].to_numpy(), rng)
    return pd.DataFrame({"person_id": c["person_id"].to_numpy(), "offer_id": np.asarray(offer, dtype=object),
                         "referred": referred, "started": pd.NaT, "ended": pd.NaT,
                         "status": "no_show"}).astype({"started": "datetime64[ns]", "ended": "datetime64[ns]"})


def _plans(scn, pf, referrals, rng, a_rows, a_month, base=0):
    """A plan at every assessment: agreed after the first, reviewed and updated at each later one (every six
    months, DOMAIN.md 7.6). Eingliederungsvereinbarung until 30.06.2023, Kooperationsplan from 01.07.2023
    (§ 15 SGB II as of the Bürgergeld-Gesetz; § 65 Abs. 4: no new EinV after 30.06.2023)."""
    order = np.lexsort((a_month, a_rows))
    rows, month = a_rows[order], a_month[order]
    date = date_in_month(scn, month, rng)
    kind = np.where(date >= np.datetime64("2023-07-01"), "kooperationsplan", "eingliederungsvereinbarung")
    plans = pd.DataFrame({"plan_id": ids("PL", len(rows), start=base, width=10),
                          "person_id": pf["person_id"].to_numpy()[rows],
                          "date": date, "kind": kind.astype(object),
                          "valid_until": (date + np.timedelta64(182, "D")).astype("datetime64[ns]")})
    started = referrals[referrals["started"].notna()]
    # a step belongs to the plan in force when the offer was arranged (the latest plan up to the referral)
    in_force = pd.merge_asof(started[["person_id", "referred"]].reset_index().sort_values("referred"),
                             plans[["person_id", "date", "plan_id"]].sort_values("date"), left_on="referred",
                             right_on="date", by="person_id", direction="backward").set_index("index")
    steps = pd.DataFrame({
        "plan_id": in_force["plan_id"].reindex(started.index).to_numpy(),
        "step": "Teilnahme am vereinbarten Netzwerkangebot",
        "due": started["started"].to_numpy(),
        "status": np.where(started["status"].isin(["completed", "started"]), "done", "cancelled").astype(object),
        "offer_id": started["offer_id"].to_numpy(),
    })
    generic = pd.DataFrame({"plan_id": plans["plan_id"].to_numpy(), "step": "Eigenbemühungen um Arbeit",
                            "due": plans["valid_until"].to_numpy(),
                            "status": np.where(rng.random(len(plans)) < 0.7, "done", "open").astype(object),
                            "offer_id": None})
    steps = pd.concat([generic, steps[steps["plan_id"].notna()]], ignore_index=True)
    steps.insert(0, "step_id", ids("ST", len(steps), start=base, width=10))
    return plans, steps


def _contacts(scn, pf, rng, n_m, base=0) -> pd.DataFrame:
    start = pf["start_m"].to_numpy()
    last = np.minimum(pf["leave_m"].to_numpy(), n_m) - 1
    months = np.maximum(last - start + 1, 0)
    count = rng.poisson(months / 4.0)
    rows = np.repeat(np.arange(len(pf)), count)
    month = start[rows] + np.floor(rng.random(len(rows)) * months[rows]).astype(int)
    kind = rng.choice(list(S.CONTACT_KINDS), size=len(rows), p=[0.74, 0.05, 0.11, 0.10])
    return pd.DataFrame({"contact_id": ids("C", len(rows), start=base, width=10),
                         "person_id": pf["person_id"].to_numpy()[rows],
                         "date": date_in_month(scn, month, rng), "kind": kind.astype(object)})


def _employment(scn, pf, rng, n_m, data_end, base=0) -> pd.DataFrame:
    integ = pf.index[pf["integration_m"] >= 0]
    t = pf.loc[integ]
    start = date_in_month(scn, t["integration_m"].to_numpy(), rng)
    kind = rng.choice(["svb", "training", "self_employed"], size=len(t), p=[0.85, 0.07, 0.08])
    months = rng.geometric(1 / 24, len(t))
    end = start + (months * 30.4).astype("timedelta64[D]")
    spells = [pd.DataFrame({"person_id": t["person_id"].to_numpy(), "start": start, "end": end,
                            "kind": kind.astype(object), "need_ending": t["need_ending"].to_numpy().astype(bool)})]
    funded = pf.index[pf["measure"] == "funded_employment"]
    f = pf.loc[funded]
    f_start = date_in_month(scn, f["part_start_m"].to_numpy(), rng)
    f_end = f_start + (f["part_dur"].to_numpy() * 30.4).astype("timedelta64[D]")
    spells.append(pd.DataFrame({"person_id": f["person_id"].to_numpy(), "start": f_start, "end": f_end,
                                "kind": "funded_programme", "need_ending": False}))
    mini = pf.index[rng.random(len(pf)) < 0.08]
    mm = pf.loc[mini]
    lo = mm["start_m"].to_numpy()
    hi = np.minimum(mm["leave_m"].to_numpy(), n_m)
    ok = hi > lo
    m_start = dates_or_nat(scn, lo + np.floor(rng.random(len(mm)) * np.maximum(hi - lo, 1)).astype(int), ok, rng)
    spells.append(pd.DataFrame({"person_id": mm["person_id"].to_numpy()[ok], "start": m_start[ok],
                                "end": m_start[ok] + (rng.geometric(1 / 8, ok.sum()) * 30.4).astype("timedelta64[D]"),
                                "kind": "minijob", "need_ending": False}))
    emp = pd.concat(spells, ignore_index=True)
    emp["end"] = emp["end"].where(emp["end"] <= data_end)
    emp = emp.astype({"start": "datetime64[ns]", "end": "datetime64[ns]"})
    emp.insert(0, "spell_id", ids("E", len(emp), start=base, width=10))
    return emp[["spell_id", "person_id", "start", "end", "kind", "need_ending"]]


def _enrolments(scn, pf, data_end, base=0) -> pd.DataFrame:
    e = pf[pf["enrolled_project"] != ""]
    start = scenario_month_start(scn, e["index_m"].to_numpy()).to_numpy()
    end_m = np.maximum(e["part_start_m"].to_numpy() + e["part_dur"].to_numpy(), e["index_m"].to_numpy() + WINDOW)
    standing = np.isin(e["enrolled_project"].to_numpy(), [q.project_id for q in scn.projects if q.standing])
    end_m = np.where(standing, e["leave_m"].to_numpy(), end_m)  # in care until integration or exit
    end = scenario_month_start(scn, end_m).to_numpy() - np.timedelta64(1, "D")
    still_in = standing & (e["leave_m"].to_numpy() >= len(scn.months))
    end = np.where((end > np.datetime64(data_end)) | still_in, np.datetime64("NaT"), end)
    return pd.DataFrame({"enrolment_id": ids("EN", len(e), start=base, width=10),
                         "person_id": e["person_id"].to_numpy(),
                         "project_id": e["enrolled_project_key"].to_numpy(),
                         "start": start.astype("datetime64[ns]"), "end": end.astype("datetime64[ns]")})


def _benefits(scn, pf, rng, n_m, base=0) -> pd.DataFrame:
    entry = pf["entry_date"].to_numpy()
    leave = pf["leave_m"].to_numpy()
    last_day = scenario_month_start(scn, np.minimum(leave, n_m - 1)).to_numpy() - np.timedelta64(1, "D")
    end = np.where(leave < n_m, last_day, np.datetime64("NaT"))
    end = np.where((leave < n_m) & (end < entry), entry, end)
    return pd.DataFrame({"spell_id": ids("B", len(pf), start=base, width=10),
                         "person_id": pf["person_id"].to_numpy(),
                         "start": entry.astype("datetime64[ns]"), "end": end.astype("datetime64[ns]")})
