"""Privacy sweep, faults and server hardening for the boards.

* Every board is driven through a seeded sample of filter states with the same code the dashboard
  runs (``Board.set_filters``), without a browser: no shown count or rate rests on fewer cases than
  the threshold, no hidden cell of a table with a visible total can be recovered, and no pseudonym
  appears anywhere in the HTML.
* A corrupt or missing result file gives a German "Daten nicht verfügbar", never a traceback.
* Over HTTP, Voila serves no data file, notebook source or file outside the dashboards.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from casework import privacy
from casework.boards.app import ALL, BOARDS, Board
from casework.store import Dataset

ROOT = Path(__file__).resolve().parents[1]
STATES_PER_BOARD = int(os.environ.get("CASEWORK_SWEEP_STATES", "40"))


@pytest.fixture
def data(board_data):
    return board_data


def _states(board: Board, n: int, seed: int = 0):
    """All single-filter changes from the default, then a seeded random sample of full combinations."""
    options = {k: [v for _, v in w.options] for k, w in board.filters.items() if not w.disabled}
    default = {k: w.value for k, w in board.filters.items()}
    singles = [{**default, k: v} for k, vals in options.items() for v in vals]
    rng = np.random.default_rng(seed)
    randoms = [{k: (vals[rng.integers(len(vals))] if k in options else default[k])
                for k, vals in {**{k: [default[k]] for k in default}, **options}.items()} for _ in range(n)]
    return singles + randoms


_TD = re.compile(r"<td>([^<]*)</td>")
_PEOPLE = re.compile(r"class='cw-value cw-people'>([^<]*)<")


def _visible_counts(html: str) -> list[str]:
    return _TD.findall(html) + _PEOPLE.findall(html)


def _is_hidden(cell: str) -> bool:
    return cell == "*" or cell.startswith(("<", "&lt;"))


def _tables(html: str):
    for body in re.findall(r"<tbody>(.*?)</tbody>", html, flags=re.S):
        yield [_TD.findall(row) for row in re.findall(r"<tr>(.*?)</tr>", body, flags=re.S)]


@pytest.mark.parametrize("key", list(BOARDS))
def test_no_small_cell_in_any_filter_state(data, key, monkeypatch):
    monkeypatch.setenv("CASEWORK_DATA", str(data))
    board = Board(BOARDS[key])
    t = privacy.threshold()
    persons = Dataset.open(data / BOARDS[key].dataset, verify=False).table("persons")["person_id"]
    probe_ids = persons.sample(min(300, len(persons)), random_state=0).tolist()
    states = _states(board, STATES_PER_BOARD)
    assert len(states) > STATES_PER_BOARD
    for state in states:
        board.set_filters(**state)
        html = board.html()
        small = [c for c in _visible_counts(html) if re.fullmatch(r"\d{1,3}", c.strip()) and 0 < int(c) < t]
        assert not small, (state, small)
        for table in _tables(html):
            if not table or table[-1][:1] != ["Summe"]:
                continue
            body, total = table[:-1], table[-1]
            for col in range(1, len(total)):
                hidden = [r for r in body if len(r) > col and _is_hidden(r[col])]
                if total[col] not in ("", "–") and not _is_hidden(total[col]):
                    assert len(hidden) != 1, (state, col, table)
        assert not any(pid in html for pid in probe_ids), state


def test_sweep_states_cover_every_option(data, monkeypatch):
    monkeypatch.setenv("CASEWORK_DATA", str(data))
    board = Board(BOARDS["teilhabe_nrw"])
    states = _states(board, 5)
    for k, w in board.filters.items():
        if not w.disabled:
            assert {v for _, v in w.options} <= {s[k] for s in states}, k
    assert all(s["period"] != "" for s in states) and ALL in {s["sex"] for s in states}


def test_corrupt_result_file_is_reported_in_german(data, tmp_path, monkeypatch):
    import shutil

    copy = tmp_path / "pankow"
    shutil.copytree(data / "pankow", copy)
    (copy / "results" / "effects.parquet").write_bytes(b"not a parquet file")
    (copy / "results" / "board_referrals.parquet").unlink()
    monkeypatch.setenv("CASEWORK_DATA", str(tmp_path))
    html = Board(BOARDS["pankow"]).html()
    assert "Daten nicht verfügbar (Wirkungsschätzungen)" in html
    assert "noch keine Ergebnisse vor (Zuweisungen)" in html
    assert "Traceback" not in html


def test_damaged_manifest_is_reported_not_raised(data, tmp_path, monkeypatch):
    import shutil

    from casework.boards.app import index_board

    copy = tmp_path / "gelsenkirchen"
    shutil.copytree(data / "gelsenkirchen", copy)
    (copy / "manifest.json").write_text("{ broken", encoding="utf-8")
    monkeypatch.setenv("CASEWORK_DATA", str(tmp_path))
    board = Board(BOARDS["gelsenkirchen"])
    assert "Daten nicht verfügbar" in board.widget.children[0].value
    cards = index_board().children[0].value
    assert "beschädigt" in cards


@pytest.mark.browser
def test_server_serves_no_data_or_sources(data, tmp_path):
    from casework.serve import DASHBOARDS, free_port, prepare_template, voila_command, voila_env, wait_until_serving

    port = free_port()
    proc = subprocess.Popen(voila_command(DASHBOARDS, port=port, preheat=False),
                            env=voila_env(prepare_template(tmp_path), data), cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(base, proc=proc, timeout=60)
        forbidden = ["/voila/files/index.ipynb", "/voila/files/pankow.ipynb", "/files/index.ipynb",
                     "/voila/files/../data/pankow/persons.parquet", "/voila/files/..%2Fdata%2Fpankow%2Fmanifest.json",
                     "/voila/render/../casework/serve.py", "/api/contents", "/api/contents/index.ipynb",
                     "/lab", "/tree", "/voila/files/../pyproject.toml", "/voila/render/..%2F..%2Fetc%2Fpasswd",
                     "/voila/files/dashboards/index.ipynb", "/voila/render/..%2Fdata%2Fpankow%2Fpersons.parquet"]
        for path in forbidden:
            try:
                with urllib.request.urlopen(base + path, timeout=10) as r:
                    body = r.read().decode("utf-8", "replace")
                    status = r.status
            except urllib.error.HTTPError as err:
                status, body = err.code, ""
            assert status in (403, 404), (path, status, body[:200])
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


