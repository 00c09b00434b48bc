"""Install casework and run its fast tests on every supported Python found on this machine.

    python3 tools/check_interpreters.py            # python3.11, python3.12, python3.13 where present
    python3 tools/check_interpreters.py 3.12       # only these versions
    make test-interpreters

For each interpreter a venv is made under ``artifacts/interpreters/pyX.Y`` (kept, so a second run only
re-runs the tests), casework is installed with its test extras, and the fast tests run
(``-m "not browser and not notebook and not slow"``). Each venv is also checked to import the
package and answer ``casework --version``. Exit code 0 only when every interpreter found passed; an
interpreter that is not installed is reported and skipped, an interpreter outside ``requires-python``
is refused by pip (reported as a failure).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SUPPORTED = ("3.11", "3.12", "3.13")
FAST = "not browser and not notebook and not slow"


def _run(cmd: list[str], log) -> int:
    log.write(f"$ {' '.join(cmd)}\n")
    log.flush()
    return subprocess.call(cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)


def find_interpreter(version: str) -> str | None:
    """A working ``pythonX.Y``: on PATH, in pyenv's versions (shims that pyenv has not activated fail), or in
    /usr/local/bin and /usr/bin."""
    pyenv = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv") / "versions"
    candidates = [shutil.which(f"python{version}")]
    candidates += sorted(map(str, pyenv.glob(f"{version}.*/bin/python{version}")), reverse=True)
    candidates += [f"/usr/local/bin/python{version}", f"/usr/bin/python{version}"]
    for exe in filter(None, candidates):
        probe = subprocess.run([exe, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                               capture_output=True, text=True)
        if probe.returncode == 0 and probe.stdout.strip() == version:
            return exe
    return None


def check(version: str) -> str:
    """Install and test on one interpreter; returns 'passed', 'failed (...)' or 'not found'."""
    exe = find_interpreter(version)
    if exe is None:
        return "not found"
    venv = ROOT / "artifacts" / "interpreters" / f"py{version}"
    py = venv / "bin" / "python"
    venv.parent.mkdir(parents=True, exist_ok=True)
    with open(venv.parent / f"py{version}.log", "w", encoding="utf-8") as log:
        steps = [([exe, "-m", "venv", str(venv)], "venv") if not py.exists() else None,
                 ([str(py), "-m", "pip", "install", "-q", "-e", ".[test]"], "install"),
                 ([str(venv / "bin" / "casework"), "--version"], "casework --version"),
                 ([str(py), "-m", "pytest", "-q", "-p", "no:cacheprovider", "-m", FAST], "fast tests")]
        for step in filter(None, steps):
            if _run(step[0], log) != 0:
                return f"failed ({step[1]}; see {log.name})"
    return "passed"


def main(argv: list[str]) -> int:
    versions = argv or list(SUPPORTED)
    results = {}
    for version in versions:
        t0 = time.perf_counter()
        results[version] = check(version)
        print(f"python{version}: {results[version]} ({time.perf_counter() - t0:.0f} s)", flush=True)
    found = [v for v, r in results.items() if r != "not found"]
    if not found:
        print("no supported interpreter found", file=sys.stderr)
        return 1
    return 0 if all(results[v] == "passed" for v in found) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
