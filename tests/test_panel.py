"""Analysis cohort and jobcenter-month panel on a small hand-made dataset with known answers."""

import pandas as pd

from casework import panel
from casework.store import Dataset
from tests.datasets import small

D = pd.Timestamp


def _tiny():
    persons = pd.DataFrame({
        "person_id": ["a", "b", "c", "d"], "jc_id": "J1", "entry_date": [D("2019-01-10")] * 4,
        "birth_year": [1980, 1970, 1990, 1985], "sex": ["f", "m", "f", "m"], "citizenship": "german",
        "german_level": "native", "single_parent": False, "children_under_3": False, "school": "middle",
        "vocational": "none", "benefit_months": 0, "unemployment_months": 3, "health_restriction": False,
        "disability": False})
    needs = {f"need_{k}": 0 for k in ["qualification", "health", "motivation", "framework", "childcare",
                                      "care_duties", "housing", "debt", "addiction", "mobility", "language",
                                      "psychosocial"]}
    assessments = pd.DataFrame({"assessment_id": ["A1", "A2", "A3", "A4", "A5"],
                                "person_id": ["a", "b", "c", "d", "a"],
                                "date": [D("2019-02-05"), D("2019-02-07"), D("2019-02-09"), D("2019-02-11"),
                                         D("2019-08-01")],
                                **needs, "strengths": 1, "horizon_12m": True, "profillage": None})
    offers = pd.DataFrame({"offer_id": ["O1"], "partner_id": ["PA"], "project_id": [None], "name": ["SB"],
                           "measure": ["debt_counselling"], "need": ["debt"], "capacity": [10]})
    referrals = pd.DataFrame({"referral_id": ["R1", "R2"], "person_id": ["a", "b"], "offer_id": ["O1", "O1"],
                              "referred": [D("2019-02-10"), D("2019-02-10")],
                              "started": [D("2019-03-01"), pd.NaT], "ended": [D("2019-06-30"), pd.NaT],
                              "status": ["completed", "no_show"]})
    employment = pd.DataFrame({"spell_id": ["E1", "E2", "E3"], "person_id": ["a", "c", "d"],
                               "start": [D("2019-09-15"), D("2019-03-10"), D("2020-08-01")], "end": pd.NaT,
                               "kind": ["svb", "svb", "svb"], "need_ending": True})
    benefits = pd.DataFrame({"spell_id": ["B1", "B2", "B3", "B4"], "person_id": ["a", "b", "c", "d"],
                             "start": [D("2019-01-10")] * 4,
                             "end": [D("2019-09-30"), pd.NaT, D("2019-03-31"), D("2020-08-31")]})
    return Dataset.from_tables({"persons": persons, "assessments": assessments, "offers": offers,
                                "referrals": referrals, "employment": employment, "benefits": benefits})


def test_cohort_by_hand():
    c = panel.analysis_cohort(_tiny(), cohort_start="2019-01-01", cohort_end="2019-12-31").set_index("person_id")
    # c integrated in March, before the landmark (1 May 2019): not in the cohort
    assert set(c.index) == {"a", "b", "d"}
    assert c.loc["a", "landmark"] == D("2019-05-01") and c.loc["a", "assessment_id"] == "A1"
    assert c.loc["a", "measure"] == "debt_counselling" and c.loc["b", "measure"] == "none"  # a no-show is untreated
    assert c.loc["a", "integration_12m"] == 1 and c.loc["b", "integration_12m"] == 0
    assert c.loc["d", "integration_12m"] == 0  # August 2020 is after the 12-month horizon
    assert c.loc["d", "event"] == 1 and c.loc["b", "event"] == 0
    assert c.loc["a", "age"] == 39 and c.loc["a", "female"] == 1


def test_end_of_benefit_receipt_outcome_by_hand():
    c = panel.analysis_cohort(_tiny(), cohort_start="2019-01-01", cohort_end="2019-12-31").set_index("person_id")
    # landmark May 2019, horizon May 2019 - April 2020: a's receipt ends in September (October without),
    # b's never, d's in August 2020 (after the horizon)
    assert (c.loc["a", "receipt_end_12m"], c.loc["b", "receipt_end_12m"], c.loc["d", "receipt_end_12m"]) == (
        1, 0, 0)
    assert set(panel.OUTCOMES) - set(panel.OUTCOME_TABLES) <= set(c.columns)


def test_measure_effects_takes_the_receipt_end_outcome_and_names_unknown_ones():
    import pytest

    from casework.effects import measure_effects

    ds = small("gelsenkirchen", 0, 3000)
    cohort = panel.analysis_cohort(ds)
    out = measure_effects(ds, method="ipw", outcome="receipt_end_12m", cohort=cohort, min_treated=20)
    assert (out["outcome"] == "receipt_end_12m").all() and out["estimate"].notna().any()
    with pytest.raises(ValueError, match="receipt_end_12m"):
        measure_effects(ds, outcome="exit_12m", cohort=cohort)


def test_cohort_does_not_modify_and_has_covariates():
    ds = small("pankow", 1, 3000)
    before = ds.table("persons").copy()
    c = panel.analysis_cohort(ds)
    pd.testing.assert_frame_equal(before, ds.table("persons"))
    assert set(panel.COHORT_COVARIATES) <= set(c.columns)
    assert c[panel.COHORT_COVARIATES].notna().all().all()
    assert c["person_id"].is_unique


def test_jobcenter_months_by_hand():
    jm = panel.jobcenter_months(_tiny()).set_index("month")
    assert jm.loc[D("2019-03-01"), "stock"] == 4 and jm.loc[D("2019-03-01"), "integrations"] == 1
    assert jm.loc[D("2019-04-01"), "stock"] == 3  # c left at the end of March
    assert jm.loc[D("2019-09-01"), "integrations"] == 1
    assert jm.loc[D("2019-10-01"), "stock"] == 2


def test_jobcenter_months_match_the_generator_truth():
    ds = small("pankow", 1, 3000)
    jm = panel.jobcenter_months(ds)
    emp = ds.table("employment")
    # svB, training, self-employment, and jobs with the new § 16e from 2019 (the generator makes both kinds)
    new_16e = (emp["kind"] == "funded_16e") & (emp["start"] >= "2019-01-01")
    assert new_16e.any()
    assert jm["integrations"].sum() == (emp["kind"].isin(["svb", "training", "self_employed"]) | new_16e).sum()
    assert set(jm["jc_id"]) == set(ds.table("jobcenters")["jc_id"])


def test_new_16e_counts_as_integration():
    ds = _tiny()
    emp = pd.DataFrame({"spell_id": ["F1", "F2"], "person_id": ["b", "b"], "start": [D("2018-12-01"),
                                                                                    D("2019-04-01")],
                        "end": pd.NaT, "kind": ["funded_16e", "funded_16e"], "need_ending": False})
    ds = Dataset.from_tables({**{t: ds.table(t) for t in ds.tables}, "employment": emp})
    jm = panel.jobcenter_months(ds).set_index("month")
    assert jm.loc[D("2019-04-01"), "integrations"] == 1 and jm["integrations"].sum() == 1


def test_receipt_end_outcome_is_the_synthetic_truth():
    # the generator records for every cohort person whether receipt ended within 12 months of the landmark
    ds = small("gelsenkirchen", 1, 3000)
    cohort = panel.analysis_cohort(ds).set_index("person_id")
    truth = ds.truth.set_index("person_id")
    truth = truth[truth["in_cohort"]]
    both = cohort.index.intersection(truth.index)
    assert len(both) > 0.9 * len(cohort)
    assert (cohort.loc[both, "receipt_end_12m"] == truth.loc[both, "receipt_end_12m"]).all()
