"""Caseworkers, teams and who is responsible for whom (optional tables ``caseworkers`` and ``assignments``).

Every jobcenter has three teams (team keys ``T-<jc>-<team>``): **U25** for eLb under 25, **Ü25** for the
others, and beschäftigungsorientiertes **Fallmanagement** (FM, ``fallmanagement`` True) for persons with
multiple problems (DOMAIN.md 1.7: the extent of deficits in the key groups is an access criterion; here a share
``FM_SHARE`` of the latent class "multiple", an assumption). A project with a standing caseload (ABCaktiv,
seed 004: "Das Team betreut …" with Fallmanagement experience) has its own team, flagged Fallmanagement.

Team sizes follow the target Betreuungsschlüssel named when the SGB II was introduced: **1:75 for under-25s
and 1:150 for adults** (BT-Drs. 16/3953; Kleine Anfrage "Betreuungsschlüssel in den Arbeitsgemeinschaften und
Optionskommunen", DIE LINKE, 2007) and :data:`RATIO` ``"fm"`` = 1:75 for Fallmanagement (assumption: the
smaller caseload the FM concept asks for). The number of caseworkers of a team is its expected caseload in the
scenario's last year (the persons x the jobcenter's weight x the team's stock per person) divided by the ratio
(at least one), so the caseload per caseworker meets the target then and moves with the stock over the years.

A person is assigned at the start of receipt (or the data start) to a caseworker of their team drawn at random;
a new assignment starts when the team changes (turning 25, entering a standing project's care) and on a
caseworker change (turnover, on average every ``TURNOVER_MONTHS``; assumption). The last one ends with receipt.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from casework.synth.dates import scenario_month_start

__all__ = ["caseworker_table", "assignments", "RATIO", "FM_SHARE", "TEAMS"]

RATIO = {"u25": 75, "ue25": 150, "fm": 75, "project": 75}
TEAMS = ("u25", "ue25", "fm")
FM_SHARE = 0.6
TURNOVER_MONTHS = 30
#: persons of each team in receipt on 30.06. of the scenario's last year, per person generated (measured on the
#: demo scenarios, seed 1; ABCaktiv's customers are its own team): a jobcenter staffs each team for its caseload
_TEAM_STOCK = {
    "gelsenkirchen": {"u25": 0.051, "ue25": 0.199, "fm": 0.033},
    "pankow": {"u25": 0.048, "ue25": 0.179, "fm": 0.0365},
    "nrw_teilhabe": {"u25": 0.069, "ue25": 0.238, "fm": 0.048},
}
_DEFAULT_STOCK = {"u25": 0.065, "ue25": 0.23, "fm": 0.045}


def caseworker_table(scn, persons: int) -> pd.DataFrame:
    """caseworker_id, jc_id, team_id, fallmanagement for a population of ``persons``."""
    shares = _TEAM_STOCK.get(scn.name, _DEFAULT_STOCK)
    rows = []
    w = scn.jobcenters.set_index("jc_id")["weight"]
    w = w / w.sum()
    standing = [q for q in scn.projects if q.standing]
    for jc, weight in w.items():
        for team in TEAMS:
            n = max(1, int(round(persons * weight * shares[team] / RATIO[team])))
            rows += [(f"CW-{jc}-{team}-{i + 1:03d}", jc, f"T-{jc}-{team}", team == "fm") for i in range(n)]
        for q in standing:
            if jc in q.jc_ids:
                n = max(1, int(round(q.places * persons / scn.default_persons / RATIO["project"])))
                rows += [(f"CW-{jc}-{q.project_id}-{i + 1:03d}", jc, f"T-{jc}-{q.project_id}", True)
                         for i in range(n)]
    return pd.DataFrame(rows, columns=["caseworker_id", "jc_id", "team_id", "fallmanagement"])


def _team_members(caseworkers: pd.DataFrame) -> dict:
    return {team: ids.to_numpy() for team, ids in caseworkers.groupby("team_id")["caseworker_id"]}


def assignments(scn, pf: pd.DataFrame, caseworkers: pd.DataFrame, enrolments: pd.DataFrame, rng,
                benefit_end: np.ndarray) -> pd.DataFrame:
    """One row per person and responsibility: person_id, caseworker_id, start, end (empty while ongoing).

    ``benefit_end``: the last day of each person's receipt (NaT while ongoing), aligned with ``pf``.
    """
    n_m = len(scn.months)
    n = len(pf)
    lo = np.maximum(pf["entry_m"].to_numpy(), 0)
    hi = np.minimum(pf["leave_m"].to_numpy(), n_m)  # first month out of receipt
    year0 = pd.Timestamp(scn.data_start).year
    turn25 = (pf["birth_year"].to_numpy() + 25 - year0) * 12
    turnover = lo + rng.geometric(1 / TURNOVER_MONTHS, n)
    care = np.full(n, np.iinfo(np.int64).max)
    care_key = np.full(n, "", dtype=object)
    if len(enrolments):
        standing = [q.project_id for q in scn.projects if q.standing]
        e = enrolments[enrolments["project_id"].str.split("/").str[0].isin(standing)]
        rows_of = pd.Series(np.arange(n), index=pf["person_id"].to_numpy())
        r = rows_of.reindex(e["person_id"].to_numpy()).to_numpy()
        base = pd.Timestamp(scn.data_start).to_period("M").ordinal
        care[r] = e["start"].dt.to_period("M").array.asi8 - base
        care_key[r] = e["project_id"].str.split("/").str[0].to_numpy()
    # breakpoints inside (lo, hi): turning 25, entering the project's care, a caseworker change
    cuts = np.column_stack([lo, turn25, care, turnover, hi]).astype(np.int64)
    cuts = np.sort(np.clip(cuts, lo[:, None], hi[:, None]), axis=1)
    seg_lo, seg_hi = cuts[:, :-1], cuts[:, 1:]
    keep = seg_hi > seg_lo
    rows, k = np.nonzero(keep)
    s_m, e_m = seg_lo[rows, k], seg_hi[rows, k]
    fm = (pf["latent_class_key"].to_numpy() == "multiple") & (rng.random(n) < FM_SHARE)
    # team codes: the regular teams, then the standing projects; key = jobcenter x team
    names = [*TEAMS, *[q.project_id for q in scn.projects if q.standing]]
    team = np.where(s_m < turn25[rows], 0, np.where(fm[rows], 2, 1))
    care_code = pd.Series(care_key).map({k: i for i, k in enumerate(names)}).fillna(-1).to_numpy(dtype=int)
    team = np.where(s_m >= care[rows], care_code[rows], team)
    jc_idx = pf["jc_idx"].to_numpy()[rows]
    key = jc_idx * len(names) + team
    jc_ids = scn.jobcenters["jc_id"].to_numpy()
    members = _team_members(caseworkers)
    cw = np.empty(len(rows), dtype=object)
    u = rng.random(len(rows))
    order = np.argsort(key, kind="stable")
    uniq, first_pos = np.unique(key[order], return_index=True)
    for kv, idx in zip(uniq, np.split(order, first_pos[1:])):
        pool = members[f"T-{jc_ids[kv // len(names)]}-{names[kv % len(names)]}"]
        cw[idx] = pool[(u[idx] * len(pool)).astype(int)]
    start = scenario_month_start(scn, s_m).to_numpy()
    first = k == np.argmax(keep, axis=1)[rows]
    entry = pf["entry_date"].to_numpy()[rows]
    start = np.where(first, np.maximum(np.minimum(entry, start), entry), start)
    last = e_m >= hi[rows]
    end = np.where(last, benefit_end[rows], scenario_month_start(scn, np.minimum(e_m, n_m - 1)).to_numpy()
                   - np.timedelta64(1, "D"))
    return pd.DataFrame({"person_id": pf["person_id"].to_numpy()[rows], "caseworker_id": cw,
                         "start": start.astype("datetime64[ns]"), "end": end.astype("datetime64[ns]")})
