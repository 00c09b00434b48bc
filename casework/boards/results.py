"""What a board reads, without pandas: stored results as plain columns, the KPI cubes as numpy arrays.

A board page's kernel starts cold for every viewer; importing pandas alone took
about as long as Voila's whole front end needs to start (0.5 s of the ~1 s of
kernel work a board cost). This module reads the stored results with pyarrow
only (pyarrow's numpy conversions would import pandas, so numbers are taken
from the Arrow buffers and texts and dates through ``to_pydict``) and sums the
cubes with numpy, so that the boards (:mod:`casework.dashboard`) never import
pandas. The pipeline writes the same files with pandas (:mod:`casework.board`,
:mod:`casework.store`); nothing here computes a figure differently.

Examples
--------
>>> cube = Cube({"jc_id": ["A", "A", "B"], "month": ["2020-01-01", "2020-02-01", "2020-01-01"],
...              "stock": [10, 20, 30], "integrations": [1, 2, 3]})
>>> cube.total("stock", cube.mask(jc_id="A")), cube.levels("jc_id")
(30, ['A', 'B'])
>>> months, sums = cube.by_month(["stock"], cube.mask(jc_id="B"))
>>> [str(month_start(m)) for m in months], sums["stock"].tolist()
(['2020-01-01', '2020-02-01'], [30.0, 0.0])
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np

__all__ = ["BoardData", "BoardDataError", "Cube", "cube_figures", "read_columns", "month_index", "month_start",
           "month_end", "KPI_DIMS", "KPI_MEASURES", "REFERRAL_DIMS", "AGE_GROUPS", "ALL"]

ALL = "alle"
AGE_GROUPS = ["unter 25", "25 bis 34", "35 bis 49", "50 und älter"]
KPI_DIMS = ("jc_id", "month", "sex", "age_group", "segment")
KPI_MEASURES = ("stock", "ltr_stock", "integrations", "ltr_integrations", "need_ending")
REFERRAL_DIMS = ("jc_id", "month", "partner_kind", "measure", "project_id", "sex", "age_group", "segment")
MANIFEST = "manifest.json"
RESULTS = "results"


class BoardDataError(ValueError):
    """A board's dataset or result file cannot be read; the message names the file, ``kind`` the error type."""

    def __init__(self, message: str, kind: str = "missing"):
        super().__init__(message)
        self.kind = kind


# ---------------------------------------------------------------------------- months
def month_index(value) -> int:
    """Months since January 1970 of a date-like value (datetime, date, ISO string, numpy datetime64).

    >>> month_index("1970-02-15"), month_index(dt.date(2021, 12, 31))
    (1, 623)
    """
    if isinstance(value, np.datetime64):
        return int(value.astype("datetime64[M]").astype("int64"))
    if not isinstance(value, dt.date):
        value = dt.date.fromisoformat(str(value)[:10])
    return (value.year - 1970) * 12 + value.month - 1


def month_start(index: int) -> dt.date:
    """The first day of a month given as months since January 1970."""
    return dt.date(1970 + index // 12, index % 12 + 1, 1)


def month_end(value) -> dt.date:
    """The last day of the month of a date-like value.

    >>> month_end("2024-02-01")
    datetime.date(2024, 2, 29)
    """
    return month_start(month_index(value) + 1) - dt.timedelta(days=1)


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


# ---------------------------------------------------------------------------- cubes
class Cube:
    """Additive cells (a KPI or referral cube) as numpy arrays: filter with :meth:`mask`, sum with :meth:`total`.

    ``columns`` maps a column to values or to a ``(codes, levels)`` pair (see :func:`read_columns`); the
    ``month`` column becomes months since 1970 (``self.month``).
    """

    def __init__(self, columns: dict):
        self.codes: dict[str, np.ndarray] = {}
        self._levels: dict[str, list] = {}
        self.values: dict[str, np.ndarray] = {}
        self.month = None
        for name, col in columns.items():
            if name == "month":
                self.month = _months(col)
            elif isinstance(col, tuple):
                self.codes[name], self._levels[name] = np.asarray(col[0]), list(col[1])
            elif isinstance(col, list) and not all(isinstance(v, (int, float)) for v in col):
                self.codes[name], self._levels[name] = _encode(col)
            else:
                self.values[name] = np.asarray(col)
        self.n = len(next(iter([*self.codes.values(), *self.values.values()])))
        self.months = np.unique(self.month) if self.month is not None else None  # every month of the cube, sorted

    @classmethod
    def from_frame(cls, frame) -> Cube:
        """A cube from a pandas DataFrame (analysts' notebooks and tests)."""
        return cls({c: frame[c].to_numpy() if frame[c].dtype.kind in "iufbM" else frame[c].astype(object).tolist()
                    for c in frame.columns})

    def levels(self, dim: str) -> list:
        """The distinct values of a dimension, sorted (missing values left out)."""
        return sorted(v for v in self._levels[dim] if v is not None)

    def mask(self, start=None, end=None, **filters) -> np.ndarray:
        """Cells in the months ``start``..``end`` (inclusive, any date-like) matching every filter.

        A filter is a value, a list of values, or None/"alle" for no restriction; an unknown value matches nothing.
        """
        m = np.ones(self.n, dtype=bool)
        if start is not None:
            m &= self.month >= month_index(start)
        if end is not None:
            m &= self.month <= month_index(end)
        for dim, value in filters.items():
            if value is None or value == ALL or dim not in self.codes:
                continue
            wanted = value if isinstance(value, (list, tuple, set)) else [value]
            idx = [i for i, lv in enumerate(self._levels[dim]) if lv in wanted]
            m &= np.isin(self.codes[dim], idx)
        return m

    def total(self, measure: str, mask: np.ndarray):
        """The sum of a measure over the cells of ``mask`` (a Python int or float)."""
        return self.values[measure][mask].sum().item()

    def by_month(self, measures, mask: np.ndarray) -> tuple[list[int], dict]:
        """Sums per month (every month of the cube, in order): months since 1970 and ``{measure: array}``."""
        months = self.months
        pos = np.searchsorted(months, self.month[mask])
        return months.tolist(), {k: np.bincount(pos, weights=self.values[k][mask], minlength=len(months))
                                 for k in measures}

    def by_level(self, dim: str, measures, mask: np.ndarray) -> tuple[list, dict]:
        """Sums per value of ``dim`` among the cells of ``mask`` (values present there only, sorted)."""
        codes = self.codes[dim][mask]
        present = np.unique(codes)
        pos = np.searchsorted(present, codes)
        sums = {k: np.bincount(pos, weights=self.values[k][mask], minlength=len(present)).astype("int64")
                for k in measures}
        labels = [self._levels[dim][c] for c in present]
        order = sorted(range(len(labels)), key=lambda i: str(labels[i]))
        return [labels[i] for i in order], {k: v[order] for k, v in sums.items()}


def _encode(values: list) -> tuple[np.ndarray, list]:
    """Dictionary-encode a list: codes in order of first appearance and the distinct values."""
    index: dict = {}
    codes = np.fromiter((index.setdefault(v, len(index)) for v in values), dtype=np.int32, count=len(values))
    return codes, list(index)


def _months(col) -> np.ndarray:
    arr = np.asarray(col)
    if arr.dtype.kind == "M":
        return arr.astype("datetime64[M]").astype("int64")
    return np.array([month_index(v) for v in col], dtype="int64")


def cube_figures(cube, start, end, **filters) -> dict:
    """Key figures for a period and filters from a KPI cube (:class:`Cube` or the pipeline's DataFrame).

    ``filters``: any of jc_id, sex, age_group, segment (a value or a list). Returns a dict with integrations,
    avg_stock, k2 (integrations / average stock), ltr_integrations, avg_ltr_stock, k3, need_ending, months.
    """
    if not isinstance(cube, Cube):
        cube = Cube.from_frame(cube)
    m = cube.mask(start, end, **filters)
    months = max(1, month_index(end) - month_index(start) + 1)
    sums = {k: cube.total(k, m) for k in KPI_MEASURES}
    avg, avg_ltr = sums["stock"] / months, sums["ltr_stock"] / months
    return {"integrations": int(sums["integrations"]), "avg_stock": float(avg),
            "k2": float(sums["integrations"] / avg) if avg > 0 else float("nan"),
            "ltr_integrations": int(sums["ltr_integrations"]), "avg_ltr_stock": float(avg_ltr),
            "k3": float(sums["ltr_integrations"] / avg_ltr) if avg_ltr > 0 else float("nan"),
            "need_ending": int(sums["need_ending"]), "months": months}
