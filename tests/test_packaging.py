"""Packaging as users expect: entry points, supported Pythons, declared bounds, a non-editable wheel that runs."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import sysconfig
import tomllib
import urllib.request
from pathlib import Path

import pytest

import casework
from casework.cli import build_parser

ROOT = Path(__file__).resolve().parents[1]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def test_version_and_python_dash_m(tmp_path):
    for cmd in ([sys.executable, "-m", "casework", "--version"], [sys.executable, "-m", "casework.cli", "--version"]):
        r = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path)
        assert r.returncode == 0 and r.stdout.strip() == f"casework {casework.__version__}", r.stdout + r.stderr
    r = subprocess.run([sys.executable, "-m", "casework"], capture_output=True, text=True, cwd=tmp_path)
    assert r.returncode == 2 and "usage: casework" in r.stderr


def test_serve_options_are_real_options():
    r = subprocess.run([sys.executable, "-m", "casework", "serve", "--help"], capture_output=True, text=True)
    assert r.returncode == 0
    for option in ("--host", "--port", "--base-url", "--token", "--data", "--dashboards", "--pool-size",
                   "--no-preheat"):
        assert option in r.stdout
    assert "rest" not in r.stdout
    args = build_parser().parse_args(["serve", "--port", "9000", "--no-preheat", "--data", "/srv/data"])
    assert (args.port, args.no_preheat, str(args.data)) == (9000, True, "/srv/data")
    r = subprocess.run([sys.executable, "-m", "casework", "serve", "--prot", "9000"], capture_output=True, text=True)
    assert r.returncode == 2 and "unrecognized arguments: --prot" in r.stderr


def test_supported_pythons_and_bounds():
    assert PROJECT["requires-python"] == ">=3.11,<3.14"
    deps = {re.match(r"[A-Za-z0-9_.\-]+", d).group(0).lower(): d for d in PROJECT["dependencies"]}
    # pandera.pandas (imported by casework._validation) first shipped in pandera 0.24.0
    assert deps["pandera"] == "pandera>=0.24"
    assert "anywidget" not in deps and "nbstripout" not in str(PROJECT["optional-dependencies"])
    assert "jupytext" in deps


def test_declared_dependencies_are_used():
    """Every runtime dependency is imported somewhere (or is a server/kernel the code starts by name)."""
    started_not_imported = {"jupyterlab", "voila", "ipykernel", "pyreadstat", "openpyxl", "distributed", "jupytext",
                            "nbclient", "pyarrow", "dask", "threadpoolctl", "lifelines", "plotly", "matplotlib"}
    import_names = {"scikit-learn": "sklearn", "pyyaml": "yaml"}
    code = "\n".join(p.read_text(encoding="utf-8") for folder in ("casework", "notebooks")
                     for p in (ROOT / folder).rglob("*.py"))
    for dep in PROJECT["dependencies"]:
        name = re.match(r"[A-Za-z0-9_.\-]+", dep).group(0).lower()
        module = import_names.get(name, name)
        if name in started_not_imported:
            continue
        assert re.search(rf"^\s*(import|from) {module}\b", code, re.M), f"{name} is declared but never imported"


@pytest.fixture(scope="module")
def wheel_venv(tmp_path_factory):
    """A venv with casework installed from its wheel (not editable); the dependencies come from this venv."""
    root = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(root / "dist"), str(ROOT)],
                   check=True, capture_output=True)
    wheel = next((root / "dist").glob("casework-*.whl"))
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    purelib = Path(subprocess.run([str(venv / "bin" / "python"), "-c",
                                   "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                  capture_output=True, text=True, check=True).stdout.strip())
    # a plain path line: this venv's site-packages comes first, the editable finder's .pth is not processed
    (purelib / "zz_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run([sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install", "--no-deps",
                    "-q", str(wheel)], check=True, capture_output=True)
    return venv


@pytest.mark.slow
def test_wheel_install_runs_pipeline_and_serve(wheel_venv, tmp_path):
    from casework.serve import free_port, stop_server, wait_until_serving
    from tests.datasets import small

    work = tmp_path / "elsewhere"  # no notebooks/ or dashboards/ here: the packaged ones are used
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CASEWORK_")}
    # the dependencies' shared files (Voila's templates, the widget extensions) live in this venv's prefix
    env["JUPYTER_PATH"] = str(Path(sys.prefix) / "share" / "jupyter")
    python = str(wheel_venv / "bin" / "python")
    where = subprocess.run([python, "-c", "import casework.paths as p; print(p.notebooks_dir())"], cwd=work, env=env,
                           capture_output=True, text=True, check=True).stdout.strip()
    assert where.startswith(str(wheel_venv)), where
    small("gelsenkirchen", 1, 1500).save(work / "data" / "ge")
    r = subprocess.run([str(wheel_venv / "bin" / "casework"), "pipeline", "data/ge", "--small"], cwd=work, env=env,
                       capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stdout + r.stderr
    assert (work / "data" / "ge" / "results").is_dir()
    port = free_port()
    proc = subprocess.Popen([python, "-m", "casework", "serve", "--port", str(port), "--no-preheat"], cwd=work,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    try:
        wait_until_serving(f"http://127.0.0.1:{port}/", proc=proc, timeout=90)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/voila/render/index.ipynb", timeout=120) as page:
            assert page.status == 200 and "voila" in page.read().decode("utf-8", "replace").lower()
    finally:
        stop_server(proc)
    assert (work / "artifacts" / "jupyter" / "voila" / "templates" / "casework").is_dir()  # not in site-packages
