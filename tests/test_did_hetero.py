"""DiD inference with few treated jobcenters of unequal noise (issue 15; Ferman & Pinto 2019).

The plain randomisation test moves the project label to other jobcenters and assumes them exchangeable; a
small (noisier) project jobcenter then "wins" the comparison far too often. The default test permutes
residuals rescaled to each jobcenter's noise before the start (benchmarks/validate_did.py, docs/validation_did.md).
"""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from casework.effects import _did_inference as ri
from casework.effects import _did_scale as sc
from casework.effects.did import _bins, _statistics, board_sentence, did
from casework.effects.did_sim import simulate_panel

CONTROLS = list(np.exp(np.linspace(np.log(2000), np.log(8000), 19)))


def _starts(p):
    return p.groupby("jc_id")["start"].first().dropna().to_dict()


def _rejections(seeds, **kwargs):
    hits = 0
    for s in seeds:
        p = simulate_panel(n_units=20, n_treated=1, sd=0.001, sizes=[400, *CONTROLS], effect=0.0, seed=s)
        hits += did(p, _starts(p), n_boot=19, **kwargs).p_value <= 0.05
    return hits


def test_a_small_project_jobcenter_no_longer_wins_by_its_noise():
    # one project jobcenter of 400 persons among 19 of 2,000-8,000, no effect: 20 assignments, so an exact
    # test rejects at most 1 in 20; the plain test rejected 19 of these 40 samples (validation: 39 %)
    seeds = range(1000, 1040)
    assert _rejections(seeds, scale=None) >= 12
    assert _rejections(seeds) <= 5
    assert _rejections(seeds, scale="size", size="stock") <= 5


def test_equal_scales_give_exactly_the_plain_permutation_test():
    # with every jobcenter's scale 1, moving residual series equals moving the start months
    p = simulate_panel(n_units=9, starts=["2019-07-01", "2020-01-01", "2020-01-01"], seed=3)
    y, units, months = ri.panel_matrix(p, "rate", "jc_id", "month")
    starts = np.full(len(units), ri.NEVER)
    starts[:3] = [months.index(pd.Timestamp(s)) for s in ["2019-07-01", "2020-01-01", "2020-01-01"]]
    valid = ~np.isnan(y)
    d = ri.treatment_matrix(starts, len(months), valid)
    _, members = _bins((-6, 6), 3)
    rel = np.arange(len(months))[None, :] - starts[:, None]
    d_bins = [np.where(valid, np.isin(rel, m) & (starts < ri.NEVER)[:, None], np.nan) for m in members]
    stack = np.stack([y, d, *d_bins, np.where(d == 1, np.nan, y)])
    assignments, _ = ri.arrangements(starts, 2000, 0, np.random.default_rng(0))
    ones = np.ones(len(units))
    for staggered in (True, False):
        plain = _statistics(stack, assignments, staggered, "never_treated", len(months), members)
        moved = _statistics(stack, assignments, staggered, "never_treated", len(months), members,
                            (sc.standardised_residuals(stack, ones), ones, ~np.isnan(stack)))
        (a, b), es_a, es_b, pre = moved
        (a0, b0), es_a0, es_b0, pre0 = plain
        for u, v in ((a, a0), (b, b0), (es_a, es_a0), (es_b, es_b0)):
            np.testing.assert_allclose(u, v, atol=1e-9, rtol=1e-7)
        leads = [j for j, m in enumerate(members) if max(m) < 0]  # the pre-trend test reads the leads only
        np.testing.assert_allclose(pre[:, leads], pre0[:, leads], atol=1e-9, rtol=1e-7)


@settings(max_examples=25, deadline=None)
@given(st.lists(st.floats(0.2, 5.0), min_size=6, max_size=6), st.integers(0, 10_000))
def test_the_observed_assignment_is_unchanged_by_any_scales(scales, seed):
    # the first draw is the observed data: the estimate never depends on the scales
    p = simulate_panel(n_units=6, n_treated=2, seed=seed)
    a = did(p, _starts(p), n_boot=9, scale=None)
    b = did(p, _starts(p), n_boot=9)
    assert a.estimate == pytest.approx(b.estimate)
    y, units, months = ri.panel_matrix(p, "rate", "jc_id", "month")
    s = np.asarray(scales)
    z = sc.standardised_residuals(y[None], s)
    same = sc.residual_draw(z, s, np.arange(len(units)), ~np.isnan(y[None]))
    np.testing.assert_allclose(same[0], ri._demean(y, ~np.isnan(y)), atol=1e-12)


def test_size_model_recovers_the_variance_from_the_sizes():
    # 60 jobcenters with monthly noise of variance A + B / M (intrinsic plus the sampling noise of a 2 % share)
    rng = np.random.default_rng(0)
    sizes = np.exp(rng.uniform(np.log(300), np.log(30000), 60))
    a_true, b_true = 1e-6, 0.02 * 0.98
    y = rng.normal(0, 1, (60, 48)) * np.sqrt(a_true + b_true / sizes)[:, None]
    starts = np.full(60, ri.NEVER)
    starts[0] = 24
    fitted, a, b = sc.size_model(sc.pre_period_sd(y, starts), sizes)
    assert b == pytest.approx(b_true, rel=0.2) and a == pytest.approx(a_true, abs=0.5e-6)
    assert fitted[0] == pytest.approx(np.sqrt(a_true + b_true / sizes[0]), rel=0.15)
    with pytest.raises(ValueError, match="at least 5"):
        sc.size_model(np.ones(4), sizes[:4])


def test_noise_that_appears_only_with_the_project_is_named_as_the_floor():
    p = simulate_panel(n_units=20, n_treated=1, sd_treated_post=3.0, seed=2)
    r = did(p, _starts(p), n_boot=19)
    assert r.noise_change > 1.5 and "no test can tell noise that appears only with the project" in r.warning
    row = {"project": "x", "start": r.start, "jobcenters": 1, **r.to_frame().iloc[0]}
    assert "Seit Projektbeginn schwanken die Projektjobcenter stärker" in board_sentence(row)
    calm = simulate_panel(n_units=20, n_treated=1, seed=2)
    assert "appears only with the project" not in did(calm, _starts(calm), n_boot=19).warning


def test_too_few_months_before_the_start_fall_back_to_the_plain_test_and_say_so():
    p = simulate_panel(n_units=8, n_treated=2, start="2018-04-01", seed=1)  # 3 months before the start
    r = did(p, _starts(p), n_boot=19)
    assert r.scale is None and "cannot be measured" in r.warning
    with pytest.raises(ValueError, match="scale must be one of"):
        did(p, _starts(p), scale="own")
    with pytest.raises(ValueError, match="needs size="):
        did(simulate_panel(n_units=8, n_treated=1, seed=1), {0: "2020-01-01"}, scale="size")
