"""Import fuzzing at volume: the hypothesis property tests of casework.ingest with many examples.

Run: python benchmarks/bench_fuzz.py [--examples 10000] [--quick]
Runs tests/test_io.py's property tests (every input row accepted or quarantined with the right column named)
with CASEWORK_FUZZ_EXAMPLES examples and reports the time and examples per second.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--examples", type=int, default=10_000)
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args(argv)
    n = 200 if args.quick else args.examples
    env = {**os.environ, "CASEWORK_FUZZ_EXAMPLES": str(n)}
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_io.py",
                           "tests/test_ingest.py", "-k", "property or fuzz"], cwd=ROOT, env=env,
                          capture_output=True, text=True)
    secs = time.perf_counter() - t0
    print(proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else proc.stderr[-2000:])
    print(f"import fuzzing: {n:,} examples per property in {secs:.0f} s ({n / secs:.1f} examples/s); "
          f"exit {proc.returncode}")
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from _records import record

    record("bench_fuzz.py", f"import fuzzing: {n:,} examples per property (exit {proc.returncode})", secs, "s",
           target="no crash, every row accounted for", met=proc.returncode == 0)
    return proc.returncode


if __name__ == "__main__":
    sys.exit(main())
