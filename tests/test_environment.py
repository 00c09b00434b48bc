"""environment.yml (conda) and pyproject.toml (pip) must name the same packages and bounds."""

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
CONDA_NAMES = {"python-duckdb": "duckdb"}


def _name_spec(req: str) -> tuple[str, str]:
    m = re.match(r"^\s*([A-Za-z0-9_.\-]+)\s*(.*)$", req)
    name = m.group(1).lower().replace("_", "-")
    return CONDA_NAMES.get(name, name), m.group(2).replace(" ", "")


def test_environment_matches_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pip = dict(_name_spec(r) for r in project["dependencies"] + project["optional-dependencies"]["test"])
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    conda = dict(_name_spec(d) for d in env["dependencies"]
                 if isinstance(d, str) and re.match(r"[\w.\-]+", d).group(0) not in ("python", "pip"))
    assert conda == pip, {"only in pyproject": sorted(set(pip) - set(conda)),
                          "only in environment.yml": sorted(set(conda) - set(pip)),
                          "different bounds": sorted(k for k in set(pip) & set(conda) if pip[k] != conda[k])}
    python = [d for d in env["dependencies"] if isinstance(d, str) and re.match(r"python\b(?!-)", d)]
    assert python == ["python" + project["requires-python"]], (python, project["requires-python"])
    assert {"pip": ["-e ."]} in env["dependencies"]
