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
    if np.ndim(m) == 0:
        return (base + np.asarray(m, dtype=int)).to_timestamp()
    return pd.DatetimeIndex(_month_starts(base.ordinal, m)[0])


def _month_starts(base_ordinal: int, m):
    """First day (datetime64[ns]) and number of days of each month index ``m`` counted from the month
    ``base_ordinal`` (months since 1970-01), looked up in a table of the few distinct months: the same values
    as a PeriodIndex's ``to_timestamp()`` and ``days_in_month``, at a tenth of the cost (tens of millions of
    dates at Land scale)."""
    m = np.asarray(m, dtype=np.int64)
    if not len(m):
        return np.empty(0, dtype="datetime64[ns]"), np.empty(0, dtype=np.int64)
    lo = int(m.min())
    months = (base_ordinal + np.arange(lo, int(m.max()) + 2)).astype("datetime64[M]")
    days = np.diff(months.astype("datetime64[D]")).astype(np.int64)
    return months[:-1].astype("datetime64[ns]")[m - lo], days[m - lo]


def date_in_month(scn, m, rng) -> np.ndarray:
    """A random day within month index ``m`` (array)."""
    first, days = _month_starts(pd.Timestamp(scn.data_start).to_period("M").ordinal, m)
    offset = np.floor(rng.random(len(first)) * days).astype("timedelta64[D]")
    return (first + offset).astype("datetime64[ns]")


def dates_or_nat(scn, m, valid, rng) -> np.ndarray:
    out = np.full(len(m), np.datetime64("NaT"), dtype="datetime64[ns]")
    if valid.any():
        out[valid] = date_in_month(scn, np.asarray(m)[valid], rng)
    return out
