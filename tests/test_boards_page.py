"""The light page module: opens without the heavy stack, builds the board after the cell, fails in German."""

from __future__ import annotations

import asyncio
import subprocess
import sys

import ipywidgets as W

from casework.boards import page as boardpage
from casework.serve import ROOT


def _html(widget) -> str:
    out = [widget.value] if isinstance(getattr(widget, "value", None), str) else []
    for child in getattr(widget, "children", ()):
        out.append(_html(child))
    return "\n".join(out)


def test_importing_the_page_module_leaves_pandas_out():
    code = ("import sys, casework.boards.page; "
            "heavy = {'pandas', 'numpy', 'pyarrow', 'casework.boards.app', 'casework.cells'}; "
            "print(sorted(heavy & set(sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout


def test_outside_a_kernel_the_board_is_built_before_returning(monkeypatch):
    monkeypatch.setattr("casework.boards.app.project_board", lambda key: W.HTML(f"<b data-built='{key}'>x</b>"))
    page = boardpage.board_page("pankow")
    assert "data-built='pankow'" in _html(page) and "data-loading" not in _html(page)


def test_in_a_running_loop_the_page_shows_its_title_first_and_the_board_after_the_cell(monkeypatch):
    monkeypatch.setattr("casework.boards.app.index_board", lambda: W.HTML("<b data-built='index'>x</b>"))

    async def cell():
        page = boardpage.index_page()
        first = _html(page)
        await asyncio.sleep(0)  # the cell has returned: the loop runs what the page scheduled
        return first, _html(page)

    first, later = asyncio.run(cell())
    assert boardpage.INDEX_TITLE in first and "data-loading" in first and "data-built" not in first
    assert "data-built='index'" in later and "data-loading" not in later


def test_a_failing_build_gives_a_german_note_without_traceback(monkeypatch):
    def broken(key):
        raise OSError("disk gone /secret/path")

    monkeypatch.setattr("casework.boards.app.project_board", broken)
    text = _html(boardpage.board_page("teilhabe_nrw"))
    assert "Die Seite konnte nicht aufgebaut werden (OSError)" in text
    assert "/secret/path" not in text and "Traceback" not in text


def test_every_board_notebook_uses_the_light_page():
    import nbformat

    for nb_path in (ROOT / "dashboards").glob("*.ipynb"):
        code = "".join(c.source for c in nbformat.read(nb_path, as_version=4).cells if c.cell_type == "code")
        assert "casework.boards.page" in code and "casework.boards.app" not in code, nb_path.name
