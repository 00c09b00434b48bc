"""`make bench`: run every benchmark at full size and print one table.

Each benchmark is its own script (so its peak memory is its own); it prints its
figures and records each one, with the floor or peer measured in the same run,
through benchmarks/_records.py. This runner executes them in turn with
single-threaded BLAS, then prints the combined table with a scaling exponent for
every step timed at several sizes, and writes it to benchmarks/results/bench.md
and bench.json (git-ignored); the scripts' raw output goes to report.md. Pass
--quick for reduced sizes (a smoke run), --only to run some scripts (their
figures replace theirs in the table, the others' stay), --append to add to the
records of an earlier run without replacing any.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
import _records  # noqa: E402

#: Longest a single benchmark script may run (seconds); a script that takes longer fails the run.
LIMIT_S = 3 * 3600
#: script -> (full-size arguments, quick arguments)
BENCHMARKS = {
    "bench_synth.py": ([], ["--sizes", "20000", "50000", "100000"]),
    "bench_profiling.py": ([], ["--persons", "20000", "50000", "--lca-persons", "20000"]),
    "bench_effects.py": ([], ["--rows", "200000"]),
    "bench_kpi.py": ([], ["--persons", "20000", "50000"]),
    "bench_dashboards.py": (["--loads", "9"], ["--quick"]),  # the VM drifts by ±0.3 s between loads
    "bench_load.py": ([], ["--quick"]),
    "bench_fuzz.py": ([], ["--quick"]),
    "bench_import.py": ([], ["--quick"]),
    "validate_estimators.py": (["--reps", "100", "--write-docs"], ["--reps", "3", "--persons", "5000"]),
    "validate_did.py": (["--reps", "200", "--write-docs"], ["--reps", "3", "--n-boot", "49"]),
    "bench_pipeline.py": ([], ["--persons", "20000", "--small"]),
}


def _machine() -> dict:
    mem = "?"
    try:
        kb = next(int(line.split()[1]) for line in open("/proc/meminfo") if line.startswith("MemTotal"))
        mem = f"{kb / 2**20:.0f} GB"
    except (OSError, StopIteration):
        pass
    return {"host": platform.node(), "cores": os.cpu_count(), "memory": mem, "python": platform.python_version(),
            "date": f"{dt.datetime.now():%d.%m.%Y %H:%M}", "blas threads": 1}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--only", nargs="*", default=None)
    ap.add_argument("--append", action="store_true", help="keep the records of an earlier (partial) run")
    args = ap.parse_args(argv)
    out_dir = HERE / "results"
    out_dir.mkdir(exist_ok=True)
    records_path = out_dir / "records.jsonl"
    if not args.append:  # a partial run replaces only its own scripts' figures in the table
        _records.drop(records_path, args.only if args.only else BENCHMARKS)
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
           _records.RECORDS_ENV: str(records_path)}
    report = [f"# Benchmark report {dt.datetime.now():%d.%m.%Y %H:%M}", "",
              f"Machine: {platform.node()}, {os.cpu_count()} cores, Python {platform.python_version()}; "
              "single-threaded BLAS.", ""]
    failed = 0
    for script, (full, quick) in BENCHMARKS.items():
        if args.only and script not in args.only:
            continue
        path = HERE / script
        if not path.exists():
            report += [f"## {script}", "", "not present: this benchmark has not been written yet.", ""]
            print(f"-- {script}: not present")
            continue
        cmd = [sys.executable, str(path), *(quick if args.quick else full)]
        print(f"== {' '.join(cmd[1:])}", flush=True)
        t0 = time.perf_counter()
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT, timeout=LIMIT_S)
        except subprocess.TimeoutExpired as exc:  # every benchmark is bounded in time
            out = exc.stdout.decode(errors="replace") if isinstance(exc.stdout, bytes) else (exc.stdout or "")
            proc = subprocess.CompletedProcess(cmd, 124, out, f"stopped after {LIMIT_S} s")
        secs = time.perf_counter() - t0
        print(proc.stdout, flush=True)
        if proc.returncode:
            failed += 1
            print(proc.stderr[-3000:], file=sys.stderr)
        report += [f"## {script} ({secs:.0f} s, exit {proc.returncode})", "", "```", proc.stdout.strip(), "```", ""]
    raw = out_dir / "report.md"
    earlier = raw.read_text(encoding="utf-8") + "\n" if args.append and raw.exists() else ""
    raw.write_text(earlier + "\n".join(report), encoding="utf-8")
    records = _records.load(records_path)
    md, js = _records.write(records, out_dir, _machine())
    print(md.read_text(encoding="utf-8"))
    print(f"table written to {md} and {js}; raw output in {out_dir / 'report.md'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
