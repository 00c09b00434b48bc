"""The result panels of a board: the project, the effects, the comparison with other jobcenters, coverage.

Each panel reads stored results of a dataset (:class:`casework.boards.results.BoardData`) and returns
German HTML; every count goes through :mod:`casework.privacy` before it is shown. The board object
(:mod:`casework.boards.app`) lays them out.
"""

from __future__ import annotations

import datetime as dt
import html as _html

from casework import fmt, privacy
from casework.boards import charts
from casework.boards import spec as R
from casework.boards.parts import as_rows, missing_result, renamed, table, tile

__all__ = ["effects_panel", "did_panel", "coverage_panel", "project_panel"]


def effects_panel(ds) -> str:
    if not ds.has_result(R.EFFECTS):
        return missing_result("Wirkungsschätzungen", ds.problems.get(R.EFFECTS))
    t = privacy.threshold()
    shown = [r for r in as_rows(ds.result(R.EFFECTS))
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


def did_panel(ds) -> str:
    if not ds.has_result(R.DID):
        return missing_result("Vergleich mit anderen Jobcentern", ds.problems.get(R.DID))
    found = as_rows(ds.result(R.DID))
    if not found:
        return "<div class='cw-note-box'>Kein Projekt mit Vergleichsjobcentern.</div>"
    r = found[0]
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


def coverage_panel(ds) -> str:
    if not ds.has_result(R.NEEDS_COVERAGE):
        return missing_result("Bedarfsdeckung", ds.problems.get(R.NEEDS_COVERAGE))
    c = ds.result(R.NEEDS_COVERAGE)
    c = {k: c[k] for k in ("label", "needs", "covered", "share", "needs_key", "covered_key") if k in c}
    try:
        shown = privacy.protect_table(c, ["needs", "covered"], rate_cols={"share": ("covered", "needs")},
                                      total=False)
    except privacy.MissingCellKeys:
        return missing_result("Bedarfsdeckung", "ohne Zellschlüssel, bitte neu aufbereiten")
    shown = renamed(shown, ["Bedarf", "festgestellt", "passendes Angebot begonnen (3 Monate)", "Anteil"])
    note = ("Anteil der in Potenzialanalysen festgestellten Bedarfe, für die innerhalb von drei Monaten "
            "ein passendes Angebot eines Netzwerkpartners begonnen wurde („aus einer Hand“).")
    return f"<div class='cw-board'><p>{note}</p>{table(shown)}</div>"


def project_panel(ds, spec, cube) -> str:
    if spec.custom and not spec.project:
        return ("<div class='cw-note-box' data-missing='Projektdaten'>Für dieses Board ist kein Modellprojekt "
                "angegeben (Parameter <code>project</code> im Board-Notebook): keine Projektdaten.</div>")
    stored = ds.meta().get("project")
    if spec.custom and stored and stored != spec.project:
        return (f"<div class='cw-note-box' data-missing='Projektdaten'>Die gespeicherten Projektdaten gehören "
                f"zum Projekt „{_html.escape(stored)}“, nicht zu „{_html.escape(spec.project)}“; sie "
                "werden deshalb nicht gezeigt.</div>")
    if not ds.has_result(R.BOARD_PROJECT_FACTS):
        return missing_result("Projektdaten", ds.problems.get(R.BOARD_PROJECT_FACTS))
    person_counts = {"participants", "placements"}  # counts of people are protected; places or offers are not
    try:
        facts = as_rows(ds.result(R.BOARD_PROJECT_FACTS))
        tiles = "".join(tile(f"project_{r['fact']}", r["label"], privacy.show_protected(
            privacy.protected_columns({k: [v] for k, v in r.items()}, ["value"], False)["value"][0])
            if r["fact"] in person_counts
            else fmt.number(r["value"]), people=r["fact"] in person_counts) for r in facts)
        parts = [f"<div class='cw-tiles'>{tiles}</div>"]
        for name, part in ((R.BOARD_PARTICIPANT_PROFILES, profiles_part),
                           (R.BOARD_MODULES, modules_part), (R.BOARD_TRANSITIONS, transitions_part),
                           (R.BOARD_JOBCENTERS, lambda j: jobcenters_part(j, cube))):
            if ds.has_result(name):
                parts.append(part(ds.result(name)))
    except privacy.MissingCellKeys:
        return missing_result("Projektdaten", "ohne Zellschlüssel, bitte neu aufbereiten")
    return "<div class='cw-board' data-project='1'>" + "".join(parts) + "</div>"


def profiles_part(p: dict) -> str:
    counts = ["participants_n", "others_n", "participants_total", "others_total"]
    v = privacy.protected_columns(p, counts, secondary=False)

    def shares(group):
        return [privacy.show_protected(n) if n is None else privacy.show_protected_rate(n, size)
                for n, size in zip(v[f"{group}_n"], v[f"{group}_total"])]

    rows = {"Bedarf": p["label"], "Teilnehmende": shares("participants"),
            "übrige Kundinnen und Kunden": shares("others")}
    return ("<p>Anteil mit mittlerem oder schwerem Handlungsbedarf bei der ersten Potenzialanalyse:"
            f"</p>{table(rows)}")


def modules_part(m: dict) -> str:
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
    shown = renamed(shown, ["Modul", "Plätze", "Belegungen", "Auslastung"])
    return f"<p>Module und ihre Belegung:</p>{table(shown)}"


def transitions_part(tr: dict) -> str:
    tr = {k: v for k, v in tr.items() if k != "share"}
    shown = privacy.protect_table(tr, ["ended", "integrated"], rate_cols={"share": ("integrated", "ended")},
                                  total=False)
    shown = renamed(shown, ["Gruppe", "geförderte Beschäftigung beendet", "danach integriert (6 Monate)",
                             "Anteil"])
    return f"<p>Übergänge nach der geförderten Beschäftigung:</p>{table(shown)}"


def jobcenters_part(j: dict, cube) -> str:
    """K2 of the last full year per jobcenter, from the same protected cells as the tiles (a jobcenter shows
    here exactly what the tiles show for it)."""
    t = privacy.threshold()
    if cube is None:
        return ""
    year = 1970 + int(cube.months[-1]) // 12 - 1
    mask = cube.mask(dt.date(year, 1, 1), dt.date(year, 12, 1))
    labels, values = cube.table("jc_id", ["integrations", "stock"], mask, per={"stock": 12}, total=False)
    at = {jc: i for i, jc in enumerate(labels["jc_id"])}
    ints = [values["integrations"][at[jc]] if jc in at else 0 for jc in j["jc_id"]]
    stock = [values["stock"][at[jc]] if jc in at else 0 for jc in j["jc_id"]]
    types = j.get("comparison_type") or ["ohne Vergleichstyp"] * len(j["jc_id"])
    parts = []
    for ctype in sorted(set(types)):
        rows = [i for i, c in enumerate(types) if c == ctype]
        groups = []
        for member in sorted({bool(j["project"][i]) for i in rows}, reverse=True):
            group = mask & cube.mask(jc_id=[j["jc_id"][i] for i in rows if bool(j["project"][i]) == member])
            rate = privacy.show_protected_rate(cube.count("integrations", group),
                                               cube.count("stock", group, per=12))
            groups.append(f"{'im Programm' if member else 'nicht im Programm'}: {rate}")
        parts.append(f"<p><b>Vergleichstyp {_html.escape(str(ctype))}</b> ({len(rows)} Jobcenter; "
                     f"{'; '.join(groups)})</p>" + table({
                         "Jobcenter": [j["name"][i] for i in rows],
                         "im Programm": ["ja" if j["project"][i] else "nein" for i in rows],
                         "Integrationsquote (K2)": [privacy.show_protected_rate(ints[i], stock[i]) for i in rows],
                         "Integrationen": [privacy.show_protected(ints[i]) for i in rows]}))
    return (f"<p>Jobcenter im Vergleich innerhalb ihres SGB-II-Vergleichstyps (Integrationsquote {year}; "
            f"Quoten nur bei mindestens {t} Integrationen und {t} Personen im Bestand):</p>"
            f"<div style='max-height:420px;overflow:auto' tabindex='0' role='region' "  # keyboard can scroll it
            f"aria-label='Jobcenter im Vergleich'>{''.join(parts)}</div>")
