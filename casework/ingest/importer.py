"""The import: convert, check, pseudonymise, quarantine and write an export as a dataset.

:func:`import_source` converts and checks every mapped cell against its
:class:`casework.schema.Field` (type, vocabulary, minimum/maximum, required,
date) and in addition the cross-row rules of the model (:mod:`casework.datarules`:
date order within a row, no overlapping spells, age at entry 15-67, unique
primary key, references to tables of the same import). A row with any
failure goes to the quarantine, one line per failing column; all other rows
become the table. Every input row is accounted for:
``input == accepted + quarantined`` per table.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from casework import schema as S
from casework.datarules import OVERLAP_MESSAGE, dangling_references, duplicate_keys, overlapping_spells, row_rules
from casework.ingest.convert import _MISSING, _convert, _convert_value, _is_missing, _typed
from casework.ingest.mapping import Mapping, TableMapping, load_mapping
from casework.ingest.pseudonym import PseudonymKey, load_key, normalise, pseudonymise
from casework.ingest.read import _read, _Source
from casework.ingest.report import QUARANTINE_COLUMNS, ImportReport

__all__ = ["QUARANTINE_COLUMNS", "ImportReport", "import_source"]

#: What identifier values look like in the quarantine.
MASK = "<masked>"
#: Plausible age at entry (year of entry minus birth year), as checked by :func:`casework.schema.validate`.
AGE_AT_ENTRY = S.ELB_AGE


def _resolve(source: Path, tm: TableMapping) -> Path:
    if source.is_dir():
        return source / tm.file
    if source.name == Path(tm.file).name or not Path(tm.file).name:
        return source
    return source.parent / tm.file


class _Table:
    """The quarantine being collected for one table: which rows are bad and why."""

    def __init__(self, tm: TableMapping, src: _Source, qfile: str):
        self.tm, self.qfile = tm, qfile
        self.secret = tm.identifier_sources
        self.rows = src.frame.index.to_numpy()
        self.lines = np.array([src.lines.get(int(r), int(r)) for r in self.rows], dtype=int)
        self.bad = np.zeros(len(self.rows), dtype=bool)
        self.issues = [self._issue(b["row"], b["line"], "", "", None,
                                   f"expected {b['expected']} fields, found {b['fields']}", False)
                       for b in src.bad_rows]

    def _issue(self, row, line, column, source_column, value, reason, masked: bool) -> dict:
        if value is not None and not _is_missing(value):
            value = MASK if masked else str(value)[:200]
        else:
            value = ""
        return {"file": self.qfile, "table": self.tm.table, "row": int(row), "line": int(line), "column": column,
                "source_column": source_column, "value": value, "reason": reason}

    def source_of(self, column: str) -> str:
        return "+".join(self.tm.columns[column].source)

    def flag(self, mask, column: str, values, reasons, masked: bool = False) -> None:
        """Quarantine the rows of ``mask``; ``reasons`` is one text or one per row."""
        source = self.source_of(column) if column in self.tm.columns else ""
        for i in np.flatnonzero(mask):
            reason = reasons if isinstance(reasons, str) else reasons[i]
            self.issues.append(self._issue(self.rows[i], self.lines[i], column, source, values[i], reason, masked))
        self.bad[mask] = True


def _column_values(f, spec, frame: pd.DataFrame, key, q: _Table) -> list:
    """The converted values of one model column; failing cells are flagged in ``q``."""
    n = len(frame)
    if spec is None:
        return [None] * n
    if not spec.source:
        const = _convert_value(f, spec, spec.value)
        return [None if const is _MISSING else const] * n
    masked = bool(set(spec.source) & q.secret)
    if spec.pseudonym:
        parts = [frame[c] for c in spec.source]
        missing = np.zeros(n, dtype=bool)
        for part in parts:
            missing |= part.map(_is_missing).to_numpy(dtype=bool)
        if len(parts) == 1:
            joined = parts[0].where(~missing, None)
        else:
            joined = pd.Series(["\x1f".join(normalise(p.iloc[i]) for p in parts) if not missing[i] else None
                                for i in range(n)], index=frame.index, dtype=object)
        if f.required:
            q.flag(missing, f.name, [None] * n, "required value is missing", masked)
        return pseudonymise(joined, key, spec.pseudonym).tolist()
    raw = frame[spec.source[0]]
    vals, reasons = _convert(f, spec, raw)
    failing = np.array([r is not None for r in reasons], dtype=bool)
    q.flag(failing, f.name, raw.tolist(), reasons, masked)
    return vals


def _shown(values: pd.Series) -> list:
    if pd.api.types.is_datetime64_any_dtype(values):
        return values.dt.strftime("%d.%m.%Y").tolist()
    return values.tolist()


def _apply_row_rules(typed: pd.DataFrame, q: _Table) -> None:
    for rule in row_rules(q.tm.table):
        if not rule.applies(q.tm.columns):
            continue
        wrong = ~q.bad & rule.test(typed)
        q.flag(wrong, rule.column, _shown(typed[rule.column]), rule.message)


def _apply_references(typed: pd.DataFrame, q: _Table, accepted: dict) -> None:
    """References to tables of this import (already final: TABLE_ORDER puts targets first)."""
    for f in S.TABLES[q.tm.table].fields:
        if not f.ref or f.name not in q.tm.columns:
            continue
        ref_table, ref_col = f.ref.split(".")
        if ref_table not in accepted:
            continue
        wrong = ~q.bad & dangling_references(typed[f.name], accepted[ref_table][ref_col])
        q.flag(wrong, f.name, typed[f.name].tolist(),
               f"refers to a {ref_table}.{ref_col} that is not among the accepted rows")


def _apply_unique_key(typed: pd.DataFrame, q: _Table) -> None:
    """Unique primary key among otherwise good rows (first occurrence wins)."""
    pk = S.TABLES[q.tm.table].primary_key
    if pk not in q.tm.columns:
        return
    keys = typed[pk].where(~q.bad)
    dup = duplicate_keys(keys)
    if dup.any():
        firsts = np.flatnonzero(~dup & keys.notna().to_numpy())
        first = dict(zip(keys.iloc[firsts].tolist(), q.rows[firsts], strict=True))
        q.flag(dup, pk, keys.tolist(), [f"duplicate key (first in row {first.get(k)})" for k in keys.tolist()])


def _apply_spells(typed: pd.DataFrame, q: _Table) -> None:
    """Spells of one person must not overlap: the later spell goes (repeated until none overlap)."""
    for table, start, end in S.SPELL_TABLES:
        if table != q.tm.table or not {"person_id", start} <= set(q.tm.columns):
            continue
        while True:
            good = np.flatnonzero(~q.bad)
            hit = overlapping_spells(typed.iloc[good], start, end)
            if not hit.any():
                break
            wrong = np.zeros(len(typed), dtype=bool)
            wrong[good[hit]] = True
            q.flag(wrong, start, _shown(typed[start]), OVERLAP_MESSAGE)


def _import_table(tm: TableMapping, src: _Source, qfile: str, key, accepted: dict):
    t = S.TABLES[tm.table]
    frame = src.frame
    absent = sorted({c for s in tm.columns.values() for c in s.source if c not in frame.columns})
    if absent:
        raise ValueError(f"{qfile}: column(s) {absent} named in the mapping for table {tm.table!r} are not in "
                         f"the file; its columns are {list(frame.columns)}")
    q = _Table(tm, src, qfile)
    out = {f.name: _column_values(f, tm.columns.get(f.name), frame, key, q) for f in t.fields}
    typed = pd.DataFrame({f.name: _typed(f, [None if q.bad[i] else v for i, v in enumerate(out[f.name])])
                          for f in t.fields}, index=range(len(frame)))
    _apply_row_rules(typed, q)
    _apply_references(typed, q, accepted)
    _apply_unique_key(typed, q)
    _apply_spells(typed, q)
    good = typed.loc[~q.bad].reset_index(drop=True)
    for f in t.fields:
        good[f.name] = _typed(f, good[f.name].tolist()) if f.kind != "date" else good[f.name]
    stats = {"file": qfile, "input": len(frame) + len(src.bad_rows), "accepted": len(good),
             "quarantined": int(q.bad.sum()) + len(src.bad_rows), "issues": len(q.issues)}
    ignored = [c for c in frame.columns if c not in q.secret
               and not any(c in s.source for s in tm.columns.values())]
    return good, q.issues, stats, ignored


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
