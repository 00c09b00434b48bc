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


def test_the_producers_estimates_are_read_back_exactly_and_only_for_the_same_data(tmp_path):
    """AIPW once (issue 20): notebook 3.01, run by the pipeline, reads the estimates the producer fitted; they
    equal a fresh :func:`casework.effects.measure_effects` (values, dtypes) and are refused for other data or
    other parameters."""
    from casework.effects import measure_effects
    from casework.produce import ESTIMATES, produce, stored_estimates
    from casework.store import Dataset

    ds = small("pankow", 1, 3000).save(tmp_path / "pankow")
    assert stored_estimates(ds) is None  # nothing produced yet
    produce(ds, small=True, log=lambda _: None)
    for outcome in ds.result("effects")["outcome"].unique():
        pd.testing.assert_frame_equal(stored_estimates(ds, outcome=outcome),
                                      measure_effects(ds, method="aipw", estimand="att", outcome=outcome))
    assert stored_estimates(ds, method="ipw") is None and stored_estimates(ds, estimand="ate") is None
    tables = {t: ds.table(t) for t in ds.tables}
    tables["persons"] = tables["persons"].iloc[:-1]  # one person fewer: other data
    other = Dataset.from_tables(tables, ground_truth=ds.ground_truth).save(tmp_path / "other")
    (other.results_dir).mkdir(parents=True, exist_ok=True)
    name = f"{ESTIMATES}_integration_12m"
    (other.results_dir / f"{name}.parquet").write_bytes((ds.results_dir / f"{name}.parquet").read_bytes())
    assert other.has_result(name) and stored_estimates(other) is None  # stored from other data: refused
    assert stored_estimates(small("pankow", 1, 3000)) is None  # in memory: no state to check against


@pytest.mark.notebook
def test_notebook_301_run_by_the_pipeline_reads_the_producers_estimates(tmp_path):
    """The pipeline's run of 3.01 fits no second AIPW: a marked stored estimate reappears in what it stores."""
    from pathlib import Path

    from casework import pipeline
    from casework.produce import ESTIMATES, produce

    ds = small("gelsenkirchen", 1, 3000).save(tmp_path / "gelsenkirchen")
    produce(ds, small=True, log=lambda _: None)
    name = f"{ESTIMATES}_integration_12m"
    marked = ds.result(name)
    row = marked["estimate"].first_valid_index()
    mark = marked.loc[row, "ci_low"] + 0.25 * (marked.loc[row, "ci_high"] - marked.loc[row, "ci_low"])
    assert mark != marked.loc[row, "estimate"]
    marked.loc[row, "estimate"] = mark  # inside its interval (the forest plot draws it)
    ds.save_result(name, marked)
    notebook = Path(__file__).resolve().parents[1] / "notebooks" / "3.01-effects-of-network-measures.ipynb"
    pipeline.run_notebook(notebook, ds.path, small=True, out_dir=tmp_path / "out", timeout=600,
                          extra={"store_results": True})
    aipw = ds.result("effects_methods").query("method == 'aipw'").set_index("measure")["estimate"]
    assert aipw[marked.loc[row, "measure"]] == mark


@pytest.mark.notebook
def test_notebook_301_compares_the_estimators_on_a_sample_of_a_large_cohort(tmp_path):
    """Land scale: 3.01's comparison of estimators (and its checks) runs on at most ``fit_persons`` cohort persons,
    AIPW refitted on the same sample so that all four methods compare like with like; the headline (the
    producer's AIPW) keeps every cohort person."""
    from pathlib import Path

    from casework import pipeline
    from casework.panel import analysis_cohort
    from casework.produce import produce, stored_estimates

    ds = small("gelsenkirchen", 1, 3000).save(tmp_path / "gelsenkirchen")
    produce(ds, small=True, log=lambda _: None)
    cohort = len(analysis_cohort(ds))
    notebook = Path(__file__).resolve().parents[1] / "notebooks" / "3.01-effects-of-network-measures.ipynb"
    pipeline.run_notebook(notebook, ds.path, out_dir=tmp_path / "out", timeout=900,
                          extra={"store_results": True, "fit_persons": 1000})
    methods = ds.result("effects_methods")
    assert cohort > 1000 and set(methods["method"]) == {"aipw", "ols", "ipw", "match"}
    assert (methods["persons"] == 1000).all() and (methods["cohort"] == cohort).all()
    assert (methods["n_treated"] + methods["n_control"]).max() <= 1000
    headline = stored_estimates(ds).set_index("measure")
    assert (headline["n_treated"] + headline["n_control"]).max() > 1000
    aipw = methods.query("method == 'aipw'").set_index("measure")
    top = headline["n_treated"].idxmax()
    assert aipw.loc[top, "n_treated"] < headline.loc[top, "n_treated"]  # refitted on the sample, not copied
    refutations = ds.result("effect_refutations")
    assert len(refutations) and (refutations["measure"] == top).all()


def test_models_are_the_same_with_one_thread_as_with_several():
    """What lets the pipeline fit with one thread (casework.pipeline.model_threads): the profiling models and the
    AIPW estimates do not depend on the number of OpenMP/BLAS threads."""
    import numpy as np
    from threadpoolctl import threadpool_limits

    from casework.effects import measure_effects
    from casework.profiling import StatisticalProfiler, profiling_frame
    from casework.profiling.statistical import PROFILING_FEATURES

    ds = small("gelsenkirchen", 1, 1500)  # small: threads waiting for a busy core make the 2-thread fit slow
    frame = profiling_frame(ds)
    feats = [f for f in PROFILING_FEATURES if f in frame]
    fitted = {}
    for threads in (1, 2):
        with threadpool_limits(threads):
            fitted[threads] = ([StatisticalProfiler(model=m, random_state=0).fit(frame[feats], frame["integration_12m"])
                                .predict_proba(frame[feats]) for m in ("logit", "gbm")],
                               measure_effects(ds, method="aipw"))
    for one, two in zip(fitted[1][0], fitted[2][0]):
        np.testing.assert_array_equal(one, two)
    assert fitted[1][1]["estimate"].notna().any()  # at least one measure kind estimated
    pd.testing.assert_frame_equal(fitted[1][1], fitted[2][1])


def test_model_threads_setting(monkeypatch):
    from casework.pipeline import model_threads

    monkeypatch.delenv("CASEWORK_THREADS", raising=False)
    assert model_threads() == 1
    monkeypatch.setenv("CASEWORK_THREADS", "2")
    assert model_threads() == 2
    for bad in ("0", "two", "-1"):
        monkeypatch.setenv("CASEWORK_THREADS", bad)
        with pytest.raises(ValueError, match="CASEWORK_THREADS"):
            model_threads()


@pytest.mark.parametrize("scenario", ["nrw_teilhabe", "pankow", "gelsenkirchen"])
def test_needs_coverage_piece_by_piece_equals_everything_at_once(scenario, tmp_path):
    """Land scale: needs coverage counted per piece (the whole melt took several GB at 1.1M) gives exactly the
    earlier numbers, in memory and from the files, whole and in pieces, by need and by partner kind, with the
    default period (the whole network's, not a piece's) and a given one."""
    from casework import engine
    from casework.network import needs_coverage

    ds = small(scenario, 2, 2500)
    on_disk = ds.save(tmp_path / scenario)
    for kwargs in ({}, {"by": "partner_kind"}, {"start": "2019-01-01", "end": "2020-06-30", "min_severity": 2}):
        expected = old.needs_coverage(ds, **kwargs)
        for size in (None, 400):
            with engine.using(None, partition_persons=size):
                for data in (ds, on_disk):
                    pd.testing.assert_frame_equal(needs_coverage(data, **kwargs), expected)
