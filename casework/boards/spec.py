"""What the boards are, by name: their specifications, their style, and the names of the results they read.

This module imports nothing of casework and nothing heavy. The pipeline
(:mod:`casework.boards.build`, the notebooks) writes results under the names
below and the boards (:mod:`casework.boards.app`) read them under the same
names, so a renamed result breaks in one place.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["BoardSpec", "BOARDS", "BOARD_CSS", "INDEX_TITLE", "MANIFEST", "RESULTS", "BOARD_META", "BOARD_KPI_CUBE",
           "BOARD_LZA_CUBE", "BOARD_CASELOAD_CUBE", "PROJECT_COLUMN",
           "BOARD_REFERRALS", "BOARD_PROJECT_FACTS", "BOARD_PARTICIPANT_PROFILES", "BOARD_MODULES",
           "BOARD_TRANSITIONS", "BOARD_JOBCENTERS", "NEEDS_COVERAGE", "EFFECTS", "DID", "PROFILLAGEN", "PANELS"]

MANIFEST = "manifest.json"
RESULTS = "results"  # the dataset's sub-folder of stored results

# results written by the board build (pipeline side, casework.boards.build)
BOARD_META = "board_meta"
BOARD_KPI_CUBE = "board_kpi_cube"
#: long-term unemployed (§ 18 SGB III) per month and cell; only when the dataset has unemployment spells
BOARD_LZA_CUBE = "board_lza_cube"
#: each project's caseload in care per month and cell; only when the dataset has enrolments
BOARD_CASELOAD_CUBE = "board_caseload_cube"
#: the column of the per-project results (facts, profiles, modules, jobcenters) naming the project of a row
PROJECT_COLUMN = "for_project"
BOARD_REFERRALS = "board_referrals"
BOARD_PROJECT_FACTS = "board_project_facts"
BOARD_PARTICIPANT_PROFILES = "board_participant_profiles"
BOARD_MODULES = "board_modules"
BOARD_TRANSITIONS = "board_transitions"
BOARD_JOBCENTERS = "board_jobcenters"
NEEDS_COVERAGE = "needs_coverage"
# results written by the analysis notebooks and read by the boards
EFFECTS = "effects"
DID = "did"
PROFILLAGEN = "profillagen"

#: the optional panels of a board, by their German names: project facts, effects of the measures, the
#: comparison with other jobcenters (DiD), needs coverage
PANELS = ("projekt", "wirkung", "vergleich", "bedarfsdeckung")

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
    #: the panels below the KPI tiles, trend and referrals (see :data:`PANELS`)
    panels: tuple = field(default_factory=lambda: PANELS)
    #: written by ``casework board new`` (parameters in the notebook) rather than one of :data:`BOARDS`
    custom: bool = False


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
