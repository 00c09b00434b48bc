"""Install casework with every dependency at its declared lower bound and run the fast tests there.

    python3 tools/check_minimum.py                  # fresh venv, install at the bounds, fast tests + one notebook
    python3 tools/check_minimum.py --keep           # reuse artifacts/minimum/venv if it is there
    python3 tools/check_minimum.py --write          # only (re)write tools/minimum-constraints.txt from pyproject
    make test-minimum

The constraints file ``tools/minimum-constraints.txt`` pins every dependency of ``pyproject.toml``
(runtime and the ``test`` extra) to the version its ``>=`` bound names, so ``pandas>=2.2`` becomes
``pandas==2.2`` (pip reads that as 2.2.0). It is generated from pyproject.toml; the check refuses to run
when the committed file differs from what pyproject.toml says now, and tests/test_minimum.py fails then
too, so the bounds that were tested cannot drift from the bounds that are declared.

The check runs on the lowest supported Python (3.11, where the oldest releases have wheels), verifies
after the install that pip really installed each pinned version (the bound exists on PyPI for that
Python), then runs ``pytest -m "not browser and not notebook and not slow"`` and one notebook test.
Dependencies that casework does not declare (transitive ones) are resolved by pip as usual. The logs
(install, fast.log, notebook.log) and result.json (date, Python, versions, test counts) go to
``artifacts/minimum/``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import re
import shutil
import subprocess
import sys
import time
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CONSTRAINTS = ROOT / "tools" / "minimum-constraints.txt"
WORK = ROOT / "artifacts" / "minimum"
PYTHON = "3.11"
FAST = "not browser and not notebook and not slow"
#: one notebook executed at the bounds too (papermill, nbclient, ipykernel, jupytext at their minimum)
NOTEBOOK_TEST = "tests/test_notebooks.py::test_notebook_executes[0.01-describe-population.ipynb]"
HEADER = ("# Generated from pyproject.toml by `python3 tools/check_minimum.py --write`: each dependency at the\n"
          "# version its lower bound names. `make test-minimum` installs these and runs the fast tests.\n")
REQUIREMENT = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9_.\-]*)\s*(?:\[[^\]]*\])?\s*(.*)$")


def canonical(name: str) -> str:
    """PEP 503 normalised project name."""
    return re.sub(r"[-_.]+", "-", name).lower()


def lower_bounds(project: dict) -> dict[str, str]:
    """Each declared dependency (runtime and the test extra) -> the version of its ``>=`` bound.

    A dependency without a ``>=`` bound is an error: its minimum could not be tested."""
    bounds = {}
    for requirement in project["dependencies"] + project["optional-dependencies"]["test"]:
        name, spec = REQUIREMENT.match(requirement.split(";")[0]).groups()
        found = re.findall(r">=\s*([0-9][0-9A-Za-z.+\-]*)", spec)
        if len(found) != 1:
            raise ValueError(f"pyproject.toml: {requirement!r} needs exactly one '>=' lower bound")
        bounds[canonical(name)] = found[0]
    return bounds


def constraints_text(project: dict) -> str:
    return HEADER + "".join(f"{name}=={version}\n" for name, version in lower_bounds(project).items())


def read_project() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]


def installed_versions(python: Path) -> dict[str, str]:
    out = subprocess.run([str(python), "-m", "pip", "list", "--format", "json"], capture_output=True, text=True,
                         check=True).stdout
    return {canonical(p["name"]): p["version"] for p in json.loads(out)}


def same_version(installed: str, pinned: str) -> bool:
    """'2.2.0' satisfies '==2.2' (trailing zeros do not count), '2.2.1' does not."""
    def parts(v: str) -> list[str]:
        p = v.split(".")
        while len(p) > 1 and p[-1] == "0":
            p.pop()
        return p
    return parts(installed) == parts(pinned)


def _run(cmd: list[str], log: Path) -> tuple[int, str]:
    """Run ``cmd`` with its output streamed to ``log`` (follow it with tail -f); returns the exit code and output."""
    with open(log, "w", encoding="utf-8") as out:
        out.write(f"$ {' '.join(cmd)}\n")
        out.flush()
        code = subprocess.call(cmd, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
    return code, log.read_text(encoding="utf-8", errors="replace")


def _interpreter() -> str:
    sys.path.insert(0, str(ROOT / "tools"))
    from check_interpreters import find_interpreter

    exe = find_interpreter(PYTHON)
    if exe is None:
        raise SystemExit(f"python{PYTHON} not found: the minimum versions are checked on the lowest supported Python")
    return exe


def _python_version(python: Path) -> str:
    return subprocess.run([str(python), "-c", "import platform; print(platform.python_version())"],
                          capture_output=True, text=True, check=True).stdout.strip()


def _pytest_counts(output: str) -> str:
    lines = [ln for ln in output.splitlines() if re.search(r"\d+ (passed|failed|error)", ln)]
    return lines[-1].strip("= ") if lines else "no summary"


def check(keep: bool) -> int:
    project = read_project()
    if CONSTRAINTS.read_text(encoding="utf-8") != constraints_text(project):
        print(f"{CONSTRAINTS} differs from pyproject.toml: "
              "run python3 tools/check_minimum.py --write", file=sys.stderr)
        return 1
    venv = WORK / "venv"
    if venv.exists() and not keep:
        shutil.rmtree(venv)
    WORK.mkdir(parents=True, exist_ok=True)
    python = venv / "bin" / "python"
    t0 = time.perf_counter()
    steps = [[_interpreter(), "-m", "venv", str(venv)]] if not python.exists() else []
    steps.append([str(python), "-m", "pip", "install", "-q", "-c", str(CONSTRAINTS), "-e", ".[test]"])
    for i, step in enumerate(steps):
        if _run(step, WORK / f"install-{i}.log")[0] != 0:
            print(f"install failed: see {WORK.relative_to(ROOT)}/install-{i}.log", file=sys.stderr)
            return 1
    installed = installed_versions(python)
    pinned = lower_bounds(project)
    wrong = {n: installed.get(n) for n, v in pinned.items() if not same_version(installed.get(n, "-"), v)}
    if wrong:
        print(f"not installed at the bound: {wrong}", file=sys.stderr)
        return 1
    install_s = time.perf_counter() - t0
    fast = _run([str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider", "-m", FAST], WORK / "fast.log")
    notebook = _run([str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider", NOTEBOOK_TEST],
                    WORK / "notebook.log")
    result = {"date": dt.date.today().isoformat(), "python": _python_version(python),
              "install_s": round(install_s), "total_s": round(time.perf_counter() - t0),
              "fast_tests": _pytest_counts(fast[1]), "notebook_test": _pytest_counts(notebook[1]),
              "passed": fast[0] == 0 and notebook[0] == 0,
              "versions": {n: installed[n] for n in pinned}}
    (WORK / "result.json").write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    print(f"minimum versions on Python {PYTHON}: fast tests {result['fast_tests']}; "
          f"notebook {result['notebook_test']} ({result['total_s']} s; logs in {WORK.relative_to(ROOT)}/)")
    return 0 if result["passed"] else 1


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="only (re)write the constraints file from pyproject.toml")
    parser.add_argument("--keep", action="store_true", help="reuse artifacts/minimum/venv instead of a fresh one")
    args = parser.parse_args(argv)
    if args.write:
        CONSTRAINTS.write_text(constraints_text(read_project()), encoding="utf-8")
        print(f"wrote {CONSTRAINTS}")
        return 0
    return check(args.keep)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
