"""What a board reads, without pandas: the dataset's manifest and its stored results as plain columns.

A board page's kernel starts cold for every viewer; importing pandas alone took
about as long as Voila's whole front end needs to start (0.5 s of the ~1 s of
kernel work a board cost). This module reads the stored results with pyarrow
only (pyarrow's numpy conversions would import pandas, so numbers are taken
from the Arrow buffers and texts and dates through ``to_pydict``); the cubes
are summed with numpy by :class:`casework.cells.Cube`, so that the boards
(:mod:`casework.boards.app`) never import pandas. The pipeline writes the same
files with pandas (:mod:`casework.boards.build`, :mod:`casework.store`);
nothing here computes a figure differently.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from casework.boards.spec import BOARD_META, MANIFEST, RESULTS
from casework.cells import Cube

__all__ = ["BoardData", "BoardDataError", "read_columns"]


class BoardDataError(ValueError):
    """A board's dataset or result file cannot be read; the message names the file, ``kind`` the error type."""

    def __init__(self, message: str, kind: str = "missing"):
        super().__init__(message)
        self.kind = kind


# ---------------------------------------------------------------------------- reading
def read_columns(path: Path, *, coded: tuple = ()) -> dict:
    """A Parquet file as ``{column: values}`` without pandas.

    Numbers become numpy arrays taken from the Arrow buffers (gaps as NaN), dates numpy ``datetime64`` (a list
    with None for gaps when there are any), texts and flags lists; columns named in ``coded`` become
    ``(codes, levels)`` pairs (dictionary encoding: an int array and the list of distinct values), which is how
    cubes are filtered fast.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    if coded:
        present = set(pq.read_schema(path).names)
        coded = tuple(c for c in coded if c in present)
    table = pq.ParquetFile(path, read_dictionary=list(coded)).read()
    out = {}
    for name, col in zip(table.column_names, table.columns):
        arr = col.combine_chunks()
        if name in coded:
            out[name] = (_buffer_values(arr.indices), arr.dictionary.to_pylist())
        elif arr.null_count == 0 and (pa.types.is_integer(arr.type) or pa.types.is_floating(arr.type)):
            out[name] = _buffer_values(arr)
        elif arr.null_count == 0 and pa.types.is_timestamp(arr.type):
            out[name] = _buffer_values(arr).view(f"datetime64[{arr.type.unit}]")
        elif pa.types.is_floating(arr.type):  # gaps as NaN (pyarrow's fill_null would import pandas)
            out[name] = np.where(_valid(arr), _buffer_values(arr), np.nan)
        elif pa.types.is_timestamp(arr.type):  # gaps as None (as_py of ns timestamps would import pandas)
            days = _buffer_values(arr).view(f"datetime64[{arr.type.unit}]")
            out[name] = [d if ok else None for d, ok in zip(days, _valid(arr))]
        else:
            out[name] = arr.to_pylist()
    return out


def _valid(arr) -> np.ndarray:
    """Which values of an Arrow array are present (its validity bitmap as booleans)."""
    bits = np.frombuffer(arr.buffers()[0], dtype=np.uint8)
    return np.unpackbits(bits, bitorder="little")[arr.offset:arr.offset + len(arr)].astype(bool)


def _buffer_values(arr) -> np.ndarray:
    """The values of a fixed-width Arrow array as numpy, gaps unmasked (no copy; no pandas, no pyarrow.compute)."""
    import pyarrow as pa

    t = arr.type
    kind = "f" if pa.types.is_floating(t) else "u" if pa.types.is_unsigned_integer(t) else "i"
    dtype = np.dtype(f"{kind}{t.bit_width // 8}")
    return np.frombuffer(arr.buffers()[1], dtype=dtype, count=len(arr), offset=arr.offset * dtype.itemsize)


class BoardData:
    """One dataset folder as a board sees it: manifest, two small model tables, the stored results.

    Reads lazily and caches; a result that cannot be read is remembered in ``problems`` (file name and error
    type) so that the board can say so in German instead of failing.
    """

    def __init__(self, path: Path, manifest: dict):
        self.path = Path(path)
        self.manifest = manifest
        self._cache: dict = {}
        self.problems: dict = {}

    @classmethod
    def open(cls, path) -> BoardData | None:
        """The dataset at ``path``; None when there is none yet; BoardDataError when its manifest is damaged."""
        path = Path(path)
        mpath = path / MANIFEST
        if not mpath.exists():
            return None
        try:
            manifest = json.loads(mpath.read_text(encoding="utf-8"))
            if not isinstance(manifest, dict) or "tables" not in manifest:
                raise ValueError("no table list")
        except (OSError, ValueError) as exc:
            raise BoardDataError(f"{mpath}: manifest cannot be read ({exc})") from exc
        return cls(path, manifest)

    @property
    def is_synthetic(self) -> bool:
        return bool(self.manifest.get("synthetic"))

    def meta(self) -> dict:
        """Data stand and sizes: stored by the pipeline (``board_meta``), else read from the tables' files.

        The fallback reads two date columns and Parquet row counts with pyarrow, so an analyst's dataset
        that has not been through the pipeline still opens without pandas.
        """
        if self.has_result(BOARD_META):
            return self.result(BOARD_META)
        import pyarrow.parquet as pq

        spells = self._read("meta:benefits", self.path / "benefits.parquet")
        dates = [d for col in ("start", "end") for d in spells.get(col, []) if d is not None]
        last = max(dates) if len(dates) else None
        return {"data_stand": str(last)[:10] if last is not None else None,
                "persons": pq.ParquetFile(self.path / "persons.parquet").metadata.num_rows,
                "jobcenters": pq.ParquetFile(self.path / "jobcenters.parquet").metadata.num_rows}

    def table(self, name: str) -> dict:
        """A model table of the dataset (the boards read only ``jobcenters`` and ``projects``)."""
        return self._read(f"table:{name}", self.path / f"{name}.parquet")

    def has_result(self, name: str) -> bool:
        """True when the result exists and can be read (otherwise ``problems`` may say why)."""
        if name in self._cache:
            return True
        if not self._result_path(name):
            return False
        try:
            self.result(name)
        except BoardDataError as exc:
            self.problems[name] = exc.kind
            return False
        return True

    def result(self, name: str, *, coded: tuple = ()):
        """A stored result: columns (Parquet) or the object (JSON)."""
        path = self._result_path(name)
        if path is None:
            raise BoardDataError(f"{self.path / RESULTS / name}: result not found (run `make pipeline`)")
        return self._read(name, path, coded)

    def cube(self, name: str, dims: tuple) -> Cube | None:
        """A stored cube (``board_kpi_cube``, ``board_referrals``) or None when it is missing or unreadable."""
        key = f"cube:{name}"  # the plain columns of the same file stay under the result's own key
        if key in self._cache:
            return self._cache[key]
        if self._result_path(name) is None:
            return None
        try:
            cube = Cube(self.result(name, coded=tuple(d for d in dims if d != "month")))
        except BoardDataError as exc:
            self.problems[name] = exc.kind
            return None
        self._cache[key] = cube
        return cube

    def _result_path(self, name: str) -> Path | None:
        for suffix in (".parquet", ".json"):
            p = self.path / RESULTS / f"{name}{suffix}"
            if p.is_file():
                return p
        return None

    def _read(self, key: str, path: Path, coded: tuple = ()):
        if key in self._cache:
            return self._cache[key]
        try:
            value = (json.loads(path.read_text(encoding="utf-8")) if path.suffix == ".json"
                     else read_columns(path, coded=coded))
        except Exception as exc:  # any damage to a stored file: name it, never a traceback on a board
            raise BoardDataError(f"{path}: cannot be read ({type(exc).__name__}: {exc})", type(exc).__name__) from exc
        self._cache[key] = value
        return value
