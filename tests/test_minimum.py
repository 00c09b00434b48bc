"""The minimum versions that `make test-minimum` installs are exactly the lower bounds pyproject.toml declares."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import check_minimum  # noqa: E402  (tools/ is no package)

PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]


def _pins(text: str) -> dict[str, str]:
    return dict(line.split("==") for line in text.splitlines() if line and not line.startswith("#"))


def test_constraints_file_pins_every_declared_dependency_at_its_lower_bound():
    pins = _pins(check_minimum.CONSTRAINTS.read_text(encoding="utf-8"))
    declared = PROJECT["dependencies"] + PROJECT["optional-dependencies"]["test"]
    assert len(pins) == len(declared), "run python3 tools/check_minimum.py --write"
    for requirement in declared:  # parsed here on its own, not by the tool under test
        name = re.sub(r"[-_.]+", "-", re.match(r"[A-Za-z0-9_.\-]+", requirement).group(0)).lower()
        bound = re.search(r">=\s*([^,;\s]+)", requirement)
        assert bound, f"{requirement}: no lower bound, so its minimum is never tested"
        assert pins.get(name) == bound.group(1), (f"{name}: pyproject says >={bound.group(1)}, the tested "
                                                  f"constraints {pins.get(name)}: run python3 tools/check_minimum.py "
                                                  "--write and make test-minimum")
    assert check_minimum.CONSTRAINTS.read_text(encoding="utf-8") == check_minimum.constraints_text(PROJECT)


def test_make_test_minimum_uses_the_tool_and_refuses_drift(tmp_path, monkeypatch):
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert re.search(r"^test-minimum:.*\n\t.*tools/check_minimum\.py", makefile, re.M)
    drifted = tmp_path / "minimum-constraints.txt"
    drifted.write_text(check_minimum.constraints_text(PROJECT).replace("pandas==", "pandas==1."), encoding="utf-8")
    monkeypatch.setattr(check_minimum, "CONSTRAINTS", drifted)
    assert check_minimum.check(keep=True) == 1  # refused before any venv is made


@pytest.mark.parametrize("requirement", ["pandas", "pandas>2.2", "pandas>=2.2,>=2.3"])
def test_a_dependency_without_one_lower_bound_is_refused(requirement):
    project = {"dependencies": [requirement], "optional-dependencies": {"test": []}}
    with pytest.raises(ValueError, match="lower bound"):
        check_minimum.lower_bounds(project)


def test_installed_version_matches_its_pin():
    assert check_minimum.same_version("2.2.0", "2.2") and check_minimum.same_version("6.0", "6")
    assert check_minimum.same_version("2024.8.0", "2024.8")
    assert not check_minimum.same_version("2.2.1", "2.2") and not check_minimum.same_version("1.26.4", "1.26")


def test_last_result_is_documented():
    """README names the command and the date and outcome of its last run."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "make test-minimum" in readme
    assert re.search(r"make test-minimum.{0,600}\d{2}\.\d{2}\.\d{4}", readme, re.S)


def test_check_runs_standalone():
    r = subprocess.run([sys.executable, str(ROOT / "tools" / "check_minimum.py"), "--help"], capture_output=True,
                       text=True)
    assert r.returncode == 0 and "--keep" in r.stdout
