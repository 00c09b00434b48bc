"""The pipeline's steps side by side (casework.pipeline: jobs, AFTER_PRODUCER; docs/scale.md)."""

from __future__ import annotations

import threading
import time

import pytest

from casework import pipeline
from casework.pipeline import _schedule, _Task


def _recorder(events: list, name: str, seconds: float = 0.05, gate: threading.Barrier | None = None):
    def work(slot):
        events.append(("start", name, slot))
        if gate is not None:
            gate.wait(timeout=10)  # broken (an error) unless the other task runs at the same time
        time.sleep(seconds)
        events.append(("end", name, slot))
        return ("ds", name, "ok", seconds, "")
    return work


def test_two_jobs_run_independent_steps_at_the_same_time():
    events, gate = [], threading.Barrier(2)
    tasks = [_Task("a", _recorder(events, "a", gate=gate), ()), _Task("b", _recorder(events, "b", gate=gate), ())]
    rows = _schedule(tasks, 2, "ds")
    assert [r[2] for r in rows] == ["ok", "ok"], rows  # a broken barrier would have failed one of them
    assert {e[2] for e in events if e[0] == "start"} == {0, 1}  # each on its own progress line


def test_a_step_after_the_producer_starts_only_when_it_is_done():
    events = []
    tasks = [_Task("producer", _recorder(events, "producer", 0.3), ()),
             _Task("reads it", _recorder(events, "reads it"), ("producer",)),
             _Task("free 1", _recorder(events, "free 1"), ()),
             _Task("free 2", _recorder(events, "free 2"), ())]
    rows = _schedule(tasks, 2, "ds")
    order = [(kind, name) for kind, name, _ in events]
    assert order.index(("end", "producer")) < order.index(("start", "reads it"))
    # the free steps do not wait for the producer: both ran beside it
    assert order.index(("end", "free 2")) < order.index(("end", "producer"))
    assert [r[1] for r in rows] == ["producer", "reads it", "free 1", "free 2"]  # declared order in the summary


def test_one_job_runs_the_steps_one_after_the_other_in_declared_order():
    events = []
    tasks = [_Task(n, _recorder(events, n, 0.01), ("a",) if n == "c" else ()) for n in "abc"]
    _schedule(tasks, 1, "ds")
    assert [(k, n) for k, n, _ in events] == [("start", "a"), ("end", "a"), ("start", "b"), ("end", "b"),
                                            ("start", "c"), ("end", "c")]
    assert {slot for *_, slot in events} == {0}


def test_an_error_outside_a_steps_timed_work_fails_that_step_only(capsys):
    events = []

    def broken(slot):
        raise OSError("disk gone")

    tasks = [_Task("broken", broken, ()), _Task("fine", _recorder(events, "fine"), ())]
    rows = _schedule(tasks, 2, "ds")
    assert rows[0][:3] == ("ds", "broken", "FAILED") and "OSError: disk gone" in rows[0][4]
    assert rows[1][2] == "ok"
    assert "FAILED broken on ds: OSError: disk gone" in capsys.readouterr().err
    assert pipeline.summary(rows).strip().endswith("1 dataset(s): 1 steps ok, 0 skipped, 1 failed")


def test_jobs_setting(monkeypatch):
    monkeypatch.delenv("CASEWORK_JOBS", raising=False)
    assert pipeline.pipeline_jobs() == 2
    monkeypatch.setenv("CASEWORK_JOBS", "1")
    assert pipeline.pipeline_jobs() == 1
    for bad in ("0", "two", "-1"):
        monkeypatch.setenv("CASEWORK_JOBS", bad)
        with pytest.raises(ValueError, match="CASEWORK_JOBS must be a whole number"):
            pipeline.pipeline_jobs()
    with pytest.raises(ValueError, match="jobs must be at least 1"):
        pipeline.run([], jobs=0)


def test_only_the_notebooks_that_read_the_producers_results_wait_for_it():
    """3.01 reads the producer's stored AIPW estimates (casework.produce.stored_estimates); no other notebook
    reads a result the producer stores, so they may run beside it."""
    import re
    from pathlib import Path

    for source in sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("[0-9]*.py")):
        reads = re.search(r"stored_estimates\(|\.result\(|has_result\(", source.read_text(encoding="utf-8"))
        assert bool(reads) == (f"{source.stem}.ipynb" in pipeline.AFTER_PRODUCER), source.name


def test_the_producers_parts_store_their_own_results_only(tmp_path):
    """The pipeline runs the producer's effects in a process of its own beside the rest (casework.produce.PARTS)."""
    from casework.produce import PARTS, produce
    from tests.datasets import small

    ds = small("gelsenkirchen", 1, 1500).save(tmp_path / "g")
    assert produce(ds, small=True, only=("effects",), log=lambda _: None) == {"effects": "stored"}
    stored = {p.stem for p in ds.results_dir.glob("*.parquet")}
    assert "effects" in stored and not {"profillagen", "did", "board_kpi_cube"} & stored
    rest = produce(ds, small=True, only=[p for p in PARTS if p != "effects"], log=lambda _: None)
    assert list(rest) == ["profillagen", "did", "board aggregates"]
    assert ds.has_result("profillagen") and ds.has_result("board_kpi_cube")
    with pytest.raises(ValueError, match="unknown part"):
        produce(ds, only=("effect",))


def test_a_failing_producer_process_fails_its_step_with_its_last_lines(tmp_path):
    from pathlib import Path

    lines = []
    with pytest.raises(RuntimeError, match="exit code") as err:
        pipeline._produce_in_process(Path(tmp_path / "missing"), small=True, only=("effects",), say=lines.append)
    assert "missing" in str(err.value) and lines  # the child's error, passed on and named


def test_the_largest_steps_never_run_at_the_same_time(monkeypatch):
    events = []
    monkeypatch.setattr(pipeline, "ONE_AT_A_TIME", frozenset({"big 1", "big 2"}))
    tasks = [_Task(n, _recorder(events, n, 0.1), ()) for n in ("big 1", "big 2", "small 1", "small 2")]
    _schedule(tasks, 2, "ds")
    order = [(kind, name) for kind, name, _ in events]
    assert order.index(("end", "big 1")) < order.index(("start", "big 2"))
    assert order.index(("start", "small 1")) < order.index(("end", "big 1"))  # a small one ran beside it


def test_a_step_that_runs_alone_has_nothing_beside_it(monkeypatch):
    """Notebook 0.01 holds every table at once: beside any other step a Land-sized run passed 12 GB."""
    events = []
    monkeypatch.setattr(pipeline, "ALONE", frozenset({"alone"}))
    monkeypatch.setattr(pipeline, "ONE_AT_A_TIME", frozenset())
    tasks = [_Task(n, _recorder(events, n, 0.1), ()) for n in ("small 1", "alone", "small 2", "small 3")]
    rows = _schedule(tasks, 2, "ds")
    assert [r[1] for r in rows] == ["small 1", "alone", "small 2", "small 3"]  # rows stay in declared order
    running, overlaps = set(), []
    for kind, name, _ in events:
        if kind == "start":
            overlaps += [(name, other) for other in running if "alone" in (name, other)]
            running.add(name)
        else:
            running.discard(name)
    assert overlaps == [], overlaps
    assert {name for kind, name, _ in events if kind == "end"} == {"small 1", "alone", "small 2", "small 3"}


def test_notebook_0_01_runs_alone():
    assert "0.01-describe-population" in pipeline.ALONE
