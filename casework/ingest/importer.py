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
import re
from pathlib import Path

import numpy as np
import pandas as pd

from casework import schema as S
from casework.datarules import OVERLAP_MESSAGE, dangling_references, duplicate_keys, overlapping_spells, row_rules
from casework.ingest.convert import MISSING, convert_column, convert_value, is_missing_value, to_typed
from casework.ingest.mapping import Mapping, TableMapping, load_mapping
from casework.ingest.output import Staging, check_out
from casework.ingest.pseudonym import PseudonymKey, load_key, normalise, pseudonymise
from casework.ingest.read import Source, format_of, read_file
from casework.ingest.report import QUARANTINE_COLUMNS, VALUE_PART, ImportReport
from casework.store import RESULTS

__all__ = ["QUARANTINE_COLUMNS", "ImportReport", "import_source"]

#: What identifier values look like in the quarantine.
MASK = "<masked>"
#: Plausible age at entry (year of entry minus birth year), as checked by :func:`casework.schema.validate`.
AGE_AT_ENTRY = S.ELB_AGE
#: A column (or table) that fails in every row of at least this many is a mapping error: nothing is written.
WHOLE_COLUMN_ROWS = 5


def _paths(source: Path, m: Mapping) -> tuple[dict, list]:
    """The file each table is read from, and notes for the report.

    A folder SOURCE holds the files named under ``file:``. A single-file
    SOURCE is imported as given (never a file of the mapping's name next to
    it): a one-table mapping reads it whatever its name (noted in the report,
    the format must agree); otherwise it must be the file the tables name.
    """
    if source.is_dir():
        return {name: source / tm.file for name, tm in m.tables.items()}, []
    if len(m.tables) == 1:
        (name, tm), = m.tables.items()
        if Path(tm.file).name == source.name:
            return {name: source}, []
        mine, theirs = format_of(source, tm.format), format_of(Path(tm.file), tm.format)
        if mine != theirs:
            raise ValueError(f"{source}: SOURCE is a {mine} file, but the mapping reads table {name!r} from "
                             f"{tm.file!r} ({theirs}); give the right file or change file: in the mapping")
        return {name: source}, [f"SOURCE {source.name} imported as table {name} (the mapping names {tm.file})"]
    other = sorted({tm.file for tm in m.tables.values() if Path(tm.file).name != source.name})
    if other:
        raise ValueError(f"{source}: SOURCE is a single file, but the mapping also reads {other}; give the folder "
                         f"holding the export files as SOURCE")
    return {name: source for name in m.tables}, []


class _Table:
    """The quarantine being collected for one table: which rows are bad and why."""

    def __init__(self, tm: TableMapping, src: Source, qfile: str):
        self.tm, self.qfile = tm, qfile
        self.secret = tm.identifier_sources
        self.rows = src.frame.index.to_numpy()
        self.lines = self.rows if src.lines is None else np.asarray(src.lines)
        self.bad = np.zeros(len(self.rows), dtype=bool)
        self.issues = [self._issue(b["row"], b["line"], "", "", None,
                                   f"expected {b['expected']} fields, found {b['fields']}", False)
                       for b in src.bad_rows]

    def _issue(self, row, line, column, source_column, value, reason, masked: bool) -> dict:
        if value is not None and not is_missing_value(value):
            value = MASK if masked else str(value)[:200]
        else:
            value = ""
        return {"file": self.qfile, "table": self.tm.table, "row": int(row), "line": int(line), "column": column,
                "source_column": source_column, "value": value, "reason": reason}

    def source_of(self, column: str) -> str:
        return "+".join(self.tm.columns[column].source)

    def masked(self, column: str) -> bool:
        """Values of identifier and free-text columns never appear in the quarantine."""
        spec = self.tm.columns.get(column)
        if spec is None:
            return False
        return bool(set(spec.source) & self.secret) or S.TABLES[self.tm.table].field(column).kind == "string"

    def flag(self, mask, column: str, values, reasons, masked: bool | None = None) -> None:
        """Quarantine the rows of ``mask``; ``reasons`` is one text or one per row."""
        source = self.source_of(column) if column in self.tm.columns else ""
        masked = self.masked(column) if masked is None else masked
        for i in np.flatnonzero(mask):
            reason = reasons if isinstance(reasons, str) else reasons[i]
            self.issues.append(self._issue(self.rows[i], self.lines[i], column, source, values[i], reason, masked))
        self.bad[mask] = True


def _pseudonym_values(f, spec, frame: pd.DataFrame, key, q: _Table) -> pd.Series:
    parts = [frame[c] for c in spec.source]
    missing = np.zeros(len(frame), dtype=bool)
    for part in parts:
        missing |= _missing_mask(part)
    if len(parts) == 1:
        joined = parts[0].where(~missing, None)
    else:
        normalised = [_normalised(part) for part in parts]
        joined = normalised[0].str.cat(normalised[1:], sep="\x1f").where(~missing, None)
    if f.required:
        q.flag(missing, f.name, [None] * len(frame), "required value is missing")
    return pseudonymise(joined.reset_index(drop=True), key, spec.pseudonym)


def _missing_mask(values: pd.Series) -> np.ndarray:
    codes, uniques = pd.factorize(values, use_na_sentinel=True) if pd.api.types.infer_dtype(
        values, skipna=True) in ("string", "empty") else (None, None)
    if codes is None:
        return values.map(is_missing_value).to_numpy(dtype=bool)
    blank = np.array([not str(u).strip() for u in uniques] + [True], dtype=bool)
    return blank[np.where(codes < 0, len(uniques), codes)]


def _normalised(values: pd.Series) -> pd.Series:
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    norm = np.array([normalise(u) or "" for u in uniques] + [""], dtype=object)
    return pd.Series(norm[np.where(codes < 0, len(uniques), codes)], index=values.index, dtype=object)


def _column_values(f, spec, frame: pd.DataFrame, key, q: _Table) -> pd.Series:
    """The converted values of one model column (by position); failing cells are flagged in ``q``."""
    n = len(frame)
    if spec is None:
        return to_typed(f, [None]).take(np.zeros(n, dtype=int)).reset_index(drop=True)
    if not spec.source:
        const = convert_value(f, spec, spec.value)
        return to_typed(f, [None if const is MISSING else const]).take(np.zeros(n, dtype=int)).reset_index(drop=True)
    if spec.pseudonym:
        return _pseudonym_values(f, spec, frame, key, q)
    raw = frame[spec.source[0]]
    ref = frame[spec.at] if isinstance(spec.at, str) else None
    values, reasons = convert_column(f, spec, raw, ref)
    failing = reasons != None  # noqa: E711 (element-wise)
    if n >= WHOLE_COLUMN_ROWS and failing.sum() >= WHOLE_COLUMN_ROWS and not values.notna().any():
        raise ValueError(_column_failure(q, f, spec, raw, reasons))
    q.flag(failing, f.name, raw.tolist() if failing.any() else None, reasons)
    return values


def _column_failure(q: _Table, f, spec, raw: pd.Series, reasons) -> str:
    """The message for a column that failed in every row: which column, why, and the likely fix."""
    top = pd.Series(reasons).dropna().str.replace(VALUE_PART, "", regex=True).value_counts()
    reason = top.index[0]
    sample = next((str(v).strip() for v in raw.tolist() if not is_missing_value(v)), "")
    shape = re.sub(r"[A-Za-zÄÖÜäöüß]", "a", re.sub(r"\d", "9", sample))[:20]
    if reason == "required value is missing":
        fix = f"the column is empty: map {f.name} to another column of the file"
    elif reason.startswith("not a number") and re.fullmatch(r"\d{1,2}\.\d{1,2}\.\d{2,4}", sample):
        fix = "the column holds dates: write derive: year (or month, age with at:) to take a number from a date"
    elif reason.startswith("not a number"):
        fix = f"the values look like {shape!r}: set decimal: {'.' if spec.decimal == ',' else ','} or map " \
              f"labels to numbers under values:"
    elif reason.startswith("not a date"):
        fix = f"the values look like {shape!r}: set date_format: to match them (e.g. yyyy-mm-dd, dd.mm.yy)"
    elif reason.startswith("unknown value"):
        labels = sorted({str(v).strip() for v in raw.dropna().unique()[:200] if str(v).strip()})[:8]
        fix = f"add the labels {labels} under values: (label: model key)"
    elif reason.startswith("not a yes/no"):
        fix = "map the labels under values: (label: true/false), or derive: at_least with threshold: for a number"
    elif reason.startswith(("below", "above")):
        fix = f"the values are outside {f.min:g}-{f.max:g}: check that the right column is mapped"
    else:
        fix = "check the mapping of this column"
    src = "+".join(spec.reads)
    return (f"{q.qfile}: column {src!r} (model column {q.tm.table}.{f.name}) failed in every row: {reason} "
            f"({int(top.sum()):,} rows); likely fix: {fix}. Nothing was written.")


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


def _check_sources_present(tm: TableMapping, frame: pd.DataFrame, qfile: str) -> None:
    columns = set(frame.columns)
    absent = sorted({c for spec in tm.columns.values() for c in spec.reads if c not in columns})
    if absent:
        raise ValueError(f"{qfile}: column(s) {absent} named in the mapping for table {tm.table!r} are not in "
                         f"the file; its columns are {list(frame.columns)}")
    for section, names in (("drop", tm.drop), ("identifiers", tm.identifiers)):
        unknown = [c for c in names if c not in columns]
        if unknown:
            raise ValueError(f"{qfile}: {section}: of table {tm.table!r} names column(s) {unknown} that the file "
                             f"does not have (a typo?); its columns are {list(frame.columns)}")


def _whole_table_failure(q: _Table, n_input: int) -> str:
    top = pd.Series([(i["column"], i["reason"]) for i in q.issues]).value_counts()
    (column, reason), lines = top.index[0], int(top.iloc[0])
    reason = re.sub(VALUE_PART, "", reason)
    return (f"{q.qfile}: every row of table {q.tm.table!r} was quarantined ({n_input:,} rows); most often "
            f"{q.tm.table}.{column or '(row)'}: {reason} ({lines:,} lines). Check the mapping (for references: the "
            f"same pseudonym: domain in both tables). Nothing was written.")


def import_table(tm: TableMapping, src: Source, qfile: str, key, accepted: dict):
    t = S.TABLES[tm.table]
    frame = src.frame
    _check_sources_present(tm, frame, qfile)
    q = _Table(tm, src, qfile)
    typed = pd.DataFrame({f.name: _column_values(f, tm.columns.get(f.name), frame, key, q) for f in t.fields},
                         index=range(len(frame)))
    _apply_row_rules(typed, q)
    _apply_references(typed, q, accepted)
    _apply_unique_key(typed, q)
    _apply_spells(typed, q)
    good = typed.loc[~q.bad].reset_index(drop=True)
    for f in t.fields:
        if f.kind in ("int", "bool") and not good[f.name].isna().any():
            good[f.name] = good[f.name].astype("int64" if f.kind == "int" else bool)
    n_input = len(frame) + len(src.bad_rows)
    if n_input >= WHOLE_COLUMN_ROWS and not len(good):
        raise ValueError(_whole_table_failure(q, n_input))
    stats = {"file": qfile, "input": n_input, "accepted": len(good),
             "quarantined": int(q.bad.sum()) + len(src.bad_rows), "issues": len(q.issues)}
    ignored = [c for c in frame.columns if c not in q.secret
               and not any(c in s.reads for s in tm.columns.values())]
    return good, q.issues, stats, ignored


def _not_provided(m: Mapping, tables: dict) -> dict:
    """Per table, the model fields the export did not provide (unmapped, or empty in every accepted row)."""
    out = {}
    for name, tm in m.tables.items():
        empty = [f.name for f in S.TABLES[name].fields
                 if f.name not in tm.columns or (len(tables[name]) and tables[name][f.name].isna().all())]
        if empty:
            out[name] = empty
    return out


def import_source(source, mapping, out, *, key=None, progress=None, replace: bool = False) -> ImportReport:
    """Import an export with a mapping: convert, check, pseudonymise, quarantine, write.

    Parameters
    ----------
    source : str or Path
        The folder holding the export files named in the mapping, or a single
        export file (imported as given; see docs/import.md).
    mapping : str, Path, dict or Mapping
        See :func:`load_mapping`.
    out : str or Path
        Dataset folder to write: a new or empty folder, or an existing casework
        dataset when ``replace`` is True (never the current folder, the source
        or a folder containing it). Written as a whole or not at all: the
        Parquet tables and ``manifest.json`` (:meth:`casework.store.Dataset.save`),
        ``quarantine.csv`` (``;``-separated, UTF-8 with BOM so that Excel opens
        it; identifier and free-text values masked) and ``import_report.json``.
    key : PseudonymKey, bytes or str, optional
        Pseudonym key; default :func:`casework.ingest.pseudonym.load_key` (only
        read when the mapping pseudonymises a column). Never written.
    progress : bool or None
        Show a progress bar over the tables (``None``: only on a terminal).
    replace : bool
        Replace the casework dataset at ``out`` (its stored results are removed).

    Returns
    -------
    ImportReport

    Raises
    ------
    FileNotFoundError
        Naming the missing export or mapping file.
    ValueError
        Naming the file and the column when a mapped column is not in the
        export or fails in every row (with the likely fix), when every row of a
        table is quarantined, when ``out`` may not be written; naming the place
        in the mapping when the mapping is wrong; when no pseudonym key is set
        (naming both environment variables). Nothing is written then.

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
    m = mapping if isinstance(mapping, Mapping) else load_mapping(mapping)
    source = Path(source)
    if not source.exists():
        raise FileNotFoundError(f"{source}: source not found (a folder of export files or one export file)")
    paths, notes = _paths(source, m)
    out = check_out(out, [source, *paths.values()], replace)
    if m.needs_key:
        key = load_key() if key is None else (key if isinstance(key, PseudonymKey) else PseudonymKey(key))
    tables, issues, stats, ignored = _import_tables(m, paths, source, key, progress)
    quarantine = pd.DataFrame(issues, columns=QUARANTINE_COLUMNS)
    quarantine = quarantine.sort_values(["table", "row", "column"], kind="stable").reset_index(drop=True)
    provenance = {"kind": "import", "mapping": m.path.name if m.path else None,
                  "files": sorted({stats[t]["file"] for t in m.tables}),
                  "key_fingerprint": key.fingerprint if isinstance(key, PseudonymKey) else None}
    report = ImportReport(stats, quarantine, out, None, provenance["key_fingerprint"], ignored,
                          not_provided=_not_provided(m, tables), notes=notes)
    _write(report, tables, provenance)
    return report


def _import_tables(m: Mapping, paths: dict, source: Path, key, progress):
    from tqdm.auto import tqdm

    cache: dict = {}
    tables, issues, stats, ignored = {}, [], {}, {}
    for name, tm in tqdm(m.tables.items(), desc="import", disable=None if progress is None else not progress):
        path = paths[name]
        ck = (str(path), tm.format, tm.encoding, tm.sep, tm.sheet)
        if ck not in cache:
            try:
                cache[ck] = read_file(path, tm.format, tm.encoding, tm.sep, tm.sheet)
            except FileNotFoundError:
                raise FileNotFoundError(f"{path}: export file for table {name!r} not found "
                                        f"(mapping file: {tm.file!r})") from None
        qfile = tm.file if source.is_dir() else source.name
        good, tissues, tstats, tignored = import_table(tm, cache[ck], qfile, key, tables)
        tables[name], stats[name] = good, tstats
        issues += tissues
        if tignored:
            ignored[name] = tignored
    return tables, issues, stats, ignored


def _write(report: ImportReport, tables: dict, provenance: dict) -> None:
    """Tables, manifest, quarantine and report into a staging folder, validated, then renamed into place."""
    from casework.schema import validate
    from casework.store import Dataset

    staging = Staging(report.out)
    try:
        Dataset.from_tables(tables, meta={"provenance": provenance}, name=report.out.name).save(staging.folder)
        report.validation = validate(tables)  # the frames just written, without reading them back
        if not report.validation.ok:  # the import applies the same rules: this is a defect, never half a result
            raise ValueError(f"{report.out}: the imported tables fail validation, so nothing was written "
                             f"(please report this as a defect of the import):\n{report.validation.summary()}")
        report.quarantine.to_csv(staging.folder / "quarantine.csv", sep=";", index=False, encoding="utf-8-sig")
        stale = sorted(p.name for p in (report.out / RESULTS).iterdir()) if (report.out / RESULTS).is_dir() else []
        report.stale_results = stale
        (staging.folder / "import_report.json").write_text(
            json.dumps(report.to_dict(), indent=1, ensure_ascii=False), encoding="utf-8")
        staging.commit()
    finally:
        staging.discard()
