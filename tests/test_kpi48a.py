"""The § 48a figures against an independent reference (tests/reference_kpi.py) and on hand-made cases, one
for each rule of the Verordnung zur Festlegung der Kennzahlen nach § 48a SGB II (as amended 15.03.2019)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from casework import kpi
from casework.schema import INSTRUMENT_KINDS
from casework.store import Dataset
from tests.datasets import small
from tests.reference_kpi import reference_figures

D = pd.Timestamp
FIGURES = ("integrations", "avg_stock", "k2", "ltr_integrations", "avg_ltr_stock", "k3e1", "need_ending", "k1",
           "k1e1", "k1e2", "k1e3", "k1e4", "k2e1", "k2e2", "k2e3", "k2e4", "k3", "k3e2", "k3e3", "k3e4")


def _assert_same(ds, start, end, filters=None):
    got = kpi.key_figures(ds, start, end, filters).set_index("kpi")["value"]
    ref = reference_figures(ds, start, end, filters)
    for k in FIGURES:
        assert np.isclose(got[k], ref[k], rtol=1e-12, equal_nan=True), (k, got[k], ref[k])


@pytest.mark.parametrize("scenario, period, filters", [
    ("gelsenkirchen", ("2017-01-01", "2017-12-01"), {}),
    ("gelsenkirchen", ("2016-05-01", "2018-04-01"), {"sex": "f", "age_group": "35 bis 49"}),
    ("pankow", ("2021-01-01", "2021-12-01"), {"jc_id": "JC-BE-PAN"}),
    ("nrw_teilhabe", ("2017-01-01", "2017-06-01"), {"age_group": "50 und älter"}),
    ("nrw_teilhabe", ("2018-07-01", "2019-06-01"), {}),
])
def test_every_figure_equals_the_reference_on_the_demo_scenarios(scenario, period, filters):
    ds = small(scenario, 0, 3000)
    _assert_same(ds, *period, filters)
    # where the scenario has amounts and instruments, K1, K1E1 and K3E2 are compared as numbers, not as NaN
    got = kpi.key_figures(ds, *period, filters).set_index("kpi")["value"]
    for code, table in (("k1", "benefit_amounts"), ("k1e1", "benefit_amounts"), ("k3e2", "instruments")):
        assert np.isnan(got[code]) != (table in ds.tables), code


# ---------------------------------------------------------------------------- arbitrary spells

_KINDS = ["svb", "training", "self_employed", "minijob", "funded_16i", "funded_16e", "funded_programme"]


def _day(month: int, day: int) -> pd.Timestamp:
    return D(year=2017 + month // 12, month=month % 12 + 1, day=day)


@st.composite
def _case_data(draw, optional: bool = False):
    """Persons with benefit spells and jobs; with ``optional`` also (maybe) monthly amounts, some without KdU,
    and participations in regular instruments."""
    n = draw(st.integers(1, 5))
    pids = [f"p{i}" for i in range(n)]
    spells, jobs, amounts, measures = [], [], [], []
    for pid in pids:
        for _ in range(draw(st.integers(1, 3))):
            s = draw(st.integers(0, 60))
            length = draw(st.one_of(st.none(), st.integers(0, 30)))
            spells.append((pid, _day(s, draw(st.integers(1, 28))),
                           None if length is None else _day(s + length, draw(st.sampled_from([15, 28])))))
        for _ in range(draw(st.integers(0, 4))):
            s = draw(st.integers(0, 66))
            length = draw(st.one_of(st.none(), st.integers(0, 16)))
            jobs.append((pid, _day(s, draw(st.integers(1, 28))), None if length is None else _day(s + length, 28),
                         draw(st.sampled_from(_KINDS))))
        if optional:
            first, months = draw(st.integers(0, 50)), draw(st.integers(0, 40))
            no_kdu = draw(st.one_of(st.none(), st.integers(first, first + months)))  # a month without KdU
            for month in range(first, first + months + 1):
                amounts.append((pid, _day(month, 1), draw(st.integers(0, 900)) / 2,
                                np.nan if month == no_kdu else float(draw(st.integers(0, 700)))))
            for _ in range(draw(st.integers(0, 2))):
                s = draw(st.integers(0, 66))
                length = draw(st.one_of(st.none(), st.integers(0, 12)))
                ends_on_first = draw(st.booleans())  # a participation ending on the 1st covers a day of that month
                measures.append((pid, draw(st.sampled_from(sorted(INSTRUMENT_KINDS))), _day(s, draw(st.integers(
                    1, 28))), None if length is None else _day(s + length + ends_on_first, 1 if ends_on_first else 28)))
    b = pd.DataFrame(spells, columns=["person_id", "start", "end"])
    persons = pd.DataFrame({
        "person_id": pids, "jc_id": draw(st.lists(st.sampled_from(["J1", "J2"]), min_size=n, max_size=n)),
        "sex": draw(st.lists(st.sampled_from(["f", "m"]), min_size=n, max_size=n)),
        "birth_year": draw(st.lists(st.integers(1958, 2003), min_size=n, max_size=n)),
        "benefit_months": draw(st.lists(st.integers(0, 30), min_size=n, max_size=n)),
        "single_parent": draw(st.lists(st.booleans(), min_size=n, max_size=n))})
    persons["entry_date"] = persons["person_id"].map(b.groupby("person_id")["start"].min())
    e = pd.DataFrame(jobs, columns=["person_id", "start", "end", "kind"])
    tables = {"persons": persons, "benefits": b.assign(spell_id=range(len(b)), end=pd.to_datetime(b["end"])),
              "employment": e.assign(spell_id=range(len(e)), start=pd.to_datetime(e["start"]),
                                     end=pd.to_datetime(e["end"]))}
    if optional and draw(st.booleans()):
        tables["benefit_amounts"] = pd.DataFrame(amounts, columns=["person_id", "month", "llu", "kdu"]).astype(
            {"month": "datetime64[ns]", "llu": float, "kdu": float})
    if optional and draw(st.booleans()):
        i = pd.DataFrame(measures, columns=["person_id", "kind", "start", "end"])
        tables["instruments"] = i.assign(spell_id=[f"i{k}" for k in range(len(i))], start=pd.to_datetime(i["start"]),
                                         end=pd.to_datetime(i["end"]))
    return Dataset.from_tables(tables)


@settings(max_examples=40, deadline=None)
@given(_case_data(optional=True), st.integers(12, 50), st.integers(0, 14), st.sampled_from([None, {"sex": "f"}]))
def test_every_figure_equals_the_reference_on_any_spells(ds, first, length, filters):
    _assert_same(ds, _day(first, 1), _day(first + length, 1), filters)


# ---------------------------------------------------------------------------- hand-made rules


def _ds(benefits, employment=(), persons=None, data_end="2022-12-31", **extra) -> Dataset:
    """Person "p" (and any in ``benefits``), spells as (person, start, end); a long spell of "z" sets the data
    end (31.12.2022)."""
    b = pd.DataFrame(list(benefits) + [("z", "2015-01-01", data_end)], columns=["person_id", "start", "end"])
    b[["start", "end"]] = b[["start", "end"]].apply(pd.to_datetime)
    ids = sorted(b["person_id"].unique())
    p = pd.DataFrame({"person_id": ids, "jc_id": "J", "sex": "f", "birth_year": 1975, "benefit_months": 0,
                      "single_parent": False})
    p["entry_date"] = p["person_id"].map(b.groupby("person_id")["start"].min())
    if persons:
        for col, values in persons.items():
            p[col] = [values.get(i, old) for i, old in zip(p["person_id"], p[col])] if isinstance(values, dict) \
                else values
    e = pd.DataFrame(list(employment), columns=["person_id", "start", "end", "kind"])
    e[["start", "end"]] = e[["start", "end"]].apply(pd.to_datetime)
    return Dataset.from_tables({"persons": p, "benefits": b.assign(spell_id=range(len(b))),
                                "employment": e.assign(spell_id=range(len(e))), **extra})


def _kf(ds, start="2020-01-01", end="2020-12-01", filters=None) -> pd.Series:
    return kpi.key_figures(ds, start, end, filters).set_index("kpi")["value"]


IN_RECEIPT = [("p", "2016-01-01", None)]


def test_16e_counts_as_integration_only_from_2019():
    # VO § 2 Abs. 2 Nr. 2 (15.03.2019): the new § 16e is a Beschäftigung begleitende Leistung; the old one
    # (Förderung von Arbeitsverhältnissen, until 31.12.2018) was publicly funded employment
    old = _kf(_ds(IN_RECEIPT, [("p", "2018-06-01", None, "funded_16e")]), "2018-01-01", "2018-12-01")
    new = _kf(_ds(IN_RECEIPT, [("p", "2019-02-01", None, "funded_16e")]), "2019-01-01", "2019-12-01")
    assert (old["integrations"], old["k2e2"] > 0) == (0, True)
    assert (new["integrations"], new["k2e2"]) == (1, 0)


def test_16i_and_programme_employment_are_no_integration():
    kf = _kf(_ds(IN_RECEIPT, [("p", "2020-02-01", None, "funded_16i"), ("p", "2020-05-01", None,
                                                                         "funded_programme")]))
    assert kf["integrations"] == 0 and kf["k2e2"] == pytest.approx(2 / 2)  # stock: p and z


def test_a_job_start_out_of_receipt_is_no_integration():
    # receipt ended in December: a job in January (stock at the previous month) counts, one in March does not
    ended = [("p", "2016-01-01", "2019-12-31")]
    assert _kf(_ds(ended, [("p", "2020-01-15", None, "svb")]))["integrations"] == 1
    assert _kf(_ds(ended, [("p", "2020-03-01", None, "svb")]))["integrations"] == 0


def test_a_new_entrant_of_the_month_is_counted():
    # receipt starts on 20 May, the job on 2 May: a new entrant of the month, counted
    kf = _kf(_ds([("p", "2020-05-20", None)], [("p", "2020-05-02", None, "svb")]))
    assert kf["integrations"] == 1


def test_at_most_one_integration_per_person_and_month():
    same = _kf(_ds(IN_RECEIPT, [("p", "2020-03-01", "2020-03-09", "svb"), ("p", "2020-03-20", None, "training")]))
    apart = _kf(_ds(IN_RECEIPT, [("p", "2020-03-01", "2020-03-09", "svb"), ("p", "2020-04-20", None, "svb")]))
    assert same["integrations"] == 1 and apart["integrations"] == 2


def test_a_minijob_followed_by_svb():
    kf = _kf(_ds(IN_RECEIPT, [("p", "2020-03-01", "2020-05-31", "minijob"), ("p", "2020-06-01", None, "svb")]))
    assert kf["integrations"] == 1 and kf["k2e1"] == pytest.approx(1 / 2)
    only_minijob = _kf(_ds(IN_RECEIPT, [("p", "2020-03-01", None, "minijob")]))
    assert only_minijob["integrations"] == 0 and only_minijob["k2e3"] != only_minijob["k2e3"]  # NaN


def test_bedarfsdeckend_is_no_receipt_three_months_later():
    # integration in March; receipt ends in March -> none in June: need-ending. Receipt into June: not.
    ends = _kf(_ds([("p", "2016-01-01", "2020-03-31")], [("p", "2020-03-01", None, "svb")]))
    stays = _kf(_ds([("p", "2016-01-01", "2020-06-05")], [("p", "2020-03-01", None, "svb")]))
    assert ends["need_ending"] == 1 and stays["need_ending"] == 0
    # without the data reaching June, the integration cannot be judged and is not counted either way
    short = kpi.key_figures(_ds([("p", "2016-01-01", "2020-03-31")], [("p", "2020-03-01", None, "svb")],
                                data_end="2020-04-30"), "2020-01-01", "2020-12-01")
    row = short.set_index("kpi").loc["need_ending"]
    assert row["value"] == 0 and row["denominator"] == 0 and "need_ending" in short.attrs["notes"]


def test_long_term_at_exactly_21_of_24_months():
    # receipt January 2018 to September 2019: 21 months in the 24 up to September 2019, 20 up to August
    ds = _ds([("p", "2018-01-01", "2019-09-30")])
    z_only = _kf(ds, "2019-08-01", "2019-08-01", {"jc_id": "J"})["avg_ltr_stock"]  # z is long-term throughout
    assert z_only == 1
    assert _kf(ds, "2019-09-01", "2019-09-01")["avg_ltr_stock"] == 2
    # with three gap months inside the window it is still 21 of 24
    gaps = _ds([("p", "2017-10-01", "2018-03-31"), ("p", "2018-07-01", "2019-09-30")])
    assert _kf(gaps, "2019-09-01", "2019-09-01")["avg_ltr_stock"] == 2
    assert _kf(gaps, "2019-08-01", "2019-08-01")["avg_ltr_stock"] == 1


def test_continuous_employment_needs_svb_at_all_twelve_month_ends():
    year = [("p", "2020-01-10", "2020-12-31", "svb")]
    assert _kf(_ds(IN_RECEIPT, year))["k2e3"] == 0  # 31.01.2021 not covered
    longer = [("p", "2020-01-10", "2021-01-31", "svb")]
    assert _kf(_ds(IN_RECEIPT, longer))["k2e3"] == 1
    change = [("p", "2020-01-10", "2020-06-30", "svb"), ("p", "2020-07-01", None, "training")]
    assert _kf(_ds(IN_RECEIPT, change))["k2e3"] == 1  # a job change keeps it continuous
    minijob_after = [("p", "2020-01-10", "2020-06-30", "svb"), ("p", "2020-07-01", None, "minijob")]
    assert _kf(_ds(IN_RECEIPT, minijob_after))["k2e3"] == 0


def test_single_parents_quota():
    ds = _ds(IN_RECEIPT, [("p", "2020-03-01", None, "svb")], persons={"single_parent": {"p": True}})
    kf = _kf(ds)
    assert kf["k2e4"] == pytest.approx(1 / 1) and kf["k2"] == pytest.approx(1 / 2)


def test_k1_needs_imported_amounts_and_k3e2_imported_instruments():
    plain = kpi.key_figures(_ds(IN_RECEIPT), "2020-01-01", "2020-12-01")
    values = plain.set_index("kpi")["value"]
    assert np.isnan(values["k1"]) and np.isnan(values["k1e1"]) and np.isnan(values["k3e2"])
    assert {"k1", "k1e1", "k3e2"} <= set(plain.attrs["notes"])
    amounts = pd.DataFrame({"person_id": ["p", "p", "z"], "month": pd.to_datetime(["2019-12-01", "2020-12-01",
                                                                                   "2020-12-01"]),
                            "llu": [400.0, 450.0, 50.0], "kdu": [300.0, 300.0, 0.0]})
    instruments = pd.DataFrame({"spell_id": ["i"], "person_id": ["p"], "kind": ["agh"],
                                "start": [D("2020-11-15")], "end": [D("2021-02-28")]})
    kf = _kf(_ds(IN_RECEIPT, benefit_amounts=amounts, instruments=instruments))
    assert kf["k1"] == pytest.approx(500 / 400 - 1) and kf["k1e1"] == pytest.approx(0.0)
    assert kf["k3e2"] == pytest.approx(1 / 2)  # p and z are long-term in December, p in an AGH


def _amounts(rows) -> pd.DataFrame:
    """Monthly amounts as (person, month, llu, kdu)."""
    a = pd.DataFrame(rows, columns=["person_id", "month", "llu", "kdu"])
    return a.assign(month=pd.to_datetime(a["month"]), llu=a["llu"].astype(float), kdu=a["kdu"].astype(float))


YEAR_APART = [("p", "2019-12-01", 400, 300), ("z", "2019-12-01", 100, 200), ("p", "2020-06-01", 9999, 9999),
              ("p", "2020-12-01", 450, 330), ("z", "2020-12-01", 50, 220)]


def test_k1_and_k1e1_compare_the_bezugsmonat_with_the_same_month_a_year_earlier():
    # VO § 4 Abs. 1 (K1): "Summe der Leistungen zum Lebensunterhalt im Bezugsmonat geteilt durch Summe der
    # Leistungen zum Lebensunterhalt im Bezugsmonat des Vorjahres" (ohne Leistungen für Unterkunft und Heizung);
    # § 4 Abs. 2 Nr. 1 (K1E1) the same "für Unterkunft und Heizung". The Bezugsmonat is the period's last month;
    # June's amounts are no part of either sum.
    kf = _kf(_ds(IN_RECEIPT, benefit_amounts=_amounts(YEAR_APART)))
    assert kf["k1"] == pytest.approx((450 + 50) / (400 + 100) - 1) and kf["k1"] == pytest.approx(0.0)
    assert kf["k1e1"] == pytest.approx((330 + 220) / (300 + 200) - 1)
    # a person leaving receipt has no amounts in the Bezugsmonat: the sum falls
    left = [r for r in YEAR_APART if not (r[0] == "p" and r[1] == "2020-12-01")]
    assert _kf(_ds(IN_RECEIPT, benefit_amounts=_amounts(left)))["k1"] == pytest.approx(50 / 500 - 1)
    # the sums are those of the persons the filters select (z is a man here)
    men = _kf(_ds(IN_RECEIPT, persons={"sex": {"z": "m"}}, benefit_amounts=_amounts(YEAR_APART)),
              filters={"sex": "m"})
    assert men["k1"] == pytest.approx(50 / 100 - 1) and men["k1e1"] == pytest.approx(220 / 200 - 1)
    _assert_same(_ds(IN_RECEIPT, benefit_amounts=_amounts(left)), "2020-01-01", "2020-12-01")  # the reference


def test_k1_is_not_given_where_the_amounts_do_not_reach_both_months():
    # the amounts run from December 2019 to December 2020: a Bezugsmonat June 2020 has no amounts a year
    # earlier, and December 2021 none at all, though December 2020 has (it must not read as a fall to zero)
    ds = _ds(IN_RECEIPT, benefit_amounts=_amounts(YEAR_APART))
    for end in ("2020-06-01", "2021-12-01"):
        kf = kpi.key_figures(ds, "2020-01-01", end)
        values = kf.set_index("kpi")["value"]
        assert np.isnan(values["k1"]) and np.isnan(values["k1e1"]), end
        assert "Bezugsmonat" in kf.attrs["notes"]["k1"]
        _assert_same(ds, "2020-01-01", end)


def test_k1e1_is_not_given_when_a_kdu_amount_is_missing():
    rows = [r if r[:2] != ("z", "2020-12-01") else ("z", "2020-12-01", 50, np.nan) for r in YEAR_APART]
    kf = kpi.key_figures(_ds(IN_RECEIPT, benefit_amounts=_amounts(rows)), "2020-01-01", "2020-12-01")
    values = kf.set_index("kpi")["value"]
    assert values["k1"] == pytest.approx(0.0) and np.isnan(values["k1e1"])
    assert "Unterkunft" in kf.attrs["notes"]["k1e1"]


def _measures(rows) -> pd.DataFrame:
    i = pd.DataFrame(rows, columns=["person_id", "kind", "start", "end"])
    return i.assign(spell_id=[f"i{k}" for k in range(len(i))], start=pd.to_datetime(i["start"]),
                    end=pd.to_datetime(i["end"]))


def test_k3e2_counts_long_term_recipients_in_a_measure_in_the_bezugsmonat():
    # VO § 6 Abs. 2 Nr. 2 (K3E2): "Zahl der Langzeitleistungsbeziehenden in einer Maßnahme der aktiven
    # Arbeitsförderung im Bezugsmonat geteilt durch Zahl der Langzeitleistungsbeziehenden im Bezugsmonat".
    # p and z are long-term recipients in December 2020, q (receipt since June 2020) is not.
    benefits = IN_RECEIPT + [("q", "2020-06-01", None)]
    in_agh = [("p", "agh", "2020-10-01", "2021-03-31"), ("q", "agh", "2020-10-01", None)]
    assert _kf(_ds(benefits, instruments=_measures(in_agh)))["k3e2"] == pytest.approx(1 / 2)
    # a participation ending on 1 December covers a day of the month; one ending in November or starting in
    # January does not; two participations of one person count once
    edges = [("p", "fbw", "2020-09-01", "2020-12-01"), ("p", "egz", "2020-12-15", None),
             ("z", "fbw", "2020-06-01", "2020-11-30"), ("z", "agh", "2021-01-01", None)]
    kf = kpi.key_figures(_ds(benefits, instruments=_measures(edges)), "2020-01-01", "2020-12-01").set_index("kpi")
    assert (kf.at["k3e2", "numerator"], kf.at["k3e2", "denominator"]) == (1, 2)
    _assert_same(_ds(benefits, instruments=_measures(edges)), "2020-01-01", "2020-12-01")


def test_k3e2_follows_the_long_term_status_at_21_of_24_months():
    # receipt January 2019 to September 2020: long-term in September 2020 (21 of 24 months), not in August
    ds = _ds([("p", "2019-01-01", "2020-09-30")], instruments=_measures([("p", "fbw", "2020-08-01", None)]))
    assert _kf(ds, "2020-09-01", "2020-09-01")["k3e2"] == pytest.approx(1 / 2)  # p and z long-term, p in FbW
    assert _kf(ds, "2020-08-01", "2020-08-01")["k3e2"] == 0  # only z long-term, without a measure


# ---------------------------------------------------------------------------- guards


def test_unknown_filter_keys_and_values_are_named():
    ds = _ds(IN_RECEIPT)
    with pytest.raises(ValueError, match="'gender'"):
        kpi.key_figures(ds, "2020-01-01", "2020-12-01", {"gender": "f"})
    with pytest.raises(ValueError, match="sex.*'w'"):
        kpi.key_figures(ds, "2020-01-01", "2020-12-01", {"sex": "w"})
    with pytest.raises(ValueError, match="jc_id.*'NOPE'"):
        kpi.key_figures(ds, "2020-01-01", "2020-12-01", {"jc_id": ["J", "NOPE"]})
    with pytest.raises(ValueError, match="age_group"):
        kpi.key_figures(ds, "2020-01-01", "2020-12-01", {"age_group": "unter 30"})


@pytest.mark.parametrize("bad", ["02/01/2021", "2021-13-01", "1.2.21", "Februar 2021", "20210201", 20210201])
def test_ambiguous_or_invalid_dates_are_refused(bad):
    with pytest.raises(ValueError, match="start"):
        kpi.key_figures(_ds(IN_RECEIPT), bad, "2021-12-01")


def test_german_dates_are_day_first():
    ds = _ds(IN_RECEIPT, [("p", "2021-02-10", None, "svb")])
    german = kpi.key_figures(ds, "01.02.2021", "01.03.2021")
    iso = kpi.key_figures(ds, "2021-02-01", "2021-03-01")
    pd.testing.assert_frame_equal(german, iso)
    assert german.set_index("kpi").at["integrations", "value"] == 1  # February, not 2 January
    with pytest.raises(ValueError, match="before start"):
        kpi.key_figures(ds, "01.03.2021", "01.02.2021")


def test_a_change_is_shown_only_from_two_visible_counts():
    from casework import privacy

    assert privacy.show_protected_change(110, 100) == "+10,0 %" and privacy.show_protected_change(90, 100) == \
        "-10,0 %"
    assert privacy.show_protected_change(None, 100) == "–" and privacy.show_protected_change(50, 19) == "–"
    assert privacy.show_protected_change(5, 100) == "–"  # the change would reveal a hidden count


def test_long_term_unemployed_need_unemployment_spells():
    assert "lza" in kpi.key_figures(_ds(IN_RECEIPT), "2019-12-01", "2019-12-01").attrs["notes"]
    u = pd.DataFrame({"spell_id": ["u1", "u2", "u3"], "person_id": ["p", "z", "z"],
                      "start": pd.to_datetime(["2019-01-01", "2019-01-01", "2019-07-14"]),
                      "end": [pd.NaT, D("2019-05-31"), pd.NaT]})  # z: 43 days without registration in between
    ds = _ds(IN_RECEIPT, unemployment=u)
    # 31.12.2019 is 364 days after 01.01.2019: p is long-term unemployed then, not at the end of November
    assert _kf(ds, "2019-12-01", "2019-12-01")["lza"] == 1
    assert _kf(ds, "2019-11-01", "2019-11-01")["lza"] == 0
    # six weeks (42 days) without registration do not break it (§ 18 Abs. 1 Satz 2 SGB III), nor no day between
    for second in ("2019-07-13", "2019-06-01"):
        joined = u.assign(start=pd.to_datetime(["2019-01-01", "2019-01-01", second]))
        assert _kf(_ds(IN_RECEIPT, unemployment=joined), "2019-12-01", "2019-12-01")["lza"] == 2, second
    assert _kf(ds, "2019-12-01", "2019-12-01", {"sex": "m"})["lza"] == 0



@st.composite
def _unemployment(draw):
    rows = []
    for pid in ("a", "b", "c"):
        day = draw(st.integers(0, 400))
        for _ in range(draw(st.integers(1, 4))):
            length = draw(st.integers(0, 500))
            open_ = draw(st.booleans()) and draw(st.booleans())
            start = D("2017-01-01") + pd.Timedelta(days=day)
            rows.append((pid, start, pd.NaT if open_ else start + pd.Timedelta(days=length)))
            day += length + draw(st.sampled_from([1, 2, 30, 42, 43, 44, 90]))
    return pd.DataFrame(rows, columns=["person_id", "start", "end"])


@settings(max_examples=60, deadline=None)
@given(_unemployment(), st.integers(0, 40), st.integers(0, 5), st.sampled_from([0, 42]))
def test_long_term_unemployed_months_equal_a_day_by_day_count(u, first, months, bridge):
    from casework import _kpi_sql
    from tests.reference_kpi import reference_long_term_unemployed

    lo = 2017 * 12 - 1970 * 12 + first
    got = _kpi_sql.long_term_unemployed_months(u["person_id"], u["start"], u["end"], lo, lo + months, bridge)
    for m in range(lo, lo + months + 1):
        day = pd.Timestamp(year=1970 + m // 12, month=m % 12 + 1, day=1) + pd.offsets.MonthEnd(0)
        assert set(got.loc[got["m"] == m, "person_id"]) == reference_long_term_unemployed(u, day, bridge), m
    if bridge == kpi.LZA_BRIDGE_DAYS:
        assert got.equals(kpi.long_term_unemployed_months(u, lo, lo + months))


def test_an_interruption_of_up_to_six_weeks_does_not_break_unemployment():
    # § 18 Abs. 1 Satz 2 SGB III: "Zeiten einer Erkrankung oder sonstigen Nicht-Erwerbstätigkeit [...] bis zu
    # sechs Wochen unterbrechen die Dauer der Arbeitslosigkeit nicht" (with bridge_days=42, as the exit outcome
    # casework.panel.UNEMPLOYMENT_BRIDGE_DAYS reads it); a day inside the gap is no day of unemployment
    from casework import _kpi_sql

    def count(second_start, day, bridge=42):
        u = pd.DataFrame({"person_id": ["p", "p"], "start": pd.to_datetime(["2019-01-01", second_start]),
                          "end": [D("2019-05-31"), pd.NaT]})
        m = int(kpi.parse_month(day))
        return len(_kpi_sql.long_term_unemployed_months(u["person_id"], u["start"], u["end"], m, m, bridge))

    assert count("2019-07-13", "2019-12-01") == 1  # 42 days without registration (1 June to 12 July)
    assert count("2019-07-14", "2019-12-01") == 0  # 43 days: a new episode from 14 July
    assert count("2019-07-13", "2019-12-01", bridge=0) == 0
    assert count("2019-07-13", "2019-06-01") == 0  # 30 June lies in the gap


def test_caseloads_per_caseworker_and_missing_tables_named():
    with pytest.raises(ValueError, match="caseworkers, assignments"):
        kpi.caseloads(_ds(IN_RECEIPT), "31.12.2020")
    cw = pd.DataFrame({"caseworker_id": ["c1", "c2"], "jc_id": "J", "team_id": ["T", "T"],
                       "fallmanagement": [True, False]})
    asg = pd.DataFrame({"person_id": ["p", "z", "p"], "caseworker_id": ["c1", "c1", "c2"],
                        "start": pd.to_datetime(["2020-01-01", "2020-06-01", "2019-01-01"]),
                        "end": [pd.NaT, pd.NaT, D("2019-12-31")]})
    loads = kpi.caseloads(_ds(IN_RECEIPT, caseworkers=cw, assignments=asg), "31.12.2020").set_index("caseworker_id")
    assert loads.loc["c1", "persons"] == 2 and loads.loc["c2", "persons"] == 0
    with pytest.raises(ValueError, match="02/01/2021"):
        kpi.caseloads(_ds(IN_RECEIPT, caseworkers=cw, assignments=asg), "02/01/2021")
