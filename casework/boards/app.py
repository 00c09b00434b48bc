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
from casework.boards import charts, panels
from casework.boards import spec as R
from casework.boards.landing import card_body, dashboards_folder, data_root, open_board_dataset
from casework.boards.parts import data_stand, download_link, glossary, h2, missing_result, privacy_note, table, tile
from casework.boards.results import BoardData
from casework.boards.spec import BOARD_CSS, BOARDS, INDEX_TITLE, BoardSpec
from casework.cells import AGE_GROUPS, ALL, KPI_DIMS, KPI_MEASURES, REFERRAL_DIMS, month_end, month_index, month_start
from casework.kpi_defs import BOARD_HEAD, KPI_DEFINITIONS

__all__ = ["BoardSpec", "BOARDS", "data_root", "open_board_dataset", "project_board", "index_board", "Board"]

BLUE, ORANGE, GREEN, VERMILION, GREY = "#0072B2", "#E69F00", "#009E73", "#D55E00", "#6b6b6b"
TILES_HEAD = BOARD_HEAD
REFERRALS_HEAD = "Vermittlungen an Netzwerkpartner"
REFERRAL_COUNTS = ["referrals", "started", "completed", "dropped_out"]
#: the figures of the tiles, in their order (the glossary explains each)
TILE_KEYS = ("k2", "integrations", "avg_stock", "k3e1", "k3", "k1e2", "need_ending", "lza")


def _board_data(ds) -> BoardData:
    """A BoardData, also from a :class:`casework.store.Dataset` on disk (an analyst's own)."""
    if isinstance(ds, BoardData):
        return ds
    if getattr(ds, "path", None) is None:
        raise ValueError(f"a board reads a dataset folder, but {ds!r} is in memory: save it first (Dataset.save)")
    return BoardData.open(ds.path)


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
        self.lza = self._guarded(R.BOARD_LZA_CUBE, KPI_DIMS, ["lza"])
        self.caseload = self._caseload_cube()
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

    def _caseload_cube(self) -> privacy.GuardedCube | None:
        """The project's caseload per month (only for a board with a project that has enrolments)."""
        project = self.spec.project or (None if self.spec.custom else self.ds.meta().get("project"))
        if not project:
            return None
        cube = self._guarded(R.BOARD_CASELOAD_CUBE, (*KPI_DIMS, R.PROJECT_COLUMN), ["caseload"])
        return cube if cube is not None and project in cube.levels(R.PROJECT_COLUMN) else None

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
                         f"{data_stand(self.ds)}</div></div>" + h2("Auswahl"))
        filt = W.HBox(list(self.filters.values()), layout=W.Layout(flex_flow="row wrap"))
        chosen = {"projekt": ("Das Projekt", lambda: panels.project_panel(self.ds, s, self.cube)),
                  "wirkung": ("Wirkung der Maßnahmen", None),  # a widget of its own: the outcome can be chosen
                  "vergleich": ("Vergleich mit anderen Jobcentern", lambda: panels.did_panel(self.ds, s.project)),
                  "bedarfsdeckung": ("Bedarfsdeckung im Netzwerk", lambda: panels.coverage_panel(self.ds))}
        if not s.did:
            chosen.pop("vergleich")
        parts = [top, filt, self.status, self.tiles, self.trend, self.referrals]
        static = ""
        for key, (head, make) in chosen.items():
            if key not in s.panels:
                continue
            if make is None:
                parts += [self._html(static + h2(head)), *self._effects_widgets()]
                static = ""
            else:
                static += h2(head) + make()
        shown = TILE_KEYS + (("caseload",) if self.caseload is not None else ())
        static += glossary(shown) + privacy_note() + h2("Export für das Protokoll")
        parts += [self._html(static), self.export_button, self.export]
        return W.VBox(parts, layout=W.Layout(padding="0 12px"))

    def _effects_widgets(self) -> list:
        """The effects panel, with a choice of the outcome when effects on several are stored (issue 16)."""
        outcomes = panels.effect_outcomes(self.ds)
        self.effects = self._html(panels.effects_panel(self.ds, outcomes[0][1] if outcomes else None))
        if len(outcomes) < 2:
            return [self.effects]
        self.outcome = W.Dropdown(options=outcomes, value=outcomes[0][1], description="Ergebnis",
                                  style=DescriptionStyle(description_width="initial"), layout=W.Layout(width="auto"))
        self.outcome.observe(lambda change: setattr(self.effects, "value", panels.effects_panel(self.ds,
                                                                                               change["new"])),
                             names="value")
        return [self.outcome, self.effects]

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
            self.tiles.value = h2(TILES_HEAD) + missing_result("Kennzahlen", self.ds.problems.get(R.BOARD_KPI_CUBE))
            return
        self.status.value = "<span data-status='busy'>Aktualisiere …</span>"
        start, end = self._period()
        sel = self.selection()
        figs = self._figures(start, end, sel)
        self.tiles.value = h2(TILES_HEAD) + self._tiles_html(figs, start, end)
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
        if self.lza is not None:  # a stock on the last day of the period's last month
            figs["lza"] = self.lza.count("lza", self.lza.mask(month_start(last), month_start(last), **sel))
        if self.caseload is not None:  # so is the caseload in care
            own = {R.PROJECT_COLUMN: self.spec.project or self.ds.meta().get("project")}
            figs["caseload"] = self.caseload.count("caseload", self.caseload.mask(month_start(last),
                                                                                  month_start(last), **sel, **own))
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
        rows.append(self._lza_row(figs, end))
        if "caseload" in figs:
            rows.append(("caseload", KPI_DEFINITIONS["caseload"][0], privacy.show_protected(figs["caseload"]),
                         f"am {fmt.date(month_end(end))}; alle, die je teilgenommen haben, stehen unten beim Projekt"))
        self.view["tiles"] = dict(zip(["kennzahl", "bezeichnung", "wert", "erläuterung"], map(list, zip(*rows))))
        html = "".join(tile(*r, people=r[0] != "lza" or "lza" in figs) for r in rows)
        return f"<div class='cw-tiles' data-threshold='{t}'>{html}</div>"

    def _lza_row(self, figs: dict, end) -> tuple:
        """Langzeitarbeitslose on the period's last day, or in plain German why there is no number."""
        name = KPI_DEFINITIONS["lza"][0]
        if "lza" in figs:
            return ("lza", name, privacy.show_protected(figs["lza"]),
                    f"am {fmt.date(month_end(end))}, seit mindestens einem Jahr arbeitslos gemeldet")
        if "unemployment" not in self.ds.manifest.get("tables", {}):
            return ("lza", name, "keine Angabe", "Die Daten enthalten keine Zeiten registrierter Arbeitslosigkeit. "
                    "Langzeitleistungsbeziehende (oben) sind nicht dasselbe wie Langzeitarbeitslose.")
        return ("lza", name, "keine Angabe", "noch nicht aufbereitet: bitte die Analyse neu laufen lassen "
                "(make run)")

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
        self.trend.value = h2("Entwicklung") + charts.line_chart(
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
            self.referrals.value = h2(REFERRALS_HEAD) + missing_result("Vermittlungen")
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
        self.referrals.value = (f"{h2(REFERRALS_HEAD)}<div class='cw-board'>{chart}"
                                f"{table(self.view['referrals'])}</div>")

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
        links = [download_link(xlsx.getvalue(), f"{stem}.xlsx", "Excel herunterladen (ein Blatt je Tabelle)",
                                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
                 download_link(zipped.getvalue(), f"{stem}_csv.zip", "CSV-Dateien herunterladen (ZIP)",
                                "application/zip"),
                 download_link(self._png(), f"{stem}.png", "Bild (PNG) herunterladen", "image/png")]
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
                          + privacy_note())])
