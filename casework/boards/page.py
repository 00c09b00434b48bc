"""The page a board notebook shows: it opens at once and fills in while the browser loads.

A dashboard notebook is two lines::

    from casework.boardpage import board_page
    board_page("pankow")          # or index_page() for the landing page

Why a separate, light module: a board needs pandas, pyarrow and the stored
results (about a second of work in the kernel). Voila sends the page to the
browser only after every cell has run, and the browser then needs about as
long again to start Voila's front end. This module imports nothing heavy: the
cell returns a page with the title and a German loading line at once, and the
board itself (:mod:`casework.dashboard`) is built right after the cell, in the
kernel's own event loop, while the browser starts up. The page's widgets are
all created in the kernel's main thread, as ipywidgets requires.

Outside a kernel (scripts, tests) the board is built before returning.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import ipywidgets as W

__all__ = ["BoardSpec", "BOARDS", "board_page", "index_page", "BOARD_CSS", "INDEX_TITLE"]

INDEX_TITLE = "Netzwerke für Langzeitarbeitslose – Projektübersicht"


@dataclass(frozen=True)
class BoardSpec:
    """What one project board shows."""

    key: str
    dataset: str
    title: str
    subtitle: str
    project: str | None = None
    did: bool = False
    default_jc: str | None = None
    highlights: tuple = field(default_factory=tuple)


BOARDS = {
    "pankow": BoardSpec(
        "pankow", "pankow", "Modellprojekt Pankow: Jobcenter und Stadtteilzentren",
        "Zusammenarbeit des Jobcenters Berlin-Pankow mit den Stadtteilzentren, der Kontakt- und "
        "Informationsstelle für Selbsthilfe (KIS) und der Freiwilligenagentur", project="pankow", did=True,
        default_jc="JC-BE-PAN"),
    "gelsenkirchen": BoardSpec(
        "gelsenkirchen", "gelsenkirchen", "ABCaktiv Gelsenkirchen: Gesundheit und Arbeit",
        "Team ABCaktiv seit 01.01.2016: arbeitsmarktferne Langzeitarbeitslose und Kundinnen und Kunden mit "
        "gesundheitlichen Einschränkungen; rund 30 Module zu Ernährung, Bewegung und Motivation",
        project="abcaktiv"),
    "teilhabe_nrw": BoardSpec(
        "teilhabe_nrw", "nrw_teilhabe", "Soziale Teilhabe am Arbeitsmarkt in NRW",
        "Bundesprogramm in 34 von 53 NRW-Jobcentern, mit Landesförderung für Coaching in 20 Jobcentern",
        project="teilhabe_bund", did=True),
}

BOARD_CSS = """<style>
.cw-board{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;color:#1a1a1a;max-width:1200px}
.cw-title{font-size:1.6em;font-weight:600;margin:.2em 0}.cw-sub{color:#444;margin-bottom:.6em}
.cw-tiles{display:flex;flex-wrap:wrap;gap:12px;margin:8px 0}
.cw-tile{border:1px solid #c9c9c9;border-left:6px solid #0072B2;border-radius:6px;padding:10px 14px;min-width:190px;
 background:#fff}
.cw-tile .cw-label{font-size:.9em;color:#333}.cw-tile .cw-value{font-size:1.7em;font-weight:600;color:#003f63}
.cw-tile .cw-note{font-size:.8em;color:#555}
.cw-note-box{background:#f3f6f9;border-left:4px solid #6b6b6b;padding:8px 12px;margin:8px 0;font-size:.92em}
.cw-sentence{margin:6px 0;line-height:1.4}.cw-card{border:1px solid #c9c9c9;border-radius:8px;padding:14px;
 margin:8px;width:340px;display:inline-block;vertical-align:top;background:#fff}
.cw-card h3{margin:0 0 6px 0}.cw-card a{color:#0060a0;font-weight:600}
.cw-board h2{font-size:1.25em;margin:18px 0 6px 0;border-bottom:1px solid #ddd}
.cw-table{border-collapse:collapse;margin:6px 0}.cw-table th,.cw-table td{padding:3px 10px;text-align:right}
.cw-table th:first-child,.cw-table td:first-child{text-align:left}.cw-table tr:nth-child(even){background:#f4f4f4}
.cw-loading{color:#444;margin:12px 0}
</style>"""

_LOADING = ("<div class='cw-loading' data-loading='1' role='status'>Die Kennzahlen werden geladen …</div>")
_FAILED = ("<div class='cw-note-box' data-missing='page'>Die Seite konnte nicht aufgebaut werden "
           "({problem}). Bitte die Seite neu laden; bleibt der Fehler, die Analyse neu laufen lassen "
           "(<code>make run</code>).</div>")


def board_page(key: str) -> W.VBox:
    """The page of one project board (``pankow``, ``gelsenkirchen``, ``teilhabe_nrw``)."""
    spec = BOARDS[key]

    def build() -> W.Widget:
        from casework.dashboard import project_board

        return project_board(key)

    return _deferred(_head(spec.title, spec.subtitle), build)


def index_page() -> W.VBox:
    """The landing page: one card per project."""

    def build() -> W.Widget:
        from casework.dashboard import index_board

        return index_board()

    return _deferred(_head(INDEX_TITLE, ""), build)


def _head(title: str, subtitle: str) -> str:
    return (f"{BOARD_CSS}<div class='cw-board'><div class='cw-title'>{title}</div>"
            f"<div class='cw-sub'>{subtitle}</div>{_LOADING}</div>")


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
