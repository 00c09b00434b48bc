"""Key figures and panels at scale, out-of-core and on a Dask LocalCluster, against a DuckDB scan floor.

Run: python benchmarks/bench_kpi.py [--persons 1000000 5000000] [--workers 2] [--data DIR]
For each size, generates the ``scale`` scenario (60 months, 400 jobcenters) streamed to Parquet (or uses
``--data`` for a single size), then measures, each in its own process:

* floor: a DuckDB ``count(*) ... group by`` scan over the same Parquet files (benefit spells by person,
  employment by kind) — reading the data once, applying none of the definitions;
* ``kpi.key_figures`` for one year, embedded, out-of-core: pieces of ``--piece-persons`` (default
  500,000, so that every size from a million on takes the same path) — the first call includes the one
  pass that splits the person tables by piece (``casework.engine.piece_files``); target at 5 million
  persons: ≤ 60 s and ≤ 8 GB;
* the jobcenter-month panel (``panel.jobcenter_months``: stock and integrations per jobcenter and month);
* the dashboards' KPI cube over all months (pieces like the key figures; peak memory recorded too);
* ``kpi.key_figures`` on a ``LocalCluster`` with ``--workers`` processes (same figures asserted);
* (only with ``--steps ... read``) a second floor: the key figures' tables read into pandas piece by piece
  (pieces and split as for the key figures, which it then finds cached), what any piece-wise pandas work pays;
* (only with ``--steps ... before``) the key figures as landed before the speed work of session 8
  (``tests/kpi_s7.py``, a frozen copy) and then the current ones again, both with the split cached, for the
  ratio new ÷ before in the same run (figures asserted equal).

Seconds, CPU seconds (the process, its threads and its children), the load average of the machine, peak
memory (the process and its children, sampled) and the ratio to the floor; single-threaded BLAS. On a shared
machine the CPU seconds are the steadier figure: the wall time grows with the other processes' load.
Scaling exponents over the sizes are added by run_all.py. ``--steps`` runs a subset (e.g. ``floor key_figures``).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(var, "1")
sys.path.insert(0, str(Path(__file__).resolve().parent))

PERIOD = ("2017-01-01", "2017-12-01")
PARTITION_ENV = "CASEWORK_PARTITION_PERSONS"
STEPS = ("floor", "key_figures", "panel", "cube", "cluster")
OPTIONAL_STEPS = ("read", "before", "again")
#: the tables key_figures reads
KPI_TABLES = ("persons", "benefits", "employment", "benefit_amounts", "instruments", "unemployment")


def read_piece(piece) -> int:
    """Read the key figures' tables of one piece into pandas, as every piece-wise computation must."""
    return sum(len(piece.table(t)) for t in KPI_TABLES if t in piece.tables)


def cpu_seconds() -> float:
    """CPU time of this process (all threads) and its waited-for children."""
    import resource

    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


class PeakMemory:
    """Peak resident memory of this process and its children (Dask workers), sampled every 0.2 s."""

    def __init__(self):
        import psutil

        self.me, self.peak, self._stop = psutil.Process(), 0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            total = 0
            for p in [self.me, *self.me.children(recursive=True)]:
                try:
                    total += p.memory_info().rss
                except Exception:  # a child may end between listing and reading
                    pass
            self.peak = max(self.peak, total)
            time.sleep(0.2)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def step(name: str, path: str, workers: int) -> dict:
    from casework import engine
    from casework.store import Dataset

    ds = Dataset.open(path, verify=False)
    extra = {}
    scheduler = f"local:{workers}" if name == "cluster" else None
    with engine.using(scheduler), PeakMemory() as mem:
        if scheduler:
            engine.get_client()  # the cluster's start-up is not part of the figure
        t0, c0, load0 = time.perf_counter(), cpu_seconds(), os.getloadavg()[0]
        if name == "floor":
            p = str(Path(path)).replace("'", "''")
            ds.sql(f"SELECT person_id, count(*) FROM read_parquet('{p}/benefits.parquet') GROUP BY person_id")
            ds.sql(f"SELECT kind, count(*) FROM read_parquet('{p}/employment.parquet') GROUP BY kind")
        elif name in ("key_figures", "cluster", "again"):
            from casework.kpi import key_figures

            kf = key_figures(ds, *PERIOD).set_index("kpi")
            extra = {"figures": kf["numerator"].astype(float).to_dict(), "k2": float(kf.loc["k2", "value"])}
        elif name == "read":
            tables = [t for t in KPI_TABLES if t in ds.tables]
            extra = {"rows": sum(engine.map_partitions(ds, read_piece, tables=tables))}
        elif name == "before":
            sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
            from tests.kpi_s7 import key_figures as key_figures_before

            kf = key_figures_before(ds, *PERIOD).set_index("kpi")
            extra = {"figures": kf["numerator"].astype(float).to_dict()}
        elif name == "panel":
            from casework.panel import jobcenter_months

            extra = {"rows": len(jobcenter_months(ds))}
        else:
            from casework.boards.build import kpi_cube

            extra = {"cells": len(kpi_cube(ds))}
        seconds, cpu = time.perf_counter() - t0, cpu_seconds() - c0
        load = (load0 + os.getloadavg()[0]) / 2
    engine.close()
    return {"step": name, "seconds": seconds, "cpu_seconds": cpu, "load": load, "peak_mb": mem.peak / 2**20, **extra}


def same_figures(a: dict, b: dict) -> bool:
    """Equal figure for figure, a missing figure (NaN) equal to a missing one."""
    return a.keys() == b.keys() and all(a[k] == b[k] or (math.isnan(a[k]) and math.isnan(b[k])) for k in a)


def run_size(persons: int, path: str, workers: int, piece_persons: int, steps=STEPS) -> dict:
    res = {}
    for name in steps:
        proc = subprocess.run([sys.executable, __file__, "--one", name, path, "--workers", str(workers)],
                              capture_output=True, text=True, env={**os.environ, PARTITION_ENV: str(piece_persons)})
        if proc.returncode:
            raise RuntimeError(f"{name} at {persons:,} persons failed: {proc.stderr[-2000:]}")
        res[name] = json.loads(proc.stdout.strip().splitlines()[-1])
    return res


def report(persons: int, res: dict, workers: int) -> bool:
    from _records import record

    floor = res["floor"]["seconds"]
    print(f"\n{persons:,} persons × 60 months (Parquet), one year of key figures")
    print(f"{'step':<38} {'seconds':>8} {'CPU s':>8} {'load':>6} {'peak MB':>8} {'x floor':>8}")
    labels = {"floor": "floor: DuckDB count/group by scan", "key_figures": "key_figures, embedded pieces",
              "panel": "jobcenter-month panel", "cube": "dashboards' KPI cube (all months)",
              "cluster": f"key_figures, LocalCluster({workers})",
              "before": "key_figures as landed before (kpi_s7)", "again": "key_figures, split cached",
              "read": "floor 2: the tables read into pandas"}
    for name, r in res.items():
        print(f"{labels[name]:<38} {r['seconds']:8.1f} {r['cpu_seconds']:8.1f} {r['load']:6.1f} "
              f"{r['peak_mb']:8.0f} {r['seconds'] / floor:8.1f}")
        record("bench_kpi.py", f"{labels[name]} CPU seconds (load {r['load']:.1f}), {persons:,} persons",
               r["cpu_seconds"], "s", ref="DuckDB count/group by scan, CPU seconds",
               ref_value=res["floor"]["cpu_seconds"], size=persons)
        if name != "floor":
            target = "≤ 60 s" if name == "key_figures" and persons >= 5_000_000 else None
            record("bench_kpi.py", f"{labels[name]}, {persons:,} persons", r["seconds"], "s",
                   ref="DuckDB count/group by scan", ref_value=floor, size=persons, step=labels[name],
                   target=target, met=(r["seconds"] <= 60) if target else None)
    if "cube" in res:
        record("bench_kpi.py", f"dashboards' KPI cube peak memory, {persons:,} persons", res["cube"]["peak_mb"],
               "MB")
    if "before" in res:
        new, old = res["again"], res["before"]
        assert same_figures(new["figures"], old["figures"]), "key figures differ from the code landed before"
        print(f"new ÷ before: {new['seconds'] / old['seconds']:.2f} wall, "
              f"{new['cpu_seconds'] / old['cpu_seconds']:.2f} CPU (same figures)")
        record("bench_kpi.py", f"key_figures ÷ as landed before, CPU seconds, {persons:,} persons",
               new["cpu_seconds"], "s", ref="key_figures as landed before", ref_value=old["cpu_seconds"],
               size=persons)
    kf = res["key_figures"]
    big = persons >= 5_000_000
    record("bench_kpi.py", f"key_figures peak memory, {persons:,} persons", kf["peak_mb"], "MB",
           target="≤ 8,192 MB" if big else None, met=(kf["peak_mb"] <= 8192) if big else None)
    same = same_figures(kf["figures"], res["cluster"]["figures"]) if "cluster" in res else True
    print(f"K2 2017 = {kf['k2']:.4f}; embedded and cluster figures identical: {same}")
    return same


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--persons", type=int, nargs="+", default=[1_000_000, 5_000_000])
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--piece-persons", type=int, default=500_000,
                    help="persons per piece (default 500,000: every size from 1M runs the out-of-core path)")
    ap.add_argument("--data", default=None, help="an existing 'scale' dataset (one size only; skips generation)")
    ap.add_argument("--steps", nargs="+", default=list(STEPS), choices=STEPS + OPTIONAL_STEPS,
                    help="the steps to run (floor and key_figures always)")
    ap.add_argument("--one", nargs=2, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.one:
        print(json.dumps(step(*args.one, args.workers)))
        return 0
    from casework import synth

    ok = True
    for persons in args.persons:
        with tempfile.TemporaryDirectory(dir=os.environ.get("CASEWORK_BENCH_TMP")) as tmp:
            path = args.data
            if path is None:
                t0 = time.perf_counter()
                path = str(Path(tmp) / "ds")
                synth.generate("scale", seed=1, persons=persons, progress=False, out=path)
                print(f"generated {persons:,} persons in {time.perf_counter() - t0:.0f} s")
            steps = ["floor", "key_figures"] + [x for x in args.steps if x not in ("floor", "key_figures", "again")]
            steps += ["again"] if "before" in steps else []
            res = run_size(persons, path, args.workers, args.piece_persons, steps)
            ok &= report(persons, res, args.workers)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
