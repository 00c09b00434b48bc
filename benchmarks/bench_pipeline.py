"""`casework pipeline` at the scale of a Land: NRW-sized data (1,100,000 persons, 53 jobcenters).

Targets (issue 20): the whole pipeline — the boards' results (casework.produce) and every analysis
notebook — within 20 minutes on the 2-core machine, peak memory at most 12 GB (the pipeline process and
its notebook kernels together, sampled every 0.5 s). It also records the CPU time of the pipeline and its
kernels and the machine's load before and after: on a shared machine the wall time follows the other
users' load. The floor measured in the same run is reading every table of the dataset once (Dataset.open
with checksums + each table into pandas): the pipeline's cost is recorded as a multiple of it.

    python benchmarks/bench_pipeline.py                      # 1,100,000 persons (make bench)
    python benchmarks/bench_pipeline.py --persons 20000      # a smoke run
    python benchmarks/bench_pipeline.py --data data/nrw_1m1  # an existing dataset (skips generation)

Besides the totals it records each step's wall time (from the pipeline's own lines), the largest single process
and the pipeline's steps at once (``--jobs``, default the pipeline's: 2). With ``--data`` the results stay in the
dataset, so that benchmarks/bench_dashboards.py ``--nrw`` can serve the NRW board on them.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import _records  # noqa: E402

TARGET_S = 20 * 60
TARGET_GB = 12.0


def _peak_memory(proc: subprocess.Popen, stop: threading.Event, out: list) -> None:
    """Largest resident memory of ``proc`` and all its children (the notebook kernels) together, and of the
    largest single one of them, sampled."""
    import psutil

    root, peak, single = psutil.Process(proc.pid), 0, 0
    while not stop.is_set():
        try:
            sizes = [p.memory_info().rss for p in [root, *root.children(recursive=True)] if p.is_running()]
            peak, single = max(peak, sum(sizes)), max(single, max(sizes, default=0))
        except psutil.Error:
            pass
        stop.wait(0.5)
    out += [peak, single]


def _echo(stream, lines: list) -> None:
    """The pipeline's output, passed through and kept (its per-step lines are recorded)."""
    for line in iter(stream.readline, ""):
        sys.stdout.write(line)
        sys.stdout.flush()
        lines.append(line.rstrip("\n"))


def step_seconds(lines) -> dict[str, float]:
    """Step -> wall seconds from the pipeline's ``<step> on <dataset>: ok in <n> s`` lines."""
    import re

    found = (re.fullmatch(r"(.+?) on \S+: ok in (\d+) s", ln.strip()) for ln in lines)
    return {m[1]: float(m[2]) for m in found if m}


def _children_cpu() -> float:
    """User + system CPU seconds of the waited-for child processes (the pipeline and, through it, its kernels)."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _read_all(path: Path) -> float:
    from casework.store import Dataset

    t0 = time.perf_counter()
    ds = Dataset.open(path)
    for table in ds.tables:
        ds.table(table)
    return time.perf_counter() - t0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--persons", type=int, default=1_100_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--data", type=Path, default=None, help="an existing nrw_teilhabe dataset (skips generation)")
    ap.add_argument("--small", action="store_true", help="the pipeline's fast settings (fewer bootstrap draws)")
    ap.add_argument("--jobs", type=int, default=None, help="steps at once (default: the pipeline's)")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(dir=HERE.parent / "artifacts" if (HERE.parent / "artifacts").is_dir()
                                     else None) as tmp:
        path = args.data
        if path is None:
            from casework import synth

            path = Path(tmp) / "nrw"
            t0 = time.perf_counter()
            synth.generate("nrw_teilhabe", seed=args.seed, persons=args.persons, out=path)
            print(f"generated {args.persons:,} persons in {time.perf_counter() - t0:.0f} s", flush=True)
        floor = _read_all(path)
        cmd = [sys.executable, "-m", "casework", "pipeline", str(path)] + (["--small"] if args.small else []) + (
            ["--jobs", str(args.jobs)] if args.jobs else [])
        stop, peak, lines = threading.Event(), [], []
        load_before, cpu0 = os.getloadavg()[0], _children_cpu()
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
        watcher = threading.Thread(target=_peak_memory, args=(proc, stop, peak), daemon=True)
        watcher.start()
        _echo(proc.stdout, lines)
        rc = proc.wait()
        seconds = time.perf_counter() - t0
        cpu, load_after = _children_cpu() - cpu0, os.getloadavg()[0]
        stop.set()
        watcher.join()
    gb, single_gb = (peak[0] / 2**30, peak[1] / 2**30) if peak else (float("nan"), float("nan"))
    size = args.persons if args.data is None else _persons(path)
    print(f"pipeline: {seconds:.0f} s ({seconds / 60:.1f} min), peak memory {gb:.1f} GB (largest process "
          f"{single_gb:.1f} GB), exit code {rc}; "
          f"reading every table once: {floor:.1f} s; CPU time of the pipeline and its kernels {cpu:.0f} s; "
          f"machine load (1-min average) {load_before:.1f} before, {load_after:.1f} after")
    _records.record("bench_pipeline.py", "casework pipeline (Land scale)", seconds, "s", ref="read every table once",
                    ref_value=floor, size=size, step="pipeline", target=f"<= {TARGET_S / 60:.0f} min",
                    met=rc == 0 and seconds <= TARGET_S)
    # CPU seconds do not grow with other users' load the way wall time does (2 cores shared by several engineers)
    _records.record("bench_pipeline.py", f"casework pipeline CPU time (process + kernels; load {load_before:.0f})",
                    cpu, "s", ref="read every table once", ref_value=floor, size=size)
    _records.record("bench_pipeline.py", "casework pipeline peak memory (process + kernels)", gb, "GB",
                    target=f"<= {TARGET_GB:.0f} GB", met=gb <= TARGET_GB, size=size)
    _records.record("bench_pipeline.py", "casework pipeline: largest single process", single_gb, "GB", size=size)
    for step, secs in step_seconds(lines).items():
        print(f"  {step}: {secs:.0f} s")
        _records.record("bench_pipeline.py", f"casework pipeline step {step} (wall)", secs, "s", size=size)
    return rc


def _persons(path: Path) -> int | None:
    from casework.store import Dataset

    try:
        return int(Dataset.open(path).meta["tables"]["persons"])
    except Exception:  # the records then carry no size
        return None


if __name__ == "__main__":
    sys.exit(main())
