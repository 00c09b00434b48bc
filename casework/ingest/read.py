"""Reading export files as they are: German CSV, Excel, SPSS, Stata (no typing).

Row numbers follow the spreadsheet convention: the header is row 1, the first
data record row 2 (for CSV the record number, which equals the line number
unless a quoted field contains a line break; the quarantine gives the physical
``line`` as well; for SPSS/Stata the case number plus one).
"""

from __future__ import annotations

import codecs
import csv
import io as _io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["FORMATS", "read_source"]

#: File formats and the suffixes that select them.
FORMATS = {"csv": (".csv", ".txt"), "xlsx": (".xlsx", ".xlsm"), "sav": (".sav", ".zsav"), "dta": (".dta",)}


def format_of(path: Path, fmt: str | None) -> str:
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
class Source:
    frame: pd.DataFrame  # index: row number (header = 1); object values
    bad_rows: list  # dicts: row, line, fields, expected
    lines: np.ndarray | None  # physical first line of each row of frame (None: the row number)
    encoding: str | None = None


def _read_csv(path: Path, encoding, sep: str) -> Source:
    data = path.read_bytes()
    text, used = _decode(data, encoding, path)
    try:
        fast = _read_csv_fast(data, used, sep, path)
    except csv.Error:  # e.g. a field over the csv module's limit: the careful reader names the line
        fast = None
    src = fast or _read_csv_records(text, sep, path)
    src.encoding = used
    return src


def _read_csv_records(text: str, sep: str, path: Path) -> Source:
    """Record by record with the csv module: a record may span lines (a quoted line break)."""
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
    frame = pd.DataFrame(rows, columns=header, index=pd.Index(index, name="row", dtype=np.int64), dtype=object)
    return Source(frame, bad, np.array([lines[i] for i in index], dtype=np.int64))


#: Encodings in which a line break, the separator and the quote are single bytes of their own.
_BYTE_SAFE = {"utf-8", "utf-8-sig", "cp1252", "latin-1", "iso8859-1", "iso8859-15", "ascii"}


def _read_csv_fast(data: bytes, encoding: str, sep: str, path: Path) -> Source | None:
    """The same as the record-by-record reader, with pandas' C parser, when every record is one line.

    Returns None (the caller reads record by record) when a quoted field holds a line break, a record
    has more fields than the header, lines end in a lone carriage return, or the encoding is not one
    where line breaks can be found byte by byte: then only the careful reader numbers rows and lines right.
    """
    try:
        codec = codecs.lookup(encoding).name
    except LookupError:
        return None
    if codec not in _BYTE_SAFE or len(sep) != 1 or not sep.isascii() or sep in '"\r\n':
        return None
    if codec == "utf-8-sig" or data.startswith(codecs.BOM_UTF8):
        data, codec = data[len(codecs.BOM_UTF8):], "utf-8"
    raw = np.frombuffer(data, dtype=np.uint8)
    breaks = np.flatnonzero(raw == 10)
    if np.count_nonzero(raw == 13) != np.count_nonzero(raw[breaks[breaks > 0] - 1] == 13):
        return None  # a lone carriage return
    starts = np.concatenate([[0], breaks + 1])
    ends = np.concatenate([breaks, [len(data)]])
    if starts[-1] == len(data):  # the file ends with a line break
        starts, ends = starts[:-1], ends[:-1]

    def line(i: int) -> str:
        return data[starts[i]:ends[i]].decode(codec).rstrip("\r")

    def record(i: int) -> list:
        return next(csv.reader([line(i)], delimiter=sep, quotechar='"', doublequote=True), [])

    first = next((i for i in range(len(starts)) if any(c.strip() for c in record(i))), None)
    if first is None:
        return None  # no header: the careful reader says so
    header = _header(record(first), path)
    width = len(header)
    try:
        parsed = pd.read_csv(_io.BytesIO(data), sep=sep, header=None, names=range(width), dtype=str,
                             keep_default_na=False, na_filter=False, skip_blank_lines=False, quotechar='"',
                             doublequote=True, engine="c", encoding=codec, on_bad_lines="error")
    except (pd.errors.ParserError, ValueError, UnicodeDecodeError):
        return None
    if len(parsed) != len(starts):
        return None  # a record spans lines
    rows = np.arange(first + 1, len(starts))
    # only a row whose first or last field came out empty can be blank or short: those lines are split again
    suspect = rows[(parsed[0].iloc[first + 1:].str.strip().eq("") | parsed[width - 1].iloc[first + 1:].eq(""))
                   .to_numpy(dtype=bool)]
    fields = {int(i): record(i) for i in suspect}
    blank = np.array([i in fields and not any(c.strip() for c in fields[i]) for i in rows], dtype=bool) \
        if fields else np.zeros(len(rows), dtype=bool)
    rows = rows[~blank]
    wrong = np.array([i in fields and len(fields[i]) != width for i in rows], dtype=bool) \
        if fields else np.zeros(len(rows), dtype=bool)
    bad = [{"row": int(i - first + 1), "line": int(i + 1), "fields": len(fields[int(i)]), "expected": width}
           for i in rows[wrong]]
    good = rows[~wrong]
    whole = len(good) == len(parsed) - first - 1  # no blank or bad row: a slice, not a copy
    frame = parsed.iloc[first + 1:] if whole else parsed.iloc[good]
    if not all(pd.api.types.is_object_dtype(t) for t in frame.dtypes):
        frame = frame.astype(object)
    frame.columns = header
    frame.index = pd.Index(good - first + 1, name="row")
    return Source(frame, bad, good + 1)


def _read_xlsx(path: Path, sheet) -> Source:
    import openpyxl

    try:
        wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl and zipfile raise many kinds of errors for a damaged file
        raise ValueError(f"{path}: cannot be read as an Excel .xlsx file ({type(exc).__name__}: {exc})") from None
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
    frame = pd.DataFrame(rows, columns=header, index=pd.Index(index, name="row", dtype=np.int64), dtype=object)
    return Source(frame, bad, None)


def _read_stat(path: Path, fmt: str, encoding) -> Source:
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
    return Source(df, [], None)


#: What each kind of file looks like, for error messages.
_LOOKS = {"csv": "a text (CSV) file", "xlsx": "an Excel .xlsx file (or another ZIP file)",
          "xls": "an old Excel .xls file", "sav": "an SPSS .sav file", "dta": "a Stata .dta file",
          "binary": "a binary file of unknown kind"}


def sniff(path: Path) -> str:
    """What the first bytes of ``path`` say it is: csv (text), xlsx, xls, sav, dta or binary."""
    with open(path, "rb") as fh:
        head = fh.read(4096)
    if head.startswith(b"PK\x03\x04"):
        return "xlsx"
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        return "xls"
    if head.startswith((b"$FL2", b"$FL3")):
        return "sav"
    if head.startswith(b"<stata_dta>") or (len(head) > 1 and head[0] in (0x71, 0x72, 0x73) and head[1] in (1, 2)):
        return "dta"
    if head.count(b"\x00") > len(head) // 20 and not head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "binary"
    return "csv"


def _check_kind(path: Path, kind: str) -> None:
    found = sniff(path)
    if found == kind:
        return
    if kind == "csv" and found != "binary":
        advice = f"rename it to {FORMATS[found][0]} or set format: {found}" if found in FORMATS else \
            "save it as .xlsx" if found == "xls" else "export it again as CSV"
    elif found in FORMATS:
        advice = f"rename it to {FORMATS[found][0]} or set format: {found} in the mapping"
    else:
        advice = "export it again" if found == "binary" else "save it as .xlsx"
    raise ValueError(f"{path}: is not {_LOOKS[kind]} although its name or format: says so; it looks like "
                     f"{_LOOKS[found]}: {advice}")


def read_file(path, fmt=None, encoding=None, sep: str = ";", sheet=None) -> Source:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: source file not found")
    kind = format_of(path, fmt)
    _check_kind(path, kind)
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
    src = read_file(path, fmt, encoding, sep, sheet)
    frame = src.frame.copy()
    frame.attrs["bad_rows"] = list(src.bad_rows)
    if src.encoding:
        frame.attrs["encoding"] = src.encoding
    return frame

