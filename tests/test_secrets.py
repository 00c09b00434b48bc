"""The pseudonymisation key never lands in a dataset, a log, a result, a served page or a file git would take.

A full run on small data with a fresh random key in the environment of every step (as an operator's shell
would have it): an import of a raw export, the synthetic demo data, the analysis pipeline (every notebook,
executed by papermill, kernels inheriting the environment), the board aggregates, and the dashboards served
by Voila. Then every byte those steps wrote — datasets, results, executed notebooks, the steps' stdout and
stderr, the Voila log, the pages as served — and every file git would pick up is searched for the key in
the forms it could take (plain, upper case, hex, base64, UTF-16).
"""

from __future__ import annotations

import base64
import os
import secrets
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from casework.ingest.pseudonym import KEY_ENV, KEY_FILE_ENV
from casework.serve import DASHBOARDS, free_port, prepare_template, voila_command, voila_env, wait_until_serving
from tests.test_io import MAPPING, make_export, write_export

pytestmark = [pytest.mark.notebook, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[1]
CASEWORK = [sys.executable, "-m", "casework.cli"]


def _forms(key: str) -> list[bytes]:
    return [key.encode(), key.upper().encode(), key.encode().hex().encode(), base64.b64encode(key.encode()),
            key.encode("utf-16-le")]


def _step(cmd: list[str], env: dict, logs: Path, name: str) -> None:
    r = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, timeout=1200)
    (logs / f"{name}.out").write_bytes(r.stdout)
    (logs / f"{name}.err").write_bytes(r.stderr)
    assert r.returncode == 0, f"{name} failed: {r.stderr.decode(errors='replace')[-2000:]}"


def _serve_pages(data: Path, env: dict, logs: Path) -> None:
    port = free_port()
    jp = prepare_template(logs / "jupyter")
    with open(logs / "voila.log", "wb") as log:
        proc = subprocess.Popen(voila_command(DASHBOARDS, port=port, preheat=False), env={**voila_env(jp, data),
                                **env}, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            wait_until_serving(f"http://127.0.0.1:{port}/", proc=proc, timeout=180)
            for page in ("index", "gelsenkirchen"):
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/voila/render/{page}.ipynb", timeout=170) as r:
                    (logs / f"{page}.html").write_bytes(r.read())
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=30)


def _files_git_would_take() -> list[Path]:
    out = subprocess.run(["git", "ls-files", "--others", "--modified", "--exclude-standard"], cwd=ROOT,
                         capture_output=True, text=True)
    if out.returncode:
        pytest.skip("not a git checkout")
    return [ROOT / f for f in out.stdout.splitlines() if (ROOT / f).is_file()]


def test_key_never_lands_in_any_artifact_of_a_full_run(tmp_path):
    key = "cw-test-key-" + secrets.token_hex(24)
    key_file = tmp_path / "secret" / "pseudonym.key"
    key_file.parent.mkdir()
    key_file.write_text(key + "\n", encoding="utf-8")
    env = {**os.environ, KEY_ENV: key, KEY_FILE_ENV: str(key_file), "MPLBACKEND": "Agg"}
    run, logs = tmp_path / "run", tmp_path / "logs"
    logs.mkdir()
    data = run / "data"
    export = write_export(run / "export", make_export(200, seed=21))
    _step([*CASEWORK, "import", str(export), "--mapping", str(MAPPING), "--out", str(data / "imported")], env, logs,
          "import")
    _step([*CASEWORK, "synth", "gelsenkirchen", "--seed", "3", "--persons", "2500", "--out",
           str(data / "gelsenkirchen")], env, logs, "synth")
    _step([*CASEWORK, "pipeline", "--small", str(data / "gelsenkirchen")], env, logs, "pipeline")
    _step([*CASEWORK, "info", str(data / "imported")], env, logs, "info")
    _serve_pages(data, env, logs)

    artifacts = [p for p in (*run.rglob("*"), *logs.rglob("*")) if p.is_file()]
    assert any(p.suffix == ".ipynb" for p in artifacts)
    assert b"jupyter-config-data" in (logs / "gelsenkirchen.html").read_bytes()  # a rendered page, with a kernel
    assert any(p.name == "manifest.json" for p in (data / "imported").iterdir())
    forms = _forms(key)
    assert any(f in key_file.read_bytes() for f in forms)  # the search finds the key where it is
    leaks = [str(p) for p in [*artifacts, *_files_git_would_take()]
             if any(f in p.read_bytes() for f in forms)]
    assert leaks == [], f"the key was found in {leaks}"
