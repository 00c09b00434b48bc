"""Persons: a true latent need class, covariates and needs, calibrated to DOMAIN.md section 8.

Data-generating process
-----------------------
Each person belongs to one of five latent need classes (shares ``CLASS_SHARES``).
Given the class, the twelve needs are drawn independently (local
independence, as a latent class model assumes): need >= 1 with probability
``P_ANY[class, need]``, serious (2) with probability ``P_SERIOUS`` given any
need. Covariates (sex, age, citizenship, German, children, school and
vocational qualification, health restriction, disability, benefit duration)
depend on the class. Calibration targets (DOMAIN.md 3 and 8): health
restriction about 45 %, no vocational qualification about 55-60 %, debt
problems about 25 %, addiction about 10 %, psychosocial problems about 23 %,
non-German about 45 %, two or more barriers about 75 %.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from casework.schema import SUB_NEED_GROUP

__all__ = ["CLASSES", "CLASS_LABELS", "CLASS_SHARES", "NEED_ORDER", "NON_GERMAN_BY_YEAR", "draw_persons",
           "consistent_needs", "non_german_share"]

CLASSES = ("market_near", "health", "family", "language_qualification", "multiple")
CLASS_LABELS = {
    "market_near": "Marktnah (kaum Bedarfe)",
    "health": "Gesundheitliche Einschränkungen",
    "family": "Familiäre Bindung (Kinder, Pflege)",
    "language_qualification": "Sprache und Qualifikation",
    "multiple": "Mehrfache Problemlagen (Schulden, Sucht, Wohnen)",
}
CLASS_SHARES = np.array([0.24, 0.24, 0.14, 0.20, 0.18])

NEED_ORDER = ("qualification", "health", "motivation", "framework", "childcare", "care_duties", "housing",
              "debt", "addiction", "mobility", "language", "psychosocial")

# P(need >= 1 | class): rows = classes, columns = NEED_ORDER
P_ANY = np.array([
    # qual  hlth  motv  frame child care  hous  debt  addi  mobi  lang  psych
    [0.15, 0.08, 0.12, 0.10, 0.05, 0.03, 0.04, 0.05, 0.01, 0.10, 0.10, 0.03],  # market_near
    [0.45, 0.95, 0.35, 0.40, 0.05, 0.05, 0.10, 0.20, 0.15, 0.35, 0.10, 0.40],  # health
    [0.45, 0.15, 0.15, 0.95, 0.90, 0.35, 0.15, 0.20, 0.02, 0.40, 0.20, 0.10],  # family
    [0.95, 0.12, 0.20, 0.30, 0.15, 0.05, 0.15, 0.10, 0.02, 0.25, 0.95, 0.10],  # language_qualification
    [0.70, 0.80, 0.75, 0.95, 0.10, 0.05, 0.65, 0.90, 0.38, 0.30, 0.15, 0.75],  # multiple
])
P_SERIOUS = np.array([
    [0.20, 0.20, 0.20, 0.20, 0.30, 0.30, 0.20, 0.20, 0.20, 0.20, 0.20, 0.20],
    [0.50, 0.75, 0.30, 0.30, 0.30, 0.30, 0.30, 0.40, 0.50, 0.30, 0.30, 0.55],
    [0.40, 0.30, 0.20, 0.65, 0.70, 0.50, 0.30, 0.30, 0.30, 0.30, 0.30, 0.30],
    [0.70, 0.30, 0.20, 0.30, 0.30, 0.30, 0.30, 0.30, 0.30, 0.30, 0.75, 0.30],
    [0.55, 0.45, 0.50, 0.60, 0.30, 0.30, 0.55, 0.70, 0.55, 0.30, 0.30, 0.60],
])


def _bern(rng, p, n):
    return rng.random(n) < p


#: Non-German eLb by calendar year (DOMAIN.md 0.6: about 25-35 % in 2015-2019, rising; 2.18: 47.4 % in 2024).
#: These are the shares *drawn* for a year's persons (years between interpolated); the stock's share is a few
#: points higher, because eLb with little German stay longer (length bias). docs/synthetic.md checks the stock.
NON_GERMAN_BY_YEAR = {2013: 0.20, 2015: 0.24, 2016: 0.28, 2017: 0.31, 2018: 0.33, 2019: 0.34, 2020: 0.36,
                      2021: 0.38, 2022: 0.62, 2023: 0.64, 2024: 0.62}
# 2022-2024: refugees from Ukraine entered SGB II from June 2022 (about 504,000 eLb in 2024, DOMAIN.md 2.18), so the
# inflows of these years are mostly non-German
#: P(non-German | class) at the reference share REFERENCE_NON_GERMAN; other years shift all classes on the logit.
_P_NON_GERMAN = np.array([0.35, 0.25, 0.40, 0.95, 0.30])
REFERENCE_NON_GERMAN = float(_P_NON_GERMAN @ CLASS_SHARES)
#: Share of each class drawn aged 15-24 (eLb start at 15, DOMAIN.md 0.6; under-25s about 18-20 % of the stock).
P_YOUNG = np.array([0.30, 0.05, 0.26, 0.26, 0.14])
#: Inflows are younger than the stock (young people turning 15 in a Bedarfsgemeinschaft, first households):
#: an inflow's chance to be drawn young is P_YOUNG times this factor (calibrated so the U25 share holds over time).
INFLOW_YOUNG_FACTOR = 1.6


def non_german_share(year) -> np.ndarray:
    """The target share of non-German eLb in a calendar year (array in, array out)."""
    years = sorted(NON_GERMAN_BY_YEAR)
    return np.interp(np.asarray(year, dtype=float), years, [NON_GERMAN_BY_YEAR[y] for y in years])


def _logit(x):
    return np.log(x / (1 - x))


def _non_german(rng, cls, year) -> np.ndarray:
    """Class-dependent citizenship, all classes shifted on the logit so that the year's share is met."""
    shift = _logit(non_german_share(year)) - _logit(REFERENCE_NON_GERMAN)
    p = 1 / (1 + np.exp(-(_logit(_P_NON_GERMAN[cls]) + shift)))
    return rng.random(len(cls)) < p


def _age(rng, cls, inflow: bool) -> np.ndarray:
    """Age when drawn: a young component (15-24, most of them 18+) and a class-dependent adult one (25-64)."""
    n = len(cls)
    young = rng.random(n) < np.minimum(P_YOUNG[cls] * (INFLOW_YOUNG_FACTOR if inflow else 1.0), 0.9)
    young_age = np.where(rng.random(n) < 0.25, rng.integers(15, 18, n), rng.integers(18, 25, n))
    adult = np.clip(rng.normal(np.array([38, 49, 35, 39, 44])[cls], 9.5), 25, 64).round().astype(int)
    return np.where(young, young_age, adult)


def draw_persons(n: int, rng: np.random.Generator, *, start_year, inflow: bool = False) -> pd.DataFrame:
    """Draw ``n`` persons: latent class, unobserved confounder, covariates and baseline needs.

    ``start_year`` is the calendar year in which each person is drawn (an int, or one per person: the year of
    entry for inflows); age and citizenship refer to it (column ``draw_year``). ``inflow`` draws the younger
    age mix of new entries.

    Returns a frame with columns latent_class (int code into CLASSES), u (the
    unobserved confounder, standard normal), sex, birth_year, draw_year, citizenship,
    german_level, single_parent, children_under_3, minor_children, school, vocational,
    health_restriction, disability and need_<need> for every need in NEED_ORDER.
    Key groups are at least as severe as their sub-needs (:func:`consistent_needs`).
    """
    year = np.broadcast_to(np.asarray(start_year, dtype=int), (n,)).copy()
    cls = rng.choice(len(CLASSES), size=n, p=CLASS_SHARES)
    p_female = np.array([0.42, 0.45, 0.88, 0.45, 0.38])[cls]
    female = _bern(rng, p_female, n)
    sex = np.where(female, "f", "m")
    sex[rng.random(n) < 0.002] = "d"
    age = _age(rng, cls, inflow)
    non_german = _non_german(rng, cls, year)
    eu = non_german & _bern(rng, 0.3, n)
    citizenship = np.where(~non_german, "german", np.where(eu, "eu", "non_eu"))
    german_level = _german_level(rng, cls, non_german)
    adult = age >= 18
    single_parent = female & adult & _bern(rng, np.array([0.10, 0.06, 0.65, 0.12, 0.10])[cls], n)
    children_u3 = adult & (age < 50) & _bern(rng, np.array([0.06, 0.02, 0.45, 0.12, 0.05])[cls], n)
    # minor children in the Bedarfsgemeinschaft: every single parent, every parent of a child under 3, and
    # further parents of older minors (assumption: about a third of adult eLb under 55 live with minors)
    minor_children = single_parent | children_u3 | (adult & (age < 55) & _bern(rng, 0.22, n))
    school = _categorical(rng, cls, ["none", "lower", "middle", "upper"], np.array([
        [0.05, 0.30, 0.40, 0.25], [0.12, 0.45, 0.33, 0.10], [0.15, 0.40, 0.35, 0.10],
        [0.35, 0.25, 0.20, 0.20], [0.30, 0.45, 0.20, 0.05]]))
    needs = _needs(rng, cls)
    # covariates behind the key groups are drawn from them, so a need and its covariate agree: no vocational
    # degree mostly where Qualifikation is a need, a health restriction only with a need in Leistungsfähigkeit
    qual = needs["need_qualification"]
    degree = _categorical(rng, cls, ["vocational", "academic"], np.array([
        [0.80, 0.20], [0.90, 0.10], [0.90, 0.10], [0.55, 0.45], [0.96, 0.04]]))
    vocational = np.where((qual >= 1) & (rng.random(n) < np.where(qual == 2, 0.97, 0.85)), "none", degree)
    vocational = np.where(age < 20, "none", vocational)  # nobody finishes vocational training before 20
    health = (needs["need_health"] >= 1) & _bern(rng, np.where(needs["need_health"] == 2, 0.97, 0.8), n)
    disability = health & _bern(rng, 0.25, n)
    # German level drives the language need, so the observed needs stay coherent
    needs["need_language"] = np.maximum(needs["need_language"],
                                        np.select([german_level == "none", german_level == "basic"], [2, 1], 0))
    covariates = {"vocational": vocational, "school": school, "health_restriction": health,
                  "disability": disability, "minor_children": minor_children}
    needs = consistent_needs(needs, covariates)
    return pd.DataFrame({
        "latent_class": cls, "u": rng.standard_normal(n), "sex": sex, "birth_year": year - age, "draw_year": year,
        "citizenship": citizenship, "german_level": german_level, "single_parent": single_parent,
        "children_under_3": children_u3, "minor_children": minor_children, "school": school,
        "vocational": vocational, "health_restriction": health, "disability": disability, **needs,
    })


def consistent_needs(needs: dict, cov) -> dict:
    """Key groups at least as severe as their sub-needs and the covariates behind them.

    * a sub-need belongs to its key group (``schema.SUB_NEED_GROUP``): the key group's severity is at least the
      sub-need's;
    * Qualifikation: at least moderate without a vocational qualification, serious without any school leaving
      certificate either;
    * Leistungsfähigkeit: at least moderate with a placement-relevant health restriction, serious with a
      recognised severe disability;
    * childcare is a need only where minor children live in the Bedarfsgemeinschaft.

    ``needs`` maps ``need_<key>`` to severities, ``cov`` holds the covariate arrays (or frame columns).
    """
    out = {k: np.asarray(v).astype(np.int8) for k, v in needs.items()}
    out["need_childcare"] = np.where(np.asarray(cov["minor_children"], dtype=bool), out["need_childcare"], 0)
    no_voc = np.asarray(cov["vocational"]) == "none"
    floor_q = np.where(no_voc, np.where(np.asarray(cov["school"]) == "none", 2, 1), 0)
    floor_h = np.where(np.asarray(cov["disability"], dtype=bool), 2,
                       np.asarray(cov["health_restriction"], dtype=bool).astype(np.int8))
    floors = {"qualification": floor_q, "health": floor_h}
    for group in ("qualification", "health", "framework"):
        subs = [out[f"need_{s}"] for s, g in SUB_NEED_GROUP.items() if g == group]
        sev = out[f"need_{group}"]
        for other in [*subs, floors.get(group, 0)]:
            sev = np.maximum(sev, other)
        out[f"need_{group}"] = sev.astype(np.int8)
    return out


def _categorical(rng, cls, values, probs):
    cum = probs.cumsum(axis=1)[cls]
    idx = (rng.random(len(cls))[:, None] > cum).sum(axis=1)
    return np.asarray(values, dtype=object)[np.minimum(idx, len(values) - 1)]


def _german_level(rng, cls, non_german):
    probs = np.array([[0.50, 0.40, 0.10, 0.0], [0.40, 0.40, 0.20, 0.0], [0.30, 0.45, 0.25, 0.0],
                      [0.02, 0.18, 0.55, 0.25], [0.30, 0.45, 0.25, 0.0]])
    lvl = _categorical(rng, cls, ["native", "good", "basic", "none"], probs)
    return np.where(non_german, lvl, "native")


#: The stock's first assessments come out above DOMAIN.md 3.6 for debt, addiction and psychosocial problems
#: with P_ANY as the classes describe them (length bias: these needs keep people in receipt); drawn this much less.
_STOCK_CORRECTION = np.array([1, 1, 1, 1, 1, 1, 1, 0.82, 0.78, 1, 1, 0.76])


def _needs(rng, cls) -> dict:
    """Needs given the class: key groups drawn as P_ANY says, a sub-need only within its key group.

    A sub-need's chance given its key group is P_ANY[sub] / P_ANY[group] (at most 1), so its marginal share
    in a class stays P_ANY[sub] where that is below the key group's.
    """
    n = len(cls)
    p_any = P_ANY * _STOCK_CORRECTION
    any_ = rng.random((n, len(NEED_ORDER))) < p_any[cls]
    for sub, group in SUB_NEED_GROUP.items():
        i, g = NEED_ORDER.index(sub), NEED_ORDER.index(group)
        given = np.minimum(p_any[:, i] / p_any[:, g], 1.0)[cls]
        any_[:, i] = any_[:, g] & (rng.random(n) < given)
    serious = rng.random((n, len(NEED_ORDER))) < P_SERIOUS[cls]
    sev = (any_.astype(np.int8) * (1 + serious.astype(np.int8))).astype(np.int8)
    return {f"need_{k}": sev[:, i] for i, k in enumerate(NEED_ORDER)}
