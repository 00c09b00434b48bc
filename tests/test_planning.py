"""Capacity planning: shapes, scenario monotonicity, errors."""

from __future__ import annotations

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
