"""StreamingWriter writes Parquet on a background thread: rows keep their order, failures are not lost."""

from __future__ import annotations

import pandas as pd
import pyarrow.parquet as pq
import pytest

from casework import store, synth
from casework.store import StreamingWriter


@pytest.fixture(scope="module")
def chunks():
    persons = synth.generate("gelsenkirchen", seed=2, persons=1200).table("persons")
    return [persons.iloc[i:i + 50].reset_index(drop=True) for i in range(0, len(persons), 50)]


def test_many_chunks_are_written_in_the_order_given(tmp_path, monkeypatch, chunks):
    monkeypatch.setattr(store, "MAX_PENDING_WRITES", 3)  # the caller waits for the thread now and then
    w = StreamingWriter(tmp_path / "ds")
    for c in chunks:
        w.append("persons", c)
    ds = w.finish()
    expected = pd.concat(chunks, ignore_index=True)
    pd.testing.assert_frame_equal(ds.table("persons"), expected, check_dtype=False)
    assert pq.ParquetFile(ds.path / "persons.parquet").metadata.num_row_groups == len(chunks)


def test_a_failed_write_is_raised_and_nothing_is_left(tmp_path, chunks):
    w = StreamingWriter(tmp_path / "ds")
    w.append("persons", chunks[0])
    real = w.writers["persons"]

    class Broken:
        schema = real.schema

        def write_table(self, table):
            raise OSError("disk full")

        def close(self):
            real.close()

    w.writers["persons"] = Broken()
    w.append("persons", chunks[1])
    with pytest.raises(OSError, match="disk full"):
        for c in chunks[2:]:
            w.append("persons", c)
        w.finish()
    w.abort()
    assert list(tmp_path.iterdir()) == []
