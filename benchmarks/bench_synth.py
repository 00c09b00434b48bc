"""Synthetic population: persons per second and peak memory (issue: 1,000,000 persons < 60 s, < 8 GB).

Also the NRW population at about the real size of the NRW SGB II stock (issue 17: ``casework synth nrw_teilhabe
--persons 1100000`` under 80 s), streamed to Parquet like every size above one million.

Run: python benchmarks/bench_synth.py [--sizes 100000 1000000] [--scenario scale] [--nrw 1100000]
Each size runs in a fresh subprocess so that peak memory (ru_maxrss) is that size's own.
Floor: the time to write the same tables with DuckDB's COPY ... TO parquet is not a
meaningful peer for a generator; we report persons/s and the ratio of peak memory to
the in-memory size of the tables produced (how much overhead the generator adds).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _records import record  # noqa: E402

for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(var, "1")


def _one(scenario: str, persons: int, save: str | None) -> dict:
    import resource

    from casework import synth

    t0 = time.perf_counter()
    if persons > 1_000_000:  # beyond one million: stream chunk by chunk to Parquet (out-of-core)
        import tempfile

        with tempfile.TemporaryDirectory(dir=save) as tmp:
            ds = synth.generate(scenario, seed=1, persons=persons, progress=False, out=f"{tmp}/ds")
            t_gen = time.perf_counter() - t0
            rows = dict(ds.meta["tables"])
            table_bytes = sum(f.stat().st_size for f in ds.path.iterdir() if f.suffix == ".parquet")
        t_save = 0.0
    else:
        ds = synth.generate(scenario, seed=1, persons=persons, progress=False)
        t_gen = time.perf_counter() - t0
        rows = {t: len(ds.table(t)) for t in ds.tables}
        table_bytes = sum(ds.table(t).memory_usage(deep=True).sum() for t in ds.tables)
        t_save = None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return {"scenario": scenario, "persons": persons, "seconds_generate": round(t_gen, 2),
            "seconds_save": None if t_save is None else round(t_save, 2),
            "persons_per_second": round(persons / t_gen), "peak_memory_gb": round(peak / 1e9, 2),
            "tables_memory_gb": round(table_bytes / 1e9, 2), "rows": rows}


def main(argv=None) -> list[dict]:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000, 5_000_000])
    ap.add_argument("--scenario", default="scale")
    ap.add_argument("--save", default=None, help="folder for the streamed datasets above 1M persons (temporary)")
    ap.add_argument("--nrw", type=int, default=1_100_000, help="persons of the NRW run (0: skip it)")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        print(json.dumps(_one(args.scenario, args.sizes[0], args.save)))
        return []
    results = []
    print("single-threaded BLAS (OPENBLAS/OMP/MKL_NUM_THREADS=1)")
    print("tables GB: in memory up to 1M persons; above, streamed out-of-core (Parquet size on disk)")
    print(f"{'persons':>10} {'gen s':>8} {'persons/s':>10} {'peak GB':>8} {'tables GB':>9}  target")
    for n in args.sizes:
        cmd = [sys.executable, __file__, "--child", "--sizes", str(n), "--scenario", args.scenario]
        if args.save:
            cmd += ["--save", args.save]
        out = subprocess.run(cmd, capture_output=True, text=True, check=True)
        r = json.loads(out.stdout.strip().splitlines()[-1])
        results.append(r)
        ok = "" if n != 1_000_000 else ("met" if r["seconds_generate"] < 60 and r["peak_memory_gb"] < 8 else "MISSED")
        print(f"{n:>10,} {r['seconds_generate']:>8} {r['persons_per_second']:>10,} {r['peak_memory_gb']:>8} "
              f"{r['tables_memory_gb']:>9}  {ok}")
        one_m = n == 1_000_000
        record("bench_synth.py", f"synthetic population, {n:,} persons", r["seconds_generate"], "s", size=n,
               step="synthetic population", target="< 60 s" if one_m else None,
               met=(r["seconds_generate"] < 60) if one_m else None)
        record("bench_synth.py", f"synthetic population, {n:,} persons: throughput", r["persons_per_second"],
               "persons/s")
        record("bench_synth.py", f"synthetic population, {n:,} persons: peak memory", r["peak_memory_gb"] * 1024,
               "MB", target="< 8,192 MB" if one_m else None,
               met=(r["peak_memory_gb"] < 8) if one_m else None)
    if args.nrw:
        results.append(_nrw(args.nrw, args.save))
    return results


def _nrw(persons: int, save: str | None) -> dict:
    cmd = [sys.executable, __file__, "--child", "--sizes", str(persons), "--scenario", "nrw_teilhabe"]
    if save:
        cmd += ["--save", save]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True)
    r = json.loads(out.stdout.strip().splitlines()[-1])
    met = r["seconds_generate"] < 80
    print(f"nrw_teilhabe {persons:,}: {r['seconds_generate']} s, peak {r['peak_memory_gb']} GB "
          f"(target < 80 s: {'met' if met else 'MISSED'})")
    record("bench_synth.py", f"synthetic NRW population (nrw_teilhabe), {persons:,} persons", r["seconds_generate"],
           "s", size=persons, step="synthetic population NRW", target="< 80 s", met=met)
    record("bench_synth.py", f"synthetic NRW population (nrw_teilhabe), {persons:,} persons: peak memory",
           r["peak_memory_gb"] * 1024, "MB")
    return r


if __name__ == "__main__":
    main()
