"""Building blocks of the board dashboards (Voila): one app object per project, built from stored results.

A dashboard notebook calls :func:`casework.boards.page.board_page`, which shows
the page at once and builds the board from here right after the cell::

    from casework.boards.page import board_page
    board_page("pankow")

Everything shown is an aggregate read from the dataset's results (written by
``make run``'s pipeline); nothing is estimated here. Every count and rate goes
through :mod:`casework.privacy` before it is shown. Texts are German, numbers
use German formats (:mod:`casework.fmt`), colours the Okabe-Ito palette.

A board runs without pandas (results read by :mod:`casework.boards.results` with
pyarrow and numpy): a board page's kernel starts cold for each viewer, and the
pandas import alone cost half of its work. Only the export, made on request,
imports pandas (CSV/XLSX) and matplotlib (PNG).
"""

from __future__ import annotations

import base64
import bisect
import datetime as dt
import html as _html
import io
import zipfile

import ipywidgets as W
import numpy as np
from ipywidgets.widgets.widget_description import DescriptionStyle  # the style classes are not exported
from ipywidgets.widgets.widget_string import HTMLStyle

from casework import fmt, privacy
from casework import schema as S
from casework.boards import charts
from casework.boards import spec as R
from casework.boards.landing import card_body, dashboards_folder, data_root, open_board_dataset
from casework.boards.results import BoardData
from casework.boards.spec import BOARD_CSS, BOARDS, INDEX_TITLE, BoardSpec
from casework.cells import AGE_GROUPS, ALL, KPI_DIMS, KPI_MEASURES, REFERRAL_DIMS, month_end, month_index, month_start
from casework.kpi_defs import BOARD_HEAD, KPI_DEFINITIONS

__all__ = ["BoardSpec", "BOARDS", "data_root", "open_board_dataset", "project_board", "index_board", "Board"]

BLUE, ORANGE, GREEN, VERMILION, GREY = "#0072B2", "#E69F00", "#009E73", "#D55E00", "#6b6b6b"
TILES_HEAD = BOARD_HEAD
REFERRALS_HEAD = "Vermittlungen an Netzwerkpartner"
REFERRAL_COUNTS = ["referrals", "started", "completed", "dropped_out"]


def _board_data(ds) -> BoardData:
    """A BoardData, also from a :class:`casework.store.Dataset` on disk (an analyst's own)."""
    if isinstance(ds, BoardData):
        return ds
    if getattr(ds, "path", None) is None:
        raise ValueError(f"a board reads a dataset folder, but {ds!r} is in memory: save it first (Dataset.save)")
    return BoardData.open(ds.path)


def _tile(key: str, label: str, value: str, note: str = "", people: bool = True) -> str:
    """A KPI tile; ``people`` marks values that count or rate persons (subject to suppression).

    The figure's German definition (:data:`casework.kpi_defs.KPI_DEFINITIONS`) shows on hover.
    """
    cls = "cw-value cw-people" if people else "cw-value"
    hover = _html.escape(KPI_DEFINITIONS[key][1], quote=True) if key in KPI_DEFINITIONS else ""
    return (f"<div class='cw-tile' data-kpi='{key}' title='{hover}'><div class='cw-label'>{label}</div>"
            f"<div class='{cls}'>{value}</div><div class='cw-note'>{note}</div></div>")


def _download_link(data: bytes, filename: str, label: str, mime: str) -> str:
    b64 = base64.b64encode(data).decode()
    return (f"<a download='{filename}' href='data:{mime};base64,{b64}' class='cw-download' "
            f"style='margin-right:14px'>{label}</a>")


def _table(columns: dict) -> str:
    """An HTML table of ``{header: values}`` (cells escaped; numbers in German format)."""
    head = "".join(f"<th>{_html.escape(str(c))}</th>" for c in columns)
    rows = "".join("<tr>" + "".join(f"<td>{_cell(v)}</td>" for v in row) + "</tr>" for row in zip(*columns.values()))
    return f"<table class='cw-table'><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"


def _cell(value) -> str:
    if isinstance(value, (int, float, np.number)) and not isinstance(value, bool):
        return fmt.number(value, 0 if float(value).is_integer() else 2)
    return _html.escape(str(value))


def _rows(columns: dict) -> list[dict]:
    """A result's columns as a list of row dicts."""
    names = list(columns)
    return [dict(zip(names, values)) for values in zip(*columns.values())]


def _missing_result(what: str, problem: str | None = None) -> str:
    if problem:
        return (f"<div class='cw-note-box' data-missing='{what}'>Daten nicht verfügbar ({what}): die "
                f"gespeicherte Ergebnisdatei ist nicht lesbar ({problem}). Bitte die Analyse neu laufen "
                "lassen (<code>make run</code>).</div>")
    return (f"<div class='cw-note-box' data-missing='{what}'>Für diesen Bereich liegen noch keine "
            f"Ergebnisse vor ({what}). Sie entstehen mit <code>make run</code> in der Analyse-Pipeline; "
            "hier wird nichts geschätzt oder erfunden.</div>")


def _data_stand(ds) -> str:
    return f"Datenstand: {fmt.date(ds.meta()['data_stand'])}"


def _privacy_note() -> str:
    t = privacy.threshold()
    return (f"<div class='cw-note-box' data-privacy='1'><b>Datenschutz:</b> Diese Seite zeigt nur Summen "
            "über Personengruppen, keine Einzelpersonen. Zum Schutz der Personen werden Zahlen leicht "
            f"verändert (um höchstens {privacy.MAX_PERTURBATION}) und kleine Zahlen verdeckt: Zahlen unter {t} "
            f"erscheinen als „&lt; {t}“, Quoten nur, wenn Zähler und Basis mindestens {t} sind, sonst „–“; "
            "einzelne weitere Zellen werden verdeckt (*). Summen können deshalb um einige Fälle von der Summe "
            "der Teile abweichen. Personen mit dem Geschlechtseintrag „divers“ oder ohne Angabe sind per "
            "Zufall den Gruppen „weiblich“ und „männlich“ zugeordnet.</div>")


def _h2(text: str) -> str:
    return f"<div class='cw-board'><h2>{text}</h2></div>"


class Board:
    """One project board: filters, KPI tiles, trends, referrals, effects, DiD, export."""

    def __init__(self, spec: BoardSpec, ds=None):
        self.spec = spec
        if ds is not None and not isinstance(ds, BoardData):
            ds = _board_data(ds)  # an analyst's dataset in memory is an error to raise, not a note for a board
        try:
            self.ds = ds if ds is not None else open_board_dataset(spec.dataset)
        except Exception as exc:  # e.g. a damaged manifest: the board says so in German
            self.ds = None
            self.widget = W.VBox([W.HTML(f"<div class='cw-note-box' data-missing='dataset'>Daten nicht verfügbar: "
                                         f"der Datensatz „{spec.dataset}“ ist beschädigt ({type(exc).__name__}). "
                                         "Bitte die Daten neu erzeugen (<code>make run</code>).</div>")])
            return
        # every widget is a model the page fetches while it opens: HTML parts share one layout and one style
        self._shared = {"layout": W.Layout(), "style": HTMLStyle()}
        self.status = self._html("")
        self.tiles = self._html()
        self.trend = self._html()
        self.referrals = self._html()
        self.export = self._html()
        self.export_button = W.Button(description="Export erstellen", icon="download",
                                      tooltip="CSV, Excel und PNG der angezeigten Zahlen erstellen")
        self.export_button.on_click(lambda _b: self._make_export())
        self.view: dict = {}
        if self.ds is None:
            self.widget = W.VBox([W.HTML(f"<div class='cw-note-box'>Der Datensatz „{spec.dataset}“ liegt noch "
                                         "nicht vor. Bitte <code>make run</code> ausführen.</div>")])
            return
        # the panels see the cubes only through casework.privacy: every count they get is protected
        self.cube = self._guarded(R.BOARD_KPI_CUBE, KPI_DIMS, KPI_MEASURES)
        self.ref = self._guarded(R.BOARD_REFERRALS, REFERRAL_DIMS, REFERRAL_COUNTS)
        self.filters = self._filters()
        self.widget = self._layout()
        self.refresh()

    def _guarded(self, name: str, dims: tuple, measures) -> privacy.GuardedCube | None:
        cube = self.ds.cube(name, dims)
        if cube is None:
            return None
        try:
            return privacy.GuardedCube(cube, measures)
        except privacy.MissingCellKeys:  # a cube stored before the cell key method: not shown unprotected
            self.ds.problems[name] = "ohne Zellschlüssel, bitte neu aufbereiten"
            return None

    def _html(self, value: str = "") -> W.HTML:
        return W.HTML(value, **self._shared)

    # ------------------------------------------------------------------ filters
    def _filters(self) -> dict:
        style = DescriptionStyle(description_width="initial")  # one style model for all filters
        lay = W.Layout(width="230px")
        f = {}
        years = sorted({1970 + m // 12 for m in self.cube.months.tolist()}) if self.cube is not None else []
        f["period"] = W.Dropdown(options=[(f"Jahr {y}", str(y)) for y in years] + [("gesamter Zeitraum", ALL)],
                                 value=str(years[-2]) if len(years) > 1 else ALL, description="Zeitraum",
                                 style=style, layout=lay)
        jcs = self.ds.table("jobcenters")
        default = self.spec.default_jc if self.spec.default_jc in set(jcs["jc_id"]) else ALL
        f["jc_id"] = W.Dropdown(options=[("alle Jobcenter", ALL)] + list(zip(jcs["name"], jcs["jc_id"])), value=default,
                                description="Jobcenter", style=style, layout=lay, disabled=len(jcs["jc_id"]) == 1)
        segs = self.cube.levels("segment") if self.cube is not None else []
        seg_opts = [(S.PROFILLAGEN.get(s, s), s) for s in segs]
        f["segment"] = W.Dropdown(options=[("alle Profillagen", ALL)] + seg_opts, value=ALL, description="Profillage",
                                  style=style, layout=lay, disabled=segs in ([], ["unbekannt"]))
        f["sex"] = W.Dropdown(options=[("alle", ALL), ("weiblich", "f"), ("männlich", "m")], value=ALL,
                              description="Geschlecht", style=style, layout=lay)
        f["age_group"] = W.Dropdown(options=[("alle", ALL)] + [(a, a) for a in AGE_GROUPS], value=ALL,
                                    description="Altersgruppe", style=style, layout=lay)
        measures = self.ref.levels("measure") if self.ref is not None else []
        f["measure"] = W.Dropdown(options=[("alle Maßnahmen", ALL)] + [(S.MEASURES.get(m, m), m) for m in measures],
                                  value=ALL, description="Maßnahme", style=style, layout=lay)
        for w in f.values():
            w.observe(lambda _change: self.refresh(), names="value")
        return f

    def _period(self) -> tuple[dt.date, dt.date]:
        """First and last month (their first days) of the chosen period."""
        v = self.filters["period"].value
        if v == ALL:
            return month_start(int(self.cube.months[0])), month_start(int(self.cube.months[-1]))
        return dt.date(int(v), 1, 1), dt.date(int(v), 12, 1)

    def selection(self) -> dict:
        """The current filters as keyword arguments for a cube's ``mask``."""
        return {k: self.filters[k].value for k in ("jc_id", "segment", "sex", "age_group")}

    # ------------------------------------------------------------------ layout
    def _layout(self) -> W.VBox:
        s = self.spec

        # static parts are joined into few widgets, headings go with the part they head: every widget is a
        # model the page fetches from the kernel while it opens
        top = self._html(BOARD_CSS + f"<div class='cw-board'><div class='cw-title'>{_html.escape(s.title)}</div>"
                         f"<div class='cw-sub'>{_html.escape(s.subtitle)}</div><div class='cw-sub' data-stand='1'>"
                         f"{_data_stand(self.ds)}</div></div>" + _h2("Auswahl"))
        filt = W.HBox(list(self.filters.values()), layout=W.Layout(flex_flow="row wrap"))
        chosen = {"projekt": ("Das Projekt", self._project_panel), "wirkung": ("Wirkung der Maßnahmen",
                                                                               self._effects_panel),
                  "vergleich": ("Vergleich mit anderen Jobcentern", self._did_panel),
                  "bedarfsdeckung": ("Bedarfsdeckung im Netzwerk", self._coverage_panel)}
        if not s.did:
            chosen.pop("vergleich")
        panels = [(_h2(head), make()) for key, (head, make) in chosen.items() if key in s.panels]
        static = self._html("".join(head + html for head, html in panels) + _privacy_note()
                            + _h2("Export für das Protokoll"))
        parts = [top, filt, self.status, self.tiles, self.trend, self.referrals, static, self.export_button,
                 self.export]
        return W.VBox(parts, layout=W.Layout(padding="0 12px"))

    # ------------------------------------------------------------------ refresh
    def set_filters(self, **values) -> None:
        """Set several filters at once and redraw once (used by the privacy sweep and by scripts)."""
        self._hold = True
        try:
            for k, v in values.items():
                self.filters[k].value = v
        finally:
            self._hold = False
        self.refresh()

    def html(self) -> str:
        """All HTML the board currently shows (for checks without a browser)."""
        def walk(w):
            out = [w.value] if isinstance(getattr(w, "value", None), str) else []
            for child in getattr(w, "children", ()):
                out += walk(child)
            return out

        return "\n".join(walk(self.widget))

    def refresh(self) -> None:
        if getattr(self, "_hold", False):
            return
        if self.cube is None:
            self.tiles.value = _h2(TILES_HEAD) + _missing_result("Kennzahlen", self.ds.problems.get(R.BOARD_KPI_CUBE))
            return
        self.status.value = "<span data-status='busy'>Aktualisiere …</span>"
        start, end = self._period()
        sel = self.selection()
        figs = self._figures(start, end, sel)
        self.tiles.value = _h2(TILES_HEAD) + self._tiles_html(figs, start, end)
        self._draw_trend(sel)
        self._draw_referrals(start, end, sel)
        self.export.value = ""  # the export always shows the current view: made anew on request
        self.status.value = (f"<span data-status='ready'>Zeitraum {fmt.date(start)} bis "
                             f"{fmt.date(month_end(end))}</span>")

    def _figures(self, start, end, sel) -> dict:
        """The protected key figures of a period and selection (rates from protected counts only)."""
        mask = self.cube.mask(start, end, **sel)
        months = max(1, month_index(end) - month_index(start) + 1)
        figs = {k: self.cube.count(k, mask) for k in ("integrations", "ltr_integrations", "need_ending")}
        figs["avg_stock"] = self.cube.count("stock", mask, per=months)
        figs["avg_ltr_stock"] = self.cube.count("ltr_stock", mask, per=months)
        figs["months"] = months
        last = month_index(end)
        for key, measure, month in (("stock_end", "stock", last), ("stock_year_before", "stock", last - 12),
                                    ("ltr_end", "ltr_stock", last), ("ltr_year_before", "ltr_stock", last - 12)):
            figs[key] = self.cube.count(measure, self.cube.mask(month_start(month), month_start(month), **sel))
        return figs

    def _tiles_html(self, figs: dict, start, end) -> str:
        t = privacy.threshold()
        k2 = privacy.show_protected_rate(figs["integrations"], figs["avg_stock"])
        k3e1 = privacy.show_protected_rate(figs["ltr_integrations"], figs["avg_ltr_stock"])
        name = {k: KPI_DEFINITIONS[k][0] for k in ("k2", "k3", "k3e1", "k1e2", "need_ending")}
        rows = [("k2", name["k2"], k2, "Integrationen ÷ durchschnittlicher Bestand"),
                ("integrations", "Integrationen", privacy.show_protected(figs["integrations"]), "Aufnahmen von "
                 "Arbeit, Ausbildung oder Selbstständigkeit durch Leistungsberechtigte"),
                ("avg_stock", "Durchschnittlicher Bestand", privacy.show_protected(figs["avg_stock"]),
                 "erwerbsfähige Leistungsberechtigte je Monat"),
                ("k3e1", name["k3e1"], k3e1, "Integrationen ÷ Bestand LZB"),
                ("k3", name["k3"], privacy.show_protected_change(figs["ltr_end"], figs["ltr_year_before"]),
                 f"{fmt.month(month_start(month_index(end)))} gegenüber dem Vorjahresmonat"),
                ("k1e2", name["k1e2"], privacy.show_protected_change(figs["stock_end"], figs["stock_year_before"]),
                 "Bestand im letzten Monat gegenüber dem Vorjahresmonat"),
                ("need_ending", name["need_ending"], privacy.show_protected(figs["need_ending"]),
                 "drei Monate danach ohne Leistungsbezug (soweit in den Daten)")]
        if figs["months"] != 12:
            rows[0] = ("k2", f"Integrationsquote ({figs['months']} Monate)", k2, "nicht auf 12 Monate hochgerechnet")
        self.view["tiles"] = dict(zip(["kennzahl", "bezeichnung", "wert", "erläuterung"], map(list, zip(*rows))))
        html = "".join(_tile(*r) for r in rows)
        return f"<div class='cw-tiles' data-threshold='{t}'>{html}</div>"

    def _draw_trend(self, sel) -> None:
        mask = self.cube.mask(**sel)
        months = self.cube.months.tolist()
        # rolling three-month sums, each a protected cell of its own; a rate needs both counts shown
        ints = self.cube.rolling("integrations", mask, window=3)
        stock = self.cube.rolling("stock", mask, window=3, per=3)
        rate = [None if r is None else r * 100 / 3 for r in privacy.protected_rates(ints, stock)]
        firsts = [month_start(m) for m in months]
        self.view["trend"] = {"monat": [fmt.month(d) for d in firsts],
                              "integrationen_je_100": [None if r is None else fmt.round_half_up(r, 2) for r in rate]}
        start = self._project_start() if self.spec.project else None
        marker = None
        if start is not None and months:
            pos = bisect.bisect_left(months, month_index(start))
            marker = pos if pos < len(months) else None
        self.trend.value = _h2("Entwicklung") + charts.line_chart(
            [f"{d:%m.%Y}" for d in firsts], rate,
            "Integrationen je 100 Personen im Bestand (gleitender 3-Monats-Wert)",
            y_label="je 100 im Bestand", marker_at=marker, marker_label="Projektbeginn")

    def _project_start(self):
        p = self.ds.table("projects")
        key = self.spec.project
        starts = [s for pid, s in zip(p["project_id"], p["start"]) if pid.startswith(key) and not fmt.is_missing(s)]
        return min(starts) if starts else None

    def _draw_referrals(self, start, end, sel) -> None:
        if self.ref is None:
            self.referrals.value = _h2(REFERRALS_HEAD) + _missing_result("Vermittlungen")
            return
        mask = self.ref.mask(start, end, **sel, measure=self.filters["measure"].value)
        shown, numeric = self.ref.table("partner_kind", REFERRAL_COUNTS, mask,
                                        label=lambda k: S.PARTNER_KINDS.get(k, k))
        names = {"partner_kind": "Partner", "referrals": "Vermittlungen", "started": "begonnen",
                 "completed": "abgeschlossen", "dropped_out": "abgebrochen"}
        self.view["referrals"] = {names[c]: v for c, v in shown.items()}
        kinds = shown["partner_kind"][:-1]
        chart = charts.bar_chart(kinds, {"Vermittlungen": numeric["referrals"], "begonnen": numeric["started"]},
                                   "Vermittlungen und Beginne je Partnerart") if kinds else ""
        self.referrals.value = (f"{_h2(REFERRALS_HEAD)}<div class='cw-board'>{chart}"
                                f"{_table(self.view['referrals'])}</div>")

    # ------------------------------------------------------------------ results panels
    def _effects_panel(self) -> str:
        if not self.ds.has_result(R.EFFECTS):
            return _missing_result("Wirkungsschätzungen", self.ds.problems.get(R.EFFECTS))
        t = privacy.threshold()
        shown = [r for r in _rows(self.ds.result(R.EFFECTS))
                 if r["n_treated"] >= t and not fmt.is_missing(r["estimate"])]
        if not shown:
            return ("<div class='cw-note-box'>Für keine Maßnahme gibt es genug Teilnehmende für eine "
                    "belastbare Schätzung.</div>")
        shown.sort(key=lambda r: r["estimate"], reverse=True)
        chart = charts.forest_chart([r["label"] for r in shown], [r["estimate"] for r in shown],
                                      [r["ci_low"] for r in shown], [r["ci_high"] for r in shown],
                                      "Effekt auf die Integration innerhalb von 12 Monaten (Prozentpunkte, "
                                      "95-%-Intervall)")
        sentences = "".join(f"<p class='cw-sentence' data-measure='{r['measure']}'>{r['sentence']}</p>" for r in shown)
        method = ("Schätzung: doppelt robuste Gewichtung (AIPW) im Vergleich mit ähnlichen Personen ohne Maßnahme, "
                  "Stichtag drei Monate nach der ersten Potenzialanalyse; Wartezeit vor der Maßnahme zählt nicht "
                  "als Effekt.")
        return f"<div class='cw-board'>{chart}{sentences}<div class='cw-note-box'>{method}</div></div>"

    def _did_panel(self) -> str:
        if not self.ds.has_result(R.DID):
            return _missing_result("Vergleich mit anderen Jobcentern", self.ds.problems.get(R.DID))
        rows = _rows(self.ds.result(R.DID))
        if not rows:
            return "<div class='cw-note-box'>Kein Projekt mit Vergleichsjobcentern.</div>"
        r = rows[0]
        if r.get("sentence"):  # written with the result (casework.effects.did.board_sentence): level and limits
            return f"<div class='cw-board'><p class='cw-sentence' data-did='1'>{r['sentence']}</p></div>"
        per100 = r["estimate"] * 100
        verb = "höher" if per100 >= 0 else "niedriger"
        sure = ("Der Unterschied ist statistisch nicht gesichert." if r["ci_low"] <= 0 <= r["ci_high"]
                else "Der Unterschied ist statistisch gesichert.")
        where = "dem Projektjobcenter" if r["jobcenters"] == 1 else f"den {r['jobcenters']} Projektjobcentern"
        text = (f"Seit Projektbeginn ({fmt.date(r['start'])}) lag die monatliche Integrationsrate in {where}"
                f" um {fmt.number(abs(per100), 2)} Integrationen je 100 Personen im Bestand {verb} als ohne das "
                f"Projekt zu erwarten (95-%-Intervall {fmt.number(r['ci_low'] * 100, 2)} bis "
                f"{fmt.number(r['ci_high'] * 100, 2)}). {sure}")
        if r.get("warning"):
            text += (" Hinweis: Mit nur einem Projektjobcenter lässt sich das Projekt nicht sicher von anderen "
                     "Veränderungen in diesem Jobcenter trennen; das Intervall ist deshalb breit.")
        return f"<div class='cw-board'><p class='cw-sentence' data-did='1'>{text}</p></div>"

    def _coverage_panel(self) -> str:
        if not self.ds.has_result(R.NEEDS_COVERAGE):
            return _missing_result("Bedarfsdeckung", self.ds.problems.get(R.NEEDS_COVERAGE))
        c = self.ds.result(R.NEEDS_COVERAGE)
        c = {k: c[k] for k in ("label", "needs", "covered", "share", "needs_key", "covered_key") if k in c}
        try:
            shown = privacy.protect_table(c, ["needs", "covered"], rate_cols={"share": ("covered", "needs")},
                                          total=False)
        except privacy.MissingCellKeys:
            return _missing_result("Bedarfsdeckung", "ohne Zellschlüssel, bitte neu aufbereiten")
        shown = _renamed(shown, ["Bedarf", "festgestellt", "passendes Angebot begonnen (3 Monate)", "Anteil"])
        note = ("Anteil der in Potenzialanalysen festgestellten Bedarfe, für die innerhalb von drei Monaten "
                "ein passendes Angebot eines Netzwerkpartners begonnen wurde („aus einer Hand“).")
        return f"<div class='cw-board'><p>{note}</p>{_table(shown)}</div>"

    def _project_panel(self) -> str:
        if self.spec.custom and not self.spec.project:
            return ("<div class='cw-note-box' data-missing='Projektdaten'>Für dieses Board ist kein Modellprojekt "
                    "angegeben (Parameter <code>project</code> im Board-Notebook): keine Projektdaten.</div>")
        stored = self.ds.meta().get("project")
        if self.spec.custom and stored and stored != self.spec.project:
            return (f"<div class='cw-note-box' data-missing='Projektdaten'>Die gespeicherten Projektdaten gehören "
                    f"zum Projekt „{_html.escape(stored)}“, nicht zu „{_html.escape(self.spec.project)}“; sie "
                    "werden deshalb nicht gezeigt.</div>")
        if not self.ds.has_result(R.BOARD_PROJECT_FACTS):
            return _missing_result("Projektdaten", self.ds.problems.get(R.BOARD_PROJECT_FACTS))
        person_counts = {"participants", "placements"}  # counts of people are protected; places or offers are not
        try:
            facts = _rows(self.ds.result(R.BOARD_PROJECT_FACTS))
            tiles = "".join(_tile(f"project_{r['fact']}", r["label"], privacy.show_protected(
                privacy.protected_columns({k: [v] for k, v in r.items()}, ["value"], False)["value"][0])
                if r["fact"] in person_counts
                else fmt.number(r["value"]), people=r["fact"] in person_counts) for r in facts)
            parts = [f"<div class='cw-tiles'>{tiles}</div>"]
            for name, part in ((R.BOARD_PARTICIPANT_PROFILES, self._profiles_part),
                               (R.BOARD_MODULES, self._modules_part), (R.BOARD_TRANSITIONS, self._transitions_part),
                               (R.BOARD_JOBCENTERS, self._jobcenters_part)):
                if self.ds.has_result(name):
                    parts.append(part(self.ds.result(name)))
        except privacy.MissingCellKeys:
            return _missing_result("Projektdaten", "ohne Zellschlüssel, bitte neu aufbereiten")
        return "<div class='cw-board' data-project='1'>" + "".join(parts) + "</div>"

    @staticmethod
    def _profiles_part(p: dict) -> str:
        counts = ["participants_n", "others_n", "participants_total", "others_total"]
        v = privacy.protected_columns(p, counts, secondary=False)

        def shares(group):
            return [privacy.show_protected(n) if n is None else privacy.show_protected_rate(n, size)
                    for n, size in zip(v[f"{group}_n"], v[f"{group}_total"])]

        rows = {"Bedarf": p["label"], "Teilnehmende": shares("participants"),
                "übrige Kundinnen und Kunden": shares("others")}
        return ("<p>Anteil mit mittlerem oder schwerem Handlungsbedarf bei der ersten Potenzialanalyse:"
                f"</p>{_table(rows)}")

    @staticmethod
    def _modules_part(m: dict) -> str:
        order = sorted(range(len(m["name"])), key=lambda i: -m["placements"][i])
        modules = {c: [m[c][i] for i in order] for c in ("name", "capacity", "placements", "placements_key",
                                                          "avg_occupied", "avg_occupied_key") if c in m}
        occupied = privacy.protected_columns(modules, ["avg_occupied"], secondary=False)["avg_occupied"]
        shown = privacy.protect_table({c: modules[c] for c in ("name", "capacity", "placements", "placements_key")},
                                      ["placements"], total=True)
        shown["capacity"] = [f"{fmt.number(v)} Plätze" if v != "" else "" for v in shown["capacity"]]
        # the share of places occupied is a count of persons over the places: shown from the protected count only
        shown["Auslastung"] = [privacy.show_protected_rate(o, c, min_cell=1) if o is not None else "–"
                               for o, c in zip(occupied, modules["capacity"])] + ["–"]
        shown = _renamed(shown, ["Modul", "Plätze", "Belegungen", "Auslastung"])
        return f"<p>Module und ihre Belegung:</p>{_table(shown)}"

    @staticmethod
    def _transitions_part(tr: dict) -> str:
        tr = {k: v for k, v in tr.items() if k != "share"}
        shown = privacy.protect_table(tr, ["ended", "integrated"], rate_cols={"share": ("integrated", "ended")},
                                      total=False)
        shown = _renamed(shown, ["Gruppe", "geförderte Beschäftigung beendet", "danach integriert (6 Monate)",
                                 "Anteil"])
        return f"<p>Übergänge nach der geförderten Beschäftigung:</p>{_table(shown)}"

    def _jobcenters_part(self, j: dict) -> str:
        """K2 of the last full year per jobcenter, from the same protected cells as the tiles (a jobcenter shows
        here exactly what the tiles show for it)."""
        t = privacy.threshold()
        if self.cube is None:
            return ""
        year = 1970 + int(self.cube.months[-1]) // 12 - 1
        mask = self.cube.mask(dt.date(year, 1, 1), dt.date(year, 12, 1))
        labels, values = self.cube.table("jc_id", ["integrations", "stock"], mask, per={"stock": 12}, total=False)
        at = {jc: i for i, jc in enumerate(labels["jc_id"])}
        ints = [values["integrations"][at[jc]] if jc in at else 0 for jc in j["jc_id"]]
        stock = [values["stock"][at[jc]] if jc in at else 0 for jc in j["jc_id"]]
        types = j.get("comparison_type") or ["ohne Vergleichstyp"] * len(j["jc_id"])
        parts = []
        for ctype in sorted(set(types)):
            rows = [i for i, c in enumerate(types) if c == ctype]
            groups = []
            for member in sorted({bool(j["project"][i]) for i in rows}, reverse=True):
                group = mask & self.cube.mask(jc_id=[j["jc_id"][i] for i in rows if bool(j["project"][i]) == member])
                rate = privacy.show_protected_rate(self.cube.count("integrations", group),
                                                   self.cube.count("stock", group, per=12))
                groups.append(f"{'im Programm' if member else 'nicht im Programm'}: {rate}")
            parts.append(f"<p><b>Vergleichstyp {_html.escape(str(ctype))}</b> ({len(rows)} Jobcenter; "
                         f"{'; '.join(groups)})</p>" + _table({
                             "Jobcenter": [j["name"][i] for i in rows],
                             "im Programm": ["ja" if j["project"][i] else "nein" for i in rows],
                             "Integrationsquote (K2)": [privacy.show_protected_rate(ints[i], stock[i]) for i in rows],
                             "Integrationen": [privacy.show_protected(ints[i]) for i in rows]}))
        return (f"<p>Jobcenter im Vergleich innerhalb ihres SGB-II-Vergleichstyps (Integrationsquote {year}; "
                f"Quoten nur bei mindestens {t} Integrationen und {t} Personen im Bestand):</p>"
                f"<div style='max-height:420px;overflow:auto' tabindex='0' role='region' "  # keyboard can scroll it
                f"aria-label='Jobcenter im Vergleich'>{''.join(parts)}</div>")

    # ------------------------------------------------------------------ export
    def _make_export(self) -> None:
        self.export.value = "<span data-status='busy'>Export wird erstellt …</span>"
        self.export.value = self._export_links()

    def _export_links(self) -> str:
        """An XLSX with a sheet per table, a ZIP of one German CSV per table (UTF-8 with BOM), a PNG."""
        import pandas as pd  # only here: the board itself runs without pandas

        frames = {"Kennzahlen": pd.DataFrame(self.view.get("tiles", {})),
                  "Entwicklung": pd.DataFrame(self.view.get("trend", {})),
                  "Vermittlungen": pd.DataFrame(self.view.get("referrals", {}))}
        stem = f"{self.spec.key}_{self.filters['period'].value}"
        xlsx, zipped = io.BytesIO(), io.BytesIO()
        with pd.ExcelWriter(xlsx, engine="openpyxl") as xw:
            for k, v in frames.items():
                v.to_excel(xw, sheet_name=k, index=False)
        with zipfile.ZipFile(zipped, "w", zipfile.ZIP_DEFLATED) as zf:
            for k, v in frames.items():
                zf.writestr(f"{stem}_{k}.csv", v.to_csv(index=False, sep=";", decimal=",").encode("utf-8-sig"))
        links = [_download_link(xlsx.getvalue(), f"{stem}.xlsx", "Excel herunterladen (ein Blatt je Tabelle)",
                                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
                 _download_link(zipped.getvalue(), f"{stem}_csv.zip", "CSV-Dateien herunterladen (ZIP)",
                                "application/zip"),
                 _download_link(self._png(), f"{stem}.png", "Bild (PNG) herunterladen", "image/png")]
        return "<div class='cw-board' data-export='1'>" + "".join(links) + "</div>"

    def _png(self) -> bytes:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, (a1, a2) = plt.subplots(2, 1, figsize=(8, 6), gridspec_kw={"height_ratios": [1, 2]})
        a1.axis("off")
        tiles = self.view.get("tiles", {})
        for i, (label, value) in enumerate(zip(tiles.get("bezeichnung", []), tiles.get("wert", []))):
            a1.text(0.01 + (i % 3) * 0.33, 0.75 - (i // 3) * 0.5, f"{label}\n{value}", fontsize=9, va="top")
        trend = self.view.get("trend", {})
        rates = [np.nan if v is None else v for v in trend.get("integrationen_je_100", [])]
        if rates:
            a2.plot(np.arange(len(rates)), rates, color=BLUE)
            step = max(1, len(rates) // 6)
            a2.set_xticks(np.arange(0, len(rates), step), trend["monat"][::step], rotation=30, fontsize=8)
        a2.set_ylabel("Integrationen je 100 im Bestand")
        fig.suptitle(f"{self.spec.title} – {self.status.value.split('>')[1].split('<')[0]}", fontsize=10)
        out = io.BytesIO()
        fig.tight_layout()
        fig.savefig(out, format="png", dpi=110)
        plt.close(fig)
        return out.getvalue()


def _renamed(columns: dict, names: list) -> dict:
    """The same columns under new headers (in order)."""
    return dict(zip(names, columns.values()))


def project_board(key: str, ds=None) -> W.VBox:
    """The board of one project (``pankow``, ``gelsenkirchen``, ``teilhabe_nrw``), ready to display.

    ``ds``: a dataset folder opened with :class:`casework.boards.results.BoardData` or :class:`casework.store.Dataset`
    (default: ``data/<dataset>`` under :func:`data_root`).
    """
    return Board(BOARDS[key], ds=ds).widget


def index_board(folder=None) -> W.VBox:
    """Landing page: one card per board notebook in the dashboards folder, with its title, data stand and size."""
    from casework.boards.catalog import dashboard_specs

    cards = []
    for spec, problem in dashboard_specs(folder or dashboards_folder()):
        if spec is None:
            cards.append(f"<div class='cw-card' data-board-problem='1'><p>Ein Board kann nicht gelesen werden: "
                         f"{_html.escape(problem)}</p></div>")
            continue
        body = card_body(spec)
        cards.append(f"<div class='cw-card' data-board='{_html.escape(spec.key)}'><h3>{_html.escape(spec.title)}"
                     f"</h3>{body}<a href='{_html.escape(spec.key)}.ipynb'>Dashboard öffnen →</a></div>")
    if not cards:
        cards.append("<div class='cw-note-box'>Noch kein Board vorhanden: <code>casework board new</code> legt "
                     "eines an.</div>")
    head = (f"<div class='cw-board'><div class='cw-title'>{INDEX_TITLE}</div>"
            "<div class='cw-sub'>Kennzahlen und Wirkungen der Modellprojekte für die Projektbeiräte. Alle Angaben "
            "sind zusammengefasste Zahlen ohne Personenbezug.</div></div>")
    return W.VBox([W.HTML(BOARD_CSS + head + "<div class='cw-board'>" + "".join(cards) + "</div>"
                          + _privacy_note())])
