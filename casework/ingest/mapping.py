"""The import mapping: which export file and source column feeds which model column, and how.

A YAML mapping (see ``docs/import.md`` and ``data/mappings/example_mapping.yaml``)
says, per model table, which export file to read, which source column feeds
which model column, how value labels translate into vocabulary keys
(``"weiblich"`` -> ``"f"``), which columns are direct identifiers (pseudonymised
with :mod:`casework.ingest.pseudonym` or dropped) and how dates are written.

Examples
--------
>>> from casework.ingest import load_mapping
>>> m = load_mapping({"tables": {"contacts": {"file": "kontakte.csv", "columns": {
...     "contact_id": {"source": "Kontakt-Nr"},
...     "person_id": {"source": "Kundennummer", "pseudonym": "person"},
...     "date": "Datum",
...     "kind": {"source": "Art", "values": {"Gespräch": "counselling"}}}}}})
>>> m.tables["contacts"].columns["date"].source
('Datum',)
>>> sorted(m.tables["contacts"].identifier_sources)
['Kundennummer']
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from casework import schema as S
from casework.ingest.convert import MISSING, BadValue, convert_value, value_label
from casework.ingest.pseudonym import prefix

__all__ = ["ColumnSpec", "TableMapping", "Mapping", "load_mapping"]

_TABLE_KEYS = {"file", "format", "sheet", "encoding", "sep", "decimal", "date_format", "columns", "drop",
               "identifiers", "description"}
_COLUMN_KEYS = {"source", "value", "pseudonym", "values", "missing", "date_format", "decimal", "description",
                "derive", "at", "threshold"}
#: derive: -> the model column kinds it can fill.
DERIVATIONS = {"year": ("int", "float"), "month": ("int", "float"), "age": ("int", "float"), "at_least": ("bool",)}
_DEFAULT_KEYS = {"format", "encoding", "sep", "decimal", "date_format"}


@dataclass(frozen=True)
class ColumnSpec:
    """How one model column is filled: from ``source`` column(s) or a constant ``value``."""

    target: str
    source: tuple[str, ...] = ()
    value: object = None
    pseudonym: str | None = None
    values: dict = field(default_factory=dict)  # casefolded label -> target value (None: missing)
    missing: frozenset = frozenset()  # casefolded labels meaning "missing"
    date_format: str = "%d.%m.%Y"
    decimal: str = ","
    derive: str | None = None  # year, month, age (of a date) or at_least (yes/no from a number)
    at: object = None  # age: reference date (Timestamp) or the source column holding it
    threshold: float | None = None  # at_least: yes when the number is at least this

    @property
    def reads(self) -> tuple[str, ...]:
        """Every source column this spec reads (the reference date column of an age as well)."""
        return self.source + ((self.at,) if isinstance(self.at, str) else ())


@dataclass(frozen=True)
class TableMapping:
    """Mapping of one model table: file, reading options, column specs, identifiers."""

    table: str
    file: str
    columns: dict
    format: str | None = None
    sheet: object = None
    encoding: str | None = None
    sep: str = ";"
    decimal: str = ","
    date_format: str = "%d.%m.%Y"
    drop: tuple[str, ...] = ()
    identifiers: tuple[str, ...] = ()

    @property
    def identifier_sources(self) -> set[str]:
        """Source columns holding direct identifiers (masked in the quarantine, never written)."""
        out = set(self.drop) | set(self.identifiers)
        for spec in self.columns.values():
            if spec.pseudonym and len(spec.source) == 1:  # parts of a combined key (a date) are not
                out.update(spec.source)
        return out


@dataclass(frozen=True)
class Mapping:
    """A loaded mapping: ``tables`` maps model table names to :class:`TableMapping`."""

    tables: dict
    path: Path | None = None

    @property
    def needs_key(self) -> bool:
        """True when any column is pseudonymised."""
        return any(s.pseudonym for t in self.tables.values() for s in t.columns.values())


def _date_format(fmt, where: str) -> str:
    if not isinstance(fmt, str) or not fmt:
        raise ValueError(f"{where}: date_format must be text such as '%d.%m.%Y' or 'dd.mm.yyyy'")
    if "%" in fmt:
        return fmt
    out = fmt
    for token, code in (("yyyy", "%Y"), ("YYYY", "%Y"), ("yy", "%y"), ("YY", "%y"), ("dd", "%d"), ("DD", "%d"),
                        ("mm", "%m"), ("MM", "%m")):
        out = out.replace(token, code)
    if "%d" not in out or "%m" not in out or "%" not in out.replace("%d", "").replace("%m", ""):
        raise ValueError(f"{where}: cannot read date_format {fmt!r}; write it like '%d.%m.%Y' or 'dd.mm.yyyy'")
    return out



def _column_spec(table: str, f: S.Field, raw, tdefaults: dict, where: str) -> ColumnSpec:
    if isinstance(raw, str) or (isinstance(raw, list) and all(isinstance(c, str) for c in raw)):
        raw = {"source": raw}
    if not isinstance(raw, dict):
        raise ValueError(f"{where}: give a source column name or a mapping with source:/value:")
    unknown = sorted(set(raw) - _COLUMN_KEYS)
    if unknown:
        raise ValueError(f"{where}: unknown setting(s) {unknown}; allowed: {sorted(_COLUMN_KEYS)}")
    if ("source" in raw) == ("value" in raw):
        raise ValueError(f"{where}: give exactly one of source: (a column of the file) or value: (a constant)")
    source = raw.get("source", ())
    source = (source,) if isinstance(source, str) else tuple(source)
    if any(not isinstance(c, str) or not c for c in source):
        raise ValueError(f"{where}: source must be a column name or a list of column names")
    if len(source) > 1 and not raw.get("pseudonym"):
        raise ValueError(f"{where}: several source columns are only allowed for a pseudonym (combined key)")
    pseudo = raw.get("pseudonym")
    if pseudo is not None:
        if pseudo is True:
            pseudo = "person"
        prefix(pseudo)  # validates the domain
        if f.kind not in ("key", "string"):
            raise ValueError(f"{where}: pseudonym: is only possible for key or text columns ({f.name} is {f.kind})")
        if "value" in raw:
            raise ValueError(f"{where}: a constant value: cannot be pseudonymised")
    values = {}
    for label, target in (raw.get("values") or {}).items():
        if target is not None:
            if f.kind == "category" and target not in (f.allowed or ()):
                raise ValueError(f"{where}: label {label!r} maps to {target!r}, which is not allowed for "
                                 f"{table}.{f.name} (allowed: {', '.join(f.allowed)})")
            if f.kind == "bool" and not isinstance(target, bool):
                raise ValueError(f"{where}: label {label!r} must map to true or false, not {target!r}")
            if f.kind in ("int", "float") and (isinstance(target, bool) or not isinstance(target, (int, float))):
                raise ValueError(f"{where}: label {label!r} must map to a number, not {target!r}")
            if f.kind == "date" or raw.get("derive") in ("year", "month", "age"):
                raise ValueError(f"{where}: values: is not supported for dates (use missing:)")
        values[value_label(label)] = target
    missing = frozenset(value_label(v) for v in (raw.get("missing") or ()))
    date_format = _date_format(raw.get("date_format", tdefaults["date_format"]), where)
    decimal = raw.get("decimal", tdefaults["decimal"])
    if decimal not in (",", "."):
        raise ValueError(f"{where}: decimal must be ',' or '.', not {decimal!r}")
    derive, at, threshold = _derivation(f, raw, date_format, where)
    spec = ColumnSpec(f.name, source, raw.get("value"), pseudo, values, missing, date_format, decimal, derive, at,
                      threshold)
    if "value" in raw:
        result = convert_value(f, spec, raw["value"])
        if isinstance(result, BadValue) or (result is MISSING and f.required):
            reason = result if isinstance(result, BadValue) else "required value is missing"
            raise ValueError(f"{where}: constant {raw['value']!r} is not valid for {table}.{f.name}: {reason}")
    return spec


def _derivation(f: S.Field, raw: dict, date_format: str, where: str):
    """(derive, at, threshold) of a column, checked against the kind of the model column."""
    derive = raw.get("derive")
    if derive is None:
        for key in ("at", "threshold"):
            if key in raw:
                raise ValueError(f"{where}: {key}: only goes with derive: (age takes at:, at_least takes threshold:)")
        if "date_format" in raw and f.kind != "date":
            raise ValueError(f"{where}: date_format: is set but {f.name} is a {f.kind} column, not a date; to take "
                             f"a number from a date write derive: year (or month, age with at:)")
        return None, None, None
    if derive not in DERIVATIONS:
        raise ValueError(f"{where}: derive: {derive!r} is unknown; use one of {', '.join(DERIVATIONS)}")
    if f.kind not in DERIVATIONS[derive]:
        raise ValueError(f"{where}: derive: {derive} gives a {'yes/no' if derive == 'at_least' else 'number'}, "
                         f"but {f.name} is a {f.kind} column")
    if "value" in raw or raw.get("pseudonym"):
        raise ValueError(f"{where}: derive: needs a source: column and no pseudonym:")
    at = raw.get("at")
    if derive == "age":
        if not isinstance(at, str) or not at.strip():
            raise ValueError(f"{where}: derive: age needs at: (a reference date such as 31.12.2024, or the source "
                             f"column holding it)")
        try:
            at = pd.Timestamp(_dt.datetime.strptime(at.strip(), date_format))
        except ValueError:
            at = at.strip()  # the name of a source column
    elif at is not None:
        raise ValueError(f"{where}: at: only goes with derive: age")
    threshold = raw.get("threshold")
    if derive == "at_least":
        if isinstance(threshold, bool) or not isinstance(threshold, (int, float)):
            raise ValueError(f"{where}: derive: at_least needs threshold: (a number; yes when the value is at "
                             f"least this, e.g. 50 for a Grad der Behinderung, 1 for a count)")
    elif threshold is not None:
        raise ValueError(f"{where}: threshold: only goes with derive: at_least")
    return derive, at, threshold


def _names(raw, where: str) -> tuple[str, ...]:
    if raw is None:
        return ()
    if isinstance(raw, str):
        raw = [raw]
    if not isinstance(raw, list) or not all(isinstance(c, str) and c for c in raw):
        raise ValueError(f"{where}: expected a list of source column names")
    return tuple(raw)


def _table_mapping(table: str, raw, defaults: dict, where: str) -> TableMapping:
    if table not in S.TABLES:
        raise ValueError(f"{where}: {table!r} is not a table of the model; tables: {', '.join(S.TABLE_ORDER)}")
    if not isinstance(raw, dict):
        raise ValueError(f"{where}.{table}: expected a mapping with file: and columns:")
    unknown = sorted(set(raw) - _TABLE_KEYS)
    if unknown:
        raise ValueError(f"{where}.{table}: unknown setting(s) {unknown}; allowed: {sorted(_TABLE_KEYS)}")
    if not isinstance(raw.get("file"), str) or not raw["file"]:
        raise ValueError(f"{where}.{table}: file: (the export file to read) is missing")
    opts = {**defaults, **{k: raw[k] for k in _DEFAULT_KEYS if k in raw}}
    t = S.TABLES[table]
    cols = raw.get("columns")
    if not isinstance(cols, dict) or not cols:
        raise ValueError(f"{where}.{table}: columns: (model column -> source column) is missing or empty")
    specs = {}
    for target, spec in cols.items():
        cwhere = f"{where}.{table}.columns.{target}"
        try:
            f = t.field(target)
        except KeyError:
            raise ValueError(f"{cwhere}: table {table!r} has no column {target!r}; "
                             f"columns: {', '.join(t.columns)}") from None
        specs[target] = _column_spec(table, f, spec, opts, cwhere)
    missing = [f.name for f in t.fields if f.required and f.name not in specs]
    if missing:
        raise ValueError(f"{where}.{table}: required column(s) {missing} of table {table!r} are not mapped")
    drop = _names(raw.get("drop"), f"{where}.{table}.drop")
    identifiers = _names(raw.get("identifiers"), f"{where}.{table}.identifiers")
    secret = set(drop) | set(identifiers)
    secret |= {s.source[0] for s in specs.values() if s.pseudonym and len(s.source) == 1}
    for spec in specs.values():
        leaked = sorted(set(spec.source) & secret)
        if leaked and not spec.pseudonym:
            raise ValueError(f"{where}.{table}.columns.{spec.target}: source column(s) {leaked} are listed "
                             "under drop:/identifiers: (or feed a pseudonym) and may only feed a pseudonym: column")
    sep = opts.get("sep", ";")
    if not isinstance(sep, str) or len(sep) != 1:
        raise ValueError(f"{where}.{table}: sep must be one character, not {sep!r}")
    return TableMapping(
        table=table, file=raw["file"], columns=specs, format=opts.get("format"), sheet=raw.get("sheet"),
        encoding=opts.get("encoding"), sep=sep, decimal=opts["decimal"], date_format=opts["date_format"],
        drop=drop, identifiers=identifiers)


def load_mapping(path) -> Mapping:
    """Load and check an import mapping (a YAML file or an equivalent dict).

    Layout::

        version: 1
        defaults: {encoding: auto, sep: ";", decimal: ",", date_format: "%d.%m.%Y"}
        tables:
          persons:
            file: kunden.csv            # relative to the SOURCE folder
            drop: [Name, Vorname, Strasse]   # direct identifiers: never written
            identifiers: [BG-Nummer]    # masked in the quarantine
            columns:
              person_id: {source: Kundennummer, pseudonym: person}
              jc_id: {value: JC-GE}     # a constant
              birth_year: Geburtsjahr   # short form: the source column
              sex: {source: Geschlecht, values: {weiblich: f, männlich: m}}

    Category columns also accept the model keys and the German labels of the
    schema without a ``values:`` entry; yes/no columns accept ja/nein, 1/0,
    true/false, wahr/falsch and x.

    Parameters
    ----------
    path : str, Path or dict

    Returns
    -------
    Mapping

    Raises
    ------
    ValueError
        Naming the place in the mapping (``tables.persons.columns.sex``) that
        is wrong: unknown table or column, unmapped required column, label
        mapped to a key outside the vocabulary, identifier used unpseudonymised.
    FileNotFoundError
        When the mapping file does not exist.

    Examples
    --------
    >>> m = load_mapping({"tables": {"benefits": {"file": "x.csv", "columns": {
    ...     "spell_id": {"source": ["Kundennummer", "Beginn"], "pseudonym": "spell"},
    ...     "person_id": {"source": "Kundennummer", "pseudonym": "person"},
    ...     "start": {"source": "Beginn", "date_format": "dd.mm.yyyy"}}}}})
    >>> m.tables["benefits"].columns["start"].date_format, m.needs_key
    ('%d.%m.%Y', True)
    >>> load_mapping({"tables": {"benefits": {"file": "x.csv", "columns": {"spell_id": "Nr"}}}})
    Traceback (most recent call last):
    ...
    ValueError: mapping.tables.benefits: required column(s) ['person_id', 'start'] of table 'benefits' are not mapped
    """
    import yaml

    where, mpath = "mapping", None
    if isinstance(path, dict):
        raw = path
    else:
        mpath = Path(path)
        if not mpath.is_file():
            raise FileNotFoundError(f"{mpath}: mapping file not found")
        where = str(mpath)
        data = mpath.read_bytes()
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            line = data[:exc.start].count(b"\n") + 1
            raise ValueError(f"{mpath}: line {line}: the mapping is not saved as UTF-8 (byte 0x{data[exc.start]:02x}; "
                             f"probably Windows cp1252); save it as UTF-8 (an editor's 'Save as', encoding UTF-8) "
                             f"and import again") from None
        try:
            raw = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise ValueError(f"{mpath}: not valid YAML ({exc})") from None
    if not isinstance(raw, dict) or not isinstance(raw.get("tables"), dict) or not raw["tables"]:
        raise ValueError(f"{where}: expected a mapping with a non-empty tables: section")
    if raw.get("version", 1) != 1:
        raise ValueError(f"{where}: mapping version {raw.get('version')!r} is not supported (expected 1)")
    unknown = sorted(set(raw) - {"version", "defaults", "tables", "description"})
    if unknown:
        raise ValueError(f"{where}: unknown section(s) {unknown}; allowed: version, defaults, tables, description")
    defaults = {"encoding": None, "sep": ";", "decimal": ",", "date_format": "%d.%m.%Y", "format": None}
    given = raw.get("defaults") or {}
    bad = sorted(set(given) - _DEFAULT_KEYS)
    if bad:
        raise ValueError(f"{where}.defaults: unknown setting(s) {bad}; allowed: {sorted(_DEFAULT_KEYS)}")
    defaults.update(given)
    if defaults["decimal"] not in (",", "."):
        raise ValueError(f"{where}.defaults: decimal must be ',' or '.'")
    tables = {name: _table_mapping(name, spec, defaults, f"{where}.tables") for name, spec in raw["tables"].items()}
    ordered = {t: tables[t] for t in S.TABLE_ORDER if t in tables}
    return Mapping(ordered, mpath)

