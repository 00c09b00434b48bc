"""Issue 15, findings 1, 2, 3 and 7: regression tests on simulated data for input guards, overlap on the scores
actually used, guards that act, repeated cross-fitting and honest standard errors. Each failed on the old code."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy import stats

from casework.effects import estimate
from casework.effects.designs import few_clusters, heavy_tail


def _frame(n=3000, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    t = (rng.random(n) < 1 / (1 + np.exp(-(-0.3 + 0.7 * x)))).astype(int)
    y = 1 + 0.5 * x + 0.4 * t + rng.normal(size=n)
    return pd.DataFrame({"x": x, "z": rng.normal(size=n), "t": t, "y": y})


# --------------------------------------------------------------------------- finding 7: bad input


def test_an_infinite_covariate_is_refused_naming_column_and_row():
    df = _frame()
    df.loc[17, "x"] = np.inf  # the old code dropped the column silently as "constant"
    with pytest.raises(ValueError, match=r"column 'x' has 1 infinite value.*index 17"):
        estimate(df, "t", "y", ["x", "z"])
    df.loc[17, "x"] = -np.inf
    with pytest.raises(ValueError, match="infinite"):
        estimate(df, "t", "y", ["x", "z"], method="ols")


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(row=st.integers(0, 299), column=st.sampled_from(["x", "z", "y"]), sign=st.sampled_from([1, -1]))
def test_any_infinite_value_is_named_by_column_and_row(row, column, sign):
    df = _frame(n=300).set_axis([f"p{i}" for i in range(300)])  # string labels: the message shows the label
    df.loc[f"p{row}", column] = sign * np.inf
    with pytest.raises(ValueError, match=f"column '{column}' has 1 infinite value.*index 'p{row}'"):
        estimate(df, "t", "y", ["x", "z"], method="ols")


def test_an_infinite_outcome_is_refused():
    df = _frame()
    df.loc[3, "y"] = np.inf
    with pytest.raises(ValueError, match=r"'y' has 1 infinite.*index 3"):
        estimate(df, "t", "y", ["x"])


def test_a_datetime_covariate_is_refused():
    df = _frame()
    df["entry"] = pd.Timestamp("2020-01-01") + pd.to_timedelta(np.arange(len(df)) % 299, unit="D")
    with pytest.raises(ValueError, match="'entry' is a date/time column"):
        estimate(df, "t", "y", ["x", "entry"])


@pytest.mark.parametrize("make, message", [
    (lambda d: d.assign(person_id=[f"P{i:05d}" for i in range(len(d))]), "looks like an identifier"),
    (lambda d: d.assign(person_id=np.arange(len(d)) + 1000), "looks like an identifier"),
    (lambda d: d.assign(person_id=np.random.default_rng(0).integers(0, 120, len(d)).astype(str)), "120 categories"),
])
def test_identifiers_and_very_many_categories_are_refused(make, message):
    with pytest.raises(ValueError, match=message):
        estimate(make(_frame()), "t", "y", ["x", "person_id"])


def test_many_categories_with_many_rows_each_are_kept():
    """Jobcenter fixed effects of a Land: 53 levels over 20,000 rows (the NRW scenario has 53 jobcenters)."""
    rng = np.random.default_rng(3)
    n = 20_000
    jc = rng.integers(0, 53, n)
    x = rng.normal(size=n) + jc / 53
    t = (rng.random(n) < 1 / (1 + np.exp(-x))).astype(int)
    y = 0.5 * x + 0.1 * t + 0.2 * (jc % 3) + rng.normal(size=n)
    df = pd.DataFrame({"x": x, "t": t, "y": y, "jc": [f"JC-{j:02d}" for j in jc]})
    r = estimate(df, "t", "y", ["x", "jc"], method="ols")
    assert abs(r.estimate - 0.1) < 4 * r.se, (r.estimate, r.se)


@pytest.mark.parametrize("column, role", [("y", "outcome"), ("t", "treatment")])
def test_outcome_or_treatment_among_covariates_is_refused(column, role):
    with pytest.raises(ValueError, match=f"the {role} '{column}' is listed among the covariates"):
        estimate(_frame(), "t", "y", ["x", column])


def test_errors_are_value_error_subclasses_with_names():
    from casework.effects import EffectInputError, OverlapError, WeightError

    assert all(issubclass(e, ValueError) for e in (EffectInputError, OverlapError, WeightError))
    df = _frame()
    df.loc[0, "x"] = np.inf
    with pytest.raises(EffectInputError):
        estimate(df, "t", "y", ["x"])


def test_a_rare_treatment_gets_an_ate_with_the_default_trim():
    # 1 % treated, weakly related to x: the old overlap rule [0.01, 0.99] removed about half the rows and
    # refused with "covariates almost determine who is treated"
    rng = np.random.default_rng(3)
    n = 20_000
    x = rng.normal(size=n)
    t = (rng.random(n) < 1 / (1 + np.exp(-(-4.7 + 0.3 * x)))).astype(int)
    y = 0.3 * x + 0.5 * t + rng.normal(size=n)
    r = estimate(pd.DataFrame({"x": x, "t": t, "y": y}), "t", "y", ["x"], estimand="ate", method="ipw")
    assert r.diagnostics.n_trimmed < 0.05 * n
    assert r.ci_low < 0.5 < r.ci_high


def test_real_separation_is_refused_with_the_right_reason():
    df = _frame()
    df["t"] = (df["x"] > 0.3).astype(int)
    with pytest.raises(ValueError, match="separate treated from untreated"):
        estimate(df, "t", "y", ["x"], estimand="ate", method="ipw")


# --------------------------------------------------------------------------- finding 1: extreme out-of-fold weights


@pytest.mark.parametrize("seed, n_extreme", [(0, 3), (3, 3), (1, 1), (2, 1)])
def test_extreme_controls_do_not_give_a_confident_wrong_number(seed, n_extreme):
    # heavy-tailed earnings, squared earnings among the covariates, controls far beyond every treated: the old
    # AIPW ATT was e.g. 1.89 (SE 0.33) against a truth of 1.0, with an ESS of the controls about 3
    # (since session 8 the balance guard may refuse instead: the ATT's weights leave squared earnings unbalanced
    # by about 0.3 SD, and AIPW's ATT covered in only 86 % of 200 replications)
    from casework.effects import WeightError

    df, truth = heavy_tail(seed=seed, n_extreme=n_extreme)
    try:
        r = estimate(df, "t", "y", truth["covariates"])
    except WeightError as err:
        assert "standard deviations in a covariate (limit 0.25)" in str(err)
        r = estimate(df, "t", "y", truth["covariates"], guards="warn")
    assert r.ci_low <= truth["att"] <= r.ci_high
    assert r.diagnostics.ess_control > 100
    assert r.diagnostics.n_trimmed >= 1  # the extreme controls, found on the cross-fitted scores


def test_without_the_overlap_rule_the_weight_guard_refuses():
    from casework.effects import WeightError

    df, truth = heavy_tail(seed=0, n_extreme=1)
    with pytest.raises(WeightError, match="effective control persons.*trim"):
        estimate(df, "t", "y", truth["covariates"], trim=0)
    r = estimate(df, "t", "y", truth["covariates"], trim=0, guards="warn")
    assert any("past the error limit" in w for w in r.warnings)
    assert "Warning" in r.summary() and "past the error limit" in r._repr_html_()


def test_the_propensity_in_the_diagnostics_is_the_cross_fitted_one():
    df, truth = heavy_tail(seed=0)
    r = estimate(df, "t", "y", truth["covariates"], trim=0, guards="warn", n_rep=1)
    e = r.diagnostics.propensity["propensity"].to_numpy()
    w = e / (1 - e)
    share = w[df["t"].to_numpy() == 0].max() / w[df["t"].to_numpy() == 0].sum()
    assert share == pytest.approx(r.diagnostics.max_weight_share_control)


def test_a_clean_estimate_has_no_warnings():
    r = estimate(_frame(), "t", "y", ["x", "z"])
    assert r.warnings == []
    assert r.ci_low < 0.4 < r.ci_high


# --------------------------------------------------------------------------- finding 2: seed dependence


def _small_trial(seed=0, n=300):
    """A small randomised sample with a heavy-tailed outcome and many covariates (the NSW experiment's shape)."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 8))
    X[:, :3] = np.exp(X[:, :3])
    t = (rng.random(n) < 0.4).astype(int)
    y = 2 * X[:, 0] + X[:, 1] + rng.standard_t(3, n) * 2 + 1.0 * t
    cols = [f"x{i}" for i in range(8)]
    return pd.DataFrame(X, columns=cols).assign(t=t, y=y), cols


def test_repeated_cross_fitting_shrinks_the_seed_dependence_and_reports_the_spread():
    df, cols = _small_trial()
    single = [estimate(df, "t", "y", cols, seed=s, n_rep=1, n_folds=2).estimate for s in range(8)]
    repeated = [estimate(df, "t", "y", cols, seed=s, n_folds=2) for s in range(8)]
    r = repeated[0]
    assert len(r.rep_estimates) == 15 and r.rep_spread > 0  # adaptive: 15 splits under 2,000 rows
    assert r.estimate == pytest.approx(float(np.median(r.rep_estimates)))
    spread_single = np.ptp(single)
    spread_repeated = np.ptp([x.estimate for x in repeated])
    assert spread_repeated < 0.5 * spread_single
    assert "Cross-fitting splits" in r.summary()


# --------------------------------------------------------------------------- finding 3: standard errors


def _heterogeneous(n, seed):
    rng = np.random.default_rng(seed)
    x = rng.exponential(size=n)
    t = (rng.random(n) < 1 / (1 + np.exp(-(-0.5 + 0.8 * (x - 1))))).astype(int)
    y = x + t * (0.2 + 1.5 * (x - 1)) + rng.normal(scale=0.5, size=n)
    return pd.DataFrame({"x": x, "t": t, "y": y})


def _population_att():
    rng = np.random.default_rng(12345)
    x = rng.exponential(size=2_000_000)
    e = 1 / (1 + np.exp(-(-0.5 + 0.8 * (x - 1))))
    return float(np.sum(e * (0.2 + 1.5 * (x - 1))) / e.sum())


@pytest.mark.parametrize("estimand", ["att", "ate"])
def test_lin_ols_intervals_cover_with_heterogeneous_effects(estimand):
    # the old HC1 coefficient SE left out the variance of the centring means: ~78 % (ATT) coverage
    # (the ATE is refused in 5 of the 200 samples: AIPW's weights leave x apart beyond the balance limit, so no
    # check of the linear model's extrapolation is possible; test_effects_specification.py)
    from casework.effects import SpecificationError

    truth = _population_att() if estimand == "att" else 0.2
    covered, let_through = 0, 0
    for s in range(200):
        try:
            r = estimate(_heterogeneous(400, s), "t", "y", ["x"], method="ols", estimand=estimand)
        except SpecificationError:
            continue
        let_through += 1
        covered += r.ci_low <= truth <= r.ci_high
    assert let_through >= 190 and covered / let_through >= 0.9


def test_few_clusters_use_t_critical_values_whole_cluster_folds_and_warn():
    df, truth = few_clusters(seed=1)
    r = estimate(df, "t", "y", ["x"], cluster="jc", method="aipw", estimand="ate")
    crit = stats.t(7).ppf(0.975)
    assert r.ci_high - r.estimate == pytest.approx(crit * r.se)
    assert r.n_clusters == 8
    assert any("Only 8 clusters" in w for w in r.warnings)


def test_cross_fitting_folds_keep_clusters_whole():
    from casework.effects._fits import folds

    rng = np.random.default_rng(0)
    groups = rng.integers(0, 12, 600)
    t = (rng.random(600) < 0.5).astype(int)
    fold = folds(t, 5, np.random.default_rng(1), groups)
    assert all(len(set(fold[groups == g])) == 1 for g in range(12))
    assert len(set(fold)) == 5


def test_cluster_intervals_cover_with_eight_clusters():
    covered, reps = 0, 150
    for s in range(reps):
        df, truth = few_clusters(seed=s)
        r = estimate(df, "t", "y", ["x"], cluster="jc", method="ipw", estimand="ate")
        covered += r.ci_low <= truth["ate"] <= r.ci_high
    assert covered / reps >= 0.93  # normal critical values gave 91 % here (84-86 % in the design)


# --------------------------------------------------------------------------- minimum detectable effect


def test_every_estimate_has_a_minimum_detectable_effect():
    r = estimate(_frame(), "t", "y", ["x"])
    assert r.mde == pytest.approx((stats.norm.ppf(0.975) + stats.norm.ppf(0.8)) * r.se)
    assert r.to_frame()["mde"].iloc[0] == r.mde
    assert "Minimum detectable effect" in r.summary()


# --------------------------------------------------------------------------- finding 5: sensitivity that can fail


def _broken():
    """The estimate of finding 1, let through with guards="warn": one control carries the comparison."""
    df, truth = heavy_tail(seed=0, n_extreme=1)
    return df, estimate(df, "t", "y", truth["covariates"], trim=0, guards="warn")


def test_the_placebo_refuter_can_fail_and_reports_a_permutation_p_value():
    import dataclasses

    from casework.effects.sensitivity import placebo_treatment

    df = _frame()
    good = estimate(df, "t", "y", ["x", "z"])
    ok = placebo_treatment(df, good, draws=30)
    assert ok.passed and ok.draws == 30 and ok.p_value < 0.05
    # no effect at all, but an interval twenty times too narrow (as from a tool that ignores a design
    # effect): significant by its own interval, not against the permuted treatments -> fails
    null = df.assign(y=df["y"] - 0.4 * df["t"] + np.random.default_rng(1).normal(scale=0.05, size=len(df)))
    r = estimate(null, "t", "y", ["x", "z"])
    narrow = dataclasses.replace(r, se=r.se / 20, ci_low=r.estimate - r.se / 10, ci_high=r.estimate + r.se / 10,
                                 p_value=1e-6)
    check = placebo_treatment(null, narrow, draws=30)
    assert not check.passed and check.p_value >= 0.05 and "too narrow" in check.text


def test_the_stability_check_flags_findings_1_and_2():
    from casework.effects.sensitivity import stability

    df, bad = _broken()
    assert not stability(df, bad, seeds=4, subsets=6).passed
    trial, cols = _small_trial()
    single = estimate(trial, "t", "y", cols, n_folds=2, n_rep=1)
    check = stability(trial, single, seeds=10, subsets=4)
    assert not check.passed and "spans" in check.text
    assert stability(_frame(), estimate(_frame(), "t", "y", ["x", "z"]), seeds=4, subsets=6).passed


def test_the_ate_e_value_uses_the_mean_outcome_under_treatment():
    from casework.effects.sensitivity import e_value

    rng = np.random.default_rng(5)
    n = 8000
    x = rng.normal(size=n)
    t = (rng.random(n) < 1 / (1 + np.exp(-(-1 + 1.2 * x)))).astype(int)
    p0 = 1 / (1 + np.exp(-(-1 + 1.0 * x)))
    y1, y0 = (rng.random(n) < np.clip(p0 + 0.1, 0, 1)), (rng.random(n) < p0)
    df = pd.DataFrame({"x": x, "t": t, "y": np.where(t == 1, y1, y0).astype(int)})
    r = estimate(df, "t", "y", ["x"], estimand="ate")
    assert r.spec["mean_y1"] == pytest.approx(y1.mean(), abs=0.02)
    assert abs(df.loc[df.t == 1, "y"].mean() - y1.mean()) > 0.1  # the treated share is not E[Y(1)]
    ev = e_value(r)
    assert ev.risk_ratio == pytest.approx(r.spec["mean_y1"] / (r.spec["mean_y1"] - r.estimate))


@pytest.mark.parametrize("seed, strength", [(0, 0.3), (1, 0.5), (2, 0.5)])
def test_the_robustness_value_is_no_larger_than_the_known_confounder(seed, strength):
    from casework.effects.designs import hidden_confounder
    from casework.effects.sensitivity import robustness_value

    df, truth = hidden_confounder(seed=seed, strength=strength)
    r = estimate(df, "t", "y", ["x"], method="ols", estimand="ate")
    q = (r.estimate - truth["ate"]) / r.estimate  # the share of the estimate that the hidden U produced
    rng = np.random.default_rng(seed)
    n = len(df)
    x, u = rng.normal(size=n), rng.normal(size=n)  # the design's draws of x and U

    def partial_r2(target, given):
        A = np.column_stack([np.ones(n), *given])
        a = target - A @ np.linalg.lstsq(A, target, rcond=None)[0]
        b = u - A @ np.linalg.lstsq(A, u, rcond=None)[0]
        return np.corrcoef(a, b)[0, 1] ** 2

    assert np.allclose(x, df["x"])
    strongest = max(partial_r2(df["t"].to_numpy(float), [x]), partial_r2(df["y"].to_numpy(), [x, df["t"]]))
    # U produced the bias, so it is at least about as strong as the robustness value says is needed
    assert strongest >= 0.8 * robustness_value(r, q=q).rv
    assert 0 < robustness_value(r).rv_alpha < robustness_value(r).rv < 1
    with pytest.raises(ValueError, match="regression-type"):
        robustness_value(estimate(df, "t", "y", ["x"]))


# ----------------------------------------------------------- hard designs (CI-sized; the full run in make bench)


def test_hard_designs_small_replication():
    from casework.effects import GUARD_LIMITS
    from casework.effects.validation import replicate_design, summarise_design

    reps = pd.concat([replicate_design("heavy_tail", reps=3, methods=("aipw", "ipw"), estimands=("att",)),
                      replicate_design("poor_overlap", reps=3, methods=("aipw",), estimands=("att", "ate")),
                      replicate_design("few_clusters", reps=2, methods=("aipw",), estimands=("ate",))])
    let_through = reps[~reps["refused"]]
    assert len(let_through) >= 10
    # whenever an arm's effective size is below the documented error limit, the guards have fired
    assert (let_through["ess_control"] >= GUARD_LIMITS["ess"][1]).all()
    aipw = let_through[let_through["method"] == "aipw"]
    assert aipw["covered"].mean() >= 0.8
    assert reps.loc[reps["design"] == "few_clusters", "warned"].all()
    table = summarise_design(reps)
    assert {"refused", "warned", "bias", "rmse", "coverage", "mean_se"} <= set(table.columns)


def test_kang_schafer_is_recovered_when_the_models_are_right():
    from casework.effects.designs import kang_schafer

    covered = 0
    for seed in range(4):
        df, truth = kang_schafer(seed=seed, observed="correct")
        r = estimate(df, "t", "y", truth["covariates"], estimand="ate")
        covered += r.ci_low <= truth["ate"] <= r.ci_high
        assert abs(r.estimate - truth["ate"]) < 0.5
    assert covered >= 3


def test_matching_variance_uses_covariate_neighbours():
    # neighbours in the propensity score alone differ in everything else the outcome depends on: with the true
    # Kang-Schafer covariates the old standard error was 2.35 against an RMSE of 0.11 (20 times too wide)
    from casework.effects.designs import kang_schafer

    ses, errors = [], []
    for seed in range(3):
        df, truth = kang_schafer(seed=seed, observed="correct")
        r = estimate(df, "t", "y", truth["covariates"], method="match")
        ses.append(r.se)
        errors.append(r.estimate - truth["att"])
    assert np.mean(ses) < 1.2
    assert np.sqrt(np.mean(np.square(errors))) < np.mean(ses)  # still on the safe side
