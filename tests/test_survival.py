"""Survival models on any DataFrame (issue 15, item 6): Cox without hidden defaults, counting-process data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lifelines import CoxPHFitter
from lifelines.datasets import load_rossi

from casework.effects.survival import (
    adjusted_cumulative_incidence,
    cox,
    cox_time_varying,
    discrete_hazard,
    episodes,
    kaplan_meier,
)

ROSSI_COVARIATES = ["age", "race", "wexp", "mar", "paro", "prio"]


def test_cox_reproduces_the_recidivism_coefficient():
    """Rossi et al.: financial aid lowers the arrest hazard, coef -0.379 (lifelines and statsmodels agree)."""
    s = cox(load_rossi(), ROSSI_COVARIATES, treatment="fin", duration="week", event="arrest")
    assert s.loc["fin", "coef"] == pytest.approx(-0.3794, abs=5e-4)
    assert s.loc["fin", "se(coef)"] == pytest.approx(0.1914, abs=5e-4)


def test_a_horizon_needs_its_unit_and_censors_there():
    r = load_rossi()
    with pytest.raises(ValueError, match="unit"):
        cox(r, ROSSI_COVARIATES, treatment="fin", duration="week", event="arrest", horizon=24)
    s = cox(r, ROSSI_COVARIATES, treatment="fin", duration="week", event="arrest", horizon=24, unit="weeks")
    cut = r.assign(arrest=r["arrest"] * (r["week"] <= 24), week=r["week"].clip(upper=24))
    ref = CoxPHFitter().fit(cut, "week", "arrest").summary
    assert s.loc["fin", "coef"] == pytest.approx(ref.loc["fin", "coef"], abs=1e-6)


def test_penalty_never_touches_the_treatment():
    r = load_rossi()
    s = cox(r, ROSSI_COVARIATES, treatment="fin", duration="week", event="arrest", penalizer=5.0)
    everything = CoxPHFitter(penalizer=5.0).fit(r, "week", "arrest").summary
    assert abs(everything.loc["fin", "coef"]) < 0.1  # lifelines' scalar penalty shrinks the treatment too
    assert s.loc["fin", "coef"] == pytest.approx(-0.38, abs=0.06)  # fin is randomised: the covariates barely matter


def _weibull_ph(n=3000, beta=0.5, gamma=np.log(0.6), seed=0):
    """Proportional hazards with a Weibull baseline, a confounder x and treatment t; censoring at random."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    t = (rng.random(n) < 1 / (1 + np.exp(-x))).astype(int)
    scale = np.exp(beta * x + gamma * t)
    time = (rng.exponential(size=n) / (0.05 * scale)) ** (1 / 1.3)
    cens = rng.uniform(0, 30, n)
    return pd.DataFrame({"x": x, "treated": t, "months": np.minimum(time, cens), "event": (time <= cens).astype(int),
                         "group": np.where(rng.random(n) < 0.5, "a", "b")})


def test_cox_on_simulated_data_matches_lifelines_and_covers_the_truth():
    d = _weibull_ph()
    s = cox(d, ["x", "group"], duration="months")
    ref = CoxPHFitter().fit(d.assign(group=(d["group"] == "b").astype(float)), "months", "event").summary
    assert s.loc["treated", "coef"] == pytest.approx(ref.loc["treated", "coef"], abs=1e-6)
    assert s.loc["treated", "coef lower 95%"] < np.log(0.6) < s.loc["treated", "coef upper 95%"]
    assert "group=b" in s.index


def test_bad_input_is_named():
    d = _weibull_ph(n=200)
    with pytest.raises(ValueError, match="'x'.*row 7"):
        cox(d.assign(x=d["x"].where(d.index != 7, np.inf)), ["x"], duration="months")
    with pytest.raises(ValueError, match="date"):
        cox(d.assign(when=pd.Timestamp("2020-01-01")), ["when"], duration="months")
    with pytest.raises(ValueError, match="0/1"):
        cox(d.assign(event=2), ["x"], duration="months")
    with pytest.raises(ValueError, match="no column"):
        cox(d, ["nope"], duration="months")


def _time_varying(n=2500, gamma=np.log(2.0), seed=0):
    """Treatment that starts at a random time; hazard exp(0.5 x + gamma * treated(t)) with an exponential baseline."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    switch = np.where(rng.random(n) < 0.6, rng.uniform(0, 12, n), np.nan)
    base = 0.05 * np.exp(0.5 * x)
    first = rng.exponential(size=n) / base
    before = np.isnan(switch) | (first < switch)
    after = np.where(np.isnan(switch), 0, switch) + rng.exponential(size=n) / (base * np.exp(gamma))
    time = np.where(before, first, after)
    cens = 24.0
    return pd.DataFrame({"pid": np.arange(n), "x": x, "begin": switch, "time": np.minimum(time, cens),
                         "event": (time <= cens).astype(int)})


def test_time_varying_treatment_recovers_its_hazard_ratio_where_a_baseline_cox_is_biased():
    d = _time_varying()
    ep = episodes(d, id="pid", duration="time", event="event", switches={"treated": "begin"}, keep=["x"])
    assert ep.groupby("pid")["event"].sum().equals(d.set_index("pid")["event"])
    assert np.allclose(ep.groupby("pid")["stop"].max(), d["time"])
    s = cox_time_varying(ep, ["x"], id="pid")
    assert s.loc["state=treated", "exp(coef) lower 95%"] < 2.0 < s.loc["state=treated", "exp(coef) upper 95%"]
    ever = cox(d.assign(treated=(d["begin"] < d["time"]).astype(int)), ["x"], duration="time")
    assert ever.loc["treated", "exp(coef) upper 95%"] < 2.0  # immortal time: the event-free wait counts as treated


def test_lockin_and_post_states_from_a_generic_frame():
    rng = np.random.default_rng(1)
    n = 3000
    x = rng.normal(size=n)
    begin = np.where(rng.random(n) < 0.5, 2.0, np.nan)
    end = begin + 4
    # piecewise-constant hazard: none (0..2) -> lockin (2..6, HR 0.5) -> post (6.., HR 1.5); never treated: none
    cuts = np.column_stack([np.zeros(n), np.nan_to_num(begin, nan=24.0), np.nan_to_num(end, nan=24.0),
                            np.full(n, 24.0)])
    time = np.full(n, 24.0)
    for k, hr in enumerate((1.0, 0.5, 1.5)):
        draw = cuts[:, k] + rng.exponential(size=n) / (0.05 * hr * np.exp(0.3 * x))
        hit = (time == 24.0) & (draw < cuts[:, k + 1])
        time[hit] = draw[hit]
    d = pd.DataFrame({"pid": range(n), "x": x, "t": time, "e": (time < 24).astype(int), "b": begin, "end": end})
    ep = episodes(d, id="pid", duration="t", event="e", switches={"lockin": "b", "post": "end"}, keep=["x"])
    s = cox_time_varying(ep, ["x"], id="pid")
    for term, hr in (("state=lockin", 0.5), ("state=post", 1.5)):
        assert s.loc[term, "exp(coef) lower 95%"] < hr < s.loc[term, "exp(coef) upper 95%"]


def test_counting_process_errors():
    ep = pd.DataFrame({"pid": [1, 1], "start": [0.0, 2.0], "stop": [3.0, 5.0], "event": [0, 1], "state": [0, 1]})
    with pytest.raises(ValueError, match="overlap"):
        cox_time_varying(ep, id="pid", treatment="state")
    with pytest.raises(ValueError, match="does not end after it starts"):
        cox_time_varying(ep.assign(stop=[0.0, 5.0]), id="pid", treatment="state")
    d = pd.DataFrame({"pid": [1], "t": [5.0], "e": [1], "a": [3.0], "b": [1.0]})
    with pytest.raises(ValueError, match="order"):
        episodes(d, id="pid", duration="t", event="e", switches={"lockin": "a", "post": "b"})


def test_discrete_hazard_names_the_cohort_columns_it_needs():
    with pytest.raises(ValueError, match="landmark"):
        discrete_hazard(_weibull_ph(n=50), ["x"])


def test_kaplan_meier_horizon_needs_a_unit():
    d = _weibull_ph(n=300)
    with pytest.raises(ValueError, match="unit"):
        kaplan_meier(d, duration="months", horizon=12)
    km = kaplan_meier(d, duration="months", horizon=12, unit="months")
    assert km["time"].max() <= 12


def test_adjusted_cumulative_incidence_difference_covers_the_truth():
    d = _weibull_ph(n=1500, seed=2)
    out = adjusted_cumulative_incidence(d, ["x"], times=[6, 12], duration="months", n_boot=30)
    # true standardised risks: S(t | x, a) = exp(-(0.05 * exp(0.5 x + gamma a) * t) ... ) for the Weibull above
    x = d["x"].to_numpy()
    true = [np.mean(np.exp(-((0.05 * np.exp(0.5 * x + np.log(0.6))) * t ** 1.3)))
            - np.mean(np.exp(-((0.05 * np.exp(0.5 * x)) * t ** 1.3))) for t in (6, 12)]
    true = -np.array(true)
    assert (out["ci_low"] < true).all() and (true < out["ci_high"]).all()
    assert (out["difference"] < 0).all() and (out["treated"] < out["untreated"]).all()


@settings(max_examples=40, deadline=None)
@given(data=st.lists(st.tuples(st.floats(0.1, 30), st.integers(0, 1), st.one_of(st.none(), st.floats(-5, 40)),
                               st.one_of(st.none(), st.floats(0, 20))), min_size=1, max_size=15))
def test_episodes_partition_the_follow_up(data):
    """Episodes tile (0, duration] without gaps, keep each person's event once, and follow the switch order."""
    d = pd.DataFrame(data, columns=["t", "e", "a", "gap"]).assign(pid=lambda x: range(len(x)))
    d["b"] = d["a"] + d["gap"]  # post never begins before lock-in
    ep = episodes(d.astype({"a": float, "b": float}), id="pid", duration="t", event="e",
                  switches={"lockin": "a", "post": "b"})
    g = ep.groupby("pid")
    assert np.allclose(g["stop"].max(), d["t"]) and (g["start"].min() == 0).all()
    assert np.allclose((ep["stop"] - ep["start"]).groupby(ep["pid"]).sum(), d["t"])
    assert g["event"].sum().tolist() == d["e"].tolist()
    order = {"none": 0, "lockin": 1, "post": 2}
    assert all(s.map(order).is_monotonic_increasing for _, s in g["state"])
