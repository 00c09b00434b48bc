"""Converting source cells to the types of the case data model (numbers, dates, labels, yes/no)."""

from __future__ import annotations

import dataclasses
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
MISSING = object()


class BadValue(Exception):
    """A cell that cannot be converted; the message is the quarantine reason."""


def value_label(v) -> str:
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



def is_missing_value(v) -> bool:
    if v is None or v is pd.NA or v is pd.NaT:
        return True
    if isinstance(v, float) and math.isnan(v):
        return True
    if isinstance(v, np.floating) and np.isnan(v):
        return True
    return isinstance(v, str) and not v.strip()


def parse_number_cell(v, decimal: str) -> float | int:
    if isinstance(v, (bool, np.bool_)):
        raise BadValue("not a number")
    if isinstance(v, (int, np.integer)):
        return int(v)
    if isinstance(v, (float, np.floating)):
        if not np.isfinite(v):
            raise BadValue("not a number")
        return float(v)
    if not isinstance(v, str):
        raise BadValue("not a number")
    t = v.strip().replace("\u00a0", "").replace(" ", "").replace("\u2212", "-")
    if decimal == ",":
        if not _DE_NUMBER.match(t):
            raise BadValue("not a number (expected German format such as 1.234,5)")
        t = t.replace(".", "").replace(",", ".")
    else:
        if not _EN_NUMBER.match(t):
            raise BadValue("not a number (expected a format such as 1,234.5)")
        t = t.replace(",", "")
    return float(t) if "." in t else int(t)


def parse_date_cell(v, fmt: str) -> pd.Timestamp:
    if isinstance(v, (pd.Timestamp, _dt.datetime, _dt.date, np.datetime64)):
        try:
            ts = pd.Timestamp(v)
        except (ValueError, OverflowError):
            raise BadValue("not a date (out of range)") from None
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
            raise BadValue(f"not a date (expected {shown})")
    else:
        raise BadValue("not a date")
    if not DATE_YEARS[0] <= ts.year <= DATE_YEARS[1]:
        raise BadValue(f"implausible date (year {ts.year} outside {DATE_YEARS[0]}-{DATE_YEARS[1]})")
    return pd.Timestamp(ts).normalize()


def _in_range(f: S.Field, x):
    if f.kind == "int":
        if float(x) != int(x):
            raise BadValue("not a whole number")
        x = int(x)
    elif f.kind == "float":
        x = float(x)
    if f.min is not None and x < f.min:
        raise BadValue(f"below minimum {f.min:g}")
    if f.max is not None and x > f.max:
        raise BadValue(f"above maximum {f.max:g}")
    return x


def _past_date(v, fmt: str) -> pd.Timestamp:
    """A date that must have happened already (a birth date): impossible and future dates are refused."""
    ts = parse_date_cell(v, fmt)
    if ts > pd.Timestamp.today().normalize():
        raise BadValue("date in the future")
    return ts


def _derive(f: S.Field, spec, v):
    """The value of a derived column (see ``derive:`` in docs/import.md) from one source cell."""
    if spec.derive == "date_past":  # the birth date behind an age
        return _past_date(v, spec.date_format)
    if spec.derive == "year":
        return _in_range(f, _past_date(v, spec.date_format).year)
    if spec.derive == "month":
        return _in_range(f, _past_date(v, spec.date_format).month)
    if spec.derive == "age":  # a fixed reference date; a reference column is handled per column
        return _in_range(f, age_in_years(_past_date(v, spec.date_format), spec.at))
    if spec.derive == "at_least":
        return bool(parse_number_cell(v, spec.decimal) >= spec.threshold)
    raise BadValue(f"unsupported derivation {spec.derive!r}")


def age_in_years(born, at):
    """Completed years of life on the date ``at`` (scalars or datetime Series).

    Examples
    --------
    >>> born = pd.Timestamp("1990-03-01")
    >>> age_in_years(born, pd.Timestamp("2020-02-29")), age_in_years(born, pd.Timestamp("2020-03-01"))
    (29, 30)
    """
    if isinstance(born, pd.Series):
        before = (at.dt.month < born.dt.month) | ((at.dt.month == born.dt.month) & (at.dt.day < born.dt.day))
        return at.dt.year - born.dt.year - before.astype("Int64")
    if at < born:
        raise BadValue(f"date after the reference date {at:%d.%m.%Y}")
    return at.year - born.year - int((at.month, at.day) < (born.month, born.day))


def _convert_kind(f: S.Field, spec, v):
    kind = f.kind
    if kind in ("key", "string"):
        if isinstance(v, (float, np.floating)) and float(v).is_integer():
            v = int(v)
        return str(v).strip()
    if kind == "category":
        if v in (f.allowed or ()):
            return v
        key = _schema_labels(f).get(value_label(v))
        if key is None:
            known = sorted(set(spec.values) | set(f.allowed or ()))
            shown = ", ".join(known[:12]) + (", ..." if len(known) > 12 else "")
            raise BadValue(f"unknown value {str(v).strip()!r} (expected one of: {shown})")
        return key
    if kind == "bool":
        if isinstance(v, (bool, np.bool_)):
            return bool(v)
        lab = value_label(v)
        if lab in _YES:
            return True
        if lab in _NO:
            return False
        raise BadValue(f"not a yes/no value: {str(v).strip()!r}")
    if kind in ("int", "float"):
        return _in_range(f, parse_number_cell(v, spec.decimal))
    if kind == "date":
        return parse_date_cell(v, spec.date_format)
    raise BadValue(f"unsupported column kind {kind!r}")


def convert_value(f: S.Field, spec, v):
    """One cell -> converted value, ``MISSING``, or a :class:`BadValue` with the reason."""
    try:
        if is_missing_value(v):
            return MISSING
        label = value_label(v)
        if label in spec.missing:
            return MISSING
        if label in spec.values:
            v = spec.values[label]
            if v is None:
                return MISSING
            if spec.derive:  # a label mapped to a model value is that value, not a source to derive from
                return _in_range(f, v) if f.kind in ("int", "float") else v
        if spec.derive:
            return _derive(f, spec, v)
        return _convert_kind(f, spec, v)
    except BadValue as exc:
        return exc


#: Column types whose distinct values can be told apart by pandas' hashing (True and 1 cannot).
_FACTORIZABLE = {"string", "empty", "integer", "floating", "mixed-integer-float", "datetime", "datetime64", "date",
                 "decimal"}


def _distinct(raw: pd.Series) -> tuple[np.ndarray, list]:
    """Codes per row (-1: missing) and the distinct values, so that each value is converted once."""
    if pd.api.types.infer_dtype(raw, skipna=True) in _FACTORIZABLE:
        codes, uniques = pd.factorize(raw, use_na_sentinel=True)
        return codes, list(uniques)
    index: dict = {}
    codes = np.empty(len(raw), dtype=np.int64)
    for i, v in enumerate(raw.tolist()):
        codes[i] = -1 if is_missing_value(v) else index.setdefault((type(v), v), len(index))
    return codes, [v for _, v in index]


def convert_column(f: S.Field, spec, raw: pd.Series, ref: pd.Series | None = None):
    """Convert a source column to the model field ``f``.

    Each distinct value is converted once and the result spread over the rows
    (an export of a million rows holds a few thousand distinct dates).

    Returns
    -------
    (pandas.Series, numpy.ndarray)
        The typed values by position (missing where a cell failed) and the
        quarantine reason per row (``None`` where the cell is fine).
    """
    if spec.derive == "age" and ref is not None:
        return _age_column(f, spec, raw, ref)
    codes, uniques = _distinct(raw)
    values, reasons = [], []
    for u in uniques:
        hit = convert_value(f, spec, u)
        bad = isinstance(hit, BadValue)
        values.append(None if bad or hit is MISSING else hit)
        reasons.append(str(hit) if bad else ("required value is missing" if hit is MISSING and f.required
                                             else None))
    values.append(None)
    reasons.append("required value is missing" if f.required else None)
    take = np.where(codes < 0, len(uniques), codes)
    typed = to_typed(f, values).take(take).reset_index(drop=True)
    return typed, np.asarray(reasons, dtype=object)[take]


def _age_column(f: S.Field, spec, raw: pd.Series, ref: pd.Series):
    """Age on a reference date read from another column of the same row."""
    date_field = S.Field(f.name, "date", f.label, f.meaning, required=f.required)
    plain = dataclasses.replace(spec, derive=None, values={}, missing=frozenset())
    born, why = convert_column(date_field, dataclasses.replace(spec, derive="date_past"), raw)
    at, why_at = convert_column(date_field, plain, ref)
    age = age_in_years(born, at)
    # str + array of str needs numpy 2; a list works on every numpy casework supports
    on_reference = np.array([None if w is None else f"reference date: {w}" for w in why_at], dtype=object)
    reasons = np.where(why == None, on_reference, why)  # noqa: E711
    reasons[(age < 0).to_numpy(dtype=bool, na_value=False) & (reasons == None)] = "date after the reference date"  # noqa: E711
    for bound, wrong, text in ((f.min, age < (f.min or 0), "below minimum"), (f.max, age > (f.max or 0),
                                                                             "above maximum")):
        if bound is not None:
            reasons[wrong.to_numpy(dtype=bool, na_value=False) & (reasons == None)] = f"{text} {bound:g}"  # noqa: E711
    age = age.where(pd.Series(reasons == None), pd.NA)  # noqa: E711
    return to_typed(f, age.astype(object).where(age.notna(), None).tolist()), reasons


def to_typed(f: S.Field, values: list) -> pd.Series:
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

