"""The faster key figures of session 8 give the numbers the landed code gave, figure for figure and cell for cell.

``tests/kpi_s7.py`` is a frozen copy of the key figures and the dashboards' cells as they were before the speed
work; here both run on the three demo scenarios with segments, filters and record keys, and on arbitrary spells.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from casework import kpi
from casework.kpi_defs import NOTES
from tests import kpi_s7 as before
from tests.datasets import small
from tests.test_kpi48a import _case_data, _day

SECRET = b"0123456789abcdef0123456789abcdef"
COLUMNS = ["kpi", "label", "value", "numerator", "denominator"]


def segments_of(ds) -> pd.Series:
    """Four segments for most persons, none for every seventh (they fall into "unbekannt")."""
    ids = ds.table("persons")["person_id"]
    codes = ids.map(lambda p: sum(map(ord, p)))
    seg = pd.Series(np.array(["P1", "P2", "P3", "P4"])[codes % 4], index=ids.to_numpy())
    return seg[(codes % 7 != 0).to_numpy()]


#: notes of the guards added with the speed work (K1/K1E1 not given where the amounts do not reach both months
#: or a KdU is missing: the landed code gave a number there)
NEW_GUARDS = {NOTES["amounts_outside"], NOTES["kdu_missing"]}


def assert_same_figures(ds, start, end, filters=None, segments=None):
    new = kpi.key_figures(ds, start, end, filters, segments)
    old = before.key_figures(ds, start, end, filters, segments)
    assert list(new.columns) == COLUMNS and list(new["kpi"]) == list(old["kpi"])
    # lza bridges gaps of up to six weeks since 78847c3 (a rule, not speed; tested against a day-by-day count)
    guarded = {k for k, note in new.attrs["notes"].items() if note in NEW_GUARDS} | {"lza"}
    same = ~new["kpi"].isin(guarded).to_numpy()
    for col in ("value", "numerator", "denominator"):
        a, b = new[col].to_numpy(float)[same], old[col].to_numpy(float)[same]
        bad = ~np.isclose(a, b, rtol=1e-12, atol=0, equal_nan=True)
        assert not bad.any(), (col, list(new["kpi"][same][bad]), a[bad], b[bad])
    assert {k: v for k, v in new.attrs["notes"].items() if k not in guarded} == \
        {k: v for k, v in old.attrs["notes"].items() if k not in guarded}


SCENARIOS = [("gelsenkirchen", ("2017-01-01", "2017-12-01")), ("pankow", ("2021-01-01", "2021-12-01")),
             ("nrw_teilhabe", ("2018-07-01", "2019-06-01"))]


@pytest.mark.parametrize("scenario, period", SCENARIOS)
def test_key_figures_unchanged_on_the_demo_scenarios(scenario, period):
    ds = small(scenario, 1, 3000)
    seg = segments_of(ds)
    jc = ds.table("persons")["jc_id"].iloc[0]
    for filters in (None, {"segment": "P2"}, {"segment": ["unbekannt", "P4"], "sex": "f"},
                    {"jc_id": jc, "age_group": "25 bis 34"}):
        assert_same_figures(ds, *period, filters, seg)
    assert_same_figures(ds, period[0], period[0], None, seg)  # a single month


@pytest.mark.parametrize("scenario, period", SCENARIOS)
def test_cells_unchanged_on_the_demo_scenarios(scenario, period):
    ds = small(scenario, 1, 3000)
    seg = segments_of(ds)
    for keys in (None, SECRET):
        new = kpi.key_figure_cells(ds, *period, seg, cell_keys=keys)
        old = before.key_figure_cells(ds, *period, seg, cell_keys=keys)
        pd.testing.assert_frame_equal(new, old)


@settings(max_examples=30, deadline=None)
@given(_case_data(optional=True), st.integers(12, 50), st.integers(0, 14))
def test_key_figures_and_cells_unchanged_on_any_spells(ds, first, length):
    start, end = _day(first, 1), _day(first + length, 1)
    seg = segments_of(ds)
    assert_same_figures(ds, start, end, None, seg)
    assert_same_figures(ds, start, end, {"sex": "f"}, seg)
    pd.testing.assert_frame_equal(kpi.key_figure_cells(ds, start, end, seg, cell_keys=SECRET),
                                  before.key_figure_cells(ds, start, end, seg, cell_keys=SECRET))
