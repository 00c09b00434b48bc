"""One table for all benchmarks: each script records its figures, run_all.py collects them.

A benchmark calls :func:`record` for every figure it prints, with the floor or peer measured in the same
run. Records go as JSON lines to the file named in ``CASEWORK_BENCH_RECORDS`` (nothing happens when it is
unset, so every script still runs on its own). ``run_all.py`` then adds a scaling exponent for every step
measured at several sizes (least-squares slope of log seconds on log size) and writes the table as Markdown
and JSON.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

RECORDS_ENV = "CASEWORK_BENCH_RECORDS"
#: Target for the scaling exponent of steps that are linear in principle.
LINEAR_TARGET = 1.1


def record(benchmark: str, line: str, figure: float, unit: str, *, ref: str | None = None,
           ref_value: float | None = None, ratio_kind: str = "figure/ref", size: int | None = None,
           step: str | None = None, target: str | None = None, met: bool | None = None) -> dict:
    """Append one figure to the records file (if any) and return it.

    ``ratio_kind``: ``"figure/ref"`` (how many times the floor it costs) or ``"ref/figure"`` (how many times
    faster than the peer). ``step`` and ``size`` (with ``unit="s"``) feed the scaling exponent of ``step``.
    """
    ratio = None
    if ref_value not in (None, 0) and figure not in (None, 0):
        ratio = figure / ref_value if ratio_kind == "figure/ref" else ref_value / figure
    rec = {"benchmark": benchmark, "line": line, "figure": _num(figure), "unit": unit, "ref": ref,
           "ref_value": _num(ref_value), "ratio": _num(ratio), "ratio_kind": ratio_kind if ratio else None,
           "size": size, "step": step, "target": target, "met": met}
    path = os.environ.get(RECORDS_ENV)
    if path:
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(rec, ensure_ascii=False) + "\n")
    return rec


def _num(x):
    return None if x is None else float(x)


def load(path) -> list[dict]:
    """The records written so far (an empty list when the file does not exist)."""
    path = Path(path)
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def drop(path, benchmarks) -> int:
    """Remove the records of ``benchmarks`` from the file (they are about to be measured again); returns how
    many records of other benchmarks were kept."""
    kept = [r for r in load(path) if r["benchmark"] not in set(benchmarks)]
    Path(path).write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in kept), encoding="utf-8")
    return len(kept)


def scaling_exponent(sizes, seconds) -> float:
    """Least-squares slope of log(seconds) on log(size): 1 = linear, 2 = quadratic.

    >>> round(scaling_exponent([1e5, 1e6, 1e7], [1.0, 10.0, 100.0]), 6)
    1.0
    """
    xs, ys = [math.log(s) for s in sizes], [math.log(t) for t in seconds]
    if len(set(xs)) < 2:
        raise ValueError("a scaling exponent needs at least two different sizes")
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs)


def scaling_lines(records: list[dict]) -> list[dict]:
    """A record "scaling exponent <step>" for every step timed at two or more sizes."""
    steps: dict[str, dict[int, float]] = {}
    for r in records:
        if r.get("step") and r.get("size") and r.get("unit") == "s" and r.get("figure"):
            steps.setdefault(r["step"], {})[int(r["size"])] = r["figure"]
    out = []
    for step, by_size in steps.items():
        if len(by_size) < 2:
            continue
        sizes = sorted(by_size)
        k = scaling_exponent(sizes, [by_size[s] for s in sizes])
        out.append({"benchmark": "scaling", "line": f"scaling exponent: {step} "
                    f"({', '.join(f'{s:,}' for s in sizes)})", "figure": k, "unit": "exponent", "ref": None,
                    "ref_value": None, "ratio": None, "ratio_kind": None, "size": None, "step": step,
                    "target": f"≤ {LINEAR_TARGET}", "met": k <= LINEAR_TARGET})
    return out


def _fmt(x, digits=2) -> str:
    if x is None:
        return "–"
    if abs(x) >= 1000:
        return f"{x:,.0f}"
    return f"{x:.{digits}f}"


def table_markdown(records: list[dict]) -> str:
    """The combined table: benchmark, line, figure, unit, floor/peer, its value, ratio, target, met."""
    head = ("| benchmark | line | figure | unit | floor or peer (same run) | its value | ratio | target | met |\n"
            "|---|---|---|---|---|---|---|---|---|")
    rows = []
    for r in records:
        ratio = "–" if r.get("ratio") is None else (
            f"{r['ratio']:.2f}× " + ("the floor" if r.get("ratio_kind") == "figure/ref" else "faster"))
        met = {True: "yes", False: "**no**", None: ""}[r.get("met")]
        rows.append(f"| {r['benchmark']} | {r['line']} | {_fmt(r.get('figure'))} | {r['unit']} | "
                    f"{r.get('ref') or '–'} | {_fmt(r.get('ref_value'))} | {ratio} | {r.get('target') or ''} | {met} |")
    return "\n".join([head, *rows])


def write(records: list[dict], out_dir, machine: dict) -> tuple[Path, Path]:
    """Write bench.md and bench.json (records plus scaling exponents, with the machine) to ``out_dir``."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    allrec = [*records, *scaling_lines(records)]
    md = out_dir / "bench.md"
    js = out_dir / "bench.json"
    about = ", ".join(f"{k}: {v}" for k, v in machine.items())
    md.write_text(f"# Benchmarks\n\n{about}\n\n{table_markdown(allrec)}\n", encoding="utf-8")
    js.write_text(json.dumps({"machine": machine, "records": allrec}, indent=1, ensure_ascii=False),
                  encoding="utf-8")
    return md, js
