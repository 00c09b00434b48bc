"""Where person-level work runs: in this process (the default) or on a Dask cluster.

Person-level work — panel building, key figures, profiling scores, the
synthetic generator — is split into independent pieces: the persons of a group
of jobcenters (every person belongs to exactly one jobcenter, and no key
figure or cohort rule looks across persons), or a chunk of the synthetic
population with its own seed. Each piece is computed by the same function
either way; the pieces' results are combined in a fixed order, so the numbers
do not depend on where they were computed.

* **Embedded** (default): pieces run one after another in this process. A
  dataset on disk is read piece by piece from its Parquet files (only the rows
  of the piece), so a dataset larger than memory can be processed.
* **Distributed**: set one setting — the environment variable
  ``CASEWORK_SCHEDULER`` or :func:`configure` — to a Dask scheduler address
  (``tcp://host:8786``), or to ``local`` / ``local:N`` for a
  ``distributed.LocalCluster`` with N worker processes on this machine. The
  workers need the casework package and, for datasets on disk, the same path
  to the dataset folder (a shared file system); in-memory datasets are shipped
  piece by piece. See docs/scale.md.

Examples
--------
>>> from casework import engine
>>> engine.scheduler_address() is None or isinstance(engine.scheduler_address(), str)
True
>>> engine.run(lambda x: x * x, [1, 2, 3])
[1, 4, 9]
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from casework.store import Dataset

__all__ = ["configure", "using", "scheduler_address", "is_distributed", "get_client", "close", "run",
           "jobcenter_groups", "pieces", "partition", "map_partitions", "PartitionRef", "SCHEDULER_ENV",
           "PARTITION_ENV"]

SCHEDULER_ENV = "CASEWORK_SCHEDULER"
PARTITION_ENV = "CASEWORK_PARTITION_PERSONS"
DEFAULT_PARTITION_PERSONS = 1_000_000
#: How many pieces may be in flight per worker before the driver waits (bounds the driver's memory).
IN_FLIGHT_PER_WORKER = 2

_state = threading.local()
_clients: dict[str, object] = {}
_lock = threading.Lock()


def configure(scheduler: str | None = None, partition_persons: int | None = None) -> None:
    """Set the scheduler address (``None``: embedded) and the persons per piece for this process."""
    if partition_persons is not None and partition_persons < 1:
        raise ValueError(f"partition_persons must be positive (got {partition_persons})")
    _state.scheduler = scheduler
    _state.explicit = True
    if partition_persons is not None:
        _state.partition_persons = int(partition_persons)


@contextlib.contextmanager
def using(scheduler: str | None, partition_persons: int | None = None):
    """Run a block with another scheduler (and piece size), then restore the previous setting."""
    saved = (getattr(_state, "scheduler", None), getattr(_state, "explicit", False),
             getattr(_state, "partition_persons", None))
    configure(scheduler, partition_persons)
    try:
        yield
    finally:
        _state.scheduler, _state.explicit, _state.partition_persons = saved


def scheduler_address() -> str | None:
    """The configured scheduler: :func:`configure` first, then ``CASEWORK_SCHEDULER``; ``None`` = embedded."""
    if getattr(_state, "explicit", False):
        return _state.scheduler
    return os.environ.get(SCHEDULER_ENV) or None


def partition_persons() -> int:
    """Persons per piece (``CASEWORK_PARTITION_PERSONS``, default 1,000,000)."""
    value = getattr(_state, "partition_persons", None) or os.environ.get(PARTITION_ENV)
    return int(value) if value else DEFAULT_PARTITION_PERSONS


def is_distributed() -> bool:
    return scheduler_address() is not None


def get_client():
    """The Dask client of the configured scheduler (created once per address)."""
    address = scheduler_address()
    if address is None:
        raise RuntimeError(f"no scheduler configured: set {SCHEDULER_ENV} or call casework.engine.configure()")
    with _lock:
        if address not in _clients:
            _clients[address] = _connect(address)
        return _clients[address]


def _connect(address: str):
    try:
        from distributed import Client, LocalCluster
    except ImportError as exc:  # pragma: no cover - distributed is a dependency
        raise RuntimeError("running on a cluster needs the 'distributed' package (pip install distributed)") from exc
    if address == "local" or address.startswith("local:"):
        workers = int(address.split(":", 1)[1]) if ":" in address else 2
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None)
        return Client(cluster)
    return Client(address)


def close() -> None:
    """Close every client (and the local clusters this process started)."""
    with _lock:
        for client in _clients.values():
            cluster = getattr(client, "cluster", None)
            client.close()
            if cluster is not None:
                cluster.close()
        _clients.clear()


def run(func: Callable, tasks: Iterable, *, desc: str | None = None, progress: bool = False) -> list:
    """``[func(t) for t in tasks]``, on the cluster when one is configured; results in the order of ``tasks``."""
    tasks = list(tasks)
    if not is_distributed():
        from tqdm.auto import tqdm

        return [func(t) for t in tqdm(tasks, desc=desc, disable=not progress)]
    return list(iter_results(func, tasks))


def iter_results(func: Callable, tasks: Sequence):
    """Yield ``func(t)`` for each task in order, keeping at most a few pieces per worker in flight."""
    if not is_distributed():
        for t in tasks:
            yield func(t)
        return
    client = get_client()
    limit = max(1, IN_FLIGHT_PER_WORKER * max(1, len(client.scheduler_info().get("workers", {}))))
    futures: dict[int, object] = {}
    nxt = 0
    for i in range(len(tasks)):
        while nxt < len(tasks) and nxt - i < limit:
            futures[nxt] = client.submit(func, tasks[nxt], pure=False)
            nxt += 1
        yield futures.pop(i).result()


# ----------------------------------------------------------------- partitions
@dataclass(frozen=True)
class PartitionRef:
    """One piece of a dataset: the persons of some jobcenters, or of a range of person keys within one.

    ``path`` set: the rows are read from the dataset's Parquet files when loaded (on a worker, from the
    same path); otherwise ``tables`` holds the rows themselves.
    """

    jc_ids: tuple[str, ...]
    id_range: tuple[str, str] | None = None
    path: str | None = None
    tables: dict | None = field(default=None, compare=False)
    ground_truth: dict | None = field(default=None, compare=False)
    piece_files: str | None = None  # folder written by piece_files(): <table>/piece=<index>/*.parquet
    index: int | None = None

    def load(self):
        """The piece as an in-memory Dataset."""
        if self.tables is not None:
            return Dataset.from_tables(self.tables, ground_truth=self.ground_truth, name="piece")
        source = Dataset.open(Path(self.path), verify=False)
        if self.piece_files is not None:
            return _PieceDataset(source, self.jc_ids, self.id_range, Path(self.piece_files), self.index)
        return _PieceDataset(source, self.jc_ids, self.id_range)


def pieces(ds, max_persons: int | None = None, keys: pd.DataFrame | None = None
           ) -> list[tuple[tuple[str, ...], tuple[str, str] | None]]:
    """How ``ds`` is split: groups of whole jobcenters of at most ``max_persons`` persons; a larger
    jobcenter is cut into ranges of person keys. Each entry is ``(jc_ids, id_range or None)``."""
    limit = max_persons or partition_persons()
    keys = _person_keys(ds) if keys is None else keys
    counts = keys["jc_id"].value_counts().sort_index()
    out, current, size = [], [], 0
    for jc, n in counts.items():
        if n > limit:
            ids = keys.loc[keys["jc_id"] == jc, "person_id"].sort_values().to_numpy()
            out += [((jc,), (ids[i], ids[min(i + limit, len(ids)) - 1])) for i in range(0, len(ids), limit)]
            continue
        if current and size + n > limit:
            out.append((tuple(current), None))
            current, size = [], 0
        current.append(jc)
        size += n
    if current:
        out.append((tuple(current), None))
    return out


def jobcenter_groups(ds, max_persons: int | None = None) -> list[tuple[str, ...]]:
    """The jobcenters of each piece (see :func:`pieces`)."""
    return [jcs for jcs, _ in pieces(ds, max_persons)]


def _person_keys(ds) -> pd.DataFrame:
    if ds.path is not None and not ds.is_loaded("persons"):
        import pyarrow.parquet as pq

        return pq.read_table(ds.path / "persons.parquet", columns=["person_id", "jc_id"]).to_pandas()
    return ds.table("persons")[["person_id", "jc_id"]]


def partition(ds, jc_ids: Sequence[str], id_range: tuple[str, str] | None = None) -> PartitionRef:
    """A reference to the persons of ``jc_ids`` (within ``id_range``) and all their rows."""
    jc_ids = tuple(jc_ids)
    if ds.on_disk:  # read from the files even when some table is cached: slicing would load every table
        return PartitionRef(jc_ids, id_range, path=str(ds.path))
    return PartitionRef(jc_ids, id_range, tables=_slice_tables(ds, jc_ids, id_range), ground_truth=ds.ground_truth)


def _slice_tables(ds, jc_ids, id_range) -> dict:
    persons = ds.table("persons")
    keep = persons["jc_id"].isin(jc_ids)
    if id_range is not None:
        keep &= persons["person_id"].between(*id_range)
    persons = persons[keep]
    ids = set(persons["person_id"])
    out = {"persons": persons.reset_index(drop=True)}
    for name in ds.tables:
        if name == "persons":
            continue
        frame = ds.table(name)
        if "person_id" in frame.columns:
            frame = frame[frame["person_id"].isin(ids)].reset_index(drop=True)
        out[name] = frame
    if "plan_steps" in out and "plans" in out:
        out["plan_steps"] = out["plan_steps"][out["plan_steps"]["plan_id"].isin(out["plans"]["plan_id"])]
    return out


class _PieceDataset(Dataset):
    """The rows of one piece, read from the Parquet files table by table when first used (pyarrow
    filters, so the dtypes are those of ``Dataset.table``); a call that needs two tables reads two."""

    def __init__(self, source, jc_ids, id_range, piece_files: Path | None = None, index: int | None = None):
        super().__init__(meta=source.meta, name=source.name, ground_truth=source.ground_truth)
        self._source = source.path
        self._names = source.tables
        self._piece_files, self._index = piece_files, index
        self._which = [("jc_id", "in", list(jc_ids))]
        if id_range is not None:
            self._which += [("person_id", ">=", id_range[0]), ("person_id", "<=", id_range[1])]

    @property
    def tables(self) -> list[str]:
        return list(self._names)

    def table(self, name: str) -> pd.DataFrame:
        if name in self._names and name not in self._frames:
            frame = self._read(name)
            with self._lock:
                self._frames.setdefault(name, frame)
        return super().table(name)

    def sql(self, query: str) -> pd.DataFrame:
        for name in self._names:
            self.table(name)
        return super().sql(query)

    def _read(self, name: str) -> pd.DataFrame:
        import pyarrow.parquet as pq

        fpath = self._source / f"{name}.parquet"
        if self._piece_files is not None and (self._piece_files / name).is_dir():
            return _read_piece_file(self._piece_files / name / f"piece={self._index}", fpath)
        if name == "persons":
            return pq.read_table(fpath, filters=self._which).to_pandas()
        columns = pq.read_schema(fpath).names
        if "person_id" in columns:
            ids = self.table("persons")["person_id"].tolist()
            table = pq.read_table(fpath, filters=[("person_id", "in", ids)]) if ids else \
                pq.read_schema(fpath).empty_table()
            return table.to_pandas()
        if name == "plan_steps" and "plans" in self._names:
            plans = self.table("plans")["plan_id"].tolist()
            table = pq.read_table(fpath, filters=[("plan_id", "in", plans)]) if plans else \
                pq.read_schema(fpath).empty_table()
            return table.to_pandas()
        return pq.read_table(fpath).to_pandas()


def _read_piece_file(folder: Path, original: Path) -> pd.DataFrame:
    """One table of one piece, in the original row order and with the original columns and types."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    schema = pq.read_schema(original)
    files = sorted(folder.glob("*.parquet"))
    if not files:
        return schema.empty_table().to_pandas()
    table = pa.concat_tables([pq.read_table(f) for f in files])
    table = table.take(pc.sort_indices(table, sort_keys=[("file_row_number", "ascending")])).select(schema.names)
    # a column without any value can have arrow's null type in the original file and another one in the piece
    # files; pyarrow casts no typed column to null, so such a column is rebuilt as nulls
    columns = [pa.nulls(len(table)) if f.type == pa.null() and table.column(i).null_count == len(table)
               else table.column(i).cast(f.type) for i, f in enumerate(schema)]
    return pa.Table.from_arrays(columns, schema=schema).to_pandas()


def piece_files(ds, specs, tables: Sequence[str] | None = None, keys: pd.DataFrame | None = None) -> Path:
    """Split person-level tables of ``ds`` by piece, in one pass per table (DuckDB, out-of-core).

    Reading a piece then touches only its own files, so the work grows linearly with the data instead of
    with pieces × data. ``tables``: which tables to split (default: all person-level ones); each is written
    once per dataset state and piece layout under ``<dataset>/.pieces/`` — person-level data beside the
    tables they come from, never among the results; a temporary folder when the dataset folder is
    read-only. Rows keep their file row number so that a piece is read back in the original order.
    """
    import hashlib
    import json
    import tempfile

    key = hashlib.sha1((ds.path / "manifest.json").read_bytes() + json.dumps(specs).encode()).hexdigest()[:16]
    try:
        root = ds.path / ".pieces" / key
        root.mkdir(parents=True, exist_ok=True)
    except OSError:
        root = Path(tempfile.gettempdir()) / f"casework-pieces-{key}"
        root.mkdir(parents=True, exist_ok=True)
    wanted = [t for t in (tables or ds.tables) if t in ds.tables and not (root / t).is_dir()]
    if wanted:
        _write_piece_files(ds, specs, root, wanted, _person_keys(ds) if keys is None else keys)
    return root


def _write_piece_files(ds, specs, root: Path, tables: list[str], keys: pd.DataFrame) -> None:
    import shutil
    import tempfile

    import duckdb
    import pyarrow.parquet as pq

    index = pd.Series(-1, index=keys.index)
    for i, (jcs, id_range) in enumerate(specs):
        inside = keys["jc_id"].isin(jcs)
        if id_range is not None:
            inside &= keys["person_id"].between(*id_range)
        index[inside] = i
    con = duckdb.connect()
    try:
        con.execute("SET preserve_insertion_order = false")
        con.register("piece_of", pd.DataFrame({"person_id": keys["person_id"], "piece": index.to_numpy()}))
        for name in tables:
            query = _split_query(ds, name, pq.read_schema(ds.path / f"{name}.parquet").names)
            if query is None:
                continue  # network tables are read whole
            tmp = Path(tempfile.mkdtemp(dir=root, prefix=f".{name}.writing."))
            try:
                target = str(tmp / name).replace("'", "''")
                con.execute(f"COPY ({query}) TO '{target}' (FORMAT parquet, PARTITION_BY (piece))")
                if not (tmp / name).exists():
                    (tmp / name).mkdir()  # an empty table
                if not (root / name).exists():  # another process may have finished first
                    os.replace(tmp / name, root / name)
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
    finally:
        con.close()


def _split_query(ds, name: str, columns: list[str]) -> str | None:
    def source(table: str, numbered: bool = False) -> str:
        path = str(ds.path / f"{table}.parquet").replace("'", "''")
        return f"read_parquet('{path}'{', file_row_number = true' if numbered else ''})"

    if "person_id" in columns:
        return f"SELECT t.*, p.piece FROM {source(name, True)} t JOIN piece_of p USING (person_id)"
    if name == "plan_steps" and "plans" in ds.tables:
        return (f"SELECT t.*, p.piece FROM {source(name, True)} t JOIN (SELECT plan_id, piece FROM "
                f"{source('plans')} JOIN piece_of USING (person_id)) p USING (plan_id)")
    return None


def needs_pieces(ds, max_persons: int | None = None) -> bool:
    """Whether work on ``ds`` is split: on a cluster always, embedded only when it has more persons than a piece
    (``max_persons``, default :func:`partition_persons`)."""
    if is_distributed():
        return True
    if ds.path is not None and not ds.is_loaded("persons"):
        import pyarrow.parquet as pq

        n = pq.ParquetFile(ds.path / "persons.parquet").metadata.num_rows
    else:
        n = len(ds.table("persons"))
    return n > (max_persons or partition_persons())


def map_partitions(ds, func: Callable, *args, desc: str | None = None, tables: Sequence[str] | None = None,
                   max_persons: int | None = None, **kwargs) -> list:
    """``func(piece, *args, **kwargs)`` for every piece of ``ds`` (or once on ``ds`` when it is not split).

    ``tables``: the tables ``func`` reads (a hint: only those are split into piece files on disk; others
    are still readable, by filtering the whole file). ``max_persons``: a smaller piece size for work whose
    memory grows faster than the persons (default :func:`partition_persons`).
    """
    if "persons" not in ds.tables or not needs_pieces(ds, max_persons):  # pieces are cut by persons
        return [func(ds, *args, **kwargs)]
    keys = _person_keys(ds)
    specs = pieces(ds, max_persons, keys=keys)
    if ds.on_disk:  # a cached table (say, a project list read first) must not pull every table into memory
        root = str(piece_files(ds, specs, tables, keys))
        refs = [PartitionRef(jcs, rng, path=str(ds.path), piece_files=root, index=i)
                for i, (jcs, rng) in enumerate(specs)]
    else:
        refs = [partition(ds, jcs, id_range) for jcs, id_range in specs]
    return run(_PieceCall(func, args, kwargs), refs, desc=desc, progress=len(refs) > 4)


class _PieceCall:
    """A picklable ``lambda ref: func(ref.load(), *args, **kwargs)``."""

    def __init__(self, func, args, kwargs):
        self.func, self.args, self.kwargs = func, args, kwargs

    def __call__(self, ref: PartitionRef):
        return self.func(ref.load(), *self.args, **self.kwargs)
