"""Keys and dates of the synthetic tables (month indices from a scenario's data start)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from casework.synth.scenarios import Scenario

__all__ = ["ids"]


def ids(prefix: str, n: int, start: int = 0, width: int = 7) -> np.ndarray:
    """Vectorised string keys ``<prefix><zero-padded number>``."""
    out = np.empty(n, dtype=object)
    if n:
        # printf-style formatting is twice as fast as numpy's string functions (tens of millions of keys at Land
        # scale); the same keys: zero-padded to ``width``, longer numbers kept whole
        fmt = f"{prefix}%0{width}d"
        out[:] = [fmt % i for i in range(start, start + n)]
    return out


def scenario_month_start(scn: Scenario, m) -> pd.DatetimeIndex:
    base = pd.Timestamp(scn.data_start).to_period("M")
    return (base + np.asarray(m, dtype=int)).to_timestamp() if np.ndim(m) == 0 else \
        pd.PeriodIndex.from_ordinals(base.ordinal + np.asarray(m, dtype=np.int64), freq="M").to_timestamp()


def date_in_month(scn, m, rng) -> np.ndarray:
    """A random day within month index ``m`` (array)."""
    first = scenario_month_start(scn, m)
    days = first.days_in_month.to_numpy()
    offset = np.floor(rng.random(len(first)) * days).astype("timedelta64[D]")
    return (first.to_numpy() + offset).astype("datetime64[ns]")


def dates_or_nat(scn, m, valid, rng) -> np.ndarray:
    out = np.full(len(m), np.datetime64("NaT"), dtype="datetime64[ns]")
    if valid.any():
        out[valid] = date_in_month(scn, np.asarray(m)[valid], rng)
    return out
