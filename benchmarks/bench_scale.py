"""National scale: key figures over 5 million persons × 60 months, out-of-core and on a Dask LocalCluster.

Run: python benchmarks/bench_scale.py [--persons 5000000] [--data DIR] [--workers 2]
Generates the ``scale`` scenario streamed to Parquet (or uses ``--data``), then, each in its own process:
(a) the floor: a DuckDB ``count(*) ... group by`` scan over the same Parquet files (benefit spells by person,
employment by kind); (b) ``kpi.key_figures`` for one year embedded, piece by piece from Parquet
(``casework.engine``, pieces of 1,000,000 persons); (c) the same call on a ``LocalCluster`` with ``--workers``
worker processes. Seconds, peak memory (the process and, for the cluster, its workers) and the ratio to the
floor; asserts that (b) and (c) give the same figures. Target for (b): ≤ 60 s and ≤ 8 GB.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(var, "1")

PERIOD = ("2017-01-01", "2017-12-01")


class _PeakMemory:
    """Peak resident memory of this process and its children, sampled every 0.2 s."""

    def __init__(self):
        import psutil

        self.me, self.peak, self._stop = psutil.Process(), 0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            procs = [self.me, *self.me.children(recursive=True)]
            total = 0
            for p in procs:
                try:
                    total += p.memory_info().rss
                except Exception:  # a worker may end between listing and reading
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
    figures = None
    with _PeakMemory() as mem:
        t0 = time.perf_counter()
        if name == "floor":
            p = str(Path(path)).replace("'", "''")
            ds.sql(f"SELECT person_id, count(*) FROM read_parquet('{p}/benefits.parquet') GROUP BY person_id")
            ds.sql(f"SELECT kind, count(*) FROM read_parquet('{p}/employment.parquet') GROUP BY kind")
        else:
            from casework.kpi import key_figures

            scheduler = f"local:{workers}" if name == "cluster" else None
            with engine.using(scheduler):
                if scheduler:
                    engine.get_client()  # the cluster's start-up is not part of the figure
                    t0 = time.perf_counter()
                kf = key_figures(ds, *PERIOD)
            figures = kf.set_index("kpi")["numerator"].astype(float).to_dict()
        seconds = time.perf_counter() - t0
    engine.close()
    return {"step": name, "seconds": seconds, "peak_mb": mem.peak / 2**20, "figures": figures}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--persons", type=int, default=5_000_000)
    ap.add_argument("--data", default=None, help="an existing 'scale' dataset folder (skips generation)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--one", nargs=2, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.one:
        print(json.dumps(step(*args.one, args.workers)))
        return 0
    with tempfile.TemporaryDirectory(dir=os.environ.get("CASEWORK_BENCH_TMP")) as tmp:
        path = args.data or _generate(args.persons, Path(tmp) / "ds")
        res = {}
        for name in ("floor", "embedded", "cluster"):
            proc = subprocess.run([sys.executable, __file__, "--one", name, str(path), "--workers",
                                   str(args.workers)], capture_output=True, text=True)
            if proc.returncode:
                print(f"{name} failed: {proc.stderr[-2000:]}")
                return 1
            res[name] = json.loads(proc.stdout.strip().splitlines()[-1])
    return _report(res, args)


def _generate(persons: int, out: Path) -> str:
    from casework import synth

    t0 = time.perf_counter()
    synth.generate("scale", seed=1, persons=persons, progress=False, out=out)
    print(f"generated {persons:,} persons × 60 months in {time.perf_counter() - t0:.0f} s")
    return str(out)


def _report(res: dict, args) -> int:
    floor = res["floor"]["seconds"]
    print(f"Key figures, one year, {args.persons:,} persons × 60 months (Parquet), 2 cores")
    print(f"{'step':<30} {'seconds':>8} {'peak MB':>8} {'x floor':>8}")
    labels = {"floor": "floor: DuckDB count/group by", "embedded": "key_figures, embedded pieces",
              "cluster": f"key_figures, LocalCluster({args.workers})"}
    for name, r in res.items():
        print(f"{labels[name]:<30} {r['seconds']:8.1f} {r['peak_mb']:8.0f} {r['seconds'] / floor:8.1f}")
    same = res["embedded"]["figures"] == res["cluster"]["figures"]
    emb = res["embedded"]
    met = emb["seconds"] <= 60 and emb["peak_mb"] <= 8 * 1024
    print(f"embedded and cluster figures identical: {same}; target ≤ 60 s and ≤ 8 GB: {'met' if met else 'missed'}")
    try:
        sys.path.insert(0, str(Path(__file__).parent))
        from _records import record
    except ImportError:  # the combined table is optional for a standalone run
        return 0 if same else 1
    size = args.persons
    record("bench_scale.py", f"key figures embedded, {size:,} persons × 60 months", emb["seconds"], "s",
           ref="DuckDB count/group by scan", ref_value=floor, size=size, target="≤ 60 s", met=emb["seconds"] <= 60)
    record("bench_scale.py", f"key figures embedded peak memory, {size:,} persons", emb["peak_mb"], "MB",
           target="≤ 8,192 MB", met=emb["peak_mb"] <= 8192)
    record("bench_scale.py", f"key figures on LocalCluster({args.workers}), {size:,} persons",
           res["cluster"]["seconds"], "s", ref="embedded", ref_value=emb["seconds"], size=size)
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
