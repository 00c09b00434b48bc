"""The outcomes of issue 16 by hand: end of receipt and exit from registered unemployment (docs/estimands.md).

Landmark of the hand-made cohort: 01.05.2019 (index assessments in February 2019), horizon 01.05.2020,
data end 31.08.2020.
"""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from casework import panel
from casework.store import Dataset
from tests.test_panel import _tiny

D = pd.Timestamp
LANDMARK = D("2019-05-01")


def _with_unemployment(spells, extra_person=True):
    ds = _tiny()
    t = {name: ds.table(name) for name in ds.tables}
    if extra_person:  # e: in receipt throughout, registered unemployed only after the landmark
        t["persons"] = pd.concat([t["persons"], t["persons"][t["persons"]["person_id"] == "b"].assign(
            person_id="e")], ignore_index=True)
        t["assessments"] = pd.concat([t["assessments"], t["assessments"][t["assessments"]["person_id"] == "b"]
                                      .assign(person_id="e", assessment_id="A6")], ignore_index=True)
        t["benefits"] = pd.concat([t["benefits"], t["benefits"][t["benefits"]["person_id"] == "b"].assign(
            person_id="e", spell_id="B5")], ignore_index=True)
    u = pd.DataFrame(spells, columns=["person_id", "start", "end"])
    u.insert(0, "spell_id", [f"U{i}" for i in range(len(u))])
    t["unemployment"] = u.assign(start=pd.to_datetime(u["start"]), end=pd.to_datetime(u["end"]))
    return Dataset.from_tables(t)


SPELLS = [
    ("a", "2019-02-01", "2019-04-30"), ("a", "2019-05-01", "2020-04-30"),  # adjacent: one unemployment,
    # ending the day before the horizon -> exit
    ("b", "2019-01-15", "2019-06-30"), ("b", "2019-08-12", None),  # gap 01.07.-11.08. = 42 days: bridged
    ("d", "2019-03-01", "2019-06-30"), ("d", "2019-08-13", None),  # gap of 43 days: exit on 30.06.2019
    ("e", "2019-06-01", "2019-07-31"),  # not unemployed at the landmark: not at risk
]


def _cohort(ds):
    return panel.analysis_cohort(ds, cohort_start="2019-01-01", cohort_end="2019-12-31").set_index("person_id")


def test_unemployment_exit_by_hand():
    c = _cohort(_with_unemployment(SPELLS))
    assert c.loc["a", "unemployment_exit_12m"] == 1
    assert c.loc["b", "unemployment_exit_12m"] == 0  # § 18 Abs. 1 SGB III: up to six weeks do not interrupt
    assert c.loc["d", "unemployment_exit_12m"] == 1
    assert np.isnan(c.loc["e", "unemployment_exit_12m"]) and np.isnan(c.loc["e", "months_to_unemployment_exit"])
    # time to event: first day no longer unemployed, in months of 30.4375 days; ongoing -> censored at data end
    assert c.loc["a", "months_to_unemployment_exit"] == pytest.approx((D("2020-05-01") - LANDMARK).days / 30.4375,
                                                                      abs=1e-3)
    assert c.loc["d", "months_to_unemployment_exit"] == pytest.approx(61 / 30.4375, abs=1e-3)
    assert c.loc["b", "unemployment_exit_event"] == 0
    assert c.loc["b", "months_to_unemployment_exit"] == pytest.approx((D("2020-08-31") - LANDMARK).days / 30.4375,
                                                                      abs=1e-3)


def test_unemployment_ending_on_the_horizon_day_is_no_exit_within_12_months():
    c = _cohort(_with_unemployment([("a", "2019-02-01", "2020-05-01")], extra_person=False))
    assert c.loc["a", "unemployment_exit_12m"] == 0 and c.loc["a", "unemployment_exit_event"] == 1


def test_receipt_end_time_to_event_by_hand():
    c = _cohort(_with_unemployment(SPELLS))
    # a's receipt ends 30.09.2019; b's and e's run on (censored at the data end); d's ends 31.08.2020 = data end
    assert c.loc["a", "months_to_receipt_end"] == pytest.approx((D("2019-10-01") - LANDMARK).days / 30.4375,
                                                                abs=1e-3)
    assert (c.loc["a", "receipt_end_event"], c.loc["b", "receipt_end_event"], c.loc["d", "receipt_end_event"]) == (
        1, 0, 1)
    assert c.loc["d", "receipt_end_12m"] == 0  # ends after the horizon


def test_a_dataset_without_unemployment_spells_names_the_missing_table():
    from casework.effects import measure_effects

    ds = _tiny()
    c = panel.analysis_cohort(ds, cohort_start="2019-01-01", cohort_end="2019-12-31")
    assert "unemployment_exit_12m" not in c.columns
    with pytest.raises(ValueError, match="needs the table 'unemployment'"):
        measure_effects(ds, outcome="unemployment_exit_12m", cohort=c)
    with pytest.raises(ValueError, match="needs the table 'unemployment'"):
        panel.require_outcome(ds, "unemployment_exit_12m")


def test_jobcenter_months_count_exits_from_receipt_and_unemployment_by_hand():
    jm = panel.jobcenter_months(_with_unemployment(SPELLS)).set_index("month")
    # receipt ends: c 31.03.2019, a 30.09.2019, d 31.08.2020
    assert jm.loc[D("2019-03-01"), "receipt_ends"] == 1 and jm.loc[D("2019-09-01"), "receipt_ends"] == 1
    assert jm.loc[D("2020-08-01"), "receipt_ends"] == 1 and jm["receipt_ends"].sum() == 3
    assert jm.loc[D("2019-09-01"), "receipt_end_rate"] == pytest.approx(1 / 4)  # a, b, d, e in stock
    # unemployed in May 2019: a (once, though two spells touch April/May), b, d; e from June
    assert jm.loc[D("2019-05-01"), "unemployed"] == 3 and jm.loc[D("2019-06-01"), "unemployed"] == 4
    assert jm.loc[D("2019-04-01"), "unemployed"] == 3  # a's two spells touch April and May: a counts once
    # exits: d on 30.06.2019 (43-day gap), e on 31.07.2019, a on 30.04.2020; b's gap is bridged
    assert jm.loc[D("2019-06-01"), "unemployment_exits"] == 1 and jm.loc[D("2019-07-01"), "unemployment_exits"] == 1
    assert jm.loc[D("2020-04-01"), "unemployment_exits"] == 1 and jm["unemployment_exits"].sum() == 3
    assert jm.loc[D("2019-06-01"), "unemployment_exit_rate"] == pytest.approx(1 / 4)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 400), st.integers(0, 200)), min_size=1, max_size=6),
       st.integers(0, 60))
def test_spell_runs_never_leave_a_gap_inside_and_keep_every_day(pieces, bridge):
    # property: spells laid out one after another with random gaps; a run is split exactly where a gap exceeds
    # the bridge, and every spell day lies in exactly one run
    day, rows = D("2020-01-01"), []
    for gap, length in pieces:
        start = day + pd.Timedelta(days=gap)
        end = start + pd.Timedelta(days=length)
        rows.append(("p", start, end))
        day = end + pd.Timedelta(days=1)
    s = pd.DataFrame(rows, columns=["person_id", "start", "end"])
    runs = panel.spell_runs(s, bridge)
    gaps = [g for g, _ in pieces[1:]]
    assert len(runs) == 1 + sum(g > bridge for g in gaps)
    assert runs["start"].min() == s["start"].min() and runs["end"].max() == s["end"].max()
    covered = sum((runs["end"] - runs["start"]).dt.days + 1)
    assert covered == (s["end"].max() - s["start"].min()).days + 1 - sum(g for g in gaps if g > bridge)


def _synthetic_cohort():
    from tests.datasets import small

    ds = small("pankow", 1, 3000)
    return ds, panel.analysis_cohort(ds)


def test_synthetic_cohort_outcomes_agree_with_their_times_to_event():
    ds, c = _synthetic_cohort()
    assert "unemployment" in ds.tables
    for outcome, (duration, event) in panel.TIME_TO_EVENT.items():
        r = c[c[outcome].notna()]
        assert len(r) > 100 and r[duration].notna().all() and (r[duration] >= 0).all()
        if outcome != "integration_12m":  # counted to the first day after the spell: never at time zero
            assert (r[duration] > 0).all()
        # an outcome within 12 months is an event within (12 calendar months <= 366 days) of the landmark
        within = r[outcome] == 1
        assert (r.loc[within, event] == 1).all() and (r.loc[within, duration] <= 366 / 30.4375 + 1e-3).all()
        assert (r.loc[(r[event] == 1) & (r[duration] < 11.9), outcome] == 1).all()
    # unemployment exit is defined exactly for those registered unemployed at the landmark
    u = ds.table("unemployment").merge(c[["person_id", "landmark"]], on="person_id")
    unemployed = u.loc[(u["start"] <= u["landmark"]) & (u["end"].isna() | (u["end"] >= u["landmark"])),
                       "person_id"].unique()
    assert set(c.loc[c["unemployment_exit_12m"].notna(), "person_id"]) == set(unemployed)


def test_unemployment_exit_outcome_is_the_synthetic_truth_where_recorded():
    ds, c = _synthetic_cohort()
    truth = ds.truth.set_index("person_id")
    if "unemployment_exit_12m" not in truth.columns:
        pytest.skip("the synthetic ground truth does not record unemployment_exit_12m yet (issue 17)")
    truth = truth[truth["in_cohort"]]
    c = c.set_index("person_id")
    both = c.index.intersection(truth.index)
    assert len(both) > 0.9 * len(c)
    mine, theirs = c.loc[both, "unemployment_exit_12m"], truth.loc[both, "unemployment_exit_12m"]
    assert (mine.isna() == theirs.isna()).all() and (mine.dropna() == theirs.dropna()).all()


def test_measure_effects_survival_and_did_take_the_new_outcomes():
    from casework.effects import measure_effects, survival
    from casework.effects.did import project_did

    ds, c = _synthetic_cohort()
    at_risk = c["unemployment_exit_12m"].notna()
    out = measure_effects(ds, method="ipw", outcome="unemployment_exit_12m", cohort=c, min_treated=5)
    assert (out["outcome"] == "unemployment_exit_12m").all()
    used = out["n_treated"] + out["n_control"]
    assert (used <= at_risk.sum()).all() and out["estimate"].notna().any()
    c2 = c.assign(treated=(c["measure"] != "none").astype(int))
    hr = survival.cox(c2, ["age", "female"], outcome="unemployment_exit_12m")
    by_hand = survival.cox(c2[at_risk], ["age", "female"], duration="months_to_unemployment_exit",
                           event="unemployment_exit_event")
    assert hr.loc["treated", "coef"] == pytest.approx(by_hand.loc["treated", "coef"])
    km = survival.kaplan_meier(c2, by="treated", outcome="receipt_end_12m")
    assert km["still_unintegrated"].between(0, 1).all()
    with pytest.raises(ValueError, match="not both"):
        survival.cox(c2, ["age"], duration="months_to_receipt_end", outcome="receipt_end_12m")
    pm = survival.person_months(c, outcome="unemployment_exit_12m")
    assert pm["person_id"].nunique() == at_risk.sum()
    r = c[at_risk]  # one event per person who leaves unemployment within the model's horizon
    assert pm["event"].sum() == ((r["unemployment_exit_event"] == 1)
                                 & (r["months_to_unemployment_exit"] < survival.HORIZON)).sum()
    dh = survival.discrete_hazard(c, ["age", "female"], outcome="receipt_end_12m")
    assert len(dh) > 0 and np.isfinite(dh["odds_ratio"]).all()
    ci = survival.adjusted_cumulative_incidence(c2, ["age", "female"], [6, 12], outcome="receipt_end_12m",
                                                n_boot=5)
    assert ((ci["treated"] >= 0) & (ci["treated"] <= 1)).all()
    panel_ = panel.jobcenter_months(ds)
    for outcome, (_, name, unit) in panel.DID_SERIES.items():
        r = project_did(ds, n_boot=49, outcome=outcome, panel=panel_)
        assert (r["outcome"] == outcome).all() and r["estimate"].notna().all()
        assert name in r["sentence"].iloc[0] and unit in r["sentence"].iloc[0]


def test_did_without_unemployment_spells_names_the_missing_table():
    from casework.effects.did import project_did

    with pytest.raises(ValueError, match="needs the table 'unemployment'"):
        project_did(_tiny(), outcome="unemployment_exit_12m")


@pytest.mark.parametrize("outcome", ["receipt_end_12m", "unemployment_exit_12m"])
def test_measure_effects_on_the_new_outcomes_match_the_synthetic_truth(outcome):
    from casework.effects import measure_effects
    from casework.effects.validation import truth_frame
    from tests.datasets import small

    ds = small("gelsenkirchen", 0, 8000)
    truth = truth_frame(ds, "att", outcome)
    if truth.empty:
        pytest.skip(f"the synthetic ground truth has no effect records for {outcome} yet (issue 17)")
    est = measure_effects(ds, method="aipw", outcome=outcome)
    m = est.dropna(subset=["estimate"]).merge(truth, on="measure")
    # only the registered unemployed at the landmark are at risk of an unemployment exit (about half the
    # cohort), so fewer measures have enough treated at this size
    assert len(m) >= (2 if outcome == "unemployment_exit_12m" else 3)
    z = (m["estimate"] - m["truth"]) / m["se"]
    assert (z.abs() < 4).all(), m[["measure", "estimate", "se", "truth"]]
