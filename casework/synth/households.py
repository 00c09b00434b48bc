"""Bedarfsgemeinschaften: households of the persons of one chunk (``persons.bg_id``).

§ 7 Abs. 3 SGB II: a Bedarfsgemeinschaft holds the eLb, their partner, and their unmarried children under 25
living with them. The generator forms, within each jobcenter:

* **young people with a parent**: every eLb aged 15-17 and half of those aged 18-24 (assumption), unless they
  have a child of their own, join the BG of
  an older eLb of the same jobcenter (at least 33 years old for a minor, 40 for an adult child); the parent then
  has minor children in the BG when the young person is under 18;
* **couples**: a share of the adults aged 25+ who are not single parents (COUPLE_SHARE, assumption) are paired
  into one BG; a couple shares ``children_under_3`` and ``minor_children`` and neither is a single parent;
* everybody else forms a BG of their own (single parents with their children, who are not eLb until 15).

Children under 15 are no eLb and not in ``persons``; their presence shows as ``single_parent``,
``children_under_3`` and (truth only) ``minor_children``. **Simplification:** the members of a BG keep their own
benefit spells (one leaving receipt does not end the others'), see docs/synthetic.md.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["form_households", "COUPLE_SHARE"]

COUPLE_SHARE = 0.35  # share of adults 25+ (not single parents) living with an eLb partner (assumption)


def form_households(p: pd.DataFrame, rng, *, first_key: int) -> pd.DataFrame:
    """``p`` with a ``bg_id`` and the family flags made consistent within each BG (``first_key``: key offset)."""
    n = len(p)
    age = (p["draw_year"] - p["birth_year"]).to_numpy()
    jc = p["jc_idx"].to_numpy()
    head = np.arange(n)  # the row whose BG a person joins
    single_parent = p["single_parent"].to_numpy().copy()
    u3 = p["children_under_3"].to_numpy().copy()
    minors = p["minor_children"].to_numpy().copy()
    # a young parent forms a BG of their own with the child (§ 7 Abs. 3 Nr. 4 SGB II: only children who cannot
    # support themselves belong to the parents' BG; a child of their own makes the young parent its head)
    young = ((age < 18) | ((age < 25) & (rng.random(n) < 0.5))) & ~single_parent & ~u3
    for lo_age, rows in ((33, young & (age < 18)), (40, young & (age >= 18))):
        for j in np.unique(jc[rows]):
            kids = np.flatnonzero(rows & (jc == j))
            parents = np.flatnonzero((jc == j) & (age >= lo_age) & ~young)
            if len(parents):
                head[kids] = parents[rng.integers(0, len(parents), len(kids))]
    minor_kid = young & (age < 18) & (head != np.arange(n))
    minors[np.unique(head[minor_kid])] = True
    adults = np.flatnonzero(~young & (age >= 25) & ~single_parent & (rng.random(n) < COUPLE_SHARE))
    for j in np.unique(jc[adults]):
        pool = rng.permutation(adults[jc[adults] == j])
        a, b = pool[0:len(pool) - 1:2], pool[1:len(pool):2]
        head[b] = a
        u3[a] = u3[b] = u3[a] | u3[b]
        minors[a] = minors[b] = minors[a] | minors[b]
    head = head[head]  # a young person's parent may be the partner who joined a couple: follow once more
    # the Regelbedarfsstufe follows the role in the BG (§ 20 SGB II): partners RBS 2, children of the BG RBS 3/4
    joined = head != np.arange(n)
    partner = joined & ~young
    partner[head[partner]] = True
    role = np.where(joined & young, "child", np.where(partner, "partner", "single")).astype(object)
    _, bg = np.unique(head, return_inverse=True)
    ids = np.char.add("BG", np.char.zfill((first_key + bg).astype(str), 10)).astype(object)
    # the flags describe the household: a child under 3 (or any minor) of one member lives with all of them
    u3 = _any_in_bg(bg, u3)
    minors = _any_in_bg(bg, minors | u3 | single_parent | minor_kid)
    return p.assign(bg_id=ids, single_parent=single_parent, children_under_3=u3, minor_children=minors, bg_role=role,
                    bg_code=first_key + bg)


def _any_in_bg(bg: np.ndarray, flag: np.ndarray) -> np.ndarray:
    hit = np.zeros(bg.max() + 1 if len(bg) else 0, dtype=bool)
    np.logical_or.at(hit, bg, flag)
    return hit[bg]
