"""The monthly data-generating process and its potential outcomes.

Time runs in months ``m = 0 .. M-1`` from the scenario's data start.

Monthly integration hazard (discrete-time logit) of person *i* in month *m*::

    logit h_im = intercept + jc_effect_j + x_i'beta + confounding * u_i
                 + dd(m - entry_i) + calendar_m + outreach_jm + tau_i(m)

* ``dd(d) = -0.30 * log(1 + d/12)`` is negative duration dependence;
* ``outreach_jm`` is a project's uplift for all customers of its jobcenter
  while it runs (Pankow);
* ``tau_i(m)`` is the effect of the measure the person received:
  ``lockin * mult_i`` while participating, ``post * mult_i`` afterwards, and
  0 before the landmark (see below); ``mult_i`` is the heterogeneity
  multiplier (with / without the addressed need, market-near class x 0.7).

Treatment decision (one per person): at the *index assessment*, the
person's first scheduled assessment (every 6 months) inside the cohort
window, a person still in receipt and not integrated chooses a
measure kind (or none) by a multinomial logit over the kinds available in
that jobcenter and month: utility ``uptake_k + need_pull_k * need_k +
confounding * u_i`` plus Gumbel noise. Enrolment-only projects fill their
places (scaled to the population) among eligible persons first.

Landmark design (docs/estimands.md): participation starts 0-2 months after
the index month; the landmark is ``index + 3``. Effects act from the
landmark on, so whether a person survives to the landmark does not depend on
treatment. The outcome ``integration_12m`` is an integration in months
``landmark .. landmark + 11`` before any other exit. Potential outcomes under
every available kind and under no measure use the same uniform draw
(common random numbers), so the person-level effects are exact.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from casework.synth.population import CLASSES, NEED_ORDER
from casework.synth.scenarios import MeasureSpec, Scenario

__all__ = ["simulate_chunk", "ChunkResult", "WINDOW", "HORIZON", "OTHER_EXIT_HAZARD", "BETA"]

WINDOW = 3  # months from the index assessment to the landmark (treatment window)
HORIZON = 12  # outcome horizon in months after the landmark
OTHER_EXIT_HAZARD = 0.010  # monthly exits for other reasons (moves, pension, partner income)
NEED_ENDING_SHARE = 0.55  # integrations that end benefit receipt (assumption, DOMAIN.md 2.15)
TOPUP_MONTHS = 15  # mean months a top-up recipient ("Aufstocker") stays in receipt after integrating

#: Covariate effects on the logit of the monthly hazard (DOMAIN.md 3.1/3.3: each barrier
#: roughly halves the exit chance; missing vocational degree and motherhood about x0.67).
BETA = {
    "health_restriction": -0.55,
    "no_vocational": -0.40,
    "age_50_plus": -0.55,
    "age_under_25": 0.10,
    "german_none": -0.60,
    "german_basic": -0.30,
    "mother_child_under_3": -0.45,
    "single_parent": -0.30,
    "need_health_serious": -0.30,
    "need_addiction": -0.50,
    "need_psychosocial": -0.35,
    "need_motivation": -0.30,
    "need_debt": -0.15,
    "need_mobility": -0.20,
    "need_housing_serious": -0.25,
    "class_market_near": 0.30,
}


def barrier_terms(p: pd.DataFrame, year) -> dict[str, np.ndarray]:
    """The 0/1 terms that BETA weights, from a persons-with-needs frame (age in ``year``, or in ``draw_year``)."""
    if "draw_year" in p:
        year = p["draw_year"].to_numpy()
    age = year - p["birth_year"].to_numpy()
    return {
        "health_restriction": p["health_restriction"].to_numpy(),
        "no_vocational": (p["vocational"] == "none").to_numpy(),
        "age_50_plus": age >= 50,
        "age_under_25": age < 25,
        "german_none": (p["german_level"] == "none").to_numpy(),
        "german_basic": (p["german_level"] == "basic").to_numpy(),
        "mother_child_under_3": ((p["sex"] == "f") & p["children_under_3"]).to_numpy() & (age >= 18),
        "single_parent": p["single_parent"].to_numpy(),
        "need_health_serious": p["need_health"].to_numpy() == 2,
        "need_addiction": p["need_addiction"].to_numpy() >= 1,
        "need_psychosocial": p["need_psychosocial"].to_numpy() >= 1,
        "need_motivation": p["need_motivation"].to_numpy() >= 1,
        "need_debt": p["need_debt"].to_numpy() >= 1,
        "need_mobility": p["need_mobility"].to_numpy() >= 1,
        "need_housing_serious": p["need_housing"].to_numpy() == 2,
        "class_market_near": p["latent_class"].to_numpy() == CLASSES.index("market_near"),
    }


@dataclass
class ChunkResult:
    """Per-person simulation results for one chunk (arrays aligned with the chunk's rows)."""

    frame: pd.DataFrame  # person-level simulation outcome columns
    did: dict  # project_id -> (world_with, world_without) jc-month integration/stock arrays


def _month_index(scn: Scenario, date) -> int:
    start = pd.Timestamp(scn.data_start).to_period("M")
    return (pd.Timestamp(date).to_period("M") - start).n


def project_window(scn: Scenario, proj) -> tuple[int, int]:
    m_end = len(scn.months) - 1
    end = m_end if proj.end is None else min(m_end, _month_index(scn, proj.end))
    return _month_index(scn, proj.start), end


def _first_crossing(logit: np.ndarray, log_v: np.ndarray, at_risk_from: np.ndarray) -> np.ndarray:
    """First month where cumulative log-survival falls to log V (M if never)."""
    n, m = logit.shape
    cum = _cumulative_log_survival(np.array(logit, dtype=float), at_risk_from)
    hit = cum <= log_v[:, None]
    return np.where(hit.any(axis=1), hit.argmax(axis=1), m)


def _cumulative_log_survival(logit: np.ndarray, at_risk_from: np.ndarray) -> np.ndarray:
    """Running sum over months of log(1 - sigmoid(logit)), zero before ``at_risk_from``; overwrites ``logit``.

    In place because these are persons x months matrices: fresh arrays for every step cost three times the
    arithmetic (page faults), at a million persons several seconds.
    """
    out = np.logaddexp(0.0, logit, out=logit)
    np.negative(out, out=out)
    out[np.arange(out.shape[1])[None, :] < at_risk_from[:, None]] = 0.0
    return np.cumsum(out, axis=1, out=out)


#: The eligibility rules of caseload parts, in words (ground truth).
PART_RULES = {
    "abcaktiv_distant": "two years or more in receipt at enrolment, not of the market-near latent class, no "
                        "health restriction",
    "abcaktiv_health": "a placement-relevant health restriction",
}


def _eligible(rule: str, p: pd.DataFrame, dur_at_index: np.ndarray, index_year: np.ndarray) -> np.ndarray:
    cls = p["latent_class"].to_numpy()
    distant = (dur_at_index >= 24) & np.isin(cls, [CLASSES.index("multiple"), CLASSES.index("health")])
    if rule == "abcaktiv":
        # seed 004: market-distant long-term unemployed, or considerable health restrictions
        return distant | p["health_restriction"].to_numpy()
    if rule == "abcaktiv_distant":
        # the ~900: market-distant (not the market-near class) and long-term (two years or more in receipt); those
        # with a health restriction belong to the other part, so the parts are told apart in the data
        far = (dur_at_index >= 24) & (cls != CLASSES.index("market_near"))
        return far & ~p["health_restriction"].to_numpy()
    if rule == "abcaktiv_health":  # the ~600 "daneben": considerable health restrictions
        return p["health_restriction"].to_numpy()
    if rule == "teilhabe":
        # Förderrichtlinie "Soziale Teilhabe am Arbeitsmarkt" (DOMAIN.md 0.8): long-term unemployed aged 35 or
        # older, at least four years in receipt, with health restrictions or minor children in the
        # Bedarfsgemeinschaft (age in the year of the index assessment)
        age = index_year - p["birth_year"].to_numpy()
        kids = p["minor_children"].to_numpy()
        return (age >= 35) & (dur_at_index >= 48) & (kids | p["health_restriction"].to_numpy())
    return np.ones(len(p), dtype=bool)


class _Decider:
    """Chooses one measure kind per person at the index month (with common Gumbel draws)."""

    def __init__(self, scn: Scenario, p: pd.DataFrame, rng, scale: float):
        self.scn, self.p, self.scale = scn, p, scale
        self.kinds = all_kinds(scn)
        self.gumbel = rng.gumbel(size=(len(p), len(self.kinds) + 1))
        self.enrol_key = rng.random(len(p))
        self.jc = p["jc_idx"].to_numpy()
        self.jc_ids = scn.jobcenters["jc_id"].to_numpy()
        self.part = np.full(len(p), "", dtype=object)  # the part of a project's caseload a person was enrolled in

    def utilities(self) -> np.ndarray:
        util = np.empty((len(self.p), len(self.kinds)))
        u = self.p["u"].to_numpy() * self.scn.confounding
        for k, spec in enumerate(self.kinds.values()):
            need = self.p[f"need_{_need_of(spec)}"].to_numpy()
            util[:, k] = spec.uptake + spec.need_pull * need + u
        return util

    def available(self, t0: np.ndarray, decide: np.ndarray, with_projects: bool, dur: np.ndarray):
        """Who could receive each kind (positivity), who may choose it, enrolment and spec overrides.

        Returns ``(possible, choosable, enrolled, overrides)``. For enrolment-only
        projects every eligible person is *possible* (enrolment is a lottery among
        them, weighted by needs), but only the enrolled may *choose* the kind.
        """
        n = len(self.p)
        regular = {m.kind for m in self.scn.measures}
        possible = np.zeros((n, len(self.kinds)), dtype=bool)
        for k, kind in enumerate(self.kinds):
            possible[:, k] = kind in regular
        choosable = possible.copy()
        enrolled = np.full(n, "", dtype=object)
        overrides: dict = {}
        if not with_projects:
            return possible, choosable, enrolled, overrides
        for proj in self.scn.projects:
            lo, hi = project_window(self.scn, proj)
            active = decide & np.isin(self.jc_ids[self.jc], proj.jc_ids) & (t0 >= lo) & (t0 <= hi)
            if proj.modifies:
                rows = active & (enrolled == proj.modifies)
                for spec in proj.measures:
                    overrides.setdefault(spec.kind, []).append((rows, spec))
                continue
            may_choose = active
            if proj.enrol_only:
                year = pd.Timestamp(self.scn.data_start).year + np.maximum(t0, 0) // 12
                pool, may_choose = self._enrol_parts(proj, active, dur, year) if proj.parts else (
                    active & _eligible(proj.eligibility, self.p, dur, year), None)
                if may_choose is None:
                    may_choose = pool & self._enrol(proj, pool)
                enrolled[may_choose & (enrolled == "")] = proj.project_id
                active = pool
            for spec in proj.measures:
                k = list(self.kinds).index(spec.kind)
                possible[active, k] = True
                choosable[may_choose, k] = True
                if spec is not self.kinds[spec.kind]:
                    overrides.setdefault(spec.kind, []).append((may_choose, spec))
        return possible, choosable, enrolled, overrides

    def _enrol_parts(self, proj, active, dur, year):
        """Pool and enrolled of a project whose caseload has parts: each part fills its own intake among its
        eligible (a person in one part is not enrolled again in a later one); records ``part`` per person."""
        pool = np.zeros(len(self.p), dtype=bool)
        chosen = np.zeros(len(self.p), dtype=bool)
        for part in proj.parts:
            elig = active & _eligible(part.rule, self.p, dur, year)
            pool |= elig
            take = self._enrol(proj, elig & ~chosen, intake=part.intake)
            self.part[take] = part.key
            chosen |= take
        return pool, chosen

    def _enrol(self, proj, elig, intake=None) -> np.ndarray:
        """Fill the project's places (scaled) among eligible persons, weighted towards the neediest."""
        out = np.zeros(len(self.p), dtype=bool)
        need_score = self.p[[f"need_{k}" for k in NEED_ORDER]].to_numpy().sum(axis=1)
        score = 0.3 * need_score + self.scn.confounding * self.p["u"].to_numpy() - np.log(-np.log(self.enrol_key))
        places = proj.places_by_jc or {proj.jc_ids[0]: proj.places}
        for jc_id, n_places in places.items():
            idx = np.flatnonzero(elig & (self.jc_ids[self.jc] == jc_id))
            total = intake if intake is not None else (proj.places if proj.intake is None else proj.intake)
            quota = int(round(total * n_places / proj.places * self.scale * self.share))
            take = idx[np.argsort(-score[idx])[:quota]] if quota > 0 else idx[:0]
            out[take] = True
        return out

    share = 1.0  # the fraction of the population in this chunk (set by the caller)

    def choose(self, avail: np.ndarray, util: np.ndarray, decide: np.ndarray, enrolled: np.ndarray) -> np.ndarray:
        """Index of the chosen kind, -1 for none, -2 for no decision."""
        scores = np.where(avail, util + self.gumbel[:, 1:], -np.inf)
        best = scores.argmax(axis=1)
        none_wins = self.gumbel[:, 0] >= scores.max(axis=1)
        choice = np.where(none_wins, -1, best)
        for proj in self.scn.projects:
            if proj.enrol_only and len(proj.measures) == 1:  # e.g. a funded-employment place
                k = list(self.kinds).index(proj.measures[0].kind)
                choice = np.where(enrolled == proj.project_id, k, choice)
        return np.where(decide, choice, -2)


def _need_of(spec: MeasureSpec) -> str:
    from casework.schema import MEASURE_NEED

    return MEASURE_NEED[spec.kind]


def all_kinds(scn: Scenario) -> dict[str, MeasureSpec]:
    kinds = {m.kind: m for m in scn.measures}
    for proj in scn.projects:
        for m in proj.measures:
            kinds.setdefault(m.kind, m)
    return kinds


def simulate_chunk(scn: Scenario, p: pd.DataFrame, rng: np.random.Generator, *, scale: float,
                   share: float) -> ChunkResult:
    """Simulate one chunk of persons (``p`` from population.draw_persons plus jc_idx, entry)."""
    months = scn.months
    n_m = len(months)
    n = len(p)
    start = p["start_m"].to_numpy()
    entry = p["entry_m"].to_numpy()
    jc = p["jc_idx"].to_numpy()
    eta = linear_predictor(scn, p)
    cal = np.array([scn.calendar.get(m.strftime("%Y-%m"), 0.0) for m in months])
    cols = np.arange(n_m)
    dd = -0.30 * np.log1p(np.maximum(cols[None, :] - entry[:, None], 0) / 12.0)
    base = eta[:, None] + dd + cal[None, :]
    outreach_with = _outreach(scn, jc, n_m)
    log_v = np.log(rng.random(n))
    exit_other = start + rng.geometric(OTHER_EXIT_HAZARD, n)  # first month no longer in receipt
    need_ending = rng.random(n) < NEED_ENDING_SHARE
    topup_stay = rng.geometric(1 / TOPUP_MONTHS, n)  # months a top-up recipient stays in receipt after integrating
    assess_off = np.where(entry < 0, rng.integers(0, 6, n), rng.integers(0, 2, n))
    index_m = _draw_index(scn, start + assess_off, rng)
    part_lag = rng.integers(0, WINDOW, n)
    n_modules_u = rng.random(n)

    decider = _Decider(scn, p, rng, scale)
    decider.share = share
    util = decider.utilities()
    worlds = {}
    for world, with_proj in (("actual", True), ("counterfactual", False)):
        if world == "counterfactual" and not scn.projects:
            break
        logit0 = base + (outreach_with if with_proj else 0.0)
        t_base = _first_crossing(logit0, log_v, start)
        decide = (index_m >= 0) & (t_base >= index_m) & (exit_other > index_m)
        dur_at_index = np.where(decide, index_m - entry, 0) + p["benefit_months"].to_numpy()
        avail, choosable, enrolled, overrides = decider.available(index_m, decide, with_proj, dur_at_index)
        choice = decider.choose(choosable, util, decide, enrolled)
        tau, part = _tau_paths(scn, p, decider, choice, index_m, part_lag, n_modules_u, overrides, n_m)
        t_int = _first_crossing(logit0 + tau, log_v, start)
        worlds[world] = dict(logit0=logit0, t_base=t_base, decide=decide, avail=avail, choosable=choosable,
                             enrolled=enrolled,
                             choice=choice, part=part, t_int=t_int, overrides=overrides, tau=tau)

    act = worlds["actual"]
    frame = _person_outcomes(scn, p, decider, act, index_m, exit_other, need_ending, log_v, part_lag,
                             n_modules_u, start, assess_off, topup_stay)
    frame["leave_m"] = _leave_month(act["t_int"], exit_other, need_ending, topup_stay, n_m)
    frame["enrolled_part"] = np.where(act["enrolled"] != "", decider.part, "")
    did = _did_rates(scn, jc, start, exit_other, need_ending, topup_stay, worlds) if len(worlds) == 2 else {}
    return ChunkResult(frame=frame, did=did)


def linear_predictor(scn: Scenario, p: pd.DataFrame) -> np.ndarray:
    """The integration hazard's linear predictor (log-odds) of each person before any measure."""
    year = pd.Timestamp(scn.data_start).year
    terms = barrier_terms(p, year)
    eta = np.full(len(p), scn.intercept, dtype=float)
    for name, coef in BETA.items():
        eta += coef * terms[name]
    eta += scn.jobcenters["effect"].to_numpy()[p["jc_idx"].to_numpy()]
    eta += scn.confounding * p["u"].to_numpy()
    return eta


def _outreach(scn: Scenario, jc: np.ndarray, n_m: int) -> np.ndarray:
    out = np.zeros((len(jc), n_m))
    jc_ids = scn.jobcenters["jc_id"].to_numpy()
    for proj in scn.projects:
        if proj.outreach:
            lo, hi = project_window(scn, proj)
            rows = np.isin(jc_ids[jc], proj.jc_ids)
            out[np.ix_(rows, np.arange(lo, hi + 1))] += proj.outreach
    return out


def _draw_index(scn: Scenario, first_assess: np.ndarray, rng) -> np.ndarray:
    """The first scheduled assessment month (every 6 months) inside the cohort window, or -1.

    The first one, not a random one: an analyst can rebuild it from observed data
    without looking at the future (a random choice among observed assessments
    would depend on how long a person stays in receipt).
    """
    lo = _month_index(scn, scn.cohort_start)
    hi = _month_index(scn, scn.cohort_end)
    k = np.maximum(0, np.ceil((lo - first_assess) / 6)).astype(int)
    index = first_assess + 6 * k
    return np.where(index <= hi, index, -1)


def _multiplier(spec: MeasureSpec, p: pd.DataFrame) -> np.ndarray:
    has_need = p[f"need_{_need_of(spec)}"].to_numpy() >= 1
    mult = np.where(has_need, spec.with_need, spec.without_need)
    return mult * np.where(p["latent_class"].to_numpy() == CLASSES.index("market_near"), 0.7, 1.0)


def _spec_for(kind: str, decider: _Decider, overrides: dict, n: int) -> list[tuple[np.ndarray, MeasureSpec]]:
    """(rows, spec) pairs: project-specific variants override the default spec where they apply."""
    default = decider.kinds[kind]
    pairs = [(np.ones(n, dtype=bool), default)]
    for active, spec in overrides.get(kind, []):
        pairs.append((active, spec))
    return pairs


def _participation(spec: MeasureSpec, idx, part_lag, n_modules_u, scn: Scenario, rows):
    start = idx + part_lag
    lo, hi = spec.modules
    n_mod = lo + np.floor(n_modules_u * (hi - lo + 1)).astype(int)
    dur = spec.duration * n_mod
    if spec.kind == "funded_employment":
        ends = [(project_window(scn, q)[1]) for q in scn.projects if any(m.kind == spec.kind for m in q.measures)]
        if ends:
            dur = np.minimum(dur, np.maximum(max(ends) + 1 - start, 1))
    return start, dur, n_mod


def _tau_paths(scn, p, decider, choice, index_m, part_lag, n_modules_u, overrides, n_m):
    """Treatment-effect logits per person-month for the chosen kinds, plus participation info."""
    n = len(p)
    tau = np.zeros((n, n_m))
    part = {"start": np.full(n, -1), "dur": np.zeros(n, dtype=int), "n_mod": np.zeros(n, dtype=int),
            "lockin": np.zeros(n), "post": np.zeros(n)}
    for k, kind in enumerate(decider.kinds):
        for rows_spec, spec in _spec_for(kind, decider, overrides, n):
            rows = (choice == k) & rows_spec
            if not rows.any():
                continue
            _fill_tau(tau, part, spec, p, rows, index_m, part_lag, n_modules_u, scn)
    return tau, part


def _fill_tau(tau, part, spec, p, rows, index_m, part_lag, n_modules_u, scn):
    idx = np.flatnonzero(rows)
    start, dur, n_mod = _participation(spec, index_m[idx], part_lag[idx], n_modules_u[idx], scn, rows)
    mult = _multiplier(spec, p)[idx]
    cols = np.arange(tau.shape[1])[None, :]
    landmark = (index_m[idx] + WINDOW)[:, None]
    end = (start + dur)[:, None]
    during = (cols >= landmark) & (cols < end)
    after = (cols >= np.maximum(end, landmark))
    tau[idx] = np.where(during, spec.lockin * mult[:, None], 0.0) + np.where(after, spec.post * mult[:, None], 0.0)
    part["start"][idx], part["dur"][idx], part["n_mod"][idx] = start, dur, n_mod
    part["lockin"][idx], part["post"][idx] = spec.lockin * mult, spec.post * mult


def _potential(logit0, tau_k, log_v, landmark, exit_other, rows, start, leave_of):
    """Y = 1 if integration in [landmark, landmark+11] before the other exit (rows only).

    Also E = 1 if receipt ended within the 12 months from the landmark (``leave_of``: integration month -> first
    month out of receipt; ``leave <= landmark + 12``) and T, the month the survival crossed (the integration
    month if it is before the other exit and the data end; -1 outside ``rows``). Returns ``(Y, E, T)``.
    """
    idx = np.flatnonzero(rows)
    y = np.full(len(logit0), np.nan)
    e = np.full(len(logit0), np.nan)
    t_all = np.full(len(logit0), -1, dtype=np.int64)
    if len(idx) == 0:
        return y, e, t_all
    lg = logit0[idx]
    if tau_k is not None:
        lg += tau_k[idx]
    cum = _cumulative_log_survival(lg, start[idx])  # not yet at risk before start
    last = np.minimum(landmark[idx] + HORIZON - 1, exit_other[idx] - 1)
    y[idx] = (cum[np.arange(len(idx)), last] <= log_v[idx]).astype(float)
    hit = cum <= log_v[idx, None]
    t = np.where(hit.any(axis=1), hit.argmax(axis=1), cum.shape[1])
    e[idx] = (leave_of(t, idx) <= landmark[idx] + HORIZON).astype(float)
    t_all[idx] = t
    return y, e, t_all


def _person_outcomes(scn, p, decider, act, index_m, exit_other, need_ending, log_v, part_lag, n_modules_u,
                     start, assess_off, topup_stay) -> pd.DataFrame:
    n_m = len(scn.months)
    landmark = index_m + WINDOW
    t_int, decide, choice = act["t_int"], act["decide"], act["choice"]
    in_cohort = decide & (act["t_base"] >= landmark) & (exit_other > landmark)
    kinds = list(decider.kinds)
    out = {
        "first_assess_m": start + assess_off, "index_m": np.where(decide, index_m, -1),
        "landmark_m": np.where(decide, landmark, -1), "in_cohort": in_cohort,
        "measure": np.where(choice >= 0, np.asarray(kinds + ["none"], dtype=object)[np.maximum(choice, 0)],
                            np.where(choice == -1, "none", None)),
        "enrolled": act["enrolled"], "integration_m": np.where((t_int < exit_other) & (t_int < n_m), t_int, -1),
        "exit_other_m": exit_other, "need_ending": need_ending,
        "part_start_m": act["part"]["start"], "part_dur": act["part"]["dur"], "n_modules": act["part"]["n_mod"],
        "tau_lockin": act["part"]["lockin"], "tau_post": act["part"]["post"],
    }
    def leave_of(t, idx):
        return _leave_month(t, exit_other[idx], need_ending[idx], topup_stay[idx], n_m)

    out["y0"], out["e0"], out["t0"] = _potential(act["logit0"], None, log_v, landmark, exit_other, in_cohort, start,
                                                 leave_of)
    util = decider.utilities()
    probs = _choice_probs(util, act["choosable"])
    for k, kind in enumerate(kinds):
        rows = in_cohort & act["avail"][:, k]
        forced = np.where(rows, k, -2)
        tau_k, _ = _tau_paths(scn, p, decider, forced, index_m, part_lag, n_modules_u, act["overrides"], n_m)
        out[f"y_{kind}"], out[f"e_{kind}"], out[f"t_{kind}"] = _potential(
            act["logit0"], tau_k, log_v, landmark, exit_other, rows, start, leave_of)
        out[f"p_{kind}"] = np.where(decide, probs[:, k], np.nan)
    chosen = np.maximum(choice, 0)
    y_all = np.column_stack([out[f"y_{k}"] for k in kinds])
    out["y1"] = np.where(choice >= 0, y_all[np.arange(len(chosen)), chosen], np.nan)
    e_all = np.column_stack([out[f"e_{k}"] for k in kinds])
    out["e1"] = np.where(choice >= 0, e_all[np.arange(len(chosen)), chosen], np.nan)
    for k, kind in enumerate(kinds):
        out[f"possible_{kind}"] = act["avail"][:, k] & in_cohort
    out["propensity"] = np.where(choice >= 0, probs[np.arange(len(chosen)), chosen],
                                 np.where(decide, 1 - probs.sum(axis=1), np.nan))
    return pd.DataFrame(out)


def _choice_probs(util: np.ndarray, avail: np.ndarray) -> np.ndarray:
    """Multinomial-logit choice probabilities (none has utility 0)."""
    ex = np.where(avail, np.exp(np.clip(util, -50, 50)), 0.0)
    return ex / (1.0 + ex.sum(axis=1, keepdims=True))


def _leave_month(t_int, exit_other, need_ending, topup_stay, n_m) -> np.ndarray:
    """First month no longer in receipt: after a need-ending integration, after a top-up
    recipient's stay, or at another exit, whichever comes first."""
    integrated = (t_int < exit_other) & (t_int < n_m)
    after = np.where(need_ending, t_int + 1, t_int + 1 + topup_stay)
    return np.where(integrated, np.minimum(after, exit_other), exit_other)


def _did_rates(scn, jc, start, exit_other, need_ending, topup_stay, worlds) -> dict:
    """Jobcenter-month integrations and stock in the actual and the no-project world."""
    n_jc = len(scn.jobcenters)
    n_m = len(scn.months)
    res = {}
    for world, w in worlds.items():
        t = w["t_int"]
        integrated = (t < exit_other) & (t < n_m)
        leave = _leave_month(t, exit_other, need_ending, topup_stay, n_m)
        stock = np.zeros((n_jc, n_m + 1))
        np.add.at(stock, (jc, np.clip(start, 0, n_m)), 1)
        np.add.at(stock, (jc, np.clip(leave, 0, n_m)), -1)
        stock = np.cumsum(stock, axis=1)[:, :n_m]
        ints = np.zeros((n_jc, n_m))
        np.add.at(ints, (jc[integrated], t[integrated]), 1)
        res[world] = {"stock": stock, "integrations": ints}
    return res
