"""`make serve` / `casework serve`: Voila on loopback with safe defaults, the page is served."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from casework.serve import free_port, prepare_template, voila_command, wait_until_serving

ROOT = Path(__file__).resolve().parents[1]


def test_defaults_are_loopback_8866_and_safe():
    make = (ROOT / "Makefile").read_text()
    assert re.search(r"^PORT \?= 8866$", make, re.M) and re.search(r"^HOST \?= 127\.0\.0\.1$", make, re.M)
    cmd = voila_command()
    assert "--port=8866" in cmd and "--Voila.ip=127.0.0.1" in cmd
    for flag in ("--VoilaConfiguration.strip_sources=True", "--VoilaConfiguration.show_tracebacks=False",
                 "--VoilaConfiguration.preheat_kernel=True", "--MappingKernelManager.transport_encryption=auto"):
        assert flag in cmd
    assert any(c.startswith("--VoilaExecutor.timeout=") for c in cmd)


def test_other_hosts_need_a_token():
    with pytest.raises(ValueError, match="token"):
        voila_command(host="0.0.0.0")
    cmd = voila_command(host="0.0.0.0", token="s3cret-token-value", base_url="/boards/")
    assert "--Voila.token=s3cret-token-value" in cmd and "--Voila.base_url=/boards/" in cmd


def test_template_makes_no_external_requests(tmp_path):
    root = prepare_template(tmp_path)
    html = (root / "voila" / "templates" / "casework" / "index.html.j2").read_text()
    assert not re.search(r"(href|src)=[\"']https?://", html)
    assert "{{ super() }}" in html  # the rest of Voila's lab template is intact


def test_casework_serve_serves_the_index_page(tmp_path):
    from tests.datasets import small

    small("gelsenkirchen", 1, 1500).save(tmp_path / "data" / "gelsenkirchen")
    port = free_port()
    env = {**os.environ, "CASEWORK_DATA": str(tmp_path / "data")}
    proc = subprocess.Popen([sys.executable, "-m", "casework.cli", "serve", "--port", str(port), "--no-preheat"],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    try:
        wait_until_serving(f"http://127.0.0.1:{port}/", proc=proc, timeout=90)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/voila/render/index.ipynb", timeout=120) as r:
            body = r.read().decode("utf-8", "replace")
            assert r.status == 200
        assert "voila" in body.lower() and "cdn.jsdelivr" not in body
        assert "index_page" not in body and "casework.boards.page" not in body  # sources are stripped
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            out = proc.communicate(timeout=20)[0]
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            out = proc.communicate()[0]
    assert f"http://127.0.0.1:{port}/voila/render/index.ipynb" in out
