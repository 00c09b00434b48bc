"""casework.synth.heap: freed memory is kept for reuse while generating and handed back afterwards."""

from __future__ import annotations

import os
import sys

import numpy as np
import pandas as pd
import pytest

from casework import synth
from casework.synth import heap

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux") or heap._libc() is None,
                                reason="glibc's mallopt is needed")


def _rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def test_freed_memory_stays_in_the_block_and_is_returned_after_it():
    before = _rss_mb()
    with heap.retained_heap() as active:
        assert active
        a = np.ones(40_000_000)  # 320 MB, from the heap (mmap is off)
        del a
        kept = _rss_mb()
    after = _rss_mb()
    assert kept - before > 250  # freed but kept for the next chunk
    assert after - before < 50  # malloc_trim handed it back


def test_generation_is_the_same_with_and_without_it(monkeypatch):
    a = synth.generate("gelsenkirchen", seed=3, persons=1500)

    class Off:
        def __enter__(self):
            return False

        def __exit__(self, *exc):
            return False

    monkeypatch.setattr(synth, "retained_heap", Off)
    b = synth.generate("gelsenkirchen", seed=3, persons=1500)
    for t in a.tables:
        pd.testing.assert_frame_equal(a.table(t), b.table(t))
    assert a.ground_truth == b.ground_truth
