"""Survival data for any DataFrame: checked covariates, counting-process episodes, time-varying Cox.

A time-varying treatment (a measure that starts some time after time zero,
"lock-in" while it runs, "post" after it) must enter a hazard model as a state
that changes over time: counted from time zero, a person who joins a measure
in month 5 was untreated - and necessarily without an event - in months 0-4
(immortal time). :func:`episodes` splits each person's follow-up at the
times the state changes into ``(start, stop]`` intervals; :func:`cox_time_varying`
fits the Cox model on them (lifelines' ``CoxTimeVaryingFitter``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["covariate_frame", "episodes", "cox_time_varying"]


def need_columns(df: pd.DataFrame, columns) -> None:
    missing = [c for c in dict.fromkeys(columns) if c not in df.columns]
    if missing:
        raise ValueError(f"the data have no column(s) {missing} (columns: {list(df.columns)})")


def require_finite(df: pd.DataFrame, col: str) -> np.ndarray:
    """A column as float, refusing missing, infinite and non-numeric values with the row that has them."""
    s = df[col]
    if pd.api.types.is_datetime64_any_dtype(s) or not (pd.api.types.is_numeric_dtype(s)
                                                        or pd.api.types.is_bool_dtype(s)):
        raise ValueError(f"column {col!r} must be numeric (it is {s.dtype})")
    x = s.to_numpy(dtype="float64", na_value=np.nan)
    bad = ~np.isfinite(x)
    if bad.any():
        i = int(np.argmax(bad))
        raise ValueError(f"column {col!r} has {int(bad.sum())} missing or infinite value(s), e.g. {x[i]} in row "
                         f"{df.index[i]!r}")
    return x


def check_events(df, col, e) -> None:
    bad = ~np.isin(e, (0.0, 1.0))
    if bad.any():
        raise ValueError(f"column {col!r} must be 0/1, but row {df.index[int(np.argmax(bad))]!r} has {e[bad][0]}")


def covariate_frame(df: pd.DataFrame, covariates) -> pd.DataFrame:
    """Covariates as float columns: numeric and bool as they are, categories as indicators against the first.

    Missing or infinite values, dates and columns with a single value are
    refused with the column (and row) named.
    """
    covariates = list(covariates)
    need_columns(df, covariates)
    out = {}
    for c in covariates:
        s = df[c]
        if pd.api.types.is_datetime64_any_dtype(s) or pd.api.types.is_timedelta64_dtype(s):
            raise ValueError(f"covariate {c!r} is a date or duration: give a number derived from it (e.g. age)")
        if pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s):
            out[c] = require_finite(df, c)
            continue
        if s.isna().any():
            raise ValueError(f"covariate {c!r} is missing in row {s.index[int(np.argmax(s.isna().to_numpy()))]!r}")
        dummies = pd.get_dummies(s.astype("category"), prefix=c, prefix_sep="=", drop_first=True, dtype=float)
        out.update({k: dummies[k].to_numpy() for k in dummies.columns})
    frame = pd.DataFrame(out, index=df.index)
    constant = [c for c in frame.columns if frame[c].nunique() < 2]
    if constant:
        raise ValueError(f"covariate(s) {constant} take a single value: leave them out")
    return frame


def episodes(df: pd.DataFrame, *, id: str, duration: str, event: str, switches: dict[str, str],
             reference: str = "none", keep=()) -> pd.DataFrame:
    """Split each row's follow-up into ``(start, stop]`` episodes at the times its state changes.

    Parameters
    ----------
    id, duration, event : str
        Person column, follow-up time from time zero, 0/1 event at its end.
    switches : dict
        ``state -> column`` with the time (same unit as ``duration``, from time
        zero) at which each state begins, in the order the states follow each
        other; missing = never. A time at or before 0 means the state holds
        from the start.
    reference : str
        The state before the first switch.
    keep : list of str
        Other (baseline) columns copied to every episode.

    Returns
    -------
    DataFrame
        Columns id, start, stop, event (1 only on the last episode of a person
        with an event), state, and ``keep``.

    Examples
    --------
    >>> d = pd.DataFrame({"pid": [1, 2], "t": [10.0, 4.0], "e": [1, 0], "begin": [3.0, np.nan]})
    >>> episodes(d, id="pid", duration="t", event="e", switches={"treated": "begin"})[["start", "stop", "state"]]
       start  stop    state
    0    0.0   3.0     none
    1    3.0  10.0  treated
    2    0.0   4.0     none
    """
    need_columns(df, [id, duration, event, *switches.values(), *keep])
    t, e = require_finite(df, duration), require_finite(df, event)
    check_events(df, event, e)
    if (t <= 0).any():
        raise ValueError(f"column {duration!r} is not positive in row {df.index[int(np.argmax(t <= 0))]!r}: an "
                         "episode needs a length (shift events at time zero by a fraction of the unit if they are "
                         "real)")
    states = [reference, *switches]
    cuts = [np.zeros(len(df))]
    for col in switches.values():
        s = df[col].to_numpy(dtype="float64", na_value=np.nan)
        if np.isinf(s).any():
            raise ValueError(f"column {col!r} is infinite in row {df.index[int(np.argmax(np.isinf(s)))]!r}")
        s = np.where(np.isnan(s), t, np.clip(s, 0, t))
        if (s < cuts[-1]).any():
            row = df.index[int(np.argmax(s < cuts[-1]))]
            raise ValueError(f"the state of column {col!r} begins before the state before it in row {row!r}: "
                             "give the switches in the order the states follow each other")
        cuts.append(s)
    cuts.append(t)
    bounds = np.column_stack(cuts)  # (rows, states + 1)
    start, stop = bounds[:, :-1], bounds[:, 1:]
    rows, k = np.nonzero(stop > start)
    last = np.r_[rows[1:] != rows[:-1], True]
    out = pd.DataFrame({id: df[id].to_numpy()[rows], "start": start[rows, k], "stop": stop[rows, k],
                        "event": (e[rows] * last).astype(int), "state": np.array(states, dtype=object)[k]})
    for c in keep:
        out[c] = df[c].to_numpy()[rows]
    return out


def cox_time_varying(df: pd.DataFrame, covariates=(), *, id: str, start: str = "start", stop: str = "stop",
                     event: str = "event", treatment: str = "state", reference: str | None = None,
                     robust: bool = False) -> pd.DataFrame:
    """Cox model with a time-varying treatment on counting-process data (any DataFrame).

    One row per person and episode ``(start, stop]`` (e.g. from
    :func:`episodes`). ``treatment`` is either 0/1 or a state column (e.g.
    none / lockin / post); states enter as indicators against ``reference``
    (default "none" if present, else the first in sorted order), so each
    hazard ratio compares persons in that state with persons at the same
    time who are in the reference state.

    Returns the lifelines summary (coef, exp(coef), its 95 % limits, p) indexed by term
    (the treatment as ``treatment`` or ``treatment=state``).
    """
    from lifelines import CoxTimeVaryingFitter

    need_columns(df, [id, start, stop, event, treatment, *covariates])
    a, b, e = require_finite(df, start), require_finite(df, stop), require_finite(df, event)
    check_events(df, event, e)
    if (b <= a).any():
        raise ValueError(f"episode in row {df.index[int(np.argmax(b <= a))]!r} does not end after it starts "
                         f"(columns {start!r}, {stop!r})")
    _check_no_overlap(df, id, a, b)
    frame = covariate_frame(df, covariates)
    frame = pd.concat([frame, _treatment_columns(df, treatment, reference)], axis=1)
    frame[["_id", "_start", "_stop", "_event"]] = np.column_stack([pd.factorize(df[id])[0], a, b, e])
    fit = CoxTimeVaryingFitter().fit(frame, event_col="_event", start_col="_start", stop_col="_stop",
                                     id_col="_id", robust=robust)
    return fit.summary


def _check_no_overlap(df, id, a, b) -> None:
    order = np.lexsort((a, pd.factorize(df[id])[0]))
    ids = pd.factorize(df[id])[0][order]
    same = ids[1:] == ids[:-1]
    overlap = same & (a[order][1:] < b[order][:-1])
    if overlap.any():
        row = df.index[order[1:][int(np.argmax(overlap))]]
        raise ValueError(f"episodes of one person overlap (row {row!r}, column {id!r})")


def _treatment_columns(df, treatment, reference) -> pd.DataFrame:
    s = df[treatment]
    if pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s):
        return pd.DataFrame({treatment: require_finite(df, treatment)}, index=df.index)
    if s.isna().any():
        raise ValueError(f"column {treatment!r} is missing in row {s.index[int(np.argmax(s.isna().to_numpy()))]!r}")
    levels = sorted(s.astype(str).unique())
    ref = reference if reference is not None else ("none" if "none" in levels else levels[0])
    if ref not in levels:
        raise ValueError(f"reference state {ref!r} does not occur in column {treatment!r} (states: {levels})")
    return pd.DataFrame({f"{treatment}={v}": (s.astype(str) == v).to_numpy(dtype=float)
                         for v in levels if v != ref}, index=df.index)
