"""The Land-scale pipeline's faster computations give exactly the numbers of the earlier ones (issue 20).

Each test runs the current implementation and the earlier one kept in tests/reference_scale.py on the same
data and compares with ``assert_frame_equal`` (values, dtypes, column order, row order).
"""

from __future__ import annotations

import pandas as pd
import pytest

from casework.boards import build
from casework.profiling import profillagen
from tests import reference_scale as old
from tests.datasets import small

SECRET = bytes(range(32))


def _segments(ds) -> pd.Series:
    prof = profillagen(ds).sort_values(["person_id", "date"], kind="stable").drop_duplicates("person_id")
    return prof.set_index("person_id")["profillage"]


@pytest.mark.parametrize("scenario", ["nrw_teilhabe", "pankow", "gelsenkirchen"])
@pytest.mark.parametrize("keyed", [False, True])
def test_referral_cube_equals_the_per_cell_version(scenario, keyed):
    ds = small(scenario, 3, 4000)
    segments = _segments(ds)
    key = SECRET if keyed else None
    pd.testing.assert_frame_equal(build.referral_cube(ds, segments, cell_keys=key),
                                  old.referral_cube(ds, segments, cell_keys=key))
    pd.testing.assert_frame_equal(build.referral_cube(ds), old.referral_cube(ds))


def test_referral_cube_with_unknown_offers_and_every_status():
    """Referrals to an offer missing from ``offers`` (no partner, no measure: dropped by the grouping as before)
    and a status outside the three counted ones."""
    base = small("pankow", 4, 3000)
    tables = {t: base.table(t).copy() for t in base.tables}
    r = tables["referrals"]
    r.loc[r.index[:40], "offer_id"] = "O-missing"
    r.loc[r.index[40:80], "status"] = "open"
    ds = type(base)(tables=tables, meta=base.meta)
    pd.testing.assert_frame_equal(build.referral_cube(ds, cell_keys=SECRET), old.referral_cube(ds, cell_keys=SECRET))


@pytest.mark.parametrize("keyed", [False, True])
def test_a_months_cells_do_not_depend_on_the_cubes_range(keyed):
    """What lets the jobcenter comparison reuse the board's cube: the cells of a year cut from the cube of the
    whole observed range are the cube of that year alone (the look-back of 24 months reaches before the range)."""
    ds = small("nrw_teilhabe", 3, 4000)
    key = SECRET if keyed else None
    whole = build.kpi_cube(ds, _segments(ds), cell_keys=key)
    compared = 0
    for year in sorted(pd.DatetimeIndex(whole["month"]).year.unique())[1:]:
        alone = build.kpi_cube(ds, _segments(ds), f"{year}-01-01", f"{year}-12-01", cell_keys=key)
        cut = whole[pd.DatetimeIndex(whole["month"]).year == year].reset_index(drop=True)
        if len(cut.drop_duplicates("month")) == 12:
            pd.testing.assert_frame_equal(cut, alone)
            compared += 1
    assert compared >= 2


def test_jobcenter_comparison_from_the_boards_cube_equals_its_own_count():
    ds = small("nrw_teilhabe", 3, 4000)
    cube = build.kpi_cube(ds, _segments(ds), cell_keys=SECRET)
    years = sorted(pd.DatetimeIndex(cube["month"]).year.unique())
    project = build._main_project(ds)
    for year in (years[0] - 1, years[0], years[-2], years[-1]):  # outside, partly and wholly inside the range
        pd.testing.assert_frame_equal(build.jobcenter_comparison(ds, year, project, cube),
                                      build.jobcenter_comparison(ds, year, project))
