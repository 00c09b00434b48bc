"""Validation study: bias, RMSE and 95 % coverage of each estimator against the synthetic ground truth.

Run: python benchmarks/validate_estimators.py [--reps 200] [--scenario gelsenkirchen pankow]
     [--persons N] [--methods ols ipw aipw match] [--estimands att ate] [--write-docs]
     [--hard-reps 100] [--hard kang_schafer heavy_tail ...] [--hard-only] [--no-hard] [--summarise-only]
Prints a table per scenario, pooled over measures and by measure, and AIPW against IPW on identical replications
(paired); writes benchmarks/results/validation_<scenario>.csv and, with --write-docs, docs/validation.md.
Every finished replication is appended to benchmarks/results/validation_<scenario>.<code>.partial.csv (<code>: a
hash of casework/effects, casework/synth and casework/panel.py, so changed code starts afresh); a run that is
interrupted resumes from it, and ``--summarise-only --write-docs`` writes the tables from whatever replications
it holds (the number is stated in the tables' headings).
The hard designs of issue 15 (casework.effects.designs: Kang-Schafer misspecification, heavy-tailed outcome with
extreme-covariate controls, poor overlap, few clusters, an unobserved confounder of known strength) run after the
scenarios (``--hard-only`` runs only them and rewrites only their section of docs/validation.md).
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path

for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(var, "1")

ROOT = Path(__file__).resolve().parents[1]


def code_version() -> str:
    """A short hash of the code the replications depend on (estimators, synthetic population, cohort): the
    checkpoint files carry it in their names, so a changed estimator never resumes from old replications."""
    import hashlib

    h = hashlib.sha256()
    files = sorted([*(ROOT / "casework" / "effects").glob("*.py"), *(ROOT / "casework" / "synth").rglob("*.py"),
                    ROOT / "casework" / "panel.py"])
    for f in files:
        h.update(f.read_bytes())
    return h.hexdigest()[:10]


def main(argv=None):
    from casework.effects.validation import TARGETS, replicate, summarise

    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=100)
    ap.add_argument("--scenario", nargs="+", default=["gelsenkirchen", "pankow"])
    ap.add_argument("--persons", type=int, default=None)
    ap.add_argument("--methods", nargs="+", default=["ols", "ipw", "aipw", "match"])
    ap.add_argument("--estimands", nargs="+", default=["att", "ate"])
    ap.add_argument("--write-docs", action="store_true")
    ap.add_argument("--hard-reps", type=int, default=100)
    ap.add_argument("--hard", nargs="*", default=None, help="hard designs (default: all)")
    ap.add_argument("--hard-only", action="store_true")
    ap.add_argument("--no-hard", action="store_true", help="skip the hard designs")
    ap.add_argument("--summarise-only", action="store_true",
                    help="no new replications: tables from the current code's checkpoint files")
    args = ap.parse_args(argv)
    if args.hard_only:
        _run_hard(args)
        return
    import pandas as pd

    from casework.effects.validation import paired_comparison

    out_dir = ROOT / "benchmarks" / "results"
    out_dir.mkdir(parents=True, exist_ok=True)
    sections = []
    for scenario in args.scenario:
        t0 = time.perf_counter()
        partial = out_dir / f"validation_{scenario}.{code_version()}.partial.csv"
        if args.summarise_only:
            reps = pd.read_csv(partial)
        else:
            reps = replicate(scenario, reps=args.reps, persons=args.persons, methods=args.methods,
                             estimands=args.estimands, progress=True, checkpoint=partial)
        reps.to_csv(out_dir / f"validation_{scenario}.csv", index=False)
        n_reps = int(reps["seed"].nunique())
        pooled = summarise(reps, by=("method", "estimand"))
        by_measure = summarise(reps)
        paired = paired_comparison(reps)
        secs = time.perf_counter() - t0
        print(f"\n{scenario}: {n_reps} replications in {secs:.0f} s")
        for table in (pooled, by_measure, paired):
            print(table.to_string(index=False, float_format=lambda x: f"{x:.4f}"))
        sections.append((scenario, n_reps, pooled, by_measure, paired))
    if args.write_docs:
        _write_docs(sections, TARGETS, args)
    if not args.no_hard:
        _run_hard(args)


HARD_START, HARD_END = "<!-- hard-designs:start -->", "<!-- hard-designs:end -->"


def _run_hard(args):
    import pandas as pd

    from casework.effects.validation import HARD_DESIGNS, markdown_table, replicate_design, summarise_design

    names = args.hard or list(HARD_DESIGNS)
    if args.hard_reps <= 0:
        return
    out_dir = ROOT / "benchmarks" / "results"
    out_dir.mkdir(parents=True, exist_ok=True)
    partial = out_dir / f"validation_hard_designs.{code_version()}.partial.csv"
    t0 = time.perf_counter()
    if not args.summarise_only:  # replication-major, so that every design has about as many when interrupted
        done = set()
        if partial.exists():
            old = pd.read_csv(partial)
            done = set(zip(old["design"], old["rep"]))
        for rep in range(args.hard_reps):
            for d in names:
                if (d, rep) not in done:
                    frame = replicate_design(d, reps=1, first_seed=rep)
                    frame.to_csv(partial, mode="a", header=not partial.exists(), index=False)
    reps = pd.read_csv(partial)
    reps = reps[reps["design"].isin(names)]
    reps.to_csv(out_dir / "validation_hard_designs.csv", index=False)
    table = summarise_design(reps)
    secs = time.perf_counter() - t0
    n_reps = int(reps.groupby("design")["rep"].nunique().min())
    print(f"\nhard designs: {n_reps} replications each (at least) in {secs:.0f} s")
    print(table.to_string(index=False, float_format=lambda x: f"{x:.4f}"))
    if args.write_docs:
        section = "\n".join([HARD_START, f"## Hard designs ({n_reps} replications each)", "",
                              "Generated by `python benchmarks/validate_estimators.py --hard-only --write-docs "
                              f"--hard-reps {args.hard_reps}` on {platform.node()}, {time.strftime('%d.%m.%Y')} "
                              "(each finished replication is appended to "
                              f"benchmarks/results/validation_hard_designs.{code_version()}.partial.csv; "
                              "`--summarise-only` writes the table from it). `refused`: share of replications "
                              "in which `estimate` raised (overlap, weight or specification guards); "
                              "`warned`: share of the estimates let through that carry warnings; bias, RMSE, "
                              "coverage and mean SE over the estimates let through; `mc_se`: the Monte-Carlo "
                              "standard error of a 95 % coverage over them, "
                              "sqrt(.95 x .05 / n); `verdict`: the coverage against 93-97 % within Monte-Carlo error "
                              "(under / over when beyond 1.96 binomial SEs of the band's edge; "
                              "`casework.effects.validation.coverage_verdict`); `unguarded`: estimates let through "
                              "without a warning although a weighted arm's effective sample size is below the "
                              "warning limit of 50 (the guards' target: 0).", "", markdown_table(table), HARD_END])
        path = ROOT / "docs" / "validation.md"
        text = path.read_text(encoding="utf-8")
        if HARD_START in text:
            text = text[:text.index(HARD_START)] + section + text[text.index(HARD_END) + len(HARD_END):]
        else:
            text = text.rstrip("\n") + "\n\n" + section + "\n"
        path.write_text(text, encoding="utf-8")


def _write_docs(sections, targets, args):
    from casework.effects.validation import markdown_table

    path = ROOT / "docs" / "validation.md"
    old = path.read_text(encoding="utf-8") if path.exists() else ""
    hard = old[old.index(HARD_START):old.index(HARD_END) + len(HARD_END)] if HARD_START in old else ""
    lines = ["# Validation of the effect estimators against the ground truth", "",
             "Generated by `python benchmarks/validate_estimators.py --write-docs` "
             f"(--reps {args.reps}) on {platform.node()} ({os.cpu_count()} cores), single-threaded BLAS, "
             f"{time.strftime('%d.%m.%Y')}. The number of replications actually finished is in each heading "
             "(the run appends each finished replication to "
             "benchmarks/results/validation_<scenario>.<code>.partial.csv and resumes from it; code "
             f"{code_version()}).", "",
             f"Targets: |bias| < {targets['abs_bias'] * 100:.1f} percentage points and 95 % coverage between "
             f"{targets['coverage_low']:.0%} and {targets['coverage_high']:.0%}. Each replication is a fresh synthetic "
             "population (default size); the truth is that replication's effect from the potential outcomes "
             "(docs/estimands.md). Measures with fewer than 30 treated in a replication are left out of it. "
             "`reps`: estimates let through; `refused`: estimates the guards refused (no number); bias, RMSE and "
             "coverage over the estimates let through.", ""]
    for scenario, reps, pooled, by_measure, paired in sections:
        lines += [f"## {scenario} ({reps} replications)", "", "Pooled over measures:", "",
                  markdown_table(pooled), "",
                  "AIPW against IPW on identical replications (the same seed and measure, where both gave an "
                  "estimate): `mean_sq_diff` is the mean of AIPW's squared error minus IPW's (negative: AIPW closer "
                  "to the truth), `se_sq_diff` its standard error over the pairs.", "",
                  markdown_table(paired, digits=6), "", "By measure:", "", markdown_table(by_measure), ""]
    if hard:
        lines += [hard, ""]
    path.write_text("\n".join(lines), encoding="utf-8")


if __name__ == "__main__":
    main()
