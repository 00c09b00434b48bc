"""Scenario definitions: jobcenters, projects, offers, time windows and effect sizes.

Every number here is either taken from a source (the five seed texts and
shared/DOMAIN.md, cited inline) or a scenario assumption, marked as such.
The effect sizes are on the logit of the monthly integration hazard; the
resulting effects on integration within 12 months are computed from the
simulated potential outcomes and written to ground_truth.json.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

__all__ = ["MeasureSpec", "ProjectSpec", "CaseloadPart", "Scenario", "SCENARIOS", "get_scenario", "NRW_JOBCENTERS",
           "NETWORK_OFFERS", "REFERRAL_BASE"]


@dataclass(frozen=True)
class MeasureSpec:
    """How a measure kind works in the simulation (logit scale of the monthly hazard).

    ``lockin`` applies while the person participates (after the landmark),
    ``post`` after participation ended. ``need`` is the need it addresses;
    effects are multiplied by ``with_need`` for people who have that need and
    by ``without_need`` otherwise (heterogeneity). ``uptake`` is the logit of
    the base choice utility; ``need_pull`` adds per severity level of the need.
    ``assumption`` is True where no causal estimate exists (DOMAIN.md 4.9).
    """

    kind: str
    duration: int  # months of participation
    lockin: float
    post: float
    uptake: float
    need_pull: float = 1.2
    with_need: float = 1.4
    without_need: float = 0.5
    modules: tuple[int, int] = (1, 1)  # number of consecutive modules (min, max)
    assumption: bool = True
    partner_kind: str = ""
    offers: int = 1
    capacity: int = 20


#: Regular network measures available in every jobcenter (assumptions: no causal
#: estimates exist for §16a services, DOMAIN.md 4.9 / caveat 6).
REGULAR_MEASURES = (
    MeasureSpec("debt_counselling", 4, -0.15, 0.50, -4.8, partner_kind="debt_counselling", offers=2, capacity=40),
    MeasureSpec("addiction_counselling", 6, -0.30, 0.55, -5.2, partner_kind="addiction_counselling", offers=1,
                capacity=25),
    MeasureSpec("childcare", 12, 0.35, 0.45, -4.8, partner_kind="childcare", offers=3, capacity=30),
    MeasureSpec("psychosocial_care", 6, -0.20, 0.50, -5.0, partner_kind="psychosocial_care", offers=2,
                capacity=30),
)


#: Offers of the wider network in every jobcenter, used by the referral process only (no index decision, no
#: effect on the hazard): seed 000 names the municipalities for "Mobilität im öffentlichen Nahverkehr" and the
#: Reha-Träger among the partners whose services the networks bring in "aus einer Hand".
NETWORK_OFFERS = (
    MeasureSpec("mobility_support", 6, 0.0, 0.0, -9.0, partner_kind="municipality", offers=1, capacity=90),
    MeasureSpec("rehabilitation", 9, 0.0, 0.0, -9.0, partner_kind="rehabilitation", offers=1, capacity=25),
    # seed 001: the municipality's social services (housing is one of the framework conditions)
    MeasureSpec("housing_support", 3, 0.0, 0.0, -9.0, partner_kind="municipality", offers=1, capacity=30),
)

#: Logit of a referral, per partner kind, for a moderate need at an assessment (serious: +REFERRAL_SEVERITY).
#: Scenario assumptions: service uptake is far below the need (DOMAIN.md 3.6: e.g. about 3 % of those with
#: debt problems got debt counselling in 2011); the networks of 2014 on aim to raise it.
REFERRAL_BASE = {
    "debt_counselling": -2.0, "addiction_counselling": -2.3, "childcare": -1.3, "psychosocial_care": -2.4,
    "health_insurer": -2.2, "rehabilitation": -3.0, "neighbourhood_centre": -1.6, "volunteer_agency": -2.6,
    "self_help": -2.8, "education_provider": -1.8, "employer": -2.6, "municipality": -1.8,
}
REFERRAL_SEVERITY = 0.7
#: Logit uplift of referrals to the offers of a running project (its network is why it exists).
PROJECT_REFERRAL_UPLIFT = 1.0


@dataclass(frozen=True)
class ProjectSpec:
    """A model project or programme in some jobcenters."""

    project_id: str
    name: str
    jc_ids: tuple[str, ...]
    start: str
    end: str | None
    target_group: str
    places: int  # as the source gives it (per jobcenter when len(jc_ids)==1)
    measures: tuple[MeasureSpec, ...] = ()
    enrol_only: bool = False  # project measures only for enrolled persons
    enrol_rate: float = 0.0  # logit of enrolment for eligible persons
    eligibility: str = "all"  # rule name, see simulate._eligible
    outreach: float = 0.0  # logit uplift for all customers of the jobcenter while active
    modifies: str | None = None  # only changes the measures of persons enrolled in that project
    places_by_jc: dict = field(default_factory=dict)
    # a standing caseload: the enrolled stay in the project's care until they leave receipt (not until their last
    # measure ends); ``intake`` enrolments (scaled like places) keep about ``places`` in care
    standing: bool = False
    intake: int | None = None
    # parts of the caseload with their own eligibility rule and intake (enrolments of the project are filled
    # part by part; the truth records each person's part)
    parts: tuple[CaseloadPart, ...] = ()


@dataclass(frozen=True)
class CaseloadPart:
    """One part of a project's standing caseload: ``places`` in care at a time, ``intake`` enrolments over the
    project (scaled like the places), eligibility ``rule`` (simulate._eligible)."""

    key: str
    label: str
    rule: str
    places: int
    intake: int


@dataclass(frozen=True)
class Scenario:
    """A complete synthetic world."""

    name: str
    label: str
    data_start: str
    data_end: str
    cohort_start: str
    default_persons: int
    jobcenters: pd.DataFrame
    projects: tuple[ProjectSpec, ...] = ()
    measures: tuple[MeasureSpec, ...] = REGULAR_MEASURES
    intercept: float = -2.45
    calendar: dict = field(default_factory=dict)  # "YYYY-MM" -> logit shift
    confounding: float = 0.0  # strength of the unobserved confounder (0 = none)
    stock_share: float = 0.32  # share of persons already in receipt at data_start (sets the LZB share)
    network_offers: tuple[MeasureSpec, ...] = NETWORK_OFFERS
    notes: tuple[str, ...] = ()

    @property
    def months(self) -> pd.DatetimeIndex:
        return pd.date_range(self.data_start, self.data_end, freq="MS")

    @property
    def cohort_end(self) -> pd.Timestamp:
        """Last index month whose 3-month window and 12-month horizon fit in the data."""
        return pd.Timestamp(self.data_end).to_period("M").to_timestamp() - pd.DateOffset(months=15)

    def with_options(self, **changes) -> Scenario:
        return replace(self, **changes)


def _jc_frame(rows, rng_seed=7):
    """Jobcenters with a between-jobcenter random effect (K2 spread 14-50 %, DOMAIN.md 8)."""
    df = pd.DataFrame(rows, columns=["jc_id", "name", "land", "region_type", "comparison_type", "weight"])
    rng = np.random.default_rng(rng_seed)
    df["effect"] = rng.normal(0.0, 0.25, len(df)).round(3)
    # how actively a jobcenter refers to its network (logit shift of every referral; scenario assumption)
    df["network"] = rng.normal(0.0, 0.4, len(df)).round(3)
    df["weight"] = df["weight"] / df["weight"].sum()
    return df


# --------------------------------------------------------------------------- Gelsenkirchen
_GE_MODULES = MeasureSpec(
    "health_module", 2, -0.10, 0.55, 2.2, need_pull=0.2, modules=(2, 5), assumption=True,
    partner_kind="education_provider", offers=30, capacity=12)
_GE_ASSISTED = MeasureSpec(
    "assisted_placement", 3, 0.45, 0.55, -2.2, need_pull=0.3, assumption=True, partner_kind="employer", offers=1,
    capacity=60)
_GE_PREVENTIVE = MeasureSpec(
    "psychosocial_care", 6, -0.20, 0.50, -2.4, assumption=True, partner_kind="health_insurer", offers=1,
    capacity=40)

GELSENKIRCHEN = Scenario(
    name="gelsenkirchen",
    label="Jobcenter Gelsenkirchen – Projektteam ABCaktiv",
    data_start="2014-01-01",
    data_end="2019-12-31",
    cohort_start="2016-05-01",
    default_persons=20_000,
    jobcenters=_jc_frame([
        ("JC-GE", "Integrationscenter für Arbeit Gelsenkirchen", "Nordrhein-Westfalen", "city", "IIIe", 1.0)]),
    projects=(ProjectSpec(
        "abcaktiv", "ABCaktiv", ("JC-GE",), "2016-01-01", None,
        "Marktferne Langzeitarbeitslose (ca. 900) und Personen mit erheblichen gesundheitlichen "
        "Einschränkungen (ca. 600)", 1500,
        measures=(_GE_MODULES, _GE_ASSISTED, _GE_PREVENTIVE), enrol_only=True, enrol_rate=0.0,
        eligibility="abcaktiv", standing=True, intake=2100,
        # seed 004: "Das Team betreut marktferne, langzeitarbeitslose Kundinnen und Kunden (circa 900 Personen).
        # Ungefähr 600 weitere Personen haben daneben zum Teil erhebliche gesundheitliche Einschränkungen."
        parts=(CaseloadPart("marktfern", "Marktferne Langzeitarbeitslose", "abcaktiv_distant", 900, 1260),
               CaseloadPart("gesundheit", "Erhebliche gesundheitliche Einschränkungen", "abcaktiv_health", 600,
                            800))),),
    intercept=-2.6,
    stock_share=0.47,  # Ruhr cities: about 70 % long-term recipients (DOMAIN.md 0.6)
    notes=(
        "Seed 004: team ABCaktiv since 01.01.2016, about 900 market-distant long-term unemployed plus about 600 "
        "with considerable health restrictions, about 30 modules (nutrition, exercise, motivation), more than "
        "4,000 module places filled since May 2016, preventive consultations through health insurers, assisted "
        "placement.",
        "Module effects are scenario assumptions: no causal evaluation of the modules exists.",
    ),
)

# --------------------------------------------------------------------------- Pankow
_PANKOW_MEASURES = (
    MeasureSpec("neighbourhood_centre", 3, 0.0, 0.45, -1.8, need_pull=0.6, partner_kind="neighbourhood_centre",
                offers=8, capacity=15),
    MeasureSpec("volunteering", 6, -0.15, 0.35, -2.9, need_pull=0.6, partner_kind="volunteer_agency", offers=1,
                capacity=40),
    MeasureSpec("self_help", 6, 0.0, 0.30, -3.1, need_pull=0.8, partner_kind="self_help", offers=1, capacity=30),
)
_BERLIN = [
    ("JC-BE-PAN", "Jobcenter Berlin Pankow", "Berlin", "city", "Ib", 1.3),
    ("JC-BE-LIC", "Jobcenter Berlin Lichtenberg", "Berlin", "city", "Ib", 1.0),
    ("JC-BE-MAR", "Jobcenter Berlin Marzahn-Hellersdorf", "Berlin", "city", "Ib", 1.0),
    ("JC-BE-TRE", "Jobcenter Berlin Treptow-Köpenick", "Berlin", "city", "Ib", 0.9),
    ("JC-BE-STE", "Jobcenter Berlin Steglitz-Zehlendorf", "Berlin", "city", "Ib", 0.8),
    ("JC-BE-SPA", "Jobcenter Berlin Spandau", "Berlin", "city", "Ib", 1.0),
    ("JC-BE-REI", "Jobcenter Berlin Reinickendorf", "Berlin", "city", "Ib", 1.0),
    ("JC-BE-TEM", "Jobcenter Berlin Tempelhof-Schöneberg", "Berlin", "city", "Ib", 1.1),
]
PANKOW = Scenario(
    name="pankow",
    label="Jobcenter Berlin-Pankow – Modellprojekt mit Stadtteilzentren",
    data_start="2017-01-01",
    data_end="2024-12-31",  # into the Bürgergeld years: Kooperationspläne from 01.07.2023 (DOMAIN.md 7.4-7.7)
    cohort_start="2020-01-01",
    default_persons=52_000,
    jobcenters=_jc_frame(_BERLIN, rng_seed=11),
    projects=(
        ProjectSpec("pankow_modell", "Modellprojekt Stadtteilzentren, KIS und Freiwilligenagentur Pankow",
                    ("JC-BE-PAN",), "2020-01-01", "2020-12-31",
                    "Arbeitsuchende in schwierigen Lebenssituationen (Mobilität, Sprache, Gesundheit, Qualifikation, "
                    "Alter)", 600, measures=_PANKOW_MEASURES, outreach=0.12),
        ProjectSpec("pankow_verstetigung", "Verstetigung der Zusammenarbeit mit den Pankower Stadtteilzentren",
                    ("JC-BE-PAN",), "2021-01-01", None,
                    "Arbeitsuchende in schwierigen Lebenssituationen", 900, measures=_PANKOW_MEASURES,
                    outreach=0.12),
    ),
    # Covid-19: integrations collapsed in spring 2020 (assumption on the size).
    calendar={**{f"2020-{m:02d}": -0.6 for m in range(4, 7)}, **{f"2020-{m:02d}": -0.3 for m in range(7, 13)},
              **{f"2021-{m:02d}": -0.15 for m in range(1, 7)}},
    notes=(
        "Seed 002: framework agreement of Jobcenter Berlin-Pankow with the district's neighbourhood centres, the "
        "self-help contact point (KIS) and the volunteer agency; model phase until the end of 2020, continuation if "
        "successful. Comparison: seven other Berlin jobcenters (Berlin-Mitte is left out: it has had its own "
        "cooperation with 17 neighbourhood centres since 2018, DOMAIN.md 4.14).",
        "Outreach uplift and offer effects are scenario assumptions.",
        "The data run to 31.12.2024: Bürgergeld from 01.01.2023, Kooperationspläne instead of "
        "Eingliederungsvereinbarungen from 01.07.2023 (§ 15 SGB II, § 65 Abs. 4 SGB II).",
    ),
)

# --------------------------------------------------------------------------- NRW
_NRW_CITIES = ["Bielefeld", "Bochum", "Bonn", "Bottrop", "Dortmund", "Duisburg", "Düsseldorf", "Essen",
               "Gelsenkirchen", "Hagen", "Hamm", "Herne", "Köln", "Krefeld", "Leverkusen", "Mönchengladbach",
               "Mülheim an der Ruhr", "Münster", "Oberhausen", "Remscheid", "Solingen", "Wuppertal"]
_NRW_DISTRICTS = ["StädteRegion Aachen", "Borken", "Coesfeld", "Düren", "Ennepe-Ruhr-Kreis", "Euskirchen",
                  "Gütersloh", "Heinsberg", "Herford", "Hochsauerlandkreis", "Höxter", "Kleve", "Lippe",
                  "Märkischer Kreis", "Mettmann", "Minden-Lübbecke", "Oberbergischer Kreis", "Olpe", "Paderborn",
                  "Recklinghausen", "Rhein-Erft-Kreis", "Rheinisch-Bergischer Kreis", "Rhein-Kreis Neuss",
                  "Rhein-Sieg-Kreis", "Siegen-Wittgenstein", "Soest", "Steinfurt", "Unna", "Viersen", "Warendorf",
                  "Wesel"]


def _nrw_rows():
    rng = np.random.default_rng(53)
    rows = []
    for i, name in enumerate(_NRW_CITIES + _NRW_DISTRICTS):
        city = i < len(_NRW_CITIES)
        rows.append((f"JC-NW-{i + 1:02d}", f"Jobcenter {name}", "Nordrhein-Westfalen",
                     "city" if city else ("urban_district" if rng.random() < 0.5 else "rural_district"),
                     "IIIe" if city else "IIb", float(rng.uniform(1.5, 4.0) if city else rng.uniform(0.6, 1.8))))
    return rows


NRW_JOBCENTERS = _jc_frame(_nrw_rows(), rng_seed=17)
_nrw_order = NRW_JOBCENTERS.sort_values("weight", ascending=False)["jc_id"].tolist()
#: Seed 003: 34 of 53 NRW jobcenters take part, 20 of them with state-funded coaching.
NRW_PARTICIPANTS = tuple(sorted(_nrw_order[:34]))
NRW_COACHING = tuple(sorted(_nrw_order[:34][::2][:17] + _nrw_order[:34][1::2][:3]))


def _allocate(total, jc_ids, weights):
    w = np.asarray([weights[j] for j in jc_ids], dtype=float)
    raw = total * w / w.sum()
    alloc = np.floor(raw).astype(int)
    alloc[np.argsort(raw - alloc)[::-1][: total - alloc.sum()]] += 1
    return dict(zip(jc_ids, alloc.tolist()))


_w = dict(zip(NRW_JOBCENTERS["jc_id"], NRW_JOBCENTERS["weight"]))
_FUNDED = MeasureSpec("funded_employment", 24, -1.6, 0.45, -2.4, need_pull=0.3, with_need=1.0, without_need=1.0,
                      assumption=False, partner_kind="employment_provider", offers=1, capacity=200)
_COACHED = replace(_FUNDED, lockin=-1.35, post=0.75)
NRW_TEILHABE = Scenario(
    name="nrw_teilhabe",
    label="Soziale Teilhabe am Arbeitsmarkt – Landesflankierung NRW",
    data_start="2014-01-01",
    data_end="2019-12-31",
    cohort_start="2015-11-01",
    default_persons=200_000,
    jobcenters=NRW_JOBCENTERS,
    projects=(
        ProjectSpec("teilhabe_bund", "Bundesprogramm Soziale Teilhabe am Arbeitsmarkt", NRW_PARTICIPANTS,
                    "2015-11-01", "2018-12-31",
                    "Langzeitarbeitslose ab 35 Jahren mit mindestens vier Jahren Leistungsbezug und "
                    "gesundheitlichen Einschränkungen oder minderjährigen Kindern in der Bedarfsgemeinschaft", 6400,
                    measures=(_FUNDED,), enrol_only=True,
                    enrol_rate=0.0, eligibility="teilhabe",
                    places_by_jc=_allocate(6400, NRW_PARTICIPANTS, _w)),
        ProjectSpec("teilhabe_land", "Landesförderung Coaching und Anleitung (NRW)", NRW_COACHING,
                    "2017-01-01", "2018-12-31", "Teilnehmende des Bundesprogramms in 20 Jobcentern", 2720,
                    measures=(_COACHED,), modifies="teilhabe_bund",
                    places_by_jc=_allocate(2720, NRW_COACHING, _w)),
    ),
    intercept=-2.45,
    notes=(
        "Seed 003: 34 of the 53 NRW jobcenters take part with almost 6,400 places; the Land supports coaching "
        "and instruction for 2,720 places in 20 jobcenters (state decision end of 2016).",
        "Discrepancy (DOMAIN.md section 9, caveat 2): these figures were not found in other sources; NRW Landtag "
        "Drs. 16/11822 reports 41 of 53 jobcenters applying and 21 invited in round 1, and about 31 % of the "
        "~16,000 occupied places nationally (about 5,000) in NRW. The scenario follows the seed.",
        "Effect sizes follow the ZEW/IAQ evaluation in direction (DOMAIN.md 4.4: strong lock-in while employed "
        "in the programme, better outcomes after it); the coaching uplift is a scenario assumption.",
    ),
)

# --------------------------------------------------------------------------- scale
def _scale_jobcenters(n=400):
    rng = np.random.default_rng(404)
    rows = [(f"JC-{i + 1:03d}", f"Jobcenter {i + 1:03d}", "Deutschland",
             ["city", "urban_district", "rural_district"][i % 3], f"Typ {1 + i % 12}",
             float(rng.lognormal(0, 0.6))) for i in range(n)]
    return _jc_frame(rows, rng_seed=405)


SCALE = Scenario(
    name="scale",
    label="Bundesweite Skalierung (synthetisch)",
    data_start="2015-01-01",
    data_end="2019-12-31",
    cohort_start="2015-07-01",
    default_persons=1_000_000,
    jobcenters=_scale_jobcenters(),
    notes=("A national-scale population for performance work: 400 jobcenters, regular network measures only.",),
)

def project_key(proj, jc_id: str) -> str:
    return proj.project_id if len(proj.jc_ids) == 1 else f"{proj.project_id}/{jc_id}"


SCENARIOS = {s.name: s for s in (GELSENKIRCHEN, PANKOW, NRW_TEILHABE, SCALE)}


def get_scenario(name: str) -> Scenario:
    """Return the scenario ``name`` (ValueError listing the known ones otherwise)."""
    try:
        return SCENARIOS[name]
    except KeyError:
        raise ValueError(f"unknown scenario {name!r}; known: {', '.join(SCENARIOS)}") from None
