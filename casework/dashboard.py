"""Building blocks of the board dashboards (Voila): one app object per project, built from stored results.

A dashboard notebook calls :func:`casework.boardpage.board_page`, which shows
the page at once and builds the board from here right after the cell::

    from casework.boardpage import board_page
    board_page("pankow")

Everything shown is an aggregate read from the dataset's results (written by
``make run``'s pipeline); nothing is estimated here. Every count and rate goes
through :mod:`casework.privacy` before it is shown. Texts are German, numbers
use German formats (:mod:`casework.fmt`), colours the Okabe-Ito palette.
"""

from __future__ import annotations

import base64
import io
import os
from pathlib import Path

import ipywidgets as W
import numpy as np
import pandas as pd
from ipywidgets.widgets.widget_description import DescriptionStyle  # the style classes are not exported
from ipywidgets.widgets.widget_string import HTMLStyle

from casework import fmt, privacy, svgchart
from casework import schema as S
from casework.board import AGE_GROUPS, cube_figures
from casework.boardpage import BOARD_CSS, BOARDS, INDEX_TITLE, BoardSpec

__all__ = ["BoardSpec", "BOARDS", "data_root", "open_board_dataset", "project_board", "index_board", "Board"]

BLUE, ORANGE, GREEN, VERMILION, GREY = "#0072B2", "#E69F00", "#009E73", "#D55E00", "#6b6b6b"
ALL = "alle"
TILES_HEAD = "Kennzahlen nach §48a SGB II"
REFERRALS_HEAD = "Zuweisungen an Netzwerkpartner"


def data_root() -> Path:
    """The data folder: ``$CASEWORK_DATA`` or ``data/`` beside the package."""
    return Path(os.environ.get("CASEWORK_DATA") or Path(__file__).resolve().parents[1] / "data")


def open_board_dataset(name: str):
    """Open ``data/<name>`` without re-hashing every file (the pipeline verified it); None if absent."""
    from casework.store import Dataset

    path = data_root() / name
    if not (path / "manifest.json").exists():
        return None
    return Dataset.open(path, verify=False)


def _tile(key: str, label: str, value: str, note: str = "", people: bool = True) -> str:
    """A KPI tile; ``people`` marks values that count or rate persons (subject to suppression)."""
    cls = "cw-value cw-people" if people else "cw-value"
    return (f"<div class='cw-tile' data-kpi='{key}'><div class='cw-label'>{label}</div>"
            f"<div class='{cls}'>{value}</div><div class='cw-note'>{note}</div></div>")


def _download_link(data: bytes, filename: str, label: str, mime: str) -> str:
    b64 = base64.b64encode(data).decode()
    return (f"<a download='{filename}' href='data:{mime};base64,{b64}' class='cw-download' "
            f"style='margin-right:14px'>{label}</a>")


def _table(frame: pd.DataFrame) -> str:
    return frame.to_html(index=False, border=0, classes="cw-table", escape=True)


def _missing_result(what: str, problem: str | None = None) -> str:
    if problem:
        return (f"<div class='cw-note-box' data-missing='{what}'>Daten nicht verfügbar ({what}): die "
                f"gespeicherte Ergebnisdatei ist nicht lesbar ({problem}). Bitte die Analyse neu laufen "
                "lassen (<code>make run</code>).</div>")
    return (f"<div class='cw-note-box' data-missing='{what}'>Für diesen Bereich liegen noch keine "
            f"Ergebnisse vor ({what}). Sie entstehen mit <code>make run</code> in der Analyse-Pipeline; "
            "hier wird nichts geschätzt oder erfunden.</div>")


def _meta(ds) -> dict:
    """Data stand and sizes: stored by the pipeline (cheap to read), else computed from the tables."""
    if ds.has_result("board_meta"):
        return ds.result("board_meta")
    from casework.board import board_meta

    return board_meta(ds)


def _data_stand(ds) -> str:
    return f"Datenstand: {fmt.date(_meta(ds)['data_stand'])}"


def _privacy_note() -> str:
    t = privacy.threshold()
    return (f"<div class='cw-note-box' data-privacy='1'><b>Datenschutz:</b> Diese Seite zeigt nur Summen "
            f"über Personengruppen, keine Einzelpersonen. Zahlen unter {t} werden als „&lt; {t}“ "
            f"ausgewiesen, Quoten mit einer Basis unter {t} als „–“; damit sich verdeckte Werte nicht aus "
            "Summen zurückrechnen lassen, werden bei Bedarf weitere Zellen verdeckt (*).</div>")


def _h2(text: str) -> str:
    return f"<div class='cw-board'><h2>{text}</h2></div>"


class _Results:
    """Stored results, read defensively: a missing or unreadable file is a German note, never a traceback."""

    def __init__(self, ds):
        self.ds = ds
        self.cache: dict = {}
        self.problems: dict = {}

    def has(self, name: str) -> bool:
        if name in self.cache:
            return True
        if not self.ds.has_result(name):
            return False
        try:
            self.cache[name] = self.ds.result(name)
        except Exception as exc:  # a corrupt file must not break the board: say so instead
            self.problems[name] = f"{type(exc).__name__}"
            return False
        return True

    def get(self, name: str):
        if not self.has(name):
            raise KeyError(name)
        value = self.cache[name]
        return value.copy() if isinstance(value, pd.DataFrame) else value


class Board:
    """One project board: filters, KPI tiles, trends, referrals, effects, DiD, export."""

    def __init__(self, spec: BoardSpec, ds=None):
        self.spec = spec
        try:
            self.ds = ds if ds is not None else open_board_dataset(spec.dataset)
        except Exception as exc:  # e.g. a damaged manifest: the board says so in German
            self.ds = None
            self.widget = W.VBox([W.HTML(f"<div class='cw-note-box' data-missing='dataset'>Daten nicht verfügbar: "
                                         f"der Datensatz „{spec.dataset}“ ist beschädigt ({type(exc).__name__}). "
                                         "Bitte die Daten neu erzeugen (<code>make run</code>).</div>")])
            return
        self.res = _Results(self.ds) if self.ds is not None else None
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
        self.cube = self.res.get("board_kpi_cube") if self.res.has("board_kpi_cube") else None
        self.ref = self.res.get("board_referrals") if self.res.has("board_referrals") else None
        self.filters = self._filters()
        self.widget = self._layout()
        self.refresh()

    def _html(self, value: str = "") -> W.HTML:
        return W.HTML(value, **self._shared)

    # ------------------------------------------------------------------ filters
    def _filters(self) -> dict:
        style = DescriptionStyle(description_width="initial")  # one style model for all filters
        lay = W.Layout(width="230px")
        f = {}
        months = self.cube["month"] if self.cube is not None else pd.Series([], dtype="datetime64[ns]")
        years = sorted(pd.to_datetime(months).dt.year.unique()) if len(months) else []
        f["period"] = W.Dropdown(options=[(f"Jahr {y}", str(y)) for y in years] + [("gesamter Zeitraum", ALL)],
                                 value=str(years[-2]) if len(years) > 1 else ALL, description="Zeitraum",
                                 style=style, layout=lay)
        jcs = self.ds.table("jobcenters")[["jc_id", "name"]]
        default = self.spec.default_jc if self.spec.default_jc in set(jcs["jc_id"]) else ALL
        f["jc_id"] = W.Dropdown(options=[("alle Jobcenter", ALL)] + list(zip(jcs["name"], jcs["jc_id"])), value=default,
                                description="Jobcenter", style=style, layout=lay, disabled=len(jcs) == 1)
        segs = sorted(self.cube["segment"].unique()) if self.cube is not None else []
        seg_opts = [(S.PROFILLAGEN.get(s, s), s) for s in segs]
        f["segment"] = W.Dropdown(options=[("alle Profillagen", ALL)] + seg_opts, value=ALL, description="Profillage",
                                  style=style, layout=lay, disabled=segs in ([], ["unbekannt"]))
        f["sex"] = W.Dropdown(options=[("alle", ALL), ("weiblich", "f"), ("männlich", "m")], value=ALL,
                              description="Geschlecht", style=style, layout=lay)
        f["age_group"] = W.Dropdown(options=[("alle", ALL)] + [(a, a) for a in AGE_GROUPS], value=ALL,
                                    description="Altersgruppe", style=style, layout=lay)
        measures = sorted(self.ref["measure"].dropna().unique()) if self.ref is not None else []
        f["measure"] = W.Dropdown(options=[("alle Maßnahmen", ALL)] + [(S.MEASURES.get(m, m), m) for m in measures],
                                  value=ALL, description="Maßnahme", style=style, layout=lay)
        for w in f.values():
            w.observe(lambda _change: self.refresh(), names="value")
        return f

    def _period(self) -> tuple[pd.Timestamp, pd.Timestamp]:
        v = self.filters["period"].value
        if v == ALL:
            return pd.Timestamp(self.cube["month"].min()), pd.Timestamp(self.cube["month"].max())
        return pd.Timestamp(f"{v}-01-01"), pd.Timestamp(f"{v}-12-01")

    def selection(self) -> dict:
        """The current filters as keyword arguments for :func:`casework.board.cube_figures`."""
        return {k: self.filters[k].value for k in ("jc_id", "segment", "sex", "age_group")}

    # ------------------------------------------------------------------ layout
    def _layout(self) -> W.VBox:
        s = self.spec

        # static parts are joined into few widgets, headings go with the part they head: every widget is a
        # model the page fetches from the kernel while it opens
        top = self._html(BOARD_CSS + f"<div class='cw-board'><div class='cw-title'>{s.title}</div>"
                         f"<div class='cw-sub'>{s.subtitle}</div><div class='cw-sub' data-stand='1'>"
                         f"{_data_stand(self.ds)}</div></div>" + _h2("Auswahl"))
        filt = W.HBox(list(self.filters.values()), layout=W.Layout(flex_flow="row wrap"))
        panels = [(_h2("Das Projekt"), self._project_panel()), (_h2("Wirkung der Maßnahmen"), self._effects_panel())]
        if s.did:
            panels.append((_h2("Vergleich mit anderen Jobcentern"), self._did_panel()))
        panels.append((_h2("Bedarfsdeckung im Netzwerk"), self._coverage_panel()))
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
            self.tiles.value = _h2(TILES_HEAD) + _missing_result("Kennzahlen", self.res.problems.get("board_kpi_cube"))
            return
        self.status.value = "<span data-status='busy'>Aktualisiere …</span>"
        start, end = self._period()
        sel = self.selection()
        figs = cube_figures(self.cube, start, end, **sel)
        self.view["figures"] = figs
        self.tiles.value = _h2(TILES_HEAD) + self._tiles_html(figs, start, end)
        self._draw_trend(sel)
        self._draw_referrals(start, end, sel)
        self.export.value = ""  # the export always shows the current view: made anew on request
        self.status.value = (f"<span data-status='ready'>Zeitraum {fmt.date(start)} bis "
                             f"{fmt.date(end + pd.offsets.MonthEnd(0))}</span>")

    def _tiles_html(self, figs: dict, start, end) -> str:
        t = privacy.threshold()
        k2 = privacy.show_rate(figs["integrations"], figs["avg_stock"], fmt.percent)
        k3 = privacy.show_rate(figs["ltr_integrations"], figs["avg_ltr_stock"], fmt.percent)
        rows = [("k2", "Integrationsquote (K2)", k2, "Integrationen ÷ durchschnittlicher Bestand"),
                ("integrations", "Integrationen", privacy.show_count(figs["integrations"]), "Aufnahmen von Arbeit, "
                 "Ausbildung oder Selbstständigkeit"),
                ("avg_stock", "Durchschnittlicher Bestand", privacy.show_count(round(figs["avg_stock"])),
                 "erwerbsfähige Leistungsberechtigte je Monat"),
                ("k3", "Integrationsquote Langzeitleistungsbeziehende (K3)", k3, "Integrationen ÷ Bestand LZB"),
                ("need_ending", "Integrationen, die den Leistungsbezug beenden",
                 privacy.show_count(figs["need_ending"]), "bedarfsdeckende Beschäftigung")]
        if figs["months"] != 12:
            rows[0] = ("k2", f"Integrationsquote ({figs['months']} Monate)", k2, "nicht auf 12 Monate hochgerechnet")
        self.view["tiles"] = pd.DataFrame(rows, columns=["kennzahl", "bezeichnung", "wert", "erläuterung"])
        html = "".join(_tile(*r) for r in rows)
        return f"<div class='cw-tiles' data-threshold='{t}'>{html}</div>"

    def _filtered_cube(self, sel):
        c = self.cube
        for k, v in sel.items():
            if v != ALL:
                c = c[c[k] == v]
        return c

    def _draw_trend(self, sel) -> None:
        c = self._filtered_cube(sel).groupby("month")[["integrations", "stock"]].sum()
        roll = c.rolling(3, min_periods=3).sum()
        t = privacy.threshold()
        ok = roll["stock"] >= t * 3  # a rate is hidden when its base is small (its numerator is never shown)
        rate = (roll["integrations"] / roll["stock"] * 100).where(ok)
        labels = [f"{m:%m.%Y}" for m in c.index]
        self.view["trend"] = pd.DataFrame({"monat": [fmt.month(m) for m in c.index],
                                           "integrationen_je_100": rate.round(2)})
        start = self._project_start() if self.spec.project else None
        marker = None
        if start is not None and len(c):
            pos = c.index.searchsorted(pd.Timestamp(start))
            marker = int(pos) if pos < len(c) else None
        self.trend.value = _h2("Entwicklung") + svgchart.line_chart(
            labels, rate.tolist(), "Integrationen je 100 Personen im Bestand (gleitender 3-Monats-Wert)",
            y_label="je 100 im Bestand", marker_at=marker, marker_label="Projektbeginn")

    def _project_start(self):
        p = self.ds.table("projects")
        key = self.spec.project
        rows = p[p["project_id"].str.startswith(key)] if key else p.iloc[0:0]
        return None if rows.empty else rows["start"].min()

    def _draw_referrals(self, start, end, sel) -> None:
        if self.ref is None:
            self.referrals.value = _h2(REFERRALS_HEAD) + _missing_result("Zuweisungen")
            return
        r = self.ref[(self.ref["month"] >= start) & (self.ref["month"] <= end)]
        for k, v in {**sel, "measure": self.filters["measure"].value}.items():
            if v != ALL and k in r:
                r = r[r[k] == v]
        cols = ["referrals", "started", "completed", "dropped_out"]
        g = r.groupby("partner_kind")[cols].sum()
        g.index = [S.PARTNER_KINDS.get(k, k) for k in g.index]
        frame = g.reset_index(names="partner")
        shown = privacy.suppress(frame, cols, total=True)
        self.view["referrals"] = shown.rename(columns={"partner": "Partner", "referrals": "Zuweisungen",
                                                       "started": "begonnen", "completed": "abgeschlossen",
                                                       "dropped_out": "abgebrochen"})
        numeric = privacy.suppressed_numeric(frame, ["referrals", "started"])
        chart = svgchart.bar_chart(numeric["partner"].tolist(), {
            "Zuweisungen": [None if pd.isna(v) else v for v in numeric["referrals"]],
            "begonnen": [None if pd.isna(v) else v for v in numeric["started"]]},
            "Zuweisungen und Beginne je Partnerart") if len(numeric) else ""
        self.referrals.value = (f"{_h2(REFERRALS_HEAD)}<div class='cw-board'>{chart}"
                                f"{_table(self.view['referrals'])}</div>")

    # ------------------------------------------------------------------ results panels
    def _effects_panel(self) -> str:
        if not self.res.has("effects"):
            return _missing_result("Wirkungsschätzungen", self.res.problems.get("effects"))
        e = self.res.get("effects")
        shown = e[e["n_treated"] >= privacy.threshold()].dropna(subset=["estimate"])
        if shown.empty:
            return ("<div class='cw-note-box'>Für keine Maßnahme gibt es genug Teilnehmende für eine "
                    "belastbare Schätzung.</div>")
        shown = shown.sort_values("estimate", ascending=False)
        chart = svgchart.forest_chart(shown["label"].tolist(), shown["estimate"].tolist(), shown["ci_low"].tolist(),
                                      shown["ci_high"].tolist(), "Effekt auf die Integration innerhalb von "
                                      "12 Monaten (Prozentpunkte, 95-%-Intervall)")
        sentences = "".join(f"<p class='cw-sentence' data-measure='{m}'>{s}</p>"
                            for m, s in zip(shown["measure"], shown["sentence"]))
        method = ("Schätzung: doppelt robuste Gewichtung (AIPW) im Vergleich mit ähnlichen Personen ohne Maßnahme, "
                  "Stichtag drei Monate nach der ersten Standortbestimmung; Wartezeit vor der Maßnahme zählt nicht "
                  "als Effekt.")
        return f"<div class='cw-board'>{chart}{sentences}<div class='cw-note-box'>{method}</div></div>"

    def _did_panel(self) -> str:
        if not self.res.has("did"):
            return _missing_result("Vergleich mit anderen Jobcentern", self.res.problems.get("did"))
        d = self.res.get("did")
        if d.empty:
            return "<div class='cw-note-box'>Kein Projekt mit Vergleichsjobcentern.</div>"
        r = d.iloc[0]
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
        if not self.res.has("needs_coverage"):
            return _missing_result("Bedarfsdeckung", self.res.problems.get("needs_coverage"))
        c = self.res.get("needs_coverage")[["label", "needs", "covered", "share"]]
        shown = privacy.suppress(c, ["needs", "covered"], rate_cols={"share": ("covered", "needs")}, total=False)
        shown.columns = ["Bedarf", "festgestellt", "passendes Angebot begonnen (3 Monate)", "Anteil"]
        note = ("Anteil der in Standortbestimmungen festgestellten Bedarfe, für die innerhalb von drei Monaten "
                "ein passendes Angebot eines Netzwerkpartners begonnen wurde („aus einer Hand“).")
        return f"<div class='cw-board'><p>{note}</p>{_table(shown)}</div>"

    def _project_panel(self) -> str:
        if not self.res.has("board_project_facts"):
            return _missing_result("Projektdaten", self.res.problems.get("board_project_facts"))
        facts = self.res.get("board_project_facts")
        person_counts = {"participants", "placements"}  # counts of people are suppressed; places or offers are not
        tiles = "".join(_tile(f"project_{r.fact}", r.label,
                              privacy.show_count(r.value) if r.fact in person_counts else fmt.number(r.value),
                              people=r.fact in person_counts)
                        for r in facts.itertuples())
        parts = [f"<div class='cw-tiles'>{tiles}</div>"]
        if self.res.has("board_participant_profiles"):
            p = self.res.get("board_participant_profiles")
            t = privacy.threshold()
            rows = pd.DataFrame({
                "Bedarf": p["label"],
                "Teilnehmende": [privacy.show_rate(n, n / s if s else 0) if n >= t else (f"< {t}" if n else "0")
                                 for n, s in zip(p["participants_n"], p["participants"])],
                "übrige Kundinnen und Kunden": [privacy.show_rate(n, n / s if s else 0) if n >= t else
                                                (f"< {t}" if n else "0") for n, s in zip(p["others_n"], p["others"])]})
            parts.append("<p>Anteil mit mittlerem oder schwerem Handlungsbedarf bei der ersten Standortbestimmung:"
                         f"</p>{_table(rows)}")
        if self.res.has("board_modules"):
            m = self.res.get("board_modules").sort_values("placements", ascending=False)
            shown = privacy.suppress(m[["name", "capacity", "placements"]].rename(columns={"name": "modul"}),
                                     ["placements"], total=True)
            shown["Auslastung"] = [fmt.percent(o) if pl >= privacy.threshold() else "–"
                                   for o, pl in zip(m["occupancy"], m["placements"])] + ["–"]
            shown.columns = ["Modul", "Plätze", "Belegungen", "Auslastung"]
            shown["Plätze"] = shown["Plätze"].map(lambda v: f"{fmt.number(v)} Plätze" if v != "" else "")
            parts.append(f"<p>Module und ihre Belegung:</p>{_table(shown)}")
        if self.res.has("board_transitions"):
            tr = self.res.get("board_transitions")
            shown = privacy.suppress(tr, ["ended", "integrated"], rate_cols={"share": ("integrated", "ended")},
                                     total=False)
            shown.columns = ["Gruppe", "geförderte Beschäftigung beendet", "danach integriert (6 Monate)", "Anteil"]
            parts.append(f"<p>Übergänge nach der geförderten Beschäftigung:</p>{_table(shown)}")
        if self.res.has("board_jobcenters"):
            j = self.res.get("board_jobcenters")
            t = privacy.threshold()
            shown = pd.DataFrame({"Jobcenter": j["name"], "im Programm": j["project"].map({True: "ja", False: "nein"}),
                                  "Integrationsquote (K2)": [privacy.show_rate(i, s, fmt.percent)
                                                             for i, s in zip(j["integrations"], j["avg_stock"])],
                                  "Integrationen": [privacy.show_count(v) for v in j["integrations"]]})
            by = j.groupby("project")[["integrations", "avg_stock"]].sum()
            summary = "; ".join(f"{'im Programm' if k else 'nicht im Programm'}: "
                                f"{privacy.show_rate(r.integrations, r.avg_stock, fmt.percent)}"
                                for k, r in by.iterrows())
            parts.append(f"<p>Jobcenter im Vergleich (Integrationsquote des letzten vollen Jahres; {summary}; "
                         f"Jobcenter mit weniger als {t} Personen im Bestand ohne Quote):</p>"
                         f"<div style='max-height:320px;overflow:auto'>{_table(shown)}</div>")
        return "<div class='cw-board' data-project='1'>" + "".join(parts) + "</div>"

    # ------------------------------------------------------------------ export
    def _make_export(self) -> None:
        self.export.value = "<span data-status='busy'>Export wird erstellt …</span>"
        self.export.value = self._export_links()

    def _export_links(self) -> str:
        tiles = self.view.get("tiles", pd.DataFrame())
        frames = {"Kennzahlen": tiles, "Entwicklung": self.view.get("trend", pd.DataFrame()),
                  "Zuweisungen": self.view.get("referrals", pd.DataFrame())}
        csv = "\n\n".join(f"# {k}\n" + v.to_csv(index=False, sep=";", decimal=",") for k, v in frames.items())
        buf = io.BytesIO()
        with pd.ExcelWriter(buf, engine="openpyxl") as xw:
            for k, v in frames.items():
                v.to_excel(xw, sheet_name=k, index=False)
        stem = f"{self.spec.key}_{self.filters['period'].value}"
        links = [_download_link(csv.encode("utf-8-sig"), f"{stem}.csv", "CSV herunterladen", "text/csv"),
                 _download_link(buf.getvalue(), f"{stem}.xlsx", "Excel herunterladen",
                                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
                 _download_link(self._png(), f"{stem}.png", "Bild (PNG) herunterladen", "image/png")]
        return "<div class='cw-board' data-export='1'>" + "".join(links) + "</div>"

    def _png(self) -> bytes:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, (a1, a2) = plt.subplots(2, 1, figsize=(8, 6), gridspec_kw={"height_ratios": [1, 2]})
        a1.axis("off")
        tiles = self.view.get("tiles", pd.DataFrame())
        for i, row in enumerate(tiles.itertuples()):
            a1.text(0.01 + (i % 3) * 0.33, 0.75 - (i // 3) * 0.5, f"{row.bezeichnung}\n{row.wert}", fontsize=9,
                    va="top")
        trend = self.view.get("trend", pd.DataFrame())
        if len(trend):
            a2.plot(np.arange(len(trend)), trend["integrationen_je_100"], color=BLUE)
            step = max(1, len(trend) // 6)
            a2.set_xticks(np.arange(0, len(trend), step), trend["monat"].iloc[::step], rotation=30, fontsize=8)
        a2.set_ylabel("Integrationen je 100 im Bestand")
        fig.suptitle(f"{self.spec.title} – {self.status.value.split('>')[1].split('<')[0]}", fontsize=10)
        out = io.BytesIO()
        fig.tight_layout()
        fig.savefig(out, format="png", dpi=110)
        plt.close(fig)
        return out.getvalue()


def project_board(key: str, ds=None) -> W.VBox:
    """The board of one project (``pankow``, ``gelsenkirchen``, ``teilhabe_nrw``), ready to display."""
    return Board(BOARDS[key], ds=ds).widget


def _card_body(spec: BoardSpec) -> str:
    try:
        ds = open_board_dataset(spec.dataset)
        if ds is None:
            return "<p>Noch keine Daten – bitte <code>make run</code> ausführen.</p>"
        meta = _meta(ds)
    except Exception as exc:  # a damaged dataset: say so, keep the other cards
        return f"<p>Daten nicht verfügbar: der Datensatz ist beschädigt ({type(exc).__name__}).</p>"
    persons, jcs = meta["persons"], meta["jobcenters"]
    kind = "synthetische Beispieldaten" if ds.is_synthetic else "importierte Daten"
    return (f"<p>{spec.subtitle}</p><p data-persons='{spec.key}'>{privacy.show_count(persons)} Personen in "
            f"{fmt.number(jcs)} {'Jobcenter' if jcs == 1 else 'Jobcentern'} ({kind})</p>"
            f"<p>Datenstand: {fmt.date(meta['data_stand'])}</p>")


def index_board() -> W.VBox:
    """Landing page: one card per project with its data stand and size."""
    cards = []
    for spec in BOARDS.values():
        body = _card_body(spec)
        cards.append(f"<div class='cw-card' data-board='{spec.key}'><h3>{spec.title}</h3>{body}"
                     f"<a href='{spec.key}.ipynb'>Dashboard öffnen →</a></div>")
    head = (f"<div class='cw-board'><div class='cw-title'>{INDEX_TITLE}</div>"
            "<div class='cw-sub'>Kennzahlen und Wirkungen der Modellprojekte für die Projektbeiräte. Alle Angaben "
            "sind zusammengefasste Zahlen ohne Personenbezug.</div></div>")
    return W.VBox([W.HTML(BOARD_CSS + head + "<div class='cw-board'>" + "".join(cards) + "</div>"
                          + _privacy_note())])
