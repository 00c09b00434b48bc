"""benchmarks/_records.py: the combined benchmark table and the scaling exponents."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import _records  # noqa: E402


@given(k=st.floats(0.5, 2.0), c=st.floats(1e-4, 1e2),
       sizes=st.lists(st.integers(1_000, 10_000_000), min_size=2, max_size=5, unique=True))
def test_exponent_of_a_power_law_is_its_power(k, c, sizes):
    assert _records.scaling_exponent(sizes, [c * s**k for s in sizes]) == pytest.approx(k, abs=1e-6)


def test_exponent_needs_two_sizes():
    with pytest.raises(ValueError, match="two different sizes"):
        _records.scaling_exponent([10, 10], [1.0, 2.0])


def test_records_file_table_and_exponents(tmp_path, monkeypatch):
    path = tmp_path / "records.jsonl"
    monkeypatch.setenv(_records.RECORDS_ENV, str(path))
    for n, secs in [(100_000, 2.0), (1_000_000, 20.0), (5_000_000, 130.0)]:
        _records.record("bench_synth.py", f"synthetic population {n:,}", secs, "s", size=n, step="synth")
    _records.record("bench_effects.py", "AIPW 1M x 30", 5.0, "s", ref="DoubleML IRM", ref_value=20.0,
                    ratio_kind="ref/figure", target="≥ 4× faster", met=True)
    _records.record("bench_kpi.py", "key figures 1M", 3.0, "s", ref="DuckDB scan", ref_value=0.5)
    records = _records.load(path)
    assert [r["benchmark"] for r in records] == ["bench_synth.py"] * 3 + ["bench_effects.py", "bench_kpi.py"]
    assert records[3]["ratio"] == pytest.approx(4.0) and records[4]["ratio"] == pytest.approx(6.0)
    (exp,) = _records.scaling_lines(records)
    assert exp["step"] == "synth" and exp["figure"] == pytest.approx(1.0625, abs=1e-3) and exp["met"] is True
    md, js = _records.write(records, tmp_path / "out", {"cores": 2})
    text = md.read_text(encoding="utf-8")
    assert "| bench_effects.py | AIPW 1M x 30 | 5.00 | s | DoubleML IRM | 20.00 | 4.00× faster | ≥ 4× faster | yes |" \
        in text
    assert "6.00× the floor" in text and "scaling exponent: synth (100,000, 1,000,000, 5,000,000)" in text
    data = json.loads(js.read_text(encoding="utf-8"))
    assert data["machine"] == {"cores": 2} and len(data["records"]) == 6


def test_record_without_the_setting_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.delenv(_records.RECORDS_ENV, raising=False)
    rec = _records.record("b", "l", 1.0, "s")
    assert rec["ratio"] is None and list(tmp_path.iterdir()) == []


def test_a_partial_run_replaces_only_its_own_records(tmp_path, monkeypatch):
    path = tmp_path / "records.jsonl"
    monkeypatch.setenv(_records.RECORDS_ENV, str(path))
    _records.record("bench_kpi.py", "cube 1M", 95.0, "s")
    _records.record("bench_synth.py", "synthetic 1M", 61.0, "s")
    assert _records.drop(path, ["bench_kpi.py"]) == 1
    _records.record("bench_kpi.py", "cube 1M", 29.0, "s")
    assert [(r["benchmark"], r["figure"]) for r in _records.load(path)] == [("bench_synth.py", 61.0),
                                                                           ("bench_kpi.py", 29.0)]
    assert _records.drop(tmp_path / "none.jsonl", ["bench_kpi.py"]) == 0
