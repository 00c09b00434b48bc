"""casework.engine: the same calls give the same numbers embedded, piece by piece, and on a Dask LocalCluster."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from casework import engine, kpi, panel, synth
from casework.boards import build as board
from casework.profiling import StatisticalProfiler, profiling_frame
from casework.profiling.statistical import PROFILING_FEATURES

PERIOD = ("2017-01-01", "2017-12-01")


@pytest.fixture(scope="module")
def small():
    with engine.using(None):
        return synth.generate("gelsenkirchen", seed=5, persons=3000)


@pytest.fixture(scope="module")
def on_disk(small, tmp_path_factory):
    return small.save(tmp_path_factory.mktemp("engine") / "gelsenkirchen")


@pytest.fixture(scope="module")
def cluster():
    pytest.importorskip("distributed")
    with engine.using("local:3"):
        client = engine.get_client()
        assert len(client.scheduler_info()["workers"]) == 3
        yield client
    engine.close()


@pytest.fixture(scope="module")
def profiler(small):
    with engine.using(None):
        frame = profiling_frame(small)
    return StatisticalProfiler(calibrate=False).fit(frame[[f for f in PROFILING_FEATURES if f in frame]],
                                                    frame["integration_12m"])


def _figures(ds, **kw):
    return kpi.key_figures(ds, *PERIOD, **kw).set_index("kpi")[["value", "numerator", "denominator"]]


def test_pieces_cover_every_person_once(small, on_disk):
    persons = small.table("persons")
    for ds in (small, on_disk):
        specs = engine.pieces(ds, max_persons=400)  # one jobcenter of 3,000 persons: cut by person keys
        assert len(specs) == -(-len(persons) // 400)
        ids = [pid for jcs, rng in specs for pid in engine.partition(ds, jcs, rng).load().table("persons")["person_id"]]
        assert sorted(ids) == sorted(persons["person_id"])


def test_groups_keep_jobcenters_whole(tmp_path):
    ds = synth.generate("pankow", seed=3, persons=2000)
    groups = engine.jobcenter_groups(ds, max_persons=900)
    flat = [jc for g in groups for jc in g]
    assert sorted(set(flat)) == sorted(ds.table("persons")["jc_id"].unique()) and len(groups) > 1


def test_a_piece_holds_exactly_its_persons_rows(small, on_disk):
    jc = small.table("persons")["jc_id"].iloc[0]
    for ds in (small, on_disk):
        piece = engine.partition(ds, [jc]).load()
        ids = set(small.table("persons").query("jc_id == @jc")["person_id"])
        assert set(piece.table("persons")["person_id"]) == ids
        for table in ("benefits", "employment", "assessments", "referrals"):
            full = small.table(table)
            assert len(piece.table(table)) == full["person_id"].isin(ids).sum(), table
        assert len(piece.table("offers")) == len(small.table("offers"))  # network tables whole


@settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.integers(min_value=150, max_value=3000))
def test_key_figures_do_not_depend_on_the_piece_size(small, size):
    whole = _figures(small)
    with engine.using(None, partition_persons=size):
        pieces = _figures(small, filters={"sex": "f"}), _figures(small)
    pd.testing.assert_frame_equal(pieces[1], whole)
    pd.testing.assert_frame_equal(pieces[0], _figures(small, filters={"sex": "f"}))


def test_out_of_core_pieces_from_parquet_equal_in_memory(small, on_disk):
    with engine.using(None, partition_persons=500):
        assert engine.needs_pieces(on_disk)
        pd.testing.assert_frame_equal(_figures(on_disk), _figures(small))
        pd.testing.assert_frame_equal(panel.analysis_cohort(on_disk), panel.analysis_cohort(small))
        pd.testing.assert_frame_equal(panel.jobcenter_months(on_disk), panel.jobcenter_months(small))
        with engine.using(None):
            whole = board.kpi_cube(small)
        pd.testing.assert_frame_equal(board.kpi_cube(on_disk), whole)
        pd.testing.assert_frame_equal(board.kpi_cube(small), whole)


def test_cluster_gives_the_same_numbers(small, on_disk, cluster, profiler):
    with engine.using(None):
        expected = (_figures(small), panel.analysis_cohort(small), panel.jobcenter_months(small),
                    profiler.score(small), board.kpi_cube(small))
    with engine.using("local:3", partition_persons=800):
        for ds in (small, on_disk):
            got = (_figures(ds), panel.analysis_cohort(ds), panel.jobcenter_months(ds), profiler.score(ds),
                   board.kpi_cube(ds))
            for a, b in zip(got, expected):
                pd.testing.assert_frame_equal(a, b)


def test_cluster_generates_the_same_population(small, cluster, tmp_path):
    with engine.using("local:3"):
        assert engine.is_distributed()
        remote = synth.generate("gelsenkirchen", seed=5, persons=3000)
        streamed = synth.generate("gelsenkirchen", seed=5, persons=3000, out=tmp_path / "ds")
    assert remote.ground_truth == small.ground_truth
    for table in small.tables:
        pd.testing.assert_frame_equal(remote.table(table), small.table(table), obj=table)
        pd.testing.assert_frame_equal(streamed.table(table), small.table(table), check_dtype=False, obj=table)


def test_chunks_are_seeded_independently(monkeypatch):
    monkeypatch.setattr(synth, "CHUNK", 500)
    a = synth.generate("gelsenkirchen", seed=2, persons=1200)
    b = synth.generate("gelsenkirchen", seed=2, persons=1200)
    pd.testing.assert_frame_equal(a.table("persons"), b.table("persons"))
    assert a.table("persons")["person_id"].is_unique


def test_unknown_scheduler_setting_is_reported(monkeypatch):
    with engine.using(None):
        with pytest.raises(RuntimeError, match="no scheduler configured"):
            engine.get_client()
    with pytest.raises(ValueError, match="positive"):
        engine.configure(None, partition_persons=0)


def test_a_cached_table_does_not_pull_every_table_into_memory(small, on_disk, monkeypatch):
    """Land scale (docs/scale.md): a folder dataset that has read one table (the producer read the project list
    before the DiD panel) still works piece by piece from the files; slicing in memory loaded every table of an
    NRW-sized dataset once per piece (the producer's process grew to 9.6 GB at 1,100,000 persons)."""
    from casework.store import Dataset

    ds = Dataset.open(on_disk.path)
    ds.table("jobcenters")
    assert ds.is_loaded() and ds.on_disk

    def sliced(*_):
        raise AssertionError("sliced every table in memory")

    with engine.using(None, partition_persons=500):
        figures, months = _figures(small), panel.jobcenter_months(small)  # in memory: sliced
        monkeypatch.setattr(engine, "_slice_tables", sliced)
        pd.testing.assert_frame_equal(_figures(ds), figures)
        pd.testing.assert_frame_equal(panel.jobcenter_months(ds), months)
    assert set(ds.tables) - {"jobcenters"} - {n for n in ds.tables if ds.is_loaded(n)}  # not all read


def test_release_forgets_only_the_tables_read_from_the_folder(small, on_disk):
    from casework.store import Dataset

    ds = Dataset.open(on_disk.path)
    before = ds.table("persons")
    ds.release()
    assert not ds.is_loaded() and ds.on_disk
    pd.testing.assert_frame_equal(ds.table("persons"), before)  # read again
    given = Dataset(path=on_disk.path, tables={"persons": before})
    assert not given.on_disk  # a frame handed in is not the file: pieces are sliced from memory
    given.release()
    assert given.is_loaded("persons")
    memory = small
    memory.release()
    assert memory.is_loaded("persons") and not memory.on_disk
