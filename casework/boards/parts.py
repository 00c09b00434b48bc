"""Small HTML parts every board panel uses: tiles, tables, headings, German notes.

Shared by the board object (:mod:`casework.boards.app`) and its result panels
(:mod:`casework.boards.panels`). Everything here formats what it is given;
protection of counts happens before (:mod:`casework.privacy`).
"""

from __future__ import annotations

import base64
import html as _html

import numpy as np

from casework import fmt, privacy
from casework.kpi_defs import KPI_DEFINITIONS, OFFICIAL_CODES

__all__ = ["tile", "download_link", "table", "as_rows", "missing_result", "data_stand", "privacy_note", "h2",
           "renamed", "glossary"]


def tile(key: str, label: str, value: str, note: str = "", people: bool = True) -> str:
    """A KPI tile; ``people`` marks values that count or rate persons (subject to suppression).

    The figure's German definition (:data:`casework.kpi_defs.KPI_DEFINITIONS`) shows on hover.
    """
    cls = "cw-value cw-people" if people else "cw-value"
    hover = _html.escape(KPI_DEFINITIONS[key][1], quote=True) if key in KPI_DEFINITIONS else ""
    return (f"<div class='cw-tile' data-kpi='{key}' title='{hover}'><div class='cw-label'>{label}</div>"
            f"<div class='{cls}'>{value}</div><div class='cw-note'>{note}</div></div>")


def download_link(data: bytes, filename: str, label: str, mime: str) -> str:
    b64 = base64.b64encode(data).decode()
    return (f"<a download='{filename}' href='data:{mime};base64,{b64}' class='cw-download' "
            f"style='margin-right:14px'>{label}</a>")


def table(columns: dict) -> str:
    """An HTML table of ``{header: values}`` (cells escaped; numbers in German format)."""
    head = "".join(f"<th>{_html.escape(str(c))}</th>" for c in columns)
    body = "".join("<tr>" + "".join(f"<td>{_cell(v)}</td>" for v in row) + "</tr>" for row in zip(*columns.values()))
    return f"<table class='cw-table'><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _cell(value) -> str:
    if isinstance(value, (int, float, np.number)) and not isinstance(value, bool):
        return fmt.number(value, 0 if float(value).is_integer() else 2)
    return _html.escape(str(value))


def as_rows(columns: dict) -> list[dict]:
    """A result's columns as a list of row dicts."""
    names = list(columns)
    return [dict(zip(names, values)) for values in zip(*columns.values())]


def missing_result(what: str, problem: str | None = None) -> str:
    if problem:
        return (f"<div class='cw-note-box' data-missing='{what}'>Daten nicht verfügbar ({what}): die "
                f"gespeicherte Ergebnisdatei ist nicht lesbar ({problem}). Bitte die Analyse neu laufen "
                "lassen (<code>make run</code>).</div>")
    return (f"<div class='cw-note-box' data-missing='{what}'>Für diesen Bereich liegen noch keine "
            f"Ergebnisse vor ({what}). Sie entstehen mit <code>make run</code> in der Analyse-Pipeline; "
            "hier wird nichts geschätzt oder erfunden.</div>")


def data_stand(ds) -> str:
    return f"Datenstand: {fmt.date(ds.meta()['data_stand'])}"


def privacy_note() -> str:
    t = privacy.threshold()
    return (f"<div class='cw-note-box' data-privacy='1'><b>Datenschutz:</b> Diese Seite zeigt nur Summen "
            "über Personengruppen, keine Einzelpersonen. Zum Schutz der Personen werden Zahlen leicht "
            f"verändert (um höchstens {privacy.MAX_PERTURBATION}) und kleine Zahlen verdeckt: Zahlen unter {t} "
            f"erscheinen als „&lt; {t}“, Quoten nur, wenn Zähler und Basis mindestens {t} sind, sonst „–“; "
            "einzelne weitere Zellen werden verdeckt (*). Summen können deshalb um einige Fälle von der Summe "
            "der Teile abweichen. Personen mit dem Geschlechtseintrag „divers“ oder ohne Angabe sind per "
            "Zufall den Gruppen „weiblich“ und „männlich“ zugeordnet.</div>")


def h2(text: str) -> str:
    return f"<div class='cw-board'><h2>{text}</h2></div>"


def renamed(columns: dict, names: list) -> dict:
    """The same columns under new headers (in order)."""
    return dict(zip(names, columns.values()))


def glossary(keys) -> str:
    """The glossary section: per figure shown its official § 48a code (or "–" for a part or an own figure),
    its German name and definition (:data:`casework.kpi_defs.KPI_DEFINITIONS`)."""
    codes, names, texts = [], [], []
    for key in keys:
        name, text = KPI_DEFINITIONS[key]
        code = key.upper() if key in OFFICIAL_CODES else "–"
        codes.append(code)
        names.append(name.removesuffix(f" ({code})"))
        texts.append(text)
    intro = ("Die Kennzahlen sind in Anlehnung an die Verordnung zur Festlegung der Kennzahlen nach § 48a SGB II "
             "aus den Falldaten berechnet (eigene Berechnung, keine amtliche Statistik der Bundesagentur für "
             "Arbeit). Kennzahlen der Verordnung tragen ihr amtliches Kürzel (zum Beispiel K2); ein Strich steht "
             "bei Bestandteilen und bei Zahlen, die keine Kennzahl der Verordnung sind. Die Erläuterung erscheint "
             "auch, wenn man mit der Maus auf eine Kachel zeigt.")
    rows_html = table({"Kürzel": codes, "Bezeichnung": names, "Was gezählt wird": texts})
    return (f"<div class='cw-board' data-glossary='1'><h2>Erläuterung der Kennzahlen</h2><p>{intro}</p>"
            f"{rows_html}</div>")
