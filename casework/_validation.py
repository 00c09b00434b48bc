"""Validation of a dataset against the case data model.

Per-table rules (types, required fields, allowed values, ranges, unique keys)
are expressed as pandera schemas built from :mod:`casework.schema`; rules
across rows and tables (foreign keys, date order, overlapping spells,
plausible ages) are the rules of :mod:`casework.datarules`, shared with the import. Every problem becomes one
:class:`ValidationIssue` naming table, row, column and what is wrong.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pandera.pandas as pa

from casework import schema as S
from casework.datarules import OVERLAP_MESSAGE, dangling_references, overlapping_spells, row_rules

__all__ = ["ValidationIssue", "ValidationReport", "validate", "pandera_schema"]

#: Stop listing issues of one kind after this many (the count stays exact).
MAX_ISSUES_PER_CHECK = 50


@dataclass(frozen=True)
class ValidationIssue:
    """One problem: ``row`` is the 0-based row number in the table (None: whole table)."""

    table: str
    row: int | None
    column: str | None
    message: str
    value: object = None

    def __str__(self) -> str:
        where = self.table if self.row is None else f"{self.table}, row {self.row}"
        if self.column:
            where += f", column {self.column!r}"
        return f"{where}: {self.message}"


@dataclass(frozen=True)
class ValidationReport:
    """Result of :func:`validate`: ``ok`` is True when there are no errors."""

    errors: tuple[ValidationIssue, ...] = ()
    counts: dict = field(default_factory=dict)  # check name -> number of failing rows
    rows: dict = field(default_factory=dict)  # table -> rows checked

    @property
    def ok(self) -> bool:
        return not self.errors

    def to_frame(self) -> pd.DataFrame:
        """Errors as a tidy frame with columns table, row, column, message, value."""
        cols = ["table", "row", "column", "message", "value"]
        return pd.DataFrame([[getattr(e, c) for c in cols] for e in self.errors], columns=cols)

    def summary(self) -> str:
        """A readable report (used by ``casework validate``)."""
        lines = [f"{t}: {n:,} rows" for t, n in self.rows.items()]
        if self.ok:
            return "\n".join(["Validation passed.", *lines])
        head = [f"Validation failed: {sum(self.counts.values()):,} problems."]
        head += [f"  {name}: {n:,}" for name, n in self.counts.items() if n]
        return "\n".join(head + ["", *map(str, self.errors[:200])])

    def __str__(self) -> str:
        return self.summary()

    def _repr_html_(self) -> str:
        status = "<b>Validation passed.</b>" if self.ok else f"<b>{len(self.errors)} problems</b>"
        return status + self.to_frame().head(200).to_html(index=False)


# --------------------------------------------------------------------------
# pandera schemas from the model
# --------------------------------------------------------------------------

def _is_text(s: pd.Series) -> pd.Series:
    if pd.api.types.infer_dtype(s, skipna=True) in ("string", "empty"):  # the common case, without a loop
        return pd.Series(True, index=s.index)
    return s.map(lambda v: isinstance(v, str))


def _is_bool(s: pd.Series) -> pd.Series:
    if pd.api.types.is_bool_dtype(s):
        return pd.Series(True, index=s.index)
    return s.map(lambda v: isinstance(v, (bool, np.bool_)))


_KIND_CHECK = {
    "key": lambda s: _is_text(s) & s.ne(""),
    "string": _is_text,
    "category": _is_text,
    "int": lambda s: s.map(lambda v: isinstance(v, (int, np.integer)) or (isinstance(v, float) and v.is_integer())),
    "float": lambda s: s.map(lambda v: isinstance(v, (int, float, np.number)) and not isinstance(v, bool)),
    "bool": _is_bool,
}


def _column(f: S.Field) -> pa.Column:
    checks = []
    if f.allowed is not None:
        checks.append(pa.Check.isin(list(f.allowed), error=f"value not allowed (allowed: {', '.join(f.allowed)})"))
    if f.min is not None:
        checks.append(pa.Check.ge(f.min, error=f"value below minimum {f.min:g}"))
    if f.max is not None:
        checks.append(pa.Check.le(f.max, error=f"value above maximum {f.max:g}"))
    dtype = "datetime64[ns]" if f.kind == "date" else None
    if f.kind not in ("date",) and f.kind in _KIND_CHECK and f.kind not in ("int", "float"):
        checks.append(pa.Check(_KIND_CHECK[f.kind], element_wise=False, error=f"not a {f.kind}"))
    if f.kind in ("int", "float"):
        dtype = None
        checks.insert(0, pa.Check(lambda s: pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s),
                                  error=f"column is not numeric ({f.kind})"))
    return pa.Column(dtype, checks=checks, nullable=not f.required, required=True, name=f.name)


def pandera_schema(table: str) -> pa.DataFrameSchema:
    """The pandera schema of one table (columns, types, ranges, allowed values, unique key)."""
    t = S.TABLES[table]
    return pa.DataFrameSchema(
        {f.name: _column(f) for f in t.fields},
        unique=[t.primary_key] if t.primary_key else None,
        strict=False,
        name=table,
    )


# --------------------------------------------------------------------------
# checks
# --------------------------------------------------------------------------


class _Collector:
    def __init__(self):
        self.issues: list[ValidationIssue] = []
        self.counts: dict[str, int] = {}

    def add_rows(self, check: str, table: str, rows, column, message, values=None):
        rows = list(rows)
        self.counts[check] = self.counts.get(check, 0) + len(rows)
        vals = list(values) if values is not None else [None] * len(rows)
        for r, v in list(zip(rows, vals))[:MAX_ISSUES_PER_CHECK]:
            self.issues.append(ValidationIssue(table, None if r is None else int(r), column, message, _plain(v)))


def _plain(v):
    if isinstance(v, (np.generic,)):
        return v.item()
    if isinstance(v, pd.Timestamp):
        return v.strftime("%Y-%m-%d")
    return v


def _check_table(name: str, df: pd.DataFrame, out: _Collector) -> None:
    t = S.TABLES[name]
    # an optional field may be absent as a whole column (real exports lack most of them)
    missing = [f.name for f in t.fields if f.required and f.name not in df.columns]
    for c in missing:
        out.add_rows("missing_column", name, [None], c, "required column is missing")
    frame = df.reset_index(drop=True)
    present = [f for f in t.fields if f.name in frame.columns]
    for f in present:
        nulls = frame.index[frame[f.name].isna()] if f.required else []
        if len(nulls):
            out.add_rows("required", name, nulls, f.name, "required value is missing")
        if f.kind == "date" and not pd.api.types.is_datetime64_any_dtype(frame[f.name]):
            out.add_rows("type", name, [None], f.name, f"column is not a date column (dtype {frame[f.name].dtype})")
    schema = pa.DataFrameSchema(
        {f.name: _column(f) for f in present if not (f.kind == "date" and
                                                     not pd.api.types.is_datetime64_any_dtype(frame[f.name]))},
        unique=[t.primary_key] if t.primary_key in frame.columns else None, name=name)
    try:
        schema.validate(frame, lazy=True)
    except pa.errors.SchemaErrors as exc:
        _collect_pandera(name, exc.failure_cases, out)


def _collect_pandera(table: str, fc: pd.DataFrame, out: _Collector) -> None:
    for (column, check), grp in fc.groupby(["column", "check"], dropna=False, sort=False):
        check = str(check)
        if check == "not_nullable":
            continue  # reported by the required-value check with its row
        column = None if pd.isna(column) else str(column)
        if "unique" in check or "duplicates" in check:
            message, kind = "duplicate key", "unique"
        elif check.startswith("dtype"):
            message, kind = f"wrong type ({check})", "type"
        else:
            message, kind = check, "value"
        rows = [None if pd.isna(i) else i for i in grp["index"]]
        out.add_rows(kind, table, rows, column, message, grp["failure_case"].tolist())


def _check_foreign_keys(tables: dict[str, pd.DataFrame], out: _Collector) -> None:
    for name, df in tables.items():
        for f in S.TABLES[name].fields:
            if not f.ref or f.name not in df.columns:
                continue
            ref_table, ref_col = f.ref.split(".")
            if ref_table not in tables or ref_col not in tables[ref_table].columns:
                continue
            vals = df[f.name].reset_index(drop=True)
            bad = dangling_references(vals, tables[ref_table][ref_col])
            if bad.any():
                out.add_rows("foreign_key", name, vals.index[bad], f.name,
                             f"refers to a missing {ref_table}.{ref_col}", vals[bad].tolist())


def _check_row_rules(tables: dict[str, pd.DataFrame], out: _Collector) -> None:
    for name, df in tables.items():
        frame = df.reset_index(drop=True)
        for rule in row_rules(name):
            if not rule.applies(frame.columns):
                continue
            bad = rule.test(frame)
            if bad.any():
                out.add_rows(rule.check, name, frame.index[bad], rule.column, rule.message,
                             frame.loc[bad, rule.column].tolist())


def _check_spells(tables: dict[str, pd.DataFrame], out: _Collector) -> None:
    for name, start, end in S.SPELL_TABLES:
        df = tables.get(name)
        if df is None or not {"person_id", start, end} <= set(df.columns):
            continue
        d = df.reset_index(drop=True)
        bad = overlapping_spells(d, start, end)
        if bad.any():
            out.add_rows("overlap", name, d.index[bad], start, OVERLAP_MESSAGE, d.loc[bad, start].tolist())


def validate(dataset) -> ValidationReport:
    """Validate a dataset (a :class:`casework.store.Dataset` or a dict of DataFrames).

    Checks every table of the model that is present: required columns and
    values, types, allowed values, ranges, unique keys; foreign keys, date
    order (referral <= start <= end ...), overlapping benefit spells per
    person and plausible ages. Tables the model does not know are ignored.

    Returns
    -------
    ValidationReport
        ``.ok``, ``.errors`` (each with ``table``, ``row``, ``column``,
        ``message``, ``value``), ``.counts`` per check and ``.summary()``.

    Examples
    --------
    >>> import pandas as pd
    >>> from casework.schema import validate
    >>> jc = pd.DataFrame({"jc_id": ["J1"], "name": ["JC"], "land": ["NW"],
    ...                    "region_type": ["city"], "comparison_type": ["IIIa"]})
    >>> validate({"jobcenters": jc}).ok
    True
    >>> bad = validate({"jobcenters": jc.assign(region_type="moon")})
    >>> bad.ok, bad.errors[0].column
    (False, 'region_type')
    """
    tables = _as_tables(dataset)
    out = _Collector()
    for name in S.TABLE_ORDER:
        if name in tables:
            _check_table(name, tables[name], out)
    _check_foreign_keys(tables, out)
    _check_row_rules(tables, out)
    _check_spells(tables, out)
    return ValidationReport(tuple(out.issues), dict(out.counts), {n: len(df) for n, df in tables.items()})


def _as_tables(dataset) -> dict[str, pd.DataFrame]:
    if isinstance(dataset, dict):
        return {k: v for k, v in dataset.items() if k in S.TABLES}
    tables = {}
    for name in dataset.tables:
        if name in S.TABLES:
            tables[name] = dataset.table(name)  # a copy: the dataset's cached one is not needed beside it
            getattr(dataset, "release", lambda: None)()  # a folder's tables twice took ~9 GB at 1.1M persons
    return tables
