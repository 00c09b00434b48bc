"""The landing page's parts that need no board: where the datasets and the board notebooks are, one card's body.

Kept apart from :mod:`casework.boards.app` so the landing page (a card per board notebook, see
:mod:`casework.boards.catalog`) reads only the manifests and ``board_meta`` of the datasets.
"""

from __future__ import annotations

import html as _html
import os
from pathlib import Path

from casework import fmt, paths, privacy
from casework.boards.results import BoardData
from casework.boards.spec import BoardSpec

__all__ = ["data_root", "open_board_dataset", "card_body", "dashboards_folder"]


def data_root() -> Path:
    """The data folder: ``$CASEWORK_DATA`` or ``data/`` in the home folder (:mod:`casework.paths`)."""
    return paths.data_dir()


def open_board_dataset(name: str) -> BoardData | None:
    """Open ``<data folder>/<name>`` (or ``name`` itself when it is an absolute path) for a board (no
    re-hashing: the pipeline verified it); None if absent."""
    return BoardData.open(Path(name) if Path(name).is_absolute() else data_root() / name)


def card_body(spec: BoardSpec) -> str:
    try:
        ds = open_board_dataset(spec.dataset)
        if ds is None:
            return (f"<p>{_html.escape(spec.subtitle)}</p><p>Noch keine Daten – bitte <code>make run</code> "
                    "ausführen.</p>")
        meta = ds.meta()
    except Exception as exc:  # a damaged dataset: say so, keep the other cards
        return f"<p>Daten nicht verfügbar: der Datensatz ist beschädigt ({type(exc).__name__}).</p>"
    persons, jcs = meta["persons"], meta["jobcenters"]
    kind = "synthetische Beispieldaten" if ds.is_synthetic else "importierte Daten"
    return (f"<p>{_html.escape(spec.subtitle)}</p><p data-persons='{spec.key}'>{privacy.show_count(persons)} "
            f"Personen in {fmt.number(jcs)} {'Jobcenter' if jcs == 1 else 'Jobcentern'} ({kind})</p>"
            f"<p data-stand='{spec.key}'>Datenstand: {fmt.date(meta['data_stand'])}</p>")


def dashboards_folder() -> Path:
    """The folder the landing page lists: ``$CASEWORK_DASHBOARDS`` (set by ``casework serve``), the kernel's
    working folder when it holds the landing page (Voila runs a notebook in its folder), else
    :func:`casework.paths.dashboards_dir`."""
    if os.environ.get("CASEWORK_DASHBOARDS"):
        return Path(os.environ["CASEWORK_DASHBOARDS"])
    return Path.cwd() if (Path.cwd() / "index.ipynb").is_file() else paths.dashboards_dir()
