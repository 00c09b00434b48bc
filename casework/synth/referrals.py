"""The referral process: at every assessment and plan update, needs are referred to the network's offers.

Besides the one treatment decision per person at the index assessment (:mod:`casework.synth.simulate`, the
measures whose effects the ground truth records), caseworkers refer a person's current needs to the local
network at every other assessment (every six months, the review of the plan). For each need with severity
1 or 2 an offer addressing it (``schema.MEASURE_NEED``) is sought among the offers open in the person's
jobcenter that month: the regular offers, the wider network (municipal mobility offers, Reha-Träger), the
offers of a project running in that jobcenter, and an enrolment-only project's offers for its enrolled
customers. The referral happens with probability

    logit p = REFERRAL_BASE[partner kind] + REFERRAL_SEVERITY * (severity - 1) + network_j
              + PROJECT_REFERRAL_UPLIFT (offer of a running project)

and starts 0-2 months later if the offer has a free place: each offer takes at most
``capacity / duration`` new participants a month (scaled with the population like project places); the others
stay referred without a start. So needs coverage varies by need, partner kind, jobcenter and project.

What keeps the causal design intact: the index assessment refers nothing here (its referral is the treatment
decision), and referrals of the other assessments start at least three months away from the index month, so
the treatment window [index month, landmark) only holds the index decision's start. These referrals carry no
effect on the integration hazard (ground truth: needs coverage outside the index decision has no effect on
integration, recorded as such in ``ground_truth["coverage"]``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from casework.synth.dates import date_in_month, scenario_month_start
from casework.synth.population import NEED_ORDER
from casework.synth.scenarios import PROJECT_REFERRAL_UPLIFT, REFERRAL_BASE, REFERRAL_SEVERITY, Scenario, project_key

__all__ = ["network_referrals"]

_NO_BACKGROUND = ("funded_employment",)  # programme places come by enrolment, not by a referral of a need


def _offer_frame(scn: Scenario, offers: pd.DataFrame, partners: pd.DataFrame) -> pd.DataFrame:
    """Offers with their jobcenter index, partner kind, open months, enrolment rule and monthly start quota."""
    from casework.synth.simulate import project_window

    o = offers.merge(partners[["partner_id", "jc_id", "kind"]], on="partner_id", how="left")
    o = o[~o["measure"].isin(_NO_BACKGROUND) & o["kind"].isin(list(REFERRAL_BASE))].reset_index(drop=True)
    jc_pos = {j: i for i, j in enumerate(scn.jobcenters["jc_id"])}
    o["jc_idx"] = o["jc_id"].map(jc_pos).astype(int)
    o["lo"], o["hi"], o["enrol_only"] = 0, len(scn.months) - 1, ""
    specs = {m.kind: m for m in (*scn.measures, *scn.network_offers)}
    for proj in scn.projects:
        if proj.modifies:
            continue
        lo, hi = project_window(scn, proj)
        for jc in proj.jc_ids:
            rows = o["project_id"] == project_key(proj, jc)
            o.loc[rows, ["lo", "hi"]] = lo, hi
            if proj.enrol_only:
                o.loc[rows, "enrol_only"] = project_key(proj, jc)
        specs.update({m.kind: m for m in proj.measures if m.kind not in specs})
    o["duration"] = o["measure"].map(lambda k: specs[k].duration).astype(int)
    o["base"] = o["kind"].map(REFERRAL_BASE) + np.where(o["project_id"].notna(), PROJECT_REFERRAL_UPLIFT, 0.0)
    return o


def network_referrals(scn: Scenario, pf: pd.DataFrame, rows: np.ndarray, month: np.ndarray, needs: dict,
                      offers: pd.DataFrame, partners: pd.DataFrame, rng, *, quota_scale: float) -> pd.DataFrame:
    """Referrals of current needs at the assessments ``(rows, month)`` (rows index ``pf``; ``needs``: severities).

    ``quota_scale`` is the fraction of an offer's places this chunk may fill (population scale x chunk share).
    Returns referrals without ``referral_id``: person_id, offer_id, referred_m, start_m (-1: not started),
    duration.
    """
    o = _offer_frame(scn, offers, partners)
    index_m = pf["index_m"].to_numpy()
    keep = month != index_m[rows]  # the index assessment's referral is the treatment decision
    a_rows, a_month = rows[keep], month[keep]
    sev = np.column_stack([np.asarray(needs[f"need_{k}"])[keep] for k in NEED_ORDER])
    cand_a, cand_k = np.nonzero(sev >= 1)
    if len(cand_a) == 0 or o.empty:
        return _empty()
    jc = pf["jc_idx"].to_numpy()[a_rows[cand_a]]
    enrolled = pf["enrolled_project_key"].to_numpy()[a_rows[cand_a]]
    m = a_month[cand_a]
    need_of_offer = o["need"].map({k: i for i, k in enumerate(NEED_ORDER)}).to_numpy()
    offer_pos = np.full(len(cand_a), -1)
    key = jc * len(NEED_ORDER) + cand_k
    groups = pd.Series(o.index).groupby(o["jc_idx"].to_numpy() * len(NEED_ORDER) + need_of_offer).apply(np.asarray)
    lo, hi, enrol = o["lo"].to_numpy(), o["hi"].to_numpy(), o["enrol_only"].to_numpy()
    for g, idx in pd.Series(np.arange(len(key))).groupby(key).indices.items():
        if g not in groups.index:
            continue
        cand = groups[g]
        open_ = ((m[idx, None] >= lo[cand][None, :]) & (m[idx, None] <= hi[cand][None, :])
                 & ((enrol[cand][None, :] == "") | (enrol[cand][None, :] == enrolled[idx, None])))
        score = np.where(open_, rng.random(open_.shape), -1.0)
        best = score.argmax(axis=1)
        offer_pos[idx] = np.where(score.max(axis=1) >= 0, cand[best], -1)
    found = offer_pos >= 0
    logit = (o["base"].to_numpy()[np.maximum(offer_pos, 0)] + REFERRAL_SEVERITY * (sev[cand_a, cand_k] - 1)
             + scn.jobcenters["network"].to_numpy()[jc])
    referred = found & (rng.random(len(found)) < 1 / (1 + np.exp(-logit)))
    r_a, r_offer, r_m = cand_a[referred], offer_pos[referred], m[referred]
    person = a_rows[r_a]
    start_m = r_m + rng.integers(0, 3, len(r_m))
    start_m = np.where(start_m < pf["leave_m"].to_numpy()[person], start_m, -1)  # still in receipt
    start_m = _capacity(o, r_offer, start_m, rng, quota_scale)
    return pd.DataFrame({"person_id": pf["person_id"].to_numpy()[person],
                         "offer_id": o["offer_id"].to_numpy()[r_offer], "referred_m": r_m, "start_m": start_m,
                         "duration": o["duration"].to_numpy()[r_offer]})


def _capacity(o: pd.DataFrame, offer: np.ndarray, start_m: np.ndarray, rng, quota_scale: float) -> np.ndarray:
    """Starts beyond an offer's monthly quota (capacity / duration, scaled) do not happen (start -1)."""
    quota = o["capacity"].to_numpy() / np.maximum(o["duration"].to_numpy(), 1) * quota_scale
    want = start_m >= 0
    order = rng.permutation(len(start_m))  # who gets the free places: random among the month's referrals
    key = pd.DataFrame({"o": offer[order], "m": start_m[order]})
    rank = np.empty(len(start_m), dtype=np.int64)
    rank[order] = key.groupby(["o", "m"], sort=False).cumcount().to_numpy()
    # fractional quotas (small populations): the last place is there with the fractional part's probability
    q = quota[offer]
    allowed = np.floor(q) + (rng.random(len(q)) < (q - np.floor(q)))
    return np.where(want & (rank < allowed), start_m, -1)


def _empty() -> pd.DataFrame:
    return pd.DataFrame({"person_id": pd.Series(dtype=object), "offer_id": pd.Series(dtype=object),
                         "referred_m": pd.Series(dtype=np.int64), "start_m": pd.Series(dtype=np.int64),
                         "duration": pd.Series(dtype=np.int64)})


def referral_rows(scn: Scenario, bg: pd.DataFrame, rng, data_end) -> pd.DataFrame:
    """The referrals table rows (without referral_id) of :func:`network_referrals`' output."""
    referred = date_in_month(scn, bg["referred_m"].to_numpy(), rng)
    started_ok = bg["start_m"].to_numpy() >= 0
    started = np.full(len(bg), np.datetime64("NaT"), dtype="datetime64[ns]")
    if started_ok.any():
        first = scenario_month_start(scn, bg["start_m"].to_numpy()[started_ok]).to_numpy()
        day = (rng.random(started_ok.sum()) * 28).astype("timedelta64[D]")
        started[started_ok] = np.maximum(first + day, referred[started_ok])
    ended = started + (bg["duration"].to_numpy() * 30.4).astype("timedelta64[D]")
    status = np.where(started_ok, np.where(rng.random(len(bg)) < 0.15, "dropped_out", "completed"),
                      "referred").astype(object)
    running = started_ok & (ended > np.datetime64(data_end))
    status[running] = "started"
    ended = np.where(running | ~started_ok, np.datetime64("NaT"), ended)
    return pd.DataFrame({"person_id": bg["person_id"].to_numpy(), "offer_id": bg["offer_id"].to_numpy(),
                         "referred": referred.astype("datetime64[ns]"), "started": started,
                         "ended": ended.astype("datetime64[ns]"), "status": status})

