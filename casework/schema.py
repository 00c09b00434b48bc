"""The case data model: tables, fields, vocabularies and validation.

One vocabulary for the whole project lives here. Table and column names are
API (a rename is a breaking change); every other module imports its names
from this module instead of spelling them again.

The model follows ``docs/architecture.md``: jobcenters, projects, partners,
offers, persons, assessments, plans, plan_steps, contacts, referrals, enrolments,
employment and benefits, and the optional tables (``OPTIONAL_TABLES``: benefit_amounts,
unemployment, instruments, caseworkers, assignments) that real exports may lack.
All keys are pseudonyms (strings). Dates are
``datetime64[ns]`` (day precision). Needs are ordinal severities
0 (none), 1 (moderate), 2 (serious).

Examples
--------
>>> from casework import schema
>>> schema.TABLE_ORDER[:3]
['jobcenters', 'projects', 'partners']
>>> "unemployment" in schema.OPTIONAL_TABLES
True
>>> schema.TABLES["persons"].primary_key
'person_id'
>>> schema.MEASURES["debt_counselling"]
'Schuldnerberatung'
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = [
    "Field",
    "Table",
    "TABLES",
    "TABLE_ORDER",
    "SCHEMA_VERSION",
    "KEY_GROUPS",
    "SUB_NEEDS",
    "NEEDS",
    "NEED_COLUMNS",
    "SUB_NEED_GROUP",
    "PROFILLAGEN",
    "INTEGRATION_NEAR",
    "MEASURES",
    "MEASURE_NEED",
    "PARTNER_KINDS",
    "EMPLOYMENT_KINDS",
    "INTEGRATION_KINDS",
    "FUNDED_KINDS",
    "INSTRUMENT_KINDS",
    "OPTIONAL_TABLES",
    "REFERRAL_STATUS",
    "CONTACT_KINDS",
    "PLAN_KINDS",
    "STEP_STATUS",
    "SEX",
    "CITIZENSHIP",
    "GERMAN_LEVEL",
    "SCHOOL",
    "VOCATIONAL",
    "REGION_TYPES",
    "RESULT_COLUMNS",
    "validate",  # noqa: F822 (loaded on first use, see __getattr__)
    "ValidationReport",  # noqa: F822
    "ValidationIssue",  # noqa: F822
    "data_dictionary",  # noqa: F822 - loaded on first use (module __getattr__)
]

SCHEMA_VERSION = "1.0"

# --------------------------------------------------------------------------
# Vocabularies: English keys (stored) -> German labels (shown to boards)
# --------------------------------------------------------------------------

#: The four key groups of the BA 4-phase model (DOMAIN.md 1.2).
KEY_GROUPS = {
    "qualification": "Qualifikation",
    "health": "Leistungsfähigkeit",
    "motivation": "Motivation",
    "framework": "Rahmenbedingungen",
}

#: Sub-needs recorded in an assessment, with German labels.
SUB_NEEDS = {
    "childcare": "Kinderbetreuung",
    "care_duties": "Pflege von Angehörigen",
    "housing": "Wohnen",
    "debt": "Schulden",
    "addiction": "Sucht",
    "mobility": "Mobilität",
    "language": "Sprache",
    "psychosocial": "Psychosoziale Lage",
}

#: Which key group a sub-need belongs to (Sauer, SGB II §16 Rz. 47a/b).
SUB_NEED_GROUP = {
    "childcare": "framework",
    "care_duties": "framework",
    "housing": "framework",
    "debt": "framework",
    "mobility": "framework",
    "addiction": "health",
    "psychosocial": "health",
    "language": "qualification",
}

NEEDS = {**KEY_GROUPS, **SUB_NEEDS}
#: Assessment column for each need: ``need_<key>``.
NEED_COLUMNS = {key: f"need_{key}" for key in NEEDS}

#: The six Profillagen, integration-near first (DOMAIN.md 1.4, 1.13).
PROFILLAGEN = {
    "markt": "Marktprofil",
    "aktivierung": "Aktivierungsprofil",
    "foerder": "Förderprofil",
    "entwicklung": "Entwicklungsprofil",
    "stabilisierung": "Stabilisierungsprofil",
    "unterstuetzung": "Unterstützungsprofil",
}
INTEGRATION_NEAR = ("markt", "aktivierung", "foerder")

#: Network measure kinds. Keys are used in referrals (via offers) and in
#: ground_truth.json; labels are what boards see.
MEASURES = {
    "debt_counselling": "Schuldnerberatung",
    "addiction_counselling": "Suchtberatung",
    "childcare": "Kinderbetreuung",
    "psychosocial_care": "Psychosoziale Betreuung",
    "health_module": "Gesundheitsmodul",
    "neighbourhood_centre": "Angebot im Stadtteilzentrum",
    "volunteering": "Freiwilligenarbeit",
    "self_help": "Selbsthilfegruppe",
    "funded_employment": "Geförderte Beschäftigung mit Coaching",
    "assisted_placement": "Assistierte Vermittlung",
    "mobility_support": "Mobilitätshilfe (ÖPNV, Kommune)",
    "rehabilitation": "Berufliche Rehabilitation (Reha-Träger)",
    "housing_support": "Wohnungssicherung (Kommune)",
}

#: The need each measure kind addresses (for needs coverage). Neighbourhood centres offer social participation,
#: counselling and low-threshold contact (seed 002), not mobility: Psychosoziale Lage. Publicly funded employment
#: builds work habits and a daily structure (key group Motivation of the 4-phase model), it is no qualification.
#: Mobility offers come from the municipality (seed 000: "Mobilität im öffentlichen Nahverkehr").
MEASURE_NEED = {
    "debt_counselling": "debt",
    "addiction_counselling": "addiction",
    "childcare": "childcare",
    "psychosocial_care": "psychosocial",
    "health_module": "health",
    "neighbourhood_centre": "psychosocial",
    "volunteering": "motivation",
    "self_help": "psychosocial",
    "funded_employment": "motivation",
    "assisted_placement": "motivation",
    "mobility_support": "mobility",
    "rehabilitation": "health",
    "housing_support": "housing",
}

PARTNER_KINDS = {
    "debt_counselling": "Schuldnerberatung",
    "addiction_counselling": "Suchtberatung",
    "childcare": "Kinderbetreuung",
    "psychosocial_care": "Psychosoziale Betreuung",
    "health_insurer": "Gesundheit/Krankenkasse",
    "rehabilitation": "Reha-Träger",
    "neighbourhood_centre": "Stadtteilzentrum",
    "volunteer_agency": "Freiwilligenagentur",
    "self_help": "Selbsthilfe",
    "education_provider": "Bildungsträger",
    "employment_provider": "Beschäftigungsträger",
    "employer": "Arbeitgeber",
    "municipality": "Kommune/Mobilität",
}

EMPLOYMENT_KINDS = {
    "svb": "Sozialversicherungspflichtige Beschäftigung",
    "minijob": "Minijob",
    "training": "Ausbildung",
    "self_employed": "Selbstständigkeit",
    "funded_16i": "Teilhabe am Arbeitsmarkt (§ 16i SGB II)",
    "funded_16e": "Geförderte Beschäftigung nach § 16e SGB II (bis 2018 Förderung von Arbeitsverhältnissen, ab 2019 "
                  "Eingliederung von Langzeitarbeitslosen)",
    "funded_programme": "Öffentlich geförderte Beschäftigung (Programm)",
}
#: Kinds whose start always counts as an integration in the § 48a key figures (VO § 5 Abs. 1): svB, fully
#: qualifying training, self-employment. A ``funded_16e`` start counts too from 01.01.2019 (the new § 16e is a
#: Beschäftigung begleitende Leistung; :data:`casework.kpi_defs.NEW_16E_FROM`).
INTEGRATION_KINDS = ("svb", "training", "self_employed")
#: Funded employment kinds: § 16i and programme places are never an integration, § 16e only from 2019.
FUNDED_KINDS = ("funded_16i", "funded_16e", "funded_programme")

#: Regular instruments of labour-market policy (optional table ``instruments``): the main competing
#: treatments beside the network's offers, and the "Maßnahmen der aktiven Arbeitsförderung" of K3E2.
INSTRUMENT_KINDS = {
    "fbw": "Förderung der beruflichen Weiterbildung (FbW, §§ 81 ff. SGB III)",
    "sgb3_45": "Maßnahme zur Aktivierung und beruflichen Eingliederung (§ 45 SGB III)",
    "egz": "Eingliederungszuschuss (EGZ, §§ 88 ff. SGB III)",
    "agh": "Arbeitsgelegenheit (AGH, § 16d SGB II)",
    "16i": "Teilhabe am Arbeitsmarkt (§ 16i SGB II)",
    "16e": "Eingliederung von Langzeitarbeitslosen (§ 16e SGB II)",
}

REFERRAL_STATUS = {
    "referred": "vermittelt",
    "started": "begonnen",
    "completed": "abgeschlossen",
    "dropped_out": "abgebrochen",
    "no_show": "nicht angetreten",
}
CONTACT_KINDS = {
    "counselling": "Beratung",
    "home_visit": "Hausbesuch",
    "group": "Gruppe",
    "neighbourhood": "Sozialraum",
}
PLAN_KINDS = {
    "eingliederungsvereinbarung": "Eingliederungsvereinbarung",
    "kooperationsplan": "Kooperationsplan",
}
STEP_STATUS = {"open": "offen", "done": "erledigt", "cancelled": "abgebrochen"}
SEX = {"f": "weiblich", "m": "männlich", "d": "divers"}
#: Age at entry of an erwerbsfähige leistungsberechtigte Person (SGB II: 15 to the statutory pension age, 67)
ELB_AGE = (15, 67)
CITIZENSHIP = {"german": "deutsch", "eu": "EU-Ausland", "non_eu": "Drittstaaten"}
GERMAN_LEVEL = {"native": "Muttersprache", "good": "gut", "basic": "Grundkenntnisse", "none": "keine"}
SCHOOL = {
    "none": "ohne Schulabschluss",
    "lower": "Hauptschulabschluss",
    "middle": "Mittlere Reife",
    "upper": "(Fach-)Abitur",
}
VOCATIONAL = {"none": "ohne Berufsabschluss", "vocational": "Berufsabschluss", "academic": "Hochschulabschluss"}
REGION_TYPES = {
    "city": "Großstadt",
    "urban_district": "Städtischer Kreis",
    "rural_district": "Ländlicher Kreis",
}

#: Tidy column names shared by every result frame (STYLE.md habit 7).
RESULT_COLUMNS = ("estimate", "se", "ci_low", "ci_high", "p_value", "n", "n_treated", "n_control")

# --------------------------------------------------------------------------
# Table definitions
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Field:
    """One column of a table.

    ``kind`` is one of ``"key"`` (pseudonymous string id), ``"string"``,
    ``"int"``, ``"float"``, ``"bool"``, ``"date"`` or ``"category"``.
    ``required=True``: the column must be present and every value filled.
    ``required=False``: the column may be absent altogether or have empty values
    (real exports lack many of them); analyses that need it say which they left out.
    """

    name: str
    kind: str
    label: str
    meaning: str
    required: bool = True
    allowed: tuple | None = None
    min: float | None = None
    max: float | None = None
    ref: str | None = None  # "table.column" this field must point to


@dataclass(frozen=True)
class Table:
    """A table of the case data model."""

    name: str
    label: str
    meaning: str
    primary_key: str | None
    fields: tuple[Field, ...] = field(default_factory=tuple)

    @property
    def columns(self) -> list[str]:
        """Column names in schema order."""
        return [f.name for f in self.fields]

    def field(self, name: str) -> Field:
        """Return the field called ``name`` (KeyError if unknown)."""
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(f"table {self.name!r} has no column {name!r}")


def _need_fields() -> tuple[Field, ...]:
    out = []
    for key, label in KEY_GROUPS.items():
        out.append(Field(NEED_COLUMNS[key], "int", f"Handlungsbedarf {label}",
                         f"Severity of the need in key group {label}: 0 none, 1 moderate, 2 serious",
                         min=0, max=2))
    for key, label in SUB_NEEDS.items():
        group = KEY_GROUPS[SUB_NEED_GROUP[key]]
        out.append(Field(NEED_COLUMNS[key], "int", f"Bedarf {label}",
                         f"Severity of the sub-need {label} (key group {group}): 0 none, 1 moderate, 2 serious",
                         min=0, max=2))
    return tuple(out)


def _k(name, label, meaning, ref=None, required=True):
    return Field(name, "key", label, meaning, required=required, ref=ref)


def _cat(name, label, meaning, vocab, required=True):
    return Field(name, "category", label, meaning, required=required, allowed=tuple(vocab))


def _d(name, label, meaning, required=True):
    return Field(name, "date", label, meaning, required=required)


_TABLE_LIST = [
    Table("jobcenters", "Jobcenter", "One jobcenter (gemeinsame Einrichtung or zkT).", "jc_id", (
        _k("jc_id", "Jobcenter-Kennung", "Pseudonymous jobcenter key"),
        Field("name", "string", "Name", "Name of the jobcenter"),
        Field("land", "string", "Bundesland", "Federal state"),
        _cat("region_type", "Regionstyp", "Type of region", REGION_TYPES),
        Field("comparison_type", "string", "Vergleichstyp", "SGB II comparison type (cluster of similar jobcenters)"),
    )),
    Table("projects", "Projekte", "A model project or programme run by a jobcenter.", "project_id", (
        _k("project_id", "Projekt-Kennung", "Project key"),
        _k("jc_id", "Jobcenter", "Jobcenter running the project", ref="jobcenters.jc_id"),
        Field("name", "string", "Projektname", "Name of the project"),
        _d("start", "Beginn", "First day of the project"),
        _d("end", "Ende", "Last day of the project (empty while running)", required=False),
        Field("target_group", "string", "Zielgruppe", "Target group in plain words"),
        Field("places", "int", "Plätze", "Planned places or participants", min=0),
    )),
    Table("partners", "Netzwerkpartner", "A partner of the local cooperation network.", "partner_id", (
        _k("partner_id", "Partner-Kennung", "Partner key"),
        _k("jc_id", "Jobcenter", "Jobcenter whose network the partner belongs to", ref="jobcenters.jc_id"),
        Field("name", "string", "Name", "Name of the partner organisation"),
        _cat("kind", "Art des Partners", "Kind of partner", PARTNER_KINDS),
    )),
    Table("offers", "Angebote", "A network measure on offer (e.g. one module).", "offer_id", (
        _k("offer_id", "Angebots-Kennung", "Offer key"),
        _k("partner_id", "Partner", "Partner delivering the offer", ref="partners.partner_id"),
        _k("project_id", "Projekt", "Project the offer belongs to (empty if none)",
           ref="projects.project_id", required=False),
        Field("name", "string", "Angebot", "Name of the offer"),
        _cat("measure", "Maßnahmeart", "Kind of measure", MEASURES),
        _cat("need", "Adressierter Bedarf", "The need the offer addresses", NEEDS),
        Field("capacity", "int", "Plätze", "Places available at any one time", min=0),
    )),
    Table("persons", "Personen", "A customer (erwerbsfähige leistungsberechtigte Person).", "person_id", (
        _k("person_id", "Personen-Pseudonym", "Pseudonymous person key"),
        _k("jc_id", "Jobcenter", "Responsible jobcenter", ref="jobcenters.jc_id"),
        _d("entry_date", "Zugang", "Date of entry into SGB II receipt (current spell)"),
        Field("birth_year", "int", "Geburtsjahr", "Year of birth", min=1940, max=2010),
        _cat("sex", "Geschlecht", "Sex", SEX),
        _cat("citizenship", "Staatsangehörigkeit", "Citizenship group", CITIZENSHIP),
        _cat("german_level", "Deutschkenntnisse", "Command of German", GERMAN_LEVEL),
        Field("single_parent", "bool", "Alleinerziehend", "Single parent"),
        Field("children_under_3", "bool", "Kind unter 3 Jahren", "Child under 3 in the household"),
        _cat("school", "Schulabschluss", "Highest school qualification", SCHOOL),
        _cat("vocational", "Berufsabschluss", "Highest vocational qualification", VOCATIONAL),
        Field("benefit_months", "int", "Bezugsdauer (Monate)", "Months in benefit receipt at entry into the data",
              min=0, max=600),
        Field("unemployment_months", "int", "Arbeitslosigkeitsdauer (Monate)",
              "Months of unemployment at entry into the data (empty: not in the export)", min=0, max=600,
              required=False),
        Field("health_restriction", "bool", "Gesundheitliche Einschränkung", "Placement-relevant health restriction"),
        Field("disability", "bool", "Schwerbehinderung",
              "Recognised severe disability, GdB of at least 50 (empty: not in the export)", required=False),
        _k("bg_id", "Bedarfsgemeinschaft", "Pseudonymous key of the person's Bedarfsgemeinschaft (household "
           "community, § 7 Abs. 3 SGB II); persons with the same key live in one BG", required=False),
    )),
    Table("assessments", "Potenzialanalysen", "One profiling (Potenzialanalyse), repeated over time.",
          "assessment_id", (
              _k("assessment_id", "Kennung", "Assessment key"),
              _k("person_id", "Person", "Assessed person", ref="persons.person_id"),
              _d("date", "Datum", "Date of the assessment"),
              *_need_fields(),
              Field("strengths", "int", "Stärken", "Number of documented strengths (0-5)", min=0, max=5),
              Field("horizon_12m", "bool", "Integration in 12 Monaten erwartet",
                    "Caseworker expects integration within 12 months"),
              _cat("profillage", "Profillage", "Profillage as recorded (empty: not recorded)", PROFILLAGEN,
                   required=False),
          )),
    Table("plans", "Pläne", "An Eingliederungsvereinbarung (until 2023) or Kooperationsplan.", "plan_id", (
        _k("plan_id", "Plan-Kennung", "Plan key"),
        _k("person_id", "Person", "Person the plan is with", ref="persons.person_id"),
        _d("date", "Datum", "Date the plan was agreed or updated"),
        _cat("kind", "Art", "Eingliederungsvereinbarung or Kooperationsplan", PLAN_KINDS),
        _d("valid_until", "Gültig bis", "End of validity or next review"),
    )),
    Table("plan_steps", "Planschritte", "A step agreed in a plan.", "step_id", (
        _k("step_id", "Schritt-Kennung", "Step key"),
        _k("plan_id", "Plan", "Plan the step belongs to", ref="plans.plan_id"),
        Field("step", "string", "Schritt", "What was agreed"),
        _d("due", "Fällig", "Due date"),
        _cat("status", "Status", "Status of the step", STEP_STATUS),
        _k("offer_id", "Angebot", "Linked network offer (empty if none)", ref="offers.offer_id", required=False),
    )),
    Table("contacts", "Kontakte", "A caseworker contact.", "contact_id", (
        _k("contact_id", "Kontakt-Kennung", "Contact key"),
        _k("person_id", "Person", "Person contacted", ref="persons.person_id"),
        _d("date", "Datum", "Date of the contact"),
        _cat("kind", "Art", "Kind of contact", CONTACT_KINDS),
    )),
    Table("referrals", "Vermittlungen", "A referral (Vermittlung, e.g. to § 16a services) to, and participation "
          "in, a network measure.", "referral_id", (
        _k("referral_id", "Vermittlungs-Kennung", "Referral key"),
        _k("person_id", "Person", "Referred person", ref="persons.person_id"),
        _k("offer_id", "Angebot", "Offer referred to", ref="offers.offer_id"),
        _d("referred", "Vermittelt am", "Date of the referral"),
        _d("started", "Begonnen am", "Date participation started (empty if never)", required=False),
        _d("ended", "Beendet am", "Date participation ended (empty if running or never started)",
           required=False),
        _cat("status", "Status", "Status of the referral", REFERRAL_STATUS),
    )),
    Table("employment", "Beschäftigung", "An employment spell.", "spell_id", (
        _k("spell_id", "Episoden-Kennung", "Spell key"),
        _k("person_id", "Person", "Employed person", ref="persons.person_id"),
        _d("start", "Beginn", "First day of employment"),
        _d("end", "Ende", "Last day of employment (empty if ongoing)", required=False),
        _cat("kind", "Art", "Kind of employment", EMPLOYMENT_KINDS),
        Field("need_ending", "bool", "Bedarfsdeckend (Angabe der Quelle)",
              "Optional flag of the source that the earnings end the need for benefits; the key figures do not "
              "use it (they derive need-ending integrations from the benefit spells)", required=False),
    )),
    Table("enrolments", "Projektteilnahmen", "A person's enrolment in a model project or programme "
          "(e.g. care by the ABCaktiv team, a Soziale-Teilhabe place).", "enrolment_id", (
        _k("enrolment_id", "Teilnahme-Kennung", "Enrolment key"),
        _k("person_id", "Person", "Enrolled person", ref="persons.person_id"),
        _k("project_id", "Projekt", "Project", ref="projects.project_id"),
        _d("start", "Beginn", "First day of the enrolment"),
        _d("end", "Ende", "Last day of the enrolment (empty while enrolled)", required=False),
    )),
    Table("benefits", "Leistungsbezug", "A spell of benefit receipt.", "spell_id", (
        _k("spell_id", "Episoden-Kennung", "Spell key"),
        _k("person_id", "Person", "Person receiving benefits", ref="persons.person_id"),
        _d("start", "Beginn", "First day of receipt"),
        _d("end", "Ende", "Last day of receipt (empty if ongoing)", required=False),
    )),
]

# Optional tables: real exports often lack them; every figure that needs one says so instead of a number.
_OPTIONAL_TABLE_LIST = [
    Table("benefit_amounts", "Leistungshöhen", "Monthly benefit amounts of a person (Leistungsanspruch), for "
          "K1 and K1E1.", None, (
              _k("person_id", "Person", "Person the amounts are for", ref="persons.person_id"),
              _d("month", "Monat", "First day of the month"),
              Field("llu", "float", "Leistungen zum Lebensunterhalt (EUR)", "Regelbedarf, Mehrbedarfe and loans "
                    "(§§ 20, 21, 23, 24 Abs. 1 SGB II) of the month, without housing", min=0),
              Field("kdu", "float", "Leistungen für Unterkunft und Heizung (EUR)", "Housing and heating "
                    "(§ 22 SGB II) of the month", required=False, min=0),
          )),
    Table("unemployment", "Arbeitslosigkeit", "A spell of registered unemployment (§ 16 SGB III), so that "
          "Langzeitarbeitslose (§ 18 SGB III: one year and longer) can be counted beside long-term recipients.",
          "spell_id", (
              _k("spell_id", "Episoden-Kennung", "Spell key"),
              _k("person_id", "Person", "Unemployed person", ref="persons.person_id"),
              _d("start", "Beginn", "First day of registered unemployment"),
              _d("end", "Ende", "Last day (empty if ongoing)", required=False),
          )),
    Table("instruments", "Regelinstrumente", "A participation in a regular instrument of labour-market "
          "policy (FbW, § 45 SGB III, EGZ, AGH, § 16i, § 16e).", "spell_id", (
              _k("spell_id", "Episoden-Kennung", "Spell key"),
              _k("person_id", "Person", "Participant", ref="persons.person_id"),
              _cat("kind", "Instrument", "Kind of instrument", INSTRUMENT_KINDS),
              _d("start", "Beginn", "First day of the participation"),
              _d("end", "Ende", "Last day (empty while running)", required=False),
          )),
    Table("caseworkers", "Integrationsfachkräfte", "A caseworker (Integrationsfachkraft or Fallmanager/in) "
          "and the team.", "caseworker_id", (
              _k("caseworker_id", "Fachkraft-Kennung", "Pseudonymous caseworker key"),
              _k("jc_id", "Jobcenter", "Jobcenter of the caseworker", ref="jobcenters.jc_id"),
              _k("team_id", "Team", "Pseudonymous team key", required=False),
              Field("fallmanagement", "bool", "Fallmanagement", "Works in beschäftigungsorientiertes "
                    "Fallmanagement (smaller caseload)"),
          )),
    Table("assignments", "Zuständigkeiten", "Which caseworker is responsible for a person from when to when "
          "(caseload per caseworker, Betreuungsschlüssel).", None, (
              _k("person_id", "Person", "Person in care", ref="persons.person_id"),
              _k("caseworker_id", "Fachkraft", "Responsible caseworker", ref="caseworkers.caseworker_id"),
              _d("start", "Beginn", "First day of the responsibility"),
              _d("end", "Ende", "Last day (empty while responsible)", required=False),
          )),
]
_TABLE_LIST += _OPTIONAL_TABLE_LIST
#: Tables a dataset may lack (the case model's additions of issue 16).
OPTIONAL_TABLES = tuple(t.name for t in _OPTIONAL_TABLE_LIST)

TABLES: dict[str, Table] = {t.name: t for t in _TABLE_LIST}
#: Order in which tables can be loaded so that references resolve.
TABLE_ORDER = [t.name for t in _TABLE_LIST]

#: Spells that must not overlap for the same person: (table, start, end).
SPELL_TABLES = (("benefits", "start", "end"), ("unemployment", "start", "end"))
#: Date orderings checked row by row: (table, earlier, later).
DATE_ORDER = (
    ("unemployment", "start", "end"),
    ("instruments", "start", "end"),
    ("assignments", "start", "end"),
    ("referrals", "referred", "started"),
    ("referrals", "started", "ended"),
    ("employment", "start", "end"),
    ("benefits", "start", "end"),
    ("projects", "start", "end"),
    ("plans", "date", "valid_until"),
    ("enrolments", "start", "end"),
)



def __getattr__(name: str):
    # the façade's two re-exports are written against this module's vocabularies, so they load on first use
    # (importing them here would make "import casework._dictionary" find this module half-built); validation
    # also needs pandera, a slow import that dashboards never use
    if name in ("ValidationIssue", "ValidationReport", "validate"):
        from casework import _validation

        return getattr(_validation, name)
    if name == "data_dictionary":
        from casework._dictionary import data_dictionary

        return data_dictionary
    raise AttributeError(f"module 'casework.schema' has no attribute {name!r}")
