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

__all__ = ["CLASSES", "CLASS_LABELS", "CLASS_SHARES", "NEED_ORDER", "draw_persons"]

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
    [0.45, 0.95, 0.35, 0.25, 0.05, 0.05, 0.10, 0.20, 0.15, 0.35, 0.10, 0.40],  # health
    [0.45, 0.15, 0.15, 0.95, 0.90, 0.35, 0.15, 0.20, 0.02, 0.40, 0.20, 0.10],  # family
    [0.95, 0.12, 0.20, 0.30, 0.15, 0.05, 0.15, 0.10, 0.02, 0.25, 0.95, 0.10],  # language_qualification
    [0.70, 0.60, 0.75, 0.90, 0.10, 0.05, 0.65, 0.90, 0.38, 0.30, 0.15, 0.75],  # multiple
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


def draw_persons(n: int, rng: np.random.Generator, *, start_year: int) -> pd.DataFrame:
    """Draw ``n`` persons: latent class, unobserved confounder, covariates and baseline needs.

    Returns a frame with columns latent_class (int code into CLASSES), u (the
    unobserved confounder, standard normal), sex, birth_year, citizenship,
    german_level, single_parent, children_under_3, school, vocational,
    health_restriction, disability and need_<need> for every need in NEED_ORDER.
    """
    cls = rng.choice(len(CLASSES), size=n, p=CLASS_SHARES)
    p_female = np.array([0.42, 0.45, 0.88, 0.45, 0.38])[cls]
    female = _bern(rng, p_female, n)
    sex = np.where(female, "f", "m")
    sex[rng.random(n) < 0.002] = "d"
    age_mean = np.array([36, 49, 33, 38, 43])[cls]
    age = np.clip(rng.normal(age_mean, 9.5), 18, 64).round().astype(int)
    birth_year = start_year - age
    non_german = _bern(rng, np.array([0.35, 0.25, 0.40, 0.95, 0.30])[cls], n)
    eu = non_german & _bern(rng, 0.3, n)
    citizenship = np.where(~non_german, "german", np.where(eu, "eu", "non_eu"))
    german_level = _german_level(rng, cls, non_german)
    single_parent = female & _bern(rng, np.array([0.10, 0.06, 0.65, 0.12, 0.10])[cls], n)
    children_u3 = _bern(rng, np.array([0.06, 0.02, 0.45, 0.12, 0.05])[cls], n)
    school = _categorical(rng, cls, ["none", "lower", "middle", "upper"], np.array([
        [0.05, 0.30, 0.40, 0.25], [0.12, 0.45, 0.33, 0.10], [0.15, 0.40, 0.35, 0.10],
        [0.35, 0.25, 0.20, 0.20], [0.30, 0.45, 0.20, 0.05]]))
    vocational = _categorical(rng, cls, ["none", "vocational", "academic"], np.array([
        [0.25, 0.60, 0.15], [0.50, 0.45, 0.05], [0.60, 0.36, 0.04], [0.85, 0.08, 0.07], [0.75, 0.24, 0.01]]))
    health = _bern(rng, np.array([0.12, 0.90, 0.25, 0.25, 0.60])[cls], n)
    disability = health & _bern(rng, 0.25, n)
    needs = _needs(rng, cls)
    # German level drives the language need, so the observed needs stay coherent
    needs["need_language"] = np.maximum(needs["need_language"],
                                        np.select([german_level == "none", german_level == "basic"], [2, 1], 0))
    return pd.DataFrame({
        "latent_class": cls, "u": rng.standard_normal(n), "sex": sex, "birth_year": birth_year,
        "citizenship": citizenship, "german_level": german_level, "single_parent": single_parent,
        "children_under_3": children_u3, "school": school, "vocational": vocational,
        "health_restriction": health, "disability": disability, **needs,
    })


def _categorical(rng, cls, values, probs):
    cum = probs.cumsum(axis=1)[cls]
    idx = (rng.random(len(cls))[:, None] > cum).sum(axis=1)
    return np.asarray(values, dtype=object)[np.minimum(idx, len(values) - 1)]


def _german_level(rng, cls, non_german):
    probs = np.array([[0.50, 0.40, 0.10, 0.0], [0.40, 0.40, 0.20, 0.0], [0.30, 0.45, 0.25, 0.0],
                      [0.02, 0.18, 0.55, 0.25], [0.30, 0.45, 0.25, 0.0]])
    lvl = _categorical(rng, cls, ["native", "good", "basic", "none"], probs)
    return np.where(non_german, lvl, "native")


def _needs(rng, cls) -> dict:
    n = len(cls)
    any_ = rng.random((n, len(NEED_ORDER))) < P_ANY[cls]
    serious = rng.random((n, len(NEED_ORDER))) < P_SERIOUS[cls]
    sev = (any_.astype(np.int8) * (1 + serious.astype(np.int8))).astype(np.int8)
    return {f"need_{k}": sev[:, i] for i, k in enumerate(NEED_ORDER)}
