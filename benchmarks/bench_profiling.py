"""Profiling at scale: statistical profiler fit + score at 1,000,000 persons, latent classes at 100,000.

Run: python benchmarks/bench_profiling.py [--persons 100000 1000000] [--lca-persons 100000]
Each step runs in its own subprocess (peak memory = ru_maxrss of that step). The floor, measured in the same
run on the same design matrix: a plain scikit-learn LogisticRegression fit (lbfgs, default settings). The
data are drawn like the synthetic population's baseline (needs, covariates) with a logistic outcome, so that
the run does not depend on generating a full dataset first. Single-threaded BLAS.
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


def make_frame(n: int, seed: int = 5):
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    cls = rng.integers(0, 5, n)
    p_need = np.where(rng.random((5, 12)) < 0.35, 0.7, 0.08)  # well-separated classes, as in the scenarios
    needs = {f"need_{j}": (rng.random(n) < p_need[cls, j]).astype(int) * rng.integers(1, 3, n) for j in range(12)}
    X = pd.DataFrame({
        "age": rng.integers(18, 64, n), "female": rng.integers(0, 2, n),
        "citizenship": rng.choice(["german", "eu", "non_eu"], n, p=[0.6, 0.15, 0.25]),
        "school": rng.choice(["none", "lower", "middle", "upper"], n),
        "receipt_months": rng.gamma(2, 20, n), "health_restriction": rng.integers(0, 2, n), **needs})
    eta = -0.5 - 0.03 * (X["age"] - 40) - 0.3 * sum(needs.values()) / 6 - 0.01 * X["receipt_months"]
    y = (rng.random(n) < 1 / (1 + np.exp(-eta))).astype(int)
    return X, y, cls


def step(name: str, n: int) -> dict:
    import resource

    import numpy as np

    X, y, cls = make_frame(n)
    t0 = time.perf_counter()
    if name == "profiler":
        from casework.profiling import StatisticalProfiler

        p = StatisticalProfiler(model="logit", calibrate=True).fit(X, y)
        p.predict_proba(X)
        p.segment(X)
    elif name == "floor":
        from sklearn.compose import ColumnTransformer
        from sklearn.linear_model import LogisticRegression
        from sklearn.preprocessing import OneHotEncoder, StandardScaler

        prep = ColumnTransformer([("cat", OneHotEncoder(drop="first"), ["citizenship", "school"])],
                                 remainder=StandardScaler(), sparse_threshold=0.0)
        M = prep.fit_transform(X)
        t0 = time.perf_counter()  # the floor is the fit on the finished matrix
        LogisticRegression().fit(M, y)
    elif name == "lca":
        from sklearn.metrics import adjusted_rand_score

        from casework.profiling import LatentClassModel

        items = X[[c for c in X if c.startswith("need_")]]
        m = LatentClassModel(random_state=0).fit(items)
        ari = adjusted_rand_score(cls, m.predict(items))
        secs = time.perf_counter() - t0
        return {"step": name, "n": n, "seconds": secs, "classes": m.n_classes_, "ari": ari,
                "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
    secs = time.perf_counter() - t0
    return {"step": name, "n": n, "seconds": secs, "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "rows_per_s": n / secs if np.isfinite(secs) and secs > 0 else float("nan")}


def _run(name: str, n: int) -> dict:
    proc = subprocess.run([sys.executable, __file__, "--one", name, str(n)], capture_output=True, text=True)
    if proc.returncode:
        raise RuntimeError(f"{name} at {n:,} failed: {proc.stderr[-1500:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--persons", type=int, nargs="+", default=[100_000, 1_000_000])
    ap.add_argument("--lca-persons", type=int, default=100_000)
    ap.add_argument("--one", nargs=2, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.one:
        print(json.dumps(step(args.one[0], int(args.one[1]))))
        return 0
    lca_n = min(args.lca_persons, max(args.persons))
    print(f"Profiling, single-threaded BLAS (LCA at {lca_n:,} persons)")
    for n in args.persons:
        f, p = _run("floor", n), _run("profiler", n)
        print(f"{n:>10,} floor: plain LogisticRegression fit on the design matrix  {f['seconds']:7.1f} s  "
              f"{f['peak_mb']:7.0f} MB")
        print(f"{n:>10,} StatisticalProfiler(logit, calibrated) fit + score      {p['seconds']:7.1f} s  "
              f"{p['peak_mb']:7.0f} MB  = {p['seconds'] / f['seconds']:.1f}x the floor (1 + 3 calibration fits)")
        record("bench_profiling.py", f"StatisticalProfiler fit + score, {n:,} persons", p["seconds"], "s",
               ref="LogisticRegression fit on the design matrix", ref_value=f["seconds"], size=n,
               step="statistical profiling")
        record("bench_profiling.py", f"StatisticalProfiler peak memory, {n:,} persons", p["peak_mb"], "MB",
               ref="floor's peak", ref_value=f["peak_mb"])
    lc = _run("lca", lca_n)
    print(f"LatentClassModel, classes by BIC 1..8                    {lc['seconds']:7.1f} s  {lc['peak_mb']:7.0f} MB"
          f"  classes {lc['classes']}, ARI vs simulated truth {lc['ari']:.3f}")
    record("bench_profiling.py", f"LatentClassModel (BIC 1..8), {lca_n:,} persons, ARI {lc['ari']:.2f}",
           lc["seconds"], "s", size=lca_n, step="latent classes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
