"""Names, definitions and the regulation's wording of the key figures (ground floor: imports nothing).

The codes are the official ones of the Verordnung zur Festlegung der Kennzahlen nach § 48a SGB II
(12.08.2010, BGBl. I S. 1152, as amended on 15.03.2019, BGBl. I S. 339), in lower case. The German
name and definition are what boards show (docs/kpi.md quotes the regulation beside each).

>>> KPI_DEFINITIONS["k3"][0]
'Veränderung des Bestands an Langzeitleistungsbeziehenden (K3)'
>>> KPI_DEFINITIONS["k2e3"][0]
'Kontinuierliche Beschäftigung nach Integration (K2E3)'
"""

from __future__ import annotations

__all__ = ["KPI_DEFINITIONS", "OFFICIAL_CODES", "BOARD_HEAD", "NOTES", "NEW_16E_FROM"]

#: Heading of every board section with these figures: own calculations from case data, not BA statistics.
BOARD_HEAD = "Kennzahlen in Anlehnung an § 48a SGB II (eigene Berechnung)"

#: The Teilhabechancengesetz replaced § 16e SGB II ("Förderung von Arbeitsverhältnissen") by
#: "Eingliederung von Langzeitarbeitslosen" from 01.01.2019; only starts under the new version are
#: "Beschäftigung begleitende Leistungen" (VO § 2 Abs. 2 Nr. 2 as amended 15.03.2019).
NEW_16E_FROM = "2019-01-01"

_ELB = ("Integration: Aufnahme einer sozialversicherungspflichtigen Beschäftigung, einer voll qualifizierenden "
        "Ausbildung oder einer Selbstständigkeit durch eine Person im Bestand der erwerbsfähigen "
        "Leistungsberechtigten (im Vormonat im Leistungsbezug oder im Monat zugegangen); höchstens eine je "
        "Person und Monat; mit Beschäftigung begleitenden Leistungen geförderte Aufnahmen (§ 16b, § 16e ab "
        "2019) zählen, Arbeitsgelegenheiten, § 16i, Programmbeschäftigung und § 16e bis 31.12.2018 nicht.")

KPI_DEFINITIONS: dict[str, tuple[str, str]] = {
    # ---- goal 1: Verringerung der Hilfebedürftigkeit (VO § 4)
    "k1": ("Veränderung der Summe der Leistungen zum Lebensunterhalt (K1)",
           "Summe der Leistungen zum Lebensunterhalt (ohne Unterkunft und Heizung) im Bezugsmonat geteilt durch "
           "die Summe im Bezugsmonat des Vorjahres, als Veränderung in Prozent. Nur mit eingelesenen "
           "Leistungshöhen."),
    "k1e1": ("Veränderung der Summe der Leistungen für Unterkunft und Heizung (K1E1)",
             "Summe der Leistungen für Unterkunft und Heizung im Bezugsmonat geteilt durch die Summe im "
             "Bezugsmonat des Vorjahres, als Veränderung in Prozent. Nur mit eingelesenen Leistungshöhen."),
    "k1e2": ("Veränderung der Zahl der erwerbsfähigen Leistungsberechtigten (K1E2)",
             "Zahl der erwerbsfähigen Leistungsberechtigten im Bezugsmonat (letzter Monat des Zeitraums) geteilt "
             "durch ihre Zahl im Bezugsmonat des Vorjahres, als Veränderung in Prozent."),
    "k1e3": ("Durchschnittliche Zugangsrate der erwerbsfähigen Leistungsberechtigten (K1E3)",
             "Zugänge (im Monat, nicht im Vormonat im Leistungsbezug) geteilt durch den Bestand im Monat; "
             "Durchschnitt über die Monate des Zeitraums."),
    "k1e4": ("Durchschnittliche Abgangsrate der erwerbsfähigen Leistungsberechtigten (K1E4)",
             "Abgänge (im Vormonat, nicht mehr im Monat im Leistungsbezug) geteilt durch den Bestand im Vormonat; "
             "Durchschnitt über die Monate des Zeitraums."),
    # ---- goal 2: Verbesserung der Integration in Erwerbstätigkeit (VO § 5)
    "k2": ("Integrationsquote (K2)",
           "Summe der Integrationen im Zeitraum geteilt durch den durchschnittlichen Bestand an erwerbsfähigen "
           "Leistungsberechtigten. " + _ELB),
    "k2e1": ("Quote der Eintritte in geringfügige Beschäftigung (K2E1)",
             "Eintritte erwerbsfähiger Leistungsberechtigter in geringfügige Beschäftigung (Minijob; höchstens "
             "einer je Person und Monat) geteilt durch den durchschnittlichen Bestand."),
    "k2e2": ("Quote der Eintritte in öffentlich geförderte Beschäftigung (K2E2)",
             "Eintritte erwerbsfähiger Leistungsberechtigter in öffentlich geförderte Beschäftigung (§ 16i, "
             "Programme wie Soziale Teilhabe, § 16e bis 31.12.2018, Arbeitsgelegenheiten) geteilt durch den "
             "durchschnittlichen Bestand."),
    "k2e3": ("Kontinuierliche Beschäftigung nach Integration (K2E3)",
             "Integrationen, nach denen die Person an jedem der zwölf folgenden Monatsenden "
             "sozialversicherungspflichtig beschäftigt ist, geteilt durch die Integrationen; nur Integrationen, "
             "deren zwölf Folgemonate in den Daten liegen."),
    "k2e4": ("Integrationsquote der Alleinerziehenden (K2E4)",
             "Integrationen Alleinerziehender geteilt durch den durchschnittlichen Bestand an alleinerziehenden "
             "erwerbsfähigen Leistungsberechtigten."),
    # ---- goal 3: Vermeidung von langfristigem Leistungsbezug (VO § 6)
    "k3": ("Veränderung des Bestands an Langzeitleistungsbeziehenden (K3)",
           "Zahl der Langzeitleistungsbeziehenden (in mindestens 21 der letzten 24 Monate im Leistungsbezug) im "
           "Bezugsmonat (letzter Monat des Zeitraums) geteilt durch ihre Zahl im Bezugsmonat des Vorjahres, als "
           "Veränderung in Prozent."),
    "k3e1": ("Integrationsquote der Langzeitleistungsbeziehenden (K3E1)",
             "Integrationen von Personen, die im Monat der Integration Langzeitleistungsbeziehende sind, geteilt "
             "durch den durchschnittlichen Bestand an Langzeitleistungsbeziehenden; gebildet wie K2."),
    "k3e2": ("Aktivierungsquote der Langzeitleistungsbeziehenden (K3E2)",
             "Langzeitleistungsbeziehende mit einer Maßnahme der aktiven Arbeitsförderung (eingelesene "
             "Regelinstrumente) im Bezugsmonat geteilt durch alle Langzeitleistungsbeziehenden im Bezugsmonat."),
    "k3e3": ("Durchschnittliche Zugangsrate der Langzeitleistungsbeziehenden (K3E3)",
             "Personen, die im Monat Langzeitleistungsbeziehende wurden, geteilt durch den Bestand an "
             "Langzeitleistungsbeziehenden im Monat; Durchschnitt über die Monate des Zeitraums."),
    "k3e4": ("Durchschnittliche Abgangsrate der Langzeitleistungsbeziehenden (K3E4)",
             "Langzeitleistungsbeziehende des Vormonats, die es im Monat nicht mehr sind, geteilt durch den "
             "Bestand im Vormonat; Durchschnitt über die Monate des Zeitraums."),
    # ---- parts and the project's own figures
    "integrations": ("Integrationen", _ELB),
    "avg_stock": ("Durchschnittlicher Bestand erwerbsfähiger Leistungsberechtigter",
                  "Mittel der Monatsbestände: Personen mit Leistungsbezug an mindestens einem Tag des Monats."),
    "ltr_integrations": ("Integrationen von Langzeitleistungsbeziehenden",
                         "Integrationen von Personen, die im Monat der Integration in mindestens 21 der letzten "
                         "24 Monate Leistungen bezogen."),
    "avg_ltr_stock": ("Durchschnittlicher Bestand Langzeitleistungsbeziehender",
                      "Mittel der Monatsbestände der Personen mit mindestens 21 Monaten Leistungsbezug in den "
                      "letzten 24 Monaten."),
    "need_ending": ("Bedarfsdeckende Integrationen",
                    "Integrationen, nach denen die Person drei Monate später keine Leistungen nach dem SGB II "
                    "mehr bezieht (abgeleitet aus den Leistungszeiträumen, keine amtliche Kennzahl); nur "
                    "Integrationen, deren dritter Folgemonat in den Daten liegt."),
    "lza": ("Langzeitarbeitslose (§ 18 SGB III)",
            "Personen, die am letzten Tag des Bezugsmonats arbeitslos gemeldet sind, seit mindestens einem Jahr "
            "(364 Tagen); Unterbrechungen von bis zu sechs Wochen zählen nicht als Ende (§ 18 Abs. 1 Satz 2 "
            "SGB III; eingelesene Arbeitslosigkeitszeiten); nicht dasselbe wie "
            "Langzeitleistungsbeziehende, keine Kennzahl nach § 48a SGB II."),
    "participants": ("Teilnehmende", "Personen mit einer Projektteilnahme im Zeitraum."),
    "caseload": ("Teilnehmende in Betreuung (Projekt)",
                 "Personen, deren Teilnahme am Projekt am Stichtag läuft (begonnen und noch nicht beendet), jede "
                 "Person einmal; keine Kennzahl nach § 48a SGB II. Nicht dasselbe wie alle, die seit Projektbeginn "
                 "je teilgenommen haben."),
    "occupancy": ("Auslastung", "Belegte Plätze im Monatsmittel geteilt durch die angebotenen Plätze."),
    "referrals": ("Vermittlungen", "Vermittlungen an Netzwerkpartner (Angebote nach § 16a SGB II und andere); "
                  "begonnen, abgeschlossen, abgebrochen."),
    "contacts_per_customer": ("Kontakte je Kundin/Kunde", "Kontakte im Zeitraum geteilt durch den "
                              "durchschnittlichen Bestand."),
}

#: The official § 48a codes among the keys, in the regulation's order.
OFFICIAL_CODES = ("k1", "k1e1", "k1e2", "k1e3", "k1e4", "k2", "k2e1", "k2e2", "k2e3", "k2e4",
                  "k3", "k3e1", "k3e2", "k3e3", "k3e4")

#: Why a figure has no value (German, shown where the number would be).
NOTES = {
    "no_amounts": "Keine Angabe: Leistungshöhen (Tabelle benefit_amounts) fehlen in den Daten.",
    "amounts_outside": "Keine Angabe: die Leistungshöhen (Tabelle benefit_amounts) reichen nicht über den "
                       "Bezugsmonat und den Bezugsmonat des Vorjahres.",
    "kdu_missing": "Keine Angabe: für einen Teil der Personen fehlen im Bezugsmonat oder im Bezugsmonat des "
                   "Vorjahres die Leistungen für Unterkunft und Heizung.",
    "no_instruments": "Keine Angabe: Regelinstrumente der Arbeitsförderung (Tabelle instruments) fehlen in "
                      "den Daten.",
    "no_unemployment": "Keine Angabe: Zeiten registrierter Arbeitslosigkeit (Tabelle unemployment) fehlen in "
                       "den Daten; Langzeitleistungsbeziehende sind keine Langzeitarbeitslosen.",
    "no_prior_year": "Keine Angabe: der Bezugsmonat des Vorjahres liegt vor dem Beginn der Daten oder hat "
                     "keinen Bestand.",
    "no_follow_up": "Keine Angabe: für keine Integration des Zeitraums liegen die nötigen Folgemonate in den "
                    "Daten.",
    "empty": "Keine Angabe: der Nenner ist 0.",
}
