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

__all__ = ["effects_panel", "effect_outcomes", "did_panel", "coverage_panel", "project_panel", "for_project"]

#: the outcome of effects stored before there were several (one table, integration only)
DEFAULT_OUTCOME = ("Integration innerhalb von 12 Monaten", "integration_12m")


def effect_outcomes(ds) -> list[tuple[str, str]]:
    """(German label, outcome) of every outcome with stored effects, in the stored order."""
    if not ds.has_result(R.EFFECTS):
        return []
    e = ds.result(R.EFFECTS)
    if "outcome" not in e:
        return [DEFAULT_OUTCOME]
    labels = e["outcome_label"] if "outcome_label" in e else e["outcome"]
    return list(dict.fromkeys((str(label), str(o)) for label, o in zip(labels, e["outcome"])))


def effects_panel(ds, outcome: str | None = None) -> str:
    """The effects of the measures on one outcome (default: the first stored): forest plot and a German
    sentence per measure, only measures with enough participants."""
    if not ds.has_result(R.EFFECTS):
        return missing_result("Wirkungsschätzungen", ds.problems.get(R.EFFECTS))
    outcomes = dict((o, label) for label, o in effect_outcomes(ds))
    outcome = outcome if outcome in outcomes else next(iter(outcomes), DEFAULT_OUTCOME[1])
    label = outcomes.get(outcome, DEFAULT_OUTCOME[0])
    t = privacy.threshold()
    shown = [r for r in as_rows(ds.result(R.EFFECTS)) if r.get("outcome", DEFAULT_OUTCOME[1]) == outcome
             and r["n_treated"] >= t and not fmt.is_missing(r["estimate"])]
    if not shown:
        return (f"<div class='cw-note-box' data-outcome='{outcome}'>Für keine Maßnahme gibt es genug Teilnehmende "
                f"für eine belastbare Schätzung (Ergebnis: {_html.escape(label)}).</div>")
    shown.sort(key=lambda r: r["estimate"], reverse=True)
    chart = charts.forest_chart([r["label"] for r in shown], [r["estimate"] for r in shown],
                                [r["ci_low"] for r in shown], [r["ci_high"] for r in shown],
                                f"Effekt auf: {label} (Prozentpunkte, 95-%-Intervall)")
    sentences = "".join(f"<p class='cw-sentence' data-measure='{r['measure']}'>{r['sentence']}</p>" for r in shown)
    method = ("Schätzung: doppelt robuste Gewichtung (AIPW) im Vergleich mit ähnlichen Personen ohne Maßnahme, "
              "Stichtag drei Monate nach der ersten Potenzialanalyse; Wartezeit vor der Maßnahme zählt nicht "
              "als Effekt.")
    if outcome == "receipt_end_12m":
        method += (" Ende des Leistungsbezugs: kein Bezug von Leistungen nach dem SGB II mehr, gleich aus welchem "
                   "Grund (Arbeit, andere Einkommen, Umzug).")
    if outcome == "unemployment_exit_12m":
        method += (" Ende der Arbeitslosigkeit: nur Personen, die am Stichtag arbeitslos gemeldet waren; "
                   "gezählt wird jedes Ende der Arbeitslosmeldung, gleich aus welchem Grund (Arbeit, Maßnahme, "
                   "Krankheit länger als sechs Wochen).")
    return (f"<div class='cw-board' data-outcome='{outcome}'>{chart}{sentences}<div class='cw-note-box'>{method}"
            "</div></div>")


def did_panel(ds, project: str | None = None) -> str:
    """The difference-in-differences of the board's project (a phase such as ``pankow_modell`` shows the
    comparison of the whole project it belongs to; without a project: the first stored)."""
    if not ds.has_result(R.DID):
        return missing_result("Vergleich mit anderen Jobcentern", ds.problems.get(R.DID))
    found = as_rows(ds.result(R.DID))
    if not found:
        return "<div class='cw-note-box'>Kein Projekt mit Vergleichsjobcentern.</div>"
    if project:
        own = ([r for r in found if r.get("project") == project]
               or [r for r in found if r.get("project") and project.startswith(str(r["project"]))])
        if not own:
            return (f"<div class='cw-note-box' data-missing='Vergleich'>Für das Projekt „{_html.escape(project)}“ "
                    "gibt es keinen eigenen Vergleich mit anderen Jobcentern: Es läuft in Jobcentern, die schon "
                    "zu einem anderen Projekt gehören (zum Beispiel als zusätzliche Förderung), oder es gibt keine "
                    "Jobcenter ohne das Projekt zum Vergleich.</div>")
        found = own
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


def for_project(columns: dict, project: str, stored_main: str | None) -> dict | None:
    """The rows of a per-project result that belong to ``project`` (without the project column); None when
    the result holds nothing for it. A result stored before there were several projects is the main one's."""
    if R.PROJECT_COLUMN not in columns:
        return columns if project == stored_main else None
    keep = [i for i, p in enumerate(columns[R.PROJECT_COLUMN]) if p == project]
    if not keep:
        return None
    return {k: [v[i] for i in keep] for k, v in columns.items() if k != R.PROJECT_COLUMN}


def project_panel(ds, spec, cube) -> str:
    if spec.custom and not spec.project:
        return ("<div class='cw-note-box' data-missing='Projektdaten'>Für dieses Board ist kein Modellprojekt "
                "angegeben (Parameter <code>project</code> im Board-Notebook): keine Projektdaten.</div>")
    if not ds.has_result(R.BOARD_PROJECT_FACTS):
        return missing_result("Projektdaten", ds.problems.get(R.BOARD_PROJECT_FACTS))
    meta = ds.meta()
    project = spec.project or meta.get("project")
    person_counts = {"participants", "placements", "caseload"}  # counts of people are protected; places are not
    try:
        facts = for_project(ds.result(R.BOARD_PROJECT_FACTS), project, meta.get("project"))
        if facts is None:
            stored = ", ".join(f"„{_html.escape(str(p))}“" for p in meta.get("projects") or [meta.get("project")])
            return (f"<div class='cw-note-box' data-missing='Projektdaten'>Für das Projekt „{_html.escape(project)}“ "
                    f"liegen keine Projektdaten vor (aufbereitet für: {stored}). Bitte die Analyse neu laufen "
                    "lassen (<code>make run</code>).</div>")
        rows = as_rows(facts)
        tiles = "".join(tile(f"project_{r['fact']}", r["label"], privacy.show_protected(
            privacy.protected_columns({k: [v] for k, v in r.items()}, ["value"], False)["value"][0])
            if r["fact"] in person_counts
            else fmt.number(r["value"]), people=r["fact"] in person_counts) for r in rows)
        parts = [f"<div class='cw-tiles'>{tiles}</div>"]
        if not {"participants", "caseload"} & {r["fact"] for r in rows}:
            parts.append("<p class='cw-note-box'>Diesem Projekt sind in den Daten keine Teilnahmen und keine "
                         "Angebote zugeordnet; gezeigt werden die Plätze und Jobcenter aus der Projekttabelle.</p>")
        for name, part in ((R.BOARD_PARTICIPANT_PROFILES, profiles_part),
                           (R.BOARD_MODULES, modules_part), (R.BOARD_TRANSITIONS, transitions_part),
                           (R.BOARD_JOBCENTERS, lambda j: jobcenters_part(j, cube))):
            if ds.has_result(name):
                own = ds.result(name) if name == R.BOARD_TRANSITIONS else for_project(ds.result(name), project,
                                                                                       meta.get("project"))
                if own:
                    parts.append(part(own))
    except privacy.MissingCellKeys:
        return missing_result("Projektdaten", "ohne Zellschlüssel, bitte neu aufbereiten")
    return f"<div class='cw-board' data-project='{_html.escape(project)}'>" + "".join(parts) + "</div>"


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
