"""Key figures at scale: casework.kpi.key_figures and the dashboards' cube, against a DuckDB scan floor.

Run: python benchmarks/bench_kpi.py [--persons 1000000]
Generates the ``scale`` scenario (streamed to a temporary folder), then in separate subprocesses measures
(a) the floor: one DuckDB pass over the Parquet benefit spells and employment spells (counting person-months
and integrations without any of the definitions), (b) key_figures for one year, (c) the dashboards' KPI cube
over all months. Seconds, peak memory (ru_maxrss) and the ratio to the floor. Single-threaded BLAS.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(var, "1")


def step(name: str, path: str) -> dict:
    import resource

    from casework.store import Dataset

    ds = Dataset.open(path, verify=False)
    t0 = time.perf_counter()
    if name == "floor":
        ds.sql("""SELECT sum(datediff('month', "start", coalesce("end", DATE '2030-01-01'))) FROM benefits""")
        ds.sql("SELECT count(*) FROM employment WHERE kind IN ('svb', 'training', 'self_employed')")
        extra = {}
    elif name == "key_figures":
        from casework.kpi import key_figures

        kf = key_figures(ds, "2017-01-01", "2017-12-01").set_index("kpi")["value"]
        extra = {"k2": float(kf["k2"])}
    else:
        from casework.board import kpi_cube

        extra = {"cells": len(kpi_cube(ds))}
    return {"step": name, "seconds": time.perf_counter() - t0,
            "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, **extra}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--persons", type=int, default=1_000_000)
    ap.add_argument("--one", nargs=2, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.one:
        print(json.dumps(step(*args.one)))
        return 0
    from casework import synth

    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        synth.generate("scale", seed=1, persons=args.persons, progress=False, out=f"{tmp}/ds")
        print(f"generated {args.persons:,} persons in {time.perf_counter() - t0:.0f} s")
        res = {}
        for name in ("floor", "key_figures", "cube"):
            proc = subprocess.run([sys.executable, __file__, "--one", name, f"{tmp}/ds"], capture_output=True,
                                  text=True)
            if proc.returncode:
                print(f"{name} failed: {proc.stderr[-1500:]}")
                return 1
            res[name] = json.loads(proc.stdout.strip().splitlines()[-1])
    floor = res["floor"]["seconds"]
    print(f"{'step':<14} {'seconds':>8} {'peak MB':>8} {'x floor':>8}")
    for name, r in res.items():
        print(f"{name:<14} {r['seconds']:8.1f} {r['peak_mb']:8.0f} {r['seconds'] / floor:8.1f}")
    print(f"K2 2017 = {res['key_figures']['k2']:.3f}; cube cells: {res['cube']['cells']:,}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
