"""The page a board notebook shows: it opens at once and fills in while the browser loads.

A dashboard notebook is two lines::

    from casework.boards.page import board_page
    board_page("pankow")          # or index_page() for the landing page

Why a separate, light module: a board needs pandas, pyarrow and the stored
results (about a second of work in the kernel). Voila sends the page to the
browser only after every cell has run, and the browser then needs about as
long again to start Voila's front end. This module imports nothing heavy: the
cell returns a page with the title and a German loading line at once, and the
board itself (:mod:`casework.boards.app`) is built right after the cell, in the
kernel's own event loop, while the browser starts up. The page's widgets are
all created in the kernel's main thread, as ipywidgets requires.

Outside a kernel (scripts, tests) the board is built before returning.
"""

from __future__ import annotations

import asyncio
import html

import ipywidgets as W

from casework.boards.spec import BOARD_CSS, BOARDS, INDEX_TITLE, PANELS, BoardSpec

__all__ = ["board_page", "index_page", "custom_board_page"]

_LOADING = ("<div class='cw-loading' data-loading='1' role='status'>Die Kennzahlen werden geladen …</div>")
_FAILED = ("<div class='cw-note-box' data-missing='page'>Die Seite konnte nicht aufgebaut werden "
           "({problem}). Bitte die Seite neu laden; bleibt der Fehler, die Analyse neu laufen lassen "
           "(<code>make run</code>).</div>")


def board_page(key: str) -> W.VBox:
    """The page of one project board (``pankow``, ``gelsenkirchen``, ``teilhabe_nrw``)."""
    spec = BOARDS[key]

    def build() -> W.Widget:
        from casework.boards.app import project_board

        return project_board(key)

    return _deferred(_head(spec.title, spec.subtitle), build)


def custom_board_page(key: str, *, dataset: str, title: str, subtitle: str = "", project: str | None = None,
                      panels=PANELS) -> W.VBox:
    """The page of a board written by ``casework board new`` (its parameters are in the notebook)."""
    panels = tuple(panels or PANELS)
    unknown = sorted(set(panels) - set(PANELS))
    if unknown:
        raise ValueError(f"unknown panels {unknown} (known: {', '.join(PANELS)})")
    spec = BoardSpec(key, str(dataset), title, subtitle, project=project or None, did="vergleich" in panels,
                     panels=panels, custom=True)

    def build() -> W.Widget:
        from casework.boards.app import Board

        return Board(spec).widget

    return _deferred(_head(spec.title, spec.subtitle), build)


def index_page() -> W.VBox:
    """The landing page: one card per project."""

    def build() -> W.Widget:
        from casework.boards.app import index_board

        return index_board()

    return _deferred(_head(INDEX_TITLE, ""), build)


def _head(title: str, subtitle: str) -> str:
    return (f"{BOARD_CSS}<div class='cw-board'><div class='cw-title'>{html.escape(title)}</div>"
            f"<div class='cw-sub'>{html.escape(subtitle)}</div>{_LOADING}</div>")


def _deferred(head: str, build) -> W.VBox:
    page = W.VBox([W.HTML(head)])

    def fill() -> None:
        try:
            page.children = [build()]
        except Exception as exc:  # noqa: BLE001 - a board member sees a German note, never a traceback
            page.children = [W.HTML(_FAILED.format(problem=type(exc).__name__))]

    try:
        loop = asyncio.get_running_loop()  # inside a kernel: the cell runs in the kernel's event loop
    except RuntimeError:
        fill()
    else:
        loop.call_soon(fill)
    return page
