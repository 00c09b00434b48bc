"""Time to integration (time-varying hazard) and difference-in-differences."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from casework.effects.did import did, project_did, project_groups
from casework.effects.survival import discrete_hazard, kaplan_meier, person_months
from tests.datasets import small


def _cohort():
    lm = pd.Timestamp("2020-01-01")
    return pd.DataFrame({
        "person_id": ["a", "b", "c"], "landmark": lm, "measure": ["none", "debt_counselling", "debt_counselling"],
        "measure_start": [pd.NaT, lm - pd.Timedelta(days=20), lm - pd.Timedelta(days=10)],
        "measure_end": [pd.NaT, lm + pd.Timedelta(days=70), pd.NaT],
        "months_to_event": [3.5, 5.2, 2.0], "event": [1, 0, 1], "age": [30, 40, 50]})


def test_person_months_counts_states_and_events():
    pm = person_months(_cohort(), horizon=24)
    assert pm.groupby("person_id").size().to_dict() == {"a": 4, "b": 5, "c": 3}
    assert pm.groupby("person_id")["event"].sum().to_dict() == {"a": 1, "b": 0, "c": 1}
    b = pm[pm.person_id == "b"].set_index("month")["state"]
    assert list(b) == ["lockin", "lockin", "lockin", "post", "post"]  # ended after 70 days
    assert set(pm.loc[pm.person_id == "a", "state"]) == {"none"}
    assert set(pm.loc[pm.person_id == "c", "state"]) == {"lockin"}  # still running


def _simulated_hazard(n=6000, seed=0, lockin=np.log(0.5), post=np.log(2.0)):
    """Discrete-time data from a known logit hazard with lock-in for 3 months, then the post effect."""
    rng = np.random.default_rng(seed)
    lm = pd.Timestamp("2020-01-01")
    x = rng.normal(size=n)
    treated = rng.random(n) < 0.3
    rows = []
    for i in range(n):
        for m in range(24):
            state = "none" if not treated[i] else ("lockin" if m < 3 else "post")
            eta = -3 + 0.5 * x[i] + (lockin if state == "lockin" else post if state == "post" else 0)
            if rng.random() < 1 / (1 + np.exp(-eta)):
                rows.append((i, m + 0.5, 1))
                break
        else:
            rows.append((i, 24.0, 0))
    idx, t, e = map(np.array, zip(*rows))
    return pd.DataFrame({"person_id": idx, "landmark": lm, "x": x,
                         "measure": np.where(treated, "debt_counselling", "none"),
                         "measure_start": np.where(treated, lm, pd.NaT),
                         "measure_end": np.where(treated, lm + pd.Timedelta(days=3 * 30.4375 - 1), pd.NaT),
                         "months_to_event": t, "event": e})


def test_discrete_hazard_recovers_lockin_and_post_odds_ratios():
    c = _simulated_hazard()
    c["measure_start"] = pd.to_datetime(c["measure_start"])
    c["measure_end"] = pd.to_datetime(c["measure_end"])
    h = discrete_hazard(c, ["x"]).set_index("phase")
    assert h.loc["lockin", "ci_low"] < 0.5 < h.loc["lockin", "ci_high"]
    assert h.loc["post", "ci_low"] < 2.0 < h.loc["post", "ci_high"]


def test_kaplan_meier_on_synthetic_cohort():
    from casework.panel import analysis_cohort

    c = analysis_cohort(small("gelsenkirchen", 0, 4000))
    km = kaplan_meier(c, by=c["measure"].eq("none").map({True: "ohne", False: "mit"}))
    assert set(km["group"]) == {"ohne", "mit"}
    assert km.groupby("group")["still_unintegrated"].apply(lambda s: s.is_monotonic_decreasing).all()


def _panel(effect=0.005, n_jc=12, treated=(0, 1, 2), seed=0):
    rng = np.random.default_rng(seed)
    months = pd.date_range("2019-01-01", periods=36, freq="MS")
    p = pd.DataFrame([(j, m) for j in range(n_jc) for m in months], columns=["jc_id", "month"])
    p["rate"] = 0.02 + 0.001 * p["jc_id"] + 0.002 * np.sin(p["month"].dt.month) + rng.normal(0, 0.002, len(p))
    p.loc[p["jc_id"].isin(treated) & (p["month"] >= "2020-07-01"), "rate"] += effect
    return p


def test_did_recovers_effect_and_reports_pretrend():
    r = did(_panel(), treated=[0, 1, 2], start="2020-07-01", n_boot=199)
    assert r.ci_low < 0.005 < r.ci_high and r.p_value < 0.05
    assert r.pretrend_p > 0.01
    es = r.event_study
    assert list(es["event_time"]) == [-12, -9, -6, -3, 0, 3, 6, 9, 12]
    assert es.loc[es.event_time == -3, "months"].item() == 2  # the base month -1 is the reference, in no bin
    assert es.loc[es.event_time >= 0, "estimate"].mean() == pytest.approx(0.005, abs=0.002)
    assert (es["ci_low"] <= es["estimate"]).all() and (es["estimate"] <= es["ci_high"]).all()


def test_did_null_effect_is_not_significant_often():
    rejections = sum(did(_panel(effect=0.0, seed=s), [0, 1, 2], "2020-07-01", n_boot=99, seed=s).p_value < 0.05
                     for s in range(10))
    assert rejections <= 3


def test_single_treated_cluster_warns():
    r = did(_panel(treated=(0,)), treated=[0], start="2020-07-01", n_boot=99)
    assert "one project jobcenter" in r.warning
    assert r.exhaustive and r.n_assignments == 12 and r.min_p == pytest.approx(1 / 12)


@settings(max_examples=10, deadline=None)
@given(shift=st.floats(-0.01, 0.01))
def test_did_is_invariant_to_level_shifts_of_one_jobcenter(shift):
    p = _panel()
    base = did(p, [0, 1, 2], "2020-07-01", n_boot=9).estimate
    p.loc[p.jc_id == 5, "rate"] += shift
    assert did(p, [0, 1, 2], "2020-07-01", n_boot=9).estimate == pytest.approx(base, abs=1e-10)


def test_project_groups_join_phases_and_skip_addons():
    projects = pd.DataFrame({
        "project_id": ["pankow_modell", "pankow_verstetigung", "st/J1", "st/J2", "coach/J1"],
        "jc_id": ["P", "P", "J1", "J2", "J1"], "name": ["M", "V", "S", "S", "C"],
        "start": pd.to_datetime(["2020-01-01", "2021-01-01", "2016-01-01", "2016-01-01", "2016-01-01"])})
    g = project_groups(projects).set_index("key")
    assert set(g.index) == {"pankow", "st"}
    assert g.loc["pankow", "start"] == pd.Timestamp("2020-01-01")
    assert g.loc["pankow", "starts"] == (pd.Timestamp("2020-01-01"),)


def test_project_did_on_synthetic_nrw():
    ds = small("nrw_teilhabe", 0, 20000)
    out = project_did(ds, n_boot=99)
    truth = {d["project"]: d["value"] for d in ds.ground_truth["did"]}
    assert set(out["project"]) == set(truth)
    row = out.iloc[0]
    assert row["ci_low"] - 0.002 < truth[row["project"]] < row["ci_high"] + 0.002
    assert row["sentence"].startswith("Seit Projektbeginn")
