"""The data store: a dataset is a folder of Parquet tables plus ``manifest.json``.

Layout of ``data/<name>/``::

    manifest.json          schema version, row counts, sha256 per file, provenance
    <table>.parquet        one file per table of the case data model
    ground_truth.json      synthetic data only: every effect the generator built in
    truth.parquet          synthetic data only: the person-level truth table
    results/               analysis results written by the pipeline (for dashboards)

Writes are atomic: a dataset is written into a temporary sibling folder and
renamed into place, and ``manifest.json`` is written last, so a half-written
dataset never looks complete. Opening checks that every file listed in the
manifest exists and (unless ``verify=False``) that its checksum matches.

Examples
--------
>>> import pandas as pd, tempfile, pathlib
>>> from casework.store import Dataset
>>> jc = pd.DataFrame({"jc_id": ["J1"], "name": ["JC"], "land": ["NW"],
...                    "region_type": ["city"], "comparison_type": ["IIIa"]})
>>> ds = Dataset.from_tables({"jobcenters": jc}, name="tiny")
>>> out = pathlib.Path(tempfile.mkdtemp()) / "tiny"
>>> ds.save(out).tables
['jobcenters']
>>> int(Dataset.open(out).sql("select count(*) as n from jobcenters")["n"].iloc[0])
1
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import threading
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from casework import schema as S

__all__ = ["Dataset", "DatasetError", "StreamingWriter", "MANIFEST", "GROUND_TRUTH", "TRUTH", "RESULTS"]

MANIFEST = "manifest.json"
GROUND_TRUTH = "ground_truth.json"
TRUTH = "truth.parquet"
RESULTS = "results"


class DatasetError(Exception):
    """A dataset cannot be opened or read; the message names the file."""


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _atomic_write_bytes(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _atomic_write_parquet(df: pd.DataFrame, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        df.to_parquet(tmp, index=False)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class Dataset:
    """A dataset of the case data model, on disk or in memory.

    Use :meth:`open` for a folder and :meth:`from_tables` for DataFrames.
    Tables are read lazily and cached; ``table()`` returns a copy so callers
    can never change the dataset by accident.
    """

    def __init__(self, *, path=None, tables=None, ground_truth=None, truth=None, meta=None, name=None):
        self.path = Path(path) if path is not None else None
        self._frames: dict[str, pd.DataFrame] = dict(tables or {})
        self._from_folder: set[str] = set()  # the frames read from the folder (the others were given)
        self._ground_truth = ground_truth
        self._truth = truth
        self.meta: dict = dict(meta or {})
        self.name = name or (self.path.name if self.path else self.meta.get("name", "dataset"))
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ open
    @classmethod
    def from_tables(cls, tables: dict, *, ground_truth=None, truth=None, meta=None, name=None) -> Dataset:
        """An in-memory dataset from a dict ``{table name: DataFrame}``."""
        unknown = sorted(set(tables) - set(S.TABLES))
        if unknown:
            raise DatasetError(f"unknown table(s) {unknown}; the model has {sorted(S.TABLES)}")
        return cls(tables=tables, ground_truth=ground_truth, truth=truth, meta=meta, name=name)

    @classmethod
    def open(cls, path, *, verify: bool = True) -> Dataset:
        """Open the dataset folder ``path``.

        Raises :class:`DatasetError` naming the file when the manifest is
        missing or unreadable, a listed file is missing, or (with
        ``verify=True``) a file's size or sha256 differs from the manifest.
        """
        path = Path(path)
        mpath = path / MANIFEST
        if not mpath.is_file():
            raise DatasetError(f"{mpath}: no manifest.json — not a complete dataset "
                               "(an interrupted write leaves none)")
        try:
            meta = json.loads(mpath.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise DatasetError(f"{mpath}: manifest is unreadable ({exc})") from exc
        for fname, info in meta.get("files", {}).items():
            fpath = path / fname
            if not fpath.is_file():
                raise DatasetError(f"{fpath}: file listed in the manifest is missing")
            if fpath.stat().st_size != info.get("bytes"):
                raise DatasetError(f"{fpath}: size {fpath.stat().st_size} differs from the manifest "
                                   f"({info.get('bytes')}): truncated or replaced")
            if verify and _sha256(fpath) != info.get("sha256"):
                raise DatasetError(f"{fpath}: checksum does not match the manifest: the file was changed")
        return cls(path=path, meta=meta, name=meta.get("name", path.name))

    # ---------------------------------------------------------------- access
    @property
    def tables(self) -> list[str]:
        """Names of the model tables in this dataset, in model order."""
        if self.path is not None:
            names = set(self.meta.get("tables", {}))
        else:
            names = set(self._frames)
        return [t for t in S.TABLE_ORDER if t in names]

    def is_loaded(self, name: str | None = None) -> bool:
        """Whether table ``name`` (or, without a name, any table) is held in memory rather than read from disk.

        The engine uses this to decide between on-disk piece files and slicing frames in memory.
        """
        return bool(self._frames) if name is None else name in self._frames

    @property
    def on_disk(self) -> bool:
        """Whether every table is as in its file: a folder dataset holding no table other than read from it.

        Work split into pieces then reads each piece from the files whatever this object has cached (a cached
        table is a copy of its file), instead of slicing every table in memory."""
        return self.path is not None and set(self._frames) <= self._from_folder

    def release(self) -> None:
        """Forget the tables read from the folder (they are read again when needed): long runs that use a few
        tables per step then hold only those, not every table any step has read."""
        with self._lock:
            for name in self._from_folder:
                self._frames.pop(name, None)
            self._from_folder.clear()

    def table(self, name: str) -> pd.DataFrame:
        """The table ``name`` as a pandas DataFrame (a copy)."""
        if name not in S.TABLES:
            raise KeyError(f"{name!r} is not a table of the model; tables: {', '.join(S.TABLE_ORDER)}")
        with self._lock:
            if name not in self._frames:
                if self.path is None or name not in self.tables:
                    raise KeyError(f"dataset {self.name!r} has no table {name!r}; it has {self.tables}")
                fpath = self.path / f"{name}.parquet"
                try:
                    self._frames[name] = pd.read_parquet(fpath)
                    self._from_folder.add(name)
                except Exception as exc:  # pyarrow raises several types for damaged files
                    raise DatasetError(f"{fpath}: cannot be read as Parquet ({exc})") from exc
            return self._frames[name].copy()

    def sql(self, query: str) -> pd.DataFrame:
        """Run a DuckDB SQL query over the tables (views named as the tables)."""
        import duckdb

        con = duckdb.connect()
        try:
            for name in self.tables:
                if self.path is not None and name not in self._frames:
                    fpath = str(self.path / f"{name}.parquet").replace("'", "''")
                    con.execute(f"create view {name} as select * from read_parquet('{fpath}')")
                else:
                    con.register(name, self._frames[name])
            return con.execute(query).df()
        finally:
            con.close()

    @property
    def ground_truth(self) -> dict | None:
        """Every effect the generator built in (``None`` for real data)."""
        if self._ground_truth is None and self.path is not None and GROUND_TRUTH in self.meta.get("files", {}):
            self._ground_truth = json.loads((self.path / GROUND_TRUTH).read_text(encoding="utf-8"))
        return self._ground_truth

    @property
    def truth(self) -> pd.DataFrame | None:
        """The person-level truth table (``None`` for real data)."""
        if self._truth is None and self.path is not None and TRUTH in self.meta.get("files", {}):
            self._truth = pd.read_parquet(self.path / TRUTH)
        return None if self._truth is None else self._truth.copy()

    @property
    def is_synthetic(self) -> bool:
        return self.ground_truth is not None

    # ----------------------------------------------------------------- write
    def save(self, path) -> Dataset:
        """Write the dataset to the folder ``path`` atomically and return it opened.

        An existing dataset at ``path`` is replaced only after the new one is
        complete. Results already stored under ``path/results`` are kept.
        """
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.writing."))
        try:
            rows = {}
            for name in self.tables:
                df = self.table(name)
                _atomic_write_parquet(df, tmp / f"{name}.parquet")
                rows[name] = len(df)
            if self.truth is not None:
                _atomic_write_parquet(self.truth, tmp / TRUTH)
            _write_manifest(tmp, path.name, rows, self.ground_truth, self.meta.get("provenance", {}))
            _swap_into_place(tmp, path)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return Dataset.open(path, verify=False)

    @property
    def results_dir(self) -> Path:
        if self.path is None:
            raise DatasetError(f"dataset {self.name!r} is in memory: save it before storing results")
        return self.path / RESULTS

    def save_result(self, name: str, obj) -> Path:
        """Store an analysis result: a DataFrame as ``results/<name>.parquet``,
        anything JSON-serialisable as ``results/<name>.json`` (atomically)."""
        if isinstance(obj, pd.DataFrame):
            target = self.results_dir / f"{name}.parquet"
            _atomic_write_parquet(obj, target)
        else:
            target = self.results_dir / f"{name}.json"
            _atomic_write_bytes(target, json.dumps(obj, indent=1, ensure_ascii=False, default=str).encode())
        return target

    def result(self, name: str):
        """Read a stored result (DataFrame or dict). Raises :class:`DatasetError` naming the file."""
        base = self.results_dir
        for suffix, reader in ((".parquet", pd.read_parquet),
                               (".json", lambda p: json.loads(Path(p).read_text(encoding="utf-8")))):
            target = base / f"{name}{suffix}"
            if target.is_file():
                try:
                    return reader(target)
                except Exception as exc:
                    raise DatasetError(f"{target}: result cannot be read ({exc})") from exc
        raise DatasetError(f"{base / name}: result not found (run `make pipeline`)")

    def has_result(self, name: str) -> bool:
        return self.path is not None and any((self.results_dir / f"{name}{s}").is_file()
                                             for s in (".parquet", ".json"))

    def __repr__(self) -> str:
        where = str(self.path) if self.path else "in memory"
        return f"<Dataset {self.name!r} ({where}): {', '.join(self.tables)}>"


def _write_manifest(folder: Path, name: str, rows: dict, ground_truth, provenance: dict) -> None:
    """Write ground_truth.json (if any) and then, last, manifest.json with checksums of every file."""
    if ground_truth is not None:
        _atomic_write_bytes(folder / GROUND_TRUTH, json.dumps(ground_truth, indent=1, ensure_ascii=False).encode())
    files = {f: {"bytes": (folder / f).stat().st_size, "sha256": _sha256(folder / f)}
             for f in sorted(p.name for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))}
    manifest = {
        "name": name,
        "schema_version": S.SCHEMA_VERSION,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "tables": {t: rows[t] for t in S.TABLE_ORDER if t in rows},
        "files": files,
        "provenance": provenance,
        "synthetic": ground_truth is not None,
    }
    _atomic_write_bytes(folder / MANIFEST, json.dumps(manifest, indent=1, ensure_ascii=False).encode())


def arrow_schema(table: str):
    """The pyarrow schema of a model table (so that chunks written separately agree)."""
    import pyarrow as pa

    kinds = {"key": pa.string(), "string": pa.string(), "category": pa.string(), "int": pa.int64(),
             "float": pa.float64(), "bool": pa.bool_(), "date": pa.timestamp("ns")}
    return pa.schema([(f.name, kinds[f.kind]) for f in S.TABLES[table].fields])


def _arrow_table(frame: pd.DataFrame, schema):
    """The frame's columns as an Arrow table of ``schema``, column by column.

    The same values as ``pa.Table.from_pandas(frame[names], schema=schema)`` (missing values, NaN included,
    become nulls; the written file carries the writer's schema either way), at half the cost: no row-take copy
    of the frame and no pandas bookkeeping (a third of the NRW synthetic population's Parquet writing).
    """
    import pyarrow as pa

    return pa.Table.from_arrays([pa.array(frame[f.name], type=f.type, from_pandas=True) for f in schema],
                                schema=schema)


class StreamingWriter:
    """Write a dataset chunk by chunk (for data larger than memory), atomically.

    ``append(table, frame)`` adds rows to a table; ``append_truth(frame)`` to the
    person-level truth; ``finish(ground_truth=..., meta=...)`` writes the
    manifest last and moves the folder into place; ``abort()`` removes
    everything. Until ``finish`` nothing exists at the target path.
    """

    def __init__(self, path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.tmp = Path(tempfile.mkdtemp(dir=self.path.parent, prefix=f".{self.path.name}.writing."))
        self.writers: dict = {}
        self.rows: dict[str, int] = {}

    def _writer(self, name: str, schema, use_dictionary=True):
        import pyarrow.parquet as pq

        if name not in self.writers:
            self.writers[name] = pq.ParquetWriter(self.tmp / f"{name}.parquet", schema, use_dictionary=use_dictionary)
        return self.writers[name]

    def append(self, table: str, frame: pd.DataFrame) -> None:
        schema = arrow_schema(table)
        # no dictionary encoding for key columns: nearly every value is new, so the writer builds a dictionary
        # only to drop it (a fifth of the writing time, files the same size); values read back the same
        coded = [f.name for f in S.TABLES[table].fields if f.kind != "key"] or False
        self._writer(table, schema, coded).write_table(_arrow_table(frame, schema))
        self.rows[table] = self.rows.get(table, 0) + len(frame)

    def append_truth(self, frame: pd.DataFrame) -> None:
        import pyarrow as pa

        if TRUTH in self.writers:
            schema = self.writers[TRUTH].schema
        else:
            inferred = pa.Table.from_pandas(frame, preserve_index=False).schema
            schema = pa.schema([(f.name, pa.string() if pa.types.is_null(f.type) else f.type) for f in inferred])
        self._writer(TRUTH, schema).write_table(_arrow_table(frame, schema))

    def finish(self, *, ground_truth=None, meta=None) -> Dataset:
        for w in self.writers.values():
            w.close()
        if TRUTH in self.writers:
            os.replace(self.tmp / f"{TRUTH}.parquet", self.tmp / TRUTH)
        _write_manifest(self.tmp, self.path.name, self.rows, ground_truth, (meta or {}).get("provenance", {}))
        _swap_into_place(self.tmp, self.path)
        return Dataset.open(self.path, verify=False)

    def abort(self) -> None:
        for w in self.writers.values():
            try:
                w.close()
            except Exception:  # closing a half-written file may fail; it is deleted anyway
                pass
        shutil.rmtree(self.tmp, ignore_errors=True)


def _swap_into_place(tmp: Path, path: Path) -> None:
    """Rename the finished folder into place, keeping existing results."""
    if path.exists():
        old_results = path / RESULTS
        if old_results.is_dir():
            shutil.move(str(old_results), str(tmp / RESULTS))
        trash = path.with_name(f".{path.name}.old.{os.getpid()}")
        os.replace(path, trash)
        os.replace(tmp, path)
        shutil.rmtree(trash, ignore_errors=True)
    else:
        os.replace(tmp, path)
