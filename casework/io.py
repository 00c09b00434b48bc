"""Import of real case-management exports (CSV, Excel, SPSS, Stata) into the case data model.

A YAML mapping (see ``docs/import.md`` and ``data/mappings/example_mapping.yaml``)
says, per model table, which export file to read, which source column feeds
which model column, how value labels translate into vocabulary keys
(``"weiblich"`` -> ``"f"``), which columns are direct identifiers (pseudonymised
with :mod:`casework.pseudonym` or dropped) and how dates are written.

:func:`import_source` converts and checks every mapped cell against its
:class:`casework.schema.Field` (type, vocabulary, minimum/maximum, required,
date) and in addition the row-level rules of the model (date order within a row,
no overlapping spells, age at entry 15-67, unique primary key, references to
tables of the same import). A row with any
failure goes to the quarantine, one line per failing column; all other rows
become the table. Every input row is accounted for:
``input == accepted + quarantined`` per table.

Row numbers follow the spreadsheet convention: the header is row 1, the first
data record row 2 (for CSV the record number, which equals the line number
unless a quoted field contains a line break; the quarantine gives the physical
``line`` as well; for SPSS/Stata the case number plus one).

Examples
--------
>>> from casework.io import load_mapping
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

import codecs
import csv
import datetime as _dt
import functools
import io as _io
import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from casework import schema as S
from casework.pseudonym import PseudonymKey, load_key, normalise, prefix, pseudonymise

__all__ = [
    "FORMATS",
    "QUARANTINE_COLUMNS",
    "ColumnSpec",
    "TableMapping",
    "Mapping",
    "ImportReport",
    "read_source",
    "load_mapping",
    "import_source",
]

#: File formats and the suffixes that select them.
FORMATS = {"csv": (".csv", ".txt"), "xlsx": (".xlsx", ".xlsm"), "sav": (".sav", ".zsav"), "dta": (".dta",)}
#: Columns of the quarantine frame and of ``quarantine.csv``.
QUARANTINE_COLUMNS = ["file", "table", "row", "line", "column", "source_column", "value", "reason"]
#: What identifier values look like in the quarantine.
MASK = "<masked>"
#: Dates outside these years are taken for typos.
DATE_YEARS = (1900, 2100)
#: Plausible age at entry (year of entry minus birth year), as checked by :func:`casework.schema.validate`.
AGE_AT_ENTRY = S.ELB_AGE

_YES = {"ja", "j", "yes", "y", "true", "wahr", "1", "x"}
_NO = {"nein", "n", "no", "false", "falsch", "0"}
_DE_NUMBER = re.compile(r"^[+-]?(\d{1,3}(\.\d{3})+|\d+)(,\d+)?$")
_EN_NUMBER = re.compile(r"^[+-]?(\d{1,3}(,\d{3})+|\d+)(\.\d+)?$")
_TABLE_KEYS = {"file", "format", "sheet", "encoding", "sep", "decimal", "date_format", "columns", "drop",
               "identifiers", "description"}
_COLUMN_KEYS = {"source", "value", "pseudonym", "values", "missing", "date_format", "decimal", "description"}
_DEFAULT_KEYS = {"format", "encoding", "sep", "decimal", "date_format"}
_MISSING = object()


class _Bad(Exception):
    """A cell that cannot be converted; the message is the quarantine reason."""


# --------------------------------------------------------------------------
# reading
# --------------------------------------------------------------------------


def _format_of(path: Path, fmt: str | None) -> str:
    if fmt is not None:
        if fmt not in FORMATS:
            raise ValueError(f"{path}: unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
        return fmt
    suffix = path.suffix.lower()
    for name, suffixes in FORMATS.items():
        if suffix in suffixes:
            return name
    if suffix == ".xls":
        raise ValueError(f"{path}: old Excel format .xls is not supported; save the file as .xlsx")
    raise ValueError(f"{path}: cannot tell the format from the suffix {suffix!r}; "
                     f"set format: to one of {', '.join(FORMATS)} in the mapping")


def _decode(data: bytes, encoding: str | None, path: Path) -> tuple[str, str]:
    if encoding not in (None, "auto"):
        try:
            return data.decode(encoding), encoding
        except (UnicodeDecodeError, LookupError) as exc:
            raise ValueError(f"{path}: cannot be read as {encoding} ({exc}); leave encoding unset to detect it") \
                from None
    try:
        if data.startswith(codecs.BOM_UTF8):
            return data[len(codecs.BOM_UTF8):].decode("utf-8", errors="strict"), "utf-8-sig"
        if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            return data.decode("utf-16"), "utf-16"
    except UnicodeDecodeError as exc:  # a byte order mark promises an encoding the bytes then break
        offset = exc.start + (len(codecs.BOM_UTF8) if exc.encoding == "utf-8" else 0)
        line = data[:offset].count(b"\n") + 1
        raise ValueError(f"{path}: line {line}, byte {offset}: not valid {exc.encoding} although the file starts "
                         f"with its byte order mark ({exc.reason}); the file is damaged or mixes encodings") from None
    for enc in ("utf-8", "cp1252"):
        try:
            return data.decode(enc), enc
        except UnicodeDecodeError:
            pass
    return data.decode("latin-1"), "latin-1"


def _header(names, path: Path) -> list[str]:
    out = []
    for i, name in enumerate(names, start=1):
        text = "" if name is None else str(name).strip()
        out.append(text or f"_unnamed_{i}")
    dup = sorted({c for c in out if out.count(c) > 1})
    if dup:
        raise ValueError(f"{path}: column name(s) {dup} occur more than once in the header")
    return out


@dataclass
class _Source:
    frame: pd.DataFrame  # index: row number (header = 1); object values
    bad_rows: list  # dicts: row, line, fields, expected
    lines: dict  # row -> physical first line (CSV only)
    encoding: str | None = None


def _read_csv(path: Path, encoding, sep: str) -> _Source:
    text, used = _decode(path.read_bytes(), encoding, path)
    reader = csv.reader(_io.StringIO(text, newline=""), delimiter=sep, quotechar='"', doublequote=True)
    header, rows, index, lines, bad = None, [], [], {}, []
    last_line, number = 0, 0
    try:
        for record in reader:
            number += 1
            first_line, last_line = last_line + 1, reader.line_num
            if header is None:
                if not any(c.strip() for c in record):
                    number -= 1  # blank lines before the header do not count
                    continue
                header = _header(record, path)
                continue
            if not any(c.strip() for c in record):
                continue  # blank line: not a data row
            if len(record) != len(header):
                bad.append({"row": number, "line": first_line, "fields": len(record), "expected": len(header)})
                continue
            rows.append(record)
            index.append(number)
            lines[number] = first_line
    except csv.Error as exc:
        raise ValueError(f"{path}, line {reader.line_num}: broken CSV ({exc})") from None
    if header is None:
        raise ValueError(f"{path}: the file is empty (no header line)")
    frame = pd.DataFrame(rows, columns=header, index=pd.Index(index, name="row"), dtype=object)
    return _Source(frame, bad, lines, used)


def _read_xlsx(path: Path, sheet) -> _Source:
    import openpyxl

    wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    try:
        if sheet is None:
            ws = wb.worksheets[0]
        elif isinstance(sheet, int):
            ws = wb.worksheets[sheet]
        elif sheet in wb.sheetnames:
            ws = wb[sheet]
        else:
            raise ValueError(f"{path}: no sheet {sheet!r}; sheets are {wb.sheetnames}")
        header, rows, index, bad = None, [], [], []
        for number, cells in enumerate(ws.iter_rows(values_only=True), start=1):
            cells = list(cells)
            while cells and (cells[-1] is None or (isinstance(cells[-1], str) and not cells[-1].strip())):
                cells.pop()
            if header is None:
                if number != 1 and not cells:
                    continue
                header = _header(cells, path)
                continue
            if not cells:
                continue
            if len(cells) > len(header):
                bad.append({"row": number, "line": number, "fields": len(cells), "expected": len(header)})
                continue
            rows.append(cells + [None] * (len(header) - len(cells)))
            index.append(number)
    finally:
        wb.close()
    if header is None:
        raise ValueError(f"{path}: the sheet is empty (no header row)")
    frame = pd.DataFrame(rows, columns=header, index=pd.Index(index, name="row"), dtype=object)
    return _Source(frame, bad, {})


def _read_stat(path: Path, fmt: str, encoding) -> _Source:
    import pyreadstat

    reader = pyreadstat.read_sav if fmt == "sav" else pyreadstat.read_dta
    kwargs = {"apply_value_formats": True, "formats_as_category": False}
    if encoding not in (None, "auto"):
        kwargs["encoding"] = encoding
    try:
        df, _meta = reader(str(path), **kwargs)
    except Exception as exc:  # pyreadstat raises its own error types
        raise ValueError(f"{path}: cannot be read as {fmt} ({exc})") from exc
    df = df.astype(object).where(df.notna(), None)
    df.columns = _header(df.columns, path)
    df.index = pd.Index(np.arange(2, len(df) + 2), name="row")
    return _Source(df, [], {})


def _read(path, fmt=None, encoding=None, sep: str = ";", sheet=None) -> _Source:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: source file not found")
    kind = _format_of(path, fmt)
    if kind == "csv":
        return _read_csv(path, encoding, sep)
    if kind == "xlsx":
        return _read_xlsx(path, sheet)
    return _read_stat(path, kind, encoding)


def read_source(path, fmt=None, encoding=None, *, sep: str = ";", sheet=None) -> pd.DataFrame:
    """Read an export file as it is, without typing.

    CSV is read as German systems write it: ``;`` separator, fields in
    double quotes may hold ``;``, quotes (doubled) and line breaks; the
    encoding is detected (UTF-8 with or without BOM, UTF-16 with BOM,
    otherwise cp1252, finally latin-1). Every CSV cell stays text (decimal
    commas and ``dd.mm.yyyy`` dates are converted by :func:`import_source`,
    which knows the target type). Excel (``.xlsx``, first sheet unless
    ``sheet``) keeps the cell types. SPSS (``.sav``) and Stata (``.dta``) are
    read with pyreadstat with value labels applied (``1`` -> ``"weiblich"``).

    Parameters
    ----------
    path : str or Path
    fmt : {"csv", "xlsx", "sav", "dta"}, optional
        Default: from the suffix.
    encoding : str, optional
        Force an encoding (``None`` or ``"auto"``: detect).
    sep : str
        CSV field separator.
    sheet : str or int, optional
        Excel sheet name or position.

    Returns
    -------
    pandas.DataFrame
        The source columns (object dtype, empty Excel/SPSS cells ``None``,
        empty CSV cells ``""``), indexed by row number (header = 1, so the
        first data row is 2). Blank lines are skipped. Rows with the wrong
        number of fields are left out and listed in ``frame.attrs["bad_rows"]``
        (dicts with row, line, fields, expected).

    Raises
    ------
    FileNotFoundError
        Naming the file when it does not exist.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "k.csv"
    >>> _ = p.write_bytes('Nr;Betrag;Notiz\\n1;1.234,5;"a;b"\\n2;3\\n'.encode("cp1252"))
    >>> df = read_source(p)
    >>> df.loc[2, "Betrag"], df.loc[2, "Notiz"], df.attrs["bad_rows"]
    ('1.234,5', 'a;b', [{'row': 3, 'line': 3, 'fields': 2, 'expected': 3}])
    """
    src = _read(path, fmt, encoding, sep, sheet)
    frame = src.frame.copy()
    frame.attrs["bad_rows"] = list(src.bad_rows)
    if src.encoding:
        frame.attrs["encoding"] = src.encoding
    return frame


# --------------------------------------------------------------------------
# the mapping
# --------------------------------------------------------------------------


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
            if f.kind == "date":
                raise ValueError(f"{where}: values: is not supported for date columns (use missing:)")
        values[_label(label)] = target
    missing = frozenset(_label(v) for v in (raw.get("missing") or ()))
    date_format = _date_format(raw.get("date_format", tdefaults["date_format"]), where)
    decimal = raw.get("decimal", tdefaults["decimal"])
    if decimal not in (",", "."):
        raise ValueError(f"{where}: decimal must be ',' or '.', not {decimal!r}")
    spec = ColumnSpec(f.name, source, raw.get("value"), pseudo, values, missing, date_format, decimal)
    if "value" in raw:
        result = _convert_value(f, spec, raw["value"])
        if isinstance(result, _Bad) or (result is _MISSING and f.required):
            reason = result if isinstance(result, _Bad) else "required value is missing"
            raise ValueError(f"{where}: constant {raw['value']!r} is not valid for {table}.{f.name}: {reason}")
    return spec


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
    drop = tuple(raw.get("drop") or ())
    identifiers = tuple(raw.get("identifiers") or ())
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
    >>> load_mapping({"tables": {"persons": {"file": "x.csv", "columns": {"person_id": "Nr"}}}})
    Traceback (most recent call last):
    ...
    ValueError: mapping.tables.persons: required column(s) ['jc_id', 'entry_date', 'birth_year', 'sex', \
'citizenship', 'german_level', 'single_parent', 'children_under_3', 'school', 'vocational', 'benefit_months', \
'unemployment_months', 'health_restriction', 'disability'] of table 'persons' are not mapped
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
        try:
            raw = yaml.safe_load(mpath.read_text(encoding="utf-8"))
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


# --------------------------------------------------------------------------
# converting cells
# --------------------------------------------------------------------------


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


def _convert_value(f: S.Field, spec: ColumnSpec, v):
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


def _convert(f: S.Field, spec: ColumnSpec, raw: pd.Series):
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


# --------------------------------------------------------------------------
# the import
# --------------------------------------------------------------------------


@dataclass
class ImportReport:
    """What :func:`import_source` did.

    Attributes
    ----------
    tables : dict
        Per table: ``file``, ``input``, ``accepted``, ``quarantined`` (rows) and
        ``issues`` (quarantine lines); ``input == accepted + quarantined``.
    quarantine : pandas.DataFrame
        Columns file, table, row, line, column, source_column, value, reason
        (identifier values masked).
    out : Path or None
        The dataset folder written.
    validation : casework.schema.ValidationReport or None
        Validation of the written dataset (cross-table rules such as spells).
    key_fingerprint : str or None
        Non-secret id of the pseudonym key used.
    ignored_columns : dict
        Per table, source columns neither mapped nor listed as identifiers.
    """

    tables: dict
    quarantine: pd.DataFrame
    out: Path | None = None
    validation: object = None
    key_fingerprint: str | None = None
    ignored_columns: dict = field(default_factory=dict)

    @property
    def balanced(self) -> bool:
        """True when every table has ``input == accepted + quarantined``."""
        return all(t["input"] == t["accepted"] + t["quarantined"] for t in self.tables.values())

    @property
    def ok(self) -> bool:
        """Every row accounted for and the written dataset valid (quarantined rows are allowed)."""
        return self.balanced and (self.validation is None or self.validation.ok)

    def to_dict(self) -> dict:
        """JSON-ready content of ``import_report.json``."""
        return {
            "tables": {name: {**t, "balanced": t["input"] == t["accepted"] + t["quarantined"]}
                       for name, t in self.tables.items()},
            "quarantine_lines": int(len(self.quarantine)),
            "quarantine_by_reason": {f"{k[0]}.{k[1]}: {k[2]}": int(n) for k, n in (
                self.quarantine.assign(reason=self.quarantine["reason"].str.replace(r" \(.*$", "", regex=True))
                .groupby(["table", "column", "reason"], dropna=False).size().items())},
            "balanced": self.balanced,
            "valid": None if self.validation is None else bool(self.validation.ok),
            "validation_problems": None if self.validation is None else
            {k: int(v) for k, v in self.validation.counts.items() if v},
            "key_fingerprint": self.key_fingerprint,
            "ignored_columns": self.ignored_columns,
        }

    def summary(self) -> str:
        """A readable account per table (printed by ``casework import``).

        Examples
        --------
        >>> r = ImportReport({"persons": {"file": "k.csv", "input": 3, "accepted": 2, "quarantined": 1,
        ...                               "issues": 1}}, pd.DataFrame(columns=QUARANTINE_COLUMNS))
        >>> print(r.summary())
        Import finished: 2 of 3 rows accepted, 1 quarantined.
          persons (k.csv): input 3 = accepted 2 + quarantined 1
        """
        total = sum(t["input"] for t in self.tables.values())
        acc = sum(t["accepted"] for t in self.tables.values())
        head = "Import finished" if self.balanced else "Import INCOMPLETE (rows unaccounted for)"
        lines = [f"{head}: {acc:,} of {total:,} rows accepted, {total - acc:,} quarantined."]
        for name, t in self.tables.items():
            eq = "=" if t["input"] == t["accepted"] + t["quarantined"] else "!="
            lines.append(f"  {name} ({t['file']}): input {t['input']:,} {eq} accepted {t['accepted']:,} "
                         f"+ quarantined {t['quarantined']:,}")
        if len(self.quarantine):
            top = self.quarantine.groupby(["table", "column"], dropna=False).size().sort_values(ascending=False)
            lines.append("Most frequent quarantine reasons (table.column: lines):")
            lines += [f"  {t}.{c or '(row)'}: {n:,}" for (t, c), n in top.head(10).items()]
        if self.out is not None:
            lines.append(f"Written to {self.out} (quarantine.csv, import_report.json).")
        if self.validation is not None and not self.validation.ok:
            lines += ["", self.validation.summary()]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()


def _resolve(source: Path, tm: TableMapping) -> Path:
    if source.is_dir():
        return source / tm.file
    if source.name == Path(tm.file).name or not Path(tm.file).name:
        return source
    return source.parent / tm.file


def _issue(tm, qfile, row, line, column, source_column, value, reason, masked: bool) -> dict:
    if value is not None and not _is_missing(value):
        value = MASK if masked else str(value)[:200]
    else:
        value = ""
    return {"file": qfile, "table": tm.table, "row": int(row), "line": int(line), "column": column,
            "source_column": source_column, "value": value, "reason": reason}


def _import_table(tm: TableMapping, src: _Source, qfile: str, key, accepted: dict):
    t = S.TABLES[tm.table]
    frame = src.frame
    secret = tm.identifier_sources
    absent = sorted({c for s in tm.columns.values() for c in s.source if c not in frame.columns})
    if absent:
        raise ValueError(f"{qfile}: column(s) {absent} named in the mapping for table {tm.table!r} are not in "
                         f"the file; its columns are {list(frame.columns)}")
    rows = frame.index.to_numpy()
    lines = np.array([src.lines.get(int(r), int(r)) for r in rows], dtype=int)
    issues = [_issue(tm, qfile, b["row"], b["line"], "", "", None,
                     f"expected {b['expected']} fields, found {b['fields']}", False) for b in src.bad_rows]
    bad = np.zeros(len(frame), dtype=bool)
    out = {}

    def flag(mask, column, source_column, vals, reasons, masked):
        for i in np.flatnonzero(mask):
            issues.append(_issue(tm, qfile, rows[i], lines[i], column, source_column, vals[i], reasons[i], masked))
        bad[mask] = True

    for f in t.fields:
        spec = tm.columns.get(f.name)
        if spec is None:
            out[f.name] = [None] * len(frame)
            continue
        if not spec.source:
            const = _convert_value(f, spec, spec.value)
            out[f.name] = [None if const is _MISSING else const] * len(frame)
            continue
        src_name = "+".join(spec.source)
        masked = bool(set(spec.source) & secret)
        if spec.pseudonym:
            parts = [frame[c] for c in spec.source]
            missing = np.zeros(len(frame), dtype=bool)
            for p in parts:
                missing |= p.map(_is_missing).to_numpy(dtype=bool)
            if len(parts) == 1:
                joined = parts[0].where(~missing, None)
            else:
                joined = pd.Series(["\x1f".join(normalise(p.iloc[i]) for p in parts) if not missing[i] else None
                                    for i in range(len(frame))], index=frame.index, dtype=object)
            vals = pseudonymise(joined, key, spec.pseudonym).tolist()
            if f.required:
                flag(missing, f.name, src_name, [None] * len(frame), ["required value is missing"] * len(frame),
                     masked)
            out[f.name] = vals
            continue
        raw = frame[spec.source[0]]
        vals, reasons = _convert(f, spec, raw)
        failing = np.array([r is not None for r in reasons], dtype=bool)
        flag(failing, f.name, src_name, raw.tolist(), reasons, masked)
        out[f.name] = vals

    typed = pd.DataFrame(index=range(len(frame)))
    for f in t.fields:
        col = out[f.name]
        typed[f.name] = _typed(f, [None if bad[i] else v for i, v in enumerate(col)])

    # date order within a row
    for table, early, late in getattr(S, "DATE_ORDER", ()):
        if table != tm.table or early not in tm.columns or late not in tm.columns:
            continue
        a, b = typed[early], typed[late]
        wrong = (~bad) & (a.notna() & b.notna() & (b < a)).to_numpy(dtype=bool)
        shown = b.dt.strftime("%d.%m.%Y").tolist()
        flag(wrong, late, "+".join(tm.columns[late].source), shown,
             [f"{late} is before {early}"] * len(frame), False)

    if tm.table == "referrals" and {"started", "ended"} <= set(tm.columns):
        wrong = (~bad) & (typed["ended"].notna() & typed["started"].isna()).to_numpy(dtype=bool)
        flag(wrong, "started", "+".join(tm.columns["started"].source), [None] * len(frame),
             ["ended without a start date"] * len(frame), False)
    if tm.table == "persons" and {"birth_year", "entry_date"} <= set(tm.columns):
        age = typed["entry_date"].dt.year - typed["birth_year"].astype("Float64")
        lo, hi = AGE_AT_ENTRY
        wrong = (~bad) & (age.notna() & ((age < lo) | (age > hi))).to_numpy(dtype=bool)
        flag(wrong, "birth_year", "+".join(tm.columns["birth_year"].source), typed["birth_year"].tolist(),
             [f"age at entry outside {lo}-{hi} (SGB II eLb age range)"] * len(frame), False)

    # references to tables of this import (already final: TABLE_ORDER puts targets first)
    for f in t.fields:
        if not f.ref or f.name not in tm.columns:
            continue
        ref_table, ref_col = f.ref.split(".")
        if ref_table not in accepted:
            continue
        vals = typed[f.name]
        wrong = (~bad) & (vals.notna() & ~vals.isin(accepted[ref_table][ref_col])).to_numpy(dtype=bool)
        flag(wrong, f.name, "+".join(tm.columns[f.name].source), vals.tolist(),
             [f"refers to a {ref_table}.{ref_col} that is not among the accepted rows"] * len(frame), False)

    # unique primary key among otherwise good rows (first occurrence wins)
    pk = t.primary_key
    if pk in tm.columns:
        keys = typed[pk].where(~bad)
        dup = (keys.notna() & keys.duplicated(keep="first")).to_numpy(dtype=bool)
        if dup.any():
            first = {k: rows[i] for i, k in reversed(list(enumerate(keys.tolist()))) if k is not None}
            reasons = [f"duplicate key (first in row {first.get(k)})" for k in keys.tolist()]
            flag(dup, pk, "+".join(tm.columns[pk].source), keys.tolist(), reasons, False)

    # spells of one person must not overlap: the later spell goes (repeated until none overlap)
    for table, start, end in getattr(S, "SPELL_TABLES", ()):
        if table != tm.table or not {"person_id", start} <= set(tm.columns):
            continue
        while True:
            d = typed.loc[~bad, ["person_id", start, end]]
            d = d.assign(_end=d[end].fillna(pd.Timestamp.max)).sort_values(["person_id", start], kind="stable")
            prev_end = d.groupby("person_id", sort=False)["_end"].shift()
            hit = d.index[(prev_end.notna() & (d[start] <= prev_end)).to_numpy(dtype=bool)]
            if not len(hit):
                break
            wrong = np.zeros(len(frame), dtype=bool)
            wrong[hit] = True
            flag(wrong, start, "+".join(tm.columns[start].source), typed[start].dt.strftime("%d.%m.%Y").tolist(),
                 ["spell overlaps an earlier spell of the same person"] * len(frame), False)

    good = typed.loc[~bad].reset_index(drop=True)
    for f in t.fields:
        good[f.name] = _typed(f, good[f.name].tolist()) if f.kind != "date" else good[f.name]
    n_input = len(frame) + len(src.bad_rows)
    n_bad_rows = int(bad.sum()) + len(src.bad_rows)
    stats = {"file": qfile, "input": n_input, "accepted": len(good), "quarantined": n_bad_rows,
             "issues": len(issues)}
    ignored = [c for c in frame.columns if c not in secret
               and not any(c in s.source for s in tm.columns.values())]
    return good, issues, stats, ignored


def import_source(source, mapping, out, *, key=None, progress=None) -> ImportReport:
    """Import an export with a mapping: convert, check, pseudonymise, quarantine, write.

    Parameters
    ----------
    source : str or Path
        The folder holding the export files named in the mapping (or a
        single export file; other files of the mapping are then looked up
        next to it).
    mapping : str, Path, dict or Mapping
        See :func:`load_mapping`.
    out : str or Path
        Dataset folder to write (replaced atomically): the Parquet tables and
        ``manifest.json`` (:meth:`casework.store.Dataset.save`), then
        ``quarantine.csv`` (``;``-separated, UTF-8 with BOM so that Excel
        opens it; identifier values masked) and ``import_report.json``.
    key : PseudonymKey, bytes or str, optional
        Pseudonym key; default :func:`casework.pseudonym.load_key` (only
        read when the mapping pseudonymises a column). Never written.
    progress : bool or None
        Show a progress bar over the tables (``None``: only on a terminal).

    Returns
    -------
    ImportReport

    Raises
    ------
    FileNotFoundError
        Naming the missing export or mapping file.
    ValueError
        Naming the file and the column when a mapped column is not in the
        export; naming the place in the mapping when the mapping is wrong;
        when no pseudonym key is set (naming both environment variables).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (d / "leistung.csv").write_text(
    ...     "Kundennummer;Beginn;Ende\\n4711;01.02.2020;\\n4712;31.02.2020;\\n", encoding="cp1252")
    >>> mapping = {"tables": {"benefits": {"file": "leistung.csv", "columns": {
    ...     "spell_id": {"source": ["Kundennummer", "Beginn"], "pseudonym": "spell"},
    ...     "person_id": {"source": "Kundennummer", "pseudonym": "person"},
    ...     "start": "Beginn", "end": "Ende"}}}}
    >>> r = import_source(d, mapping, d / "out", key=b"doctest-key-0123456789", progress=False)
    >>> r.tables["benefits"]["accepted"], r.tables["benefits"]["quarantined"]
    (1, 1)
    >>> r.quarantine[["row", "column", "value", "reason"]].values.tolist()
    [[3, 'start', '31.02.2020', 'not a date (expected dd.mm.yyyy)']]
    """
    from tqdm.auto import tqdm

    from casework.schema import validate
    from casework.store import Dataset

    m = mapping if isinstance(mapping, Mapping) else load_mapping(mapping)
    source, out = Path(source), Path(out)
    if not source.exists():
        raise FileNotFoundError(f"{source}: source not found (a folder of export files or one export file)")
    if m.needs_key:
        key = load_key() if key is None else (key if isinstance(key, PseudonymKey) else PseudonymKey(key))
    cache: dict = {}
    tables, issues, stats, ignored = {}, [], {}, {}
    for name, tm in tqdm(m.tables.items(), desc="import", disable=None if progress is None else not progress):
        path = _resolve(source, tm)
        ck = (str(path), tm.format, tm.encoding, tm.sep, tm.sheet)
        if ck not in cache:
            try:
                cache[ck] = _read(path, tm.format, tm.encoding, tm.sep, tm.sheet)
            except FileNotFoundError:
                raise FileNotFoundError(f"{path}: export file for table {name!r} not found "
                                        f"(mapping file: {tm.file!r})") from None
        good, tissues, tstats, tignored = _import_table(tm, cache[ck], tm.file, key, tables)
        tables[name], stats[name] = good, tstats
        issues += tissues
        if tignored:
            ignored[name] = tignored
    quarantine = pd.DataFrame(issues, columns=QUARANTINE_COLUMNS)
    quarantine = quarantine.sort_values(["table", "row", "column"], kind="stable").reset_index(drop=True)
    provenance = {"kind": "import", "mapping": m.path.name if m.path else None,
                  "files": sorted({t.file for t in m.tables.values()}),
                  "key_fingerprint": key.fingerprint if isinstance(key, PseudonymKey) else None}
    saved = Dataset.from_tables(tables, meta={"provenance": provenance}, name=out.name).save(out)
    report = ImportReport(stats, quarantine, out, validate(saved), provenance["key_fingerprint"], ignored)
    quarantine.to_csv(out / "quarantine.csv", sep=";", index=False, encoding="utf-8-sig")
    (out / "import_report.json").write_text(json.dumps(report.to_dict(), indent=1, ensure_ascii=False),
                                            encoding="utf-8")
    return report
