"""The pipeline's progress on a real pseudo-terminal: a bar per notebook counting its cells; plain lines elsewhere."""

from __future__ import annotations

import fcntl
import os
import re
import select
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import nbformat
import pytest

from tests.datasets import small

CELLS = 6
#: the real pipeline (board effects and board results, the declared notebooks beside them), with one probe notebook
CHILD = """
import sys
from pathlib import Path
from casework import pipeline
pipeline.NOTEBOOKS = {"probe.ipynb": "*"}
sys.exit(pipeline.run([sys.argv[1]], small=True, notebooks=Path(sys.argv[2])))
"""


def _run_on_pty(cmd: list[str], columns: int, timeout: float = 300) -> tuple[int, str]:
    """Run ``cmd`` with stdin, stdout and stderr on a new pseudo-terminal of ``columns`` x 30 (0 x 0 as some
    pseudo-terminals report: docker -t, script, CI runners); returns its exit code and everything it wrote."""
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 30 if columns else 0, columns, 0, 0))
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    proc = subprocess.Popen(cmd, stdin=slave, stdout=slave, stderr=slave, start_new_session=True, env=env)
    os.close(slave)
    chunks, deadline = [], time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if select.select([master], [], [], 1)[0]:
                try:
                    data = os.read(master, 65536)
                except OSError:  # EIO: the child closed the terminal
                    break
                if not data:
                    break
                chunks.append(data)
            elif proc.poll() is not None:
                break
    finally:
        os.close(master)
        if proc.poll() is None:
            proc.kill()
    return proc.wait(timeout=30), b"".join(chunks).decode("utf-8", "replace")


@pytest.fixture(scope="module")
def probe(tmp_path_factory):
    root = tmp_path_factory.mktemp("progress")
    small("gelsenkirchen", 1, 800).save(root / "ds")
    nb = nbformat.v4.new_notebook(metadata={"kernelspec": {"name": "python3", "language": "python",
                                                           "display_name": "Python 3"}})
    params = nbformat.v4.new_code_cell("dataset = None\nsmall = False\nstore_results = False")
    params.metadata["tags"] = ["parameters"]
    # each cell outlasts tqdm's refresh interval (0.1 s), so every finished cell is drawn
    nb.cells = [params] + [nbformat.v4.new_code_cell(f"import time\ntime.sleep(0.4)\nstep = {i}")
                           for i in range(CELLS - 1)]
    (root / "notebooks").mkdir()
    nbformat.write(nb, root / "notebooks" / "probe.ipynb")
    return root


def _cmd(probe: Path) -> list[str]:
    return [sys.executable, "-c", CHILD, str(probe / "ds"), str(probe / "notebooks")]


@pytest.mark.notebook
@pytest.mark.parametrize("columns", [0, 100])
def test_a_terminal_sees_each_cell_finish(probe, columns):
    code, out = _run_on_pty(_cmd(probe), columns)
    assert code == 0, out
    # tqdm redraws one line with \r; each redraw names the notebook and counts the cells done so far
    total = CELLS + 1  # papermill adds a cell with the injected parameters
    counts = [int(m) for m in re.findall(rf"probe:\s+\d+%\|[^|\r\n]*\| (\d+)/{total} ", out)]
    assert counts and counts[0] == 0 and counts[-1] == total, out
    assert counts == sorted(counts) and set(range(3, total + 1)) <= set(counts), counts  # every sleeping cell
    assert "\r" in out and re.search(r"^probe on ds: ok in \d+ s\r?$", out, re.M), out
    # the bar itself, from its name to its closing rate bracket: a kernel's warning written onto the same
    # line under load is not part of the bar's width
    width = max(len(bar) for bar in re.findall(r" *probe:[^\r\n]*?\]", out))
    assert width <= (columns or 100), width  # fits the terminal (or 100 columns where it reports none)


@pytest.mark.notebook
def test_a_log_gets_plain_lines(probe):
    r = subprocess.run(_cmd(probe), capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    out = r.stdout + r.stderr
    assert "\r" not in out and "cell/s" not in out and "%|" not in out, out
    lines = r.stdout.splitlines()
    assert "run probe.ipynb on ds" in lines and any(re.fullmatch(r"probe on ds: ok in \d+ s", ln) for ln in lines)
    assert re.search(r"^1 dataset\(s\): 3 steps ok, 0 skipped, 0 failed$", r.stdout, re.M), r.stdout
