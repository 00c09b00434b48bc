"""Capacity planning: shapes, scenario monotonicity, errors."""

from __future__ import annotations

import numpy as np
import pytest

from casework.planning import plan_capacity
from tests.datasets import small


@pytest.fixture(scope="module")
def ds():
    return small("pankow", 0, 5000)


def test_plan_shape_and_totals(ds):
    p = plan_capacity(ds, jc_id="JC-BE-PAN")
    assert {"quarter", "segment", "offer_kind", "cases", "places_needed", "places_offered", "gap"} <= set(p.columns)
    assert p["quarter"].nunique() == 4
    tot = p[p["segment"] == "alle"]
    per = p[p["segment"] != "alle"].groupby(["quarter", "offer_kind"])["places_needed"].sum()
    assert (tot.set_index(["quarter", "offer_kind"])["places_needed"] - per).abs().max() < 1e-9
    assert (tot["gap"] == tot["places_offered"] - tot["places_needed"]).all()
    assert (p["cases"] >= 0).all() and (p["places_needed"] >= 0).all()


def test_more_inflow_means_more_cases_and_places(ds):
    base = plan_capacity(ds, jc_id="JC-BE-PAN")
    more = plan_capacity(ds, jc_id="JC-BE-PAN", inflow_change=0.1)
    b = base[base["segment"] == "alle"].groupby("quarter")["cases"].first()
    m = more[more["segment"] == "alle"].groupby("quarter")["cases"].first()
    assert (m > b).all()
    full = plan_capacity(ds, jc_id="JC-BE-PAN", coverage=0.5)
    assert full["places_needed"].sum() > base["places_needed"].sum()


def test_unknown_jobcenter(ds):
    with pytest.raises(ValueError, match="JC-XX"):
        plan_capacity(ds, jc_id="JC-XX")


def test_minimum_detectable_effect_matches_a_simulated_power_of_80_percent():
    from scipy import stats

    from casework.fmt import mde_sentence
    from casework.planning import minimum_detectable_effect, participants_needed

    n1, n0, p = 200, 1000, 0.3
    mde = minimum_detectable_effect(n1, n0, p)
    rng = np.random.default_rng(0)
    reps = 4000
    a = rng.binomial(n1, p + mde, reps) / n1
    b = rng.binomial(n0, p, reps) / n0
    se = np.sqrt(a * (1 - a) / n1 + b * (1 - b) / n0)
    power = np.mean(np.abs(a - b) / se > stats.norm.ppf(0.975))
    assert 0.77 <= power <= 0.83
    assert minimum_detectable_effect(4 * n1, 4 * n0, p) == pytest.approx(mde / 2, rel=0.05)
    need = participants_needed(mde, p, controls_per_participant=n0 / n1)
    assert abs(need - n1) <= 1
    assert mde_sentence(0.0412) == ("Mit dieser Zahl von Teilnehmenden lassen sich erst Effekte ab 4,1 "
                                    "Prozentpunkten sicher erkennen.")
    with pytest.raises(ValueError, match="outcome_rate"):
        minimum_detectable_effect(10, 10, 1.2)
