"""The store: round trip, atomic writes, and clear errors for missing, truncated or tampered files."""

import json

import pandas as pd
import pytest

from casework import store
from casework.store import Dataset, DatasetError
from tests.datasets import small


@pytest.fixture
def saved(tmp_path):
    return small("pankow", 1, 1500).save(tmp_path / "pankow")


def test_round_trip(saved):
    ds = small("pankow", 1, 1500)
    again = Dataset.open(saved.path)
    assert again.tables == ds.tables
    for t in ds.tables:
        pd.testing.assert_frame_equal(again.table(t), ds.table(t), check_dtype=False)
    assert again.ground_truth == json.loads(json.dumps(ds.ground_truth))
    assert len(again.truth) == len(ds.truth)
    m = json.loads((saved.path / "manifest.json").read_text())
    assert m["tables"]["persons"] == 1500 and m["synthetic"] is True
    assert set(m["files"]) >= {"persons.parquet", "ground_truth.json", "truth.parquet"}


def test_table_returns_a_copy(saved):
    a = saved.table("persons")
    a.loc[0, "sex"] = "zzz"
    assert saved.table("persons").loc[0, "sex"] != "zzz"


def test_sql(saved):
    n = saved.sql("select count(*) as n from persons")["n"].iloc[0]
    assert n == 1500
    j = saved.sql("select p.jc_id, count(*) n from referrals r join persons p using(person_id) group by 1")
    assert j["n"].sum() == len(saved.table("referrals"))


def test_missing_manifest(tmp_path):
    (tmp_path / "x").mkdir()
    with pytest.raises(DatasetError, match="manifest.json"):
        Dataset.open(tmp_path / "x")


def test_missing_file_is_named(saved):
    (saved.path / "offers.parquet").unlink()
    with pytest.raises(DatasetError, match="offers.parquet.*missing"):
        Dataset.open(saved.path)


def test_truncated_file_is_named(saved):
    p = saved.path / "persons.parquet"
    p.write_bytes(p.read_bytes()[:-100])
    with pytest.raises(DatasetError, match="persons.parquet.*truncated"):
        Dataset.open(saved.path)


def test_tampered_file_is_named(saved):
    p = saved.path / "referrals.parquet"
    data = bytearray(p.read_bytes())
    data[len(data) // 2] ^= 0xFF
    p.write_bytes(bytes(data))
    with pytest.raises(DatasetError, match="referrals.parquet.*checksum"):
        Dataset.open(saved.path)
    Dataset.open(saved.path, verify=False)  # the size still matches: opening unverified is possible


def test_interrupted_write_leaves_no_dataset(tmp_path, monkeypatch):
    ds = small("pankow", 1, 1500)
    calls = {"n": 0}
    real = store._atomic_write_parquet

    def failing(df, path):
        calls["n"] += 1
        if calls["n"] == 4:
            raise OSError("disk full")
        real(df, path)

    monkeypatch.setattr(store, "_atomic_write_parquet", failing)
    with pytest.raises(OSError):
        ds.save(tmp_path / "out")
    assert not (tmp_path / "out").exists()
    assert not [p for p in tmp_path.iterdir()], "temporary folders must be cleaned up"


def test_overwrite_keeps_results(saved):
    saved.save_result("effects", pd.DataFrame({"measure": ["x"], "estimate": [0.1]}))
    saved.save_result("meta", {"a": 1})
    again = small("pankow", 1, 1500).save(saved.path)
    assert again.result("meta") == {"a": 1}
    assert again.result("effects")["estimate"].iloc[0] == 0.1
    assert again.has_result("effects") and not again.has_result("nope")
    with pytest.raises(DatasetError, match="result not found"):
        again.result("nope")


def test_unknown_table_errors():
    with pytest.raises(DatasetError, match="unknown table"):
        Dataset.from_tables({"people": pd.DataFrame()})
    with pytest.raises(KeyError, match="not a table of the model"):
        small("pankow", 1, 1500).table("people")
