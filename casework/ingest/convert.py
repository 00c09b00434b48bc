"""Converting source cells to the types of the case data model (numbers, dates, labels, yes/no)."""

from __future__ import annotations

import datetime as _dt
import functools
import math
import re

import numpy as np
import pandas as pd

from casework import schema as S

#: Dates outside these years are taken for typos.
DATE_YEARS = (1900, 2100)

_YES = {"ja", "j", "yes", "y", "true", "wahr", "1", "x"}
_NO = {"nein", "n", "no", "false", "falsch", "0"}
_DE_NUMBER = re.compile(r"^[+-]?(\d{1,3}(\.\d{3})+|\d+)(,\d+)?$")
_EN_NUMBER = re.compile(r"^[+-]?(\d{1,3}(,\d{3})+|\d+)(\.\d+)?$")
_MISSING = object()


class _Bad(Exception):
    """A cell that cannot be converted; the message is the quarantine reason."""


def _label(v) -> str:
    """Canonical text of a source value or mapping label (for matching)."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (float, np.floating)) and float(v).is_integer():
        v = int(v)
    return str(v).strip().casefold()


@functools.lru_cache(maxsize=256)
def _schema_labels(f: S.Field) -> dict:
    """casefolded German label or key -> key for a category field (from the schema vocabularies)."""
    allowed = set(f.allowed or ())
    out = {}
    for name in dir(S):
        vocab = getattr(S, name)
        if name.isupper() and isinstance(vocab, dict) and set(vocab) == allowed:
            out.update({str(label).strip().casefold(): key for key, label in vocab.items()})
    out.update({str(k).casefold(): k for k in allowed})
    return out



def _is_missing(v) -> bool:
    if v is None or v is pd.NA or v is pd.NaT:
        return True
    if isinstance(v, float) and math.isnan(v):
        return True
    if isinstance(v, np.floating) and np.isnan(v):
        return True
    return isinstance(v, str) and not v.strip()


def _number(v, decimal: str) -> float | int:
    if isinstance(v, (bool, np.bool_)):
        raise _Bad("not a number")
    if isinstance(v, (int, np.integer)):
        return int(v)
    if isinstance(v, (float, np.floating)):
        if not np.isfinite(v):
            raise _Bad("not a number")
        return float(v)
    if not isinstance(v, str):
        raise _Bad("not a number")
    t = v.strip().replace("\u00a0", "").replace(" ", "").replace("\u2212", "-")
    if decimal == ",":
        if not _DE_NUMBER.match(t):
            raise _Bad("not a number (expected German format such as 1.234,5)")
        t = t.replace(".", "").replace(",", ".")
    else:
        if not _EN_NUMBER.match(t):
            raise _Bad("not a number (expected a format such as 1,234.5)")
        t = t.replace(",", "")
    return float(t) if "." in t else int(t)


def _date(v, fmt: str) -> pd.Timestamp:
    if isinstance(v, (pd.Timestamp, _dt.datetime, _dt.date, np.datetime64)):
        try:
            ts = pd.Timestamp(v)
        except (ValueError, OverflowError):
            raise _Bad("not a date (out of range)") from None
    elif isinstance(v, str):
        t = v.strip()
        ts = None
        for f in (fmt, fmt + " %H:%M", fmt + " %H:%M:%S", "%Y-%m-%d", "%Y-%m-%d %H:%M:%S"):
            try:
                d = _dt.datetime.strptime(t, f)
            except ValueError:
                continue
            ts = d
            break
        if ts is None:
            shown = fmt.replace("%d", "dd").replace("%m", "mm").replace("%Y", "yyyy").replace("%y", "yy")
            raise _Bad(f"not a date (expected {shown})")
    else:
        raise _Bad("not a date")
    if not DATE_YEARS[0] <= ts.year <= DATE_YEARS[1]:
        raise _Bad(f"implausible date (year {ts.year} outside {DATE_YEARS[0]}-{DATE_YEARS[1]})")
    return pd.Timestamp(ts).normalize()


def _convert_value(f: S.Field, spec, v):
    """One cell -> converted value, ``_MISSING``, or a :class:`_Bad` with the reason."""
    try:
        if _is_missing(v):
            return _MISSING
        label = _label(v)
        if label in spec.missing:
            return _MISSING
        if label in spec.values:
            v = spec.values[label]
            if v is None:
                return _MISSING
        kind = f.kind
        if kind in ("key", "string"):
            if isinstance(v, (float, np.floating)) and float(v).is_integer():
                v = int(v)
            return str(v).strip()
        if kind == "category":
            if v in (f.allowed or ()):
                return v
            key = _schema_labels(f).get(_label(v))
            if key is None:
                known = sorted(set(spec.values) | set(f.allowed or ()))
                shown = ", ".join(known[:12]) + (", ..." if len(known) > 12 else "")
                raise _Bad(f"unknown value {str(v).strip()!r} (expected one of: {shown})")
            return key
        if kind == "bool":
            if isinstance(v, (bool, np.bool_)):
                return bool(v)
            lab = _label(v)
            if lab in _YES:
                return True
            if lab in _NO:
                return False
            raise _Bad(f"not a yes/no value: {str(v).strip()!r}")
        if kind in ("int", "float"):
            x = _number(v, spec.decimal)
            if kind == "int":
                if float(x) != int(x):
                    raise _Bad("not a whole number")
                x = int(x)
            else:
                x = float(x)
            if f.min is not None and x < f.min:
                raise _Bad(f"below minimum {f.min:g}")
            if f.max is not None and x > f.max:
                raise _Bad(f"above maximum {f.max:g}")
            return x
        if kind == "date":
            return _date(v, spec.date_format)
        raise _Bad(f"unsupported column kind {kind!r}")
    except _Bad as exc:
        return exc


def _convert(f: S.Field, spec, raw: pd.Series):
    """Convert a source column: (values list, reasons list of str/None)."""
    cache: dict = {}
    values, reasons = [], []
    for v in raw.tolist():
        try:
            hit = cache.get((type(v), v), _MISSING) if not _is_missing(v) else _MISSING
            if hit is _MISSING:
                hit = _convert_value(f, spec, v)
                if not _is_missing(v):
                    cache[(type(v), v)] = hit
        except TypeError:  # unhashable
            hit = _convert_value(f, spec, v)
        if hit is _MISSING:
            values.append(None)
            reasons.append("required value is missing" if f.required else None)
        elif isinstance(hit, _Bad):
            values.append(None)
            reasons.append(str(hit))
        else:
            values.append(hit)
            reasons.append(None)
    return values, reasons


def _typed(f: S.Field, values: list) -> pd.Series:
    if f.kind == "date":
        return pd.Series(pd.to_datetime(pd.Series(values, dtype=object)), dtype="datetime64[ns]")
    if f.kind == "int":
        s = pd.Series(values, dtype="Int64")
        return s.astype("int64") if not s.isna().any() else s
    if f.kind == "float":
        return pd.Series([np.nan if v is None else v for v in values], dtype="float64")
    if f.kind == "bool":
        s = pd.Series(values, dtype="boolean")
        return s.astype(bool) if not s.isna().any() else s
    return pd.Series(values, dtype=object)

