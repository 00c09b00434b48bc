"""AIPW's cross-fitting on rows sorted by (arm, fold) gives the numbers of the plain boolean-mask loop.

The sorted layout (:class:`casework.effects._design.RowBlocks`) is a speed-up only (docs/performance.md): every
training set and test fold is a few ranges of one sorted copy of the design instead of a mask copy per fold and
arm. The reference below is the loop as it was before (masks, rows in data order); estimates, standard errors and
scores must agree to 1e-12 (only the order of floating-point sums differs).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.base import clone
from sklearn.linear_model import LinearRegression, LogisticRegression

from casework.effects import _fits
from casework.effects._design import Logit, RowBlocks


def _reference_propensity(o, X, t, train, full_ps):
    ps = clone(o.propensity_model)
    if isinstance(ps, Logit) and isinstance(full_ps, Logit):
        return ps.fit(X[train], t[train], init=np.r_[full_ps.intercept_, full_ps.coef_],
                      hessian=full_ps.hessian_ * (train.sum() / len(t)))
    return ps.fit(X[train], t[train])


def _reference_aipw_once(s, o, rep, full_ps):
    """The cross-fitting loop with boolean masks (before the sorted layout)."""
    X, t, y = s.X, s.t, s.y
    n = len(t)
    fold = _fits.folds(t, o.n_folds, np.random.default_rng([o.seed, rep]), s.groups)
    e, mu0, mu1 = np.empty(n), np.empty(n), np.empty(n)
    start = {0: None, 1: None}
    for k in np.unique(fold):
        tr, te = fold != k, fold == k
        ps = _reference_propensity(o, X, t, tr, full_ps)
        e[te] = ps.predict_proba(X[te])[:, 1]
        for arm, target in ((0, mu0), (1, mu1)) if s.estimand == "ate" else ((0, mu0),):
            rows = tr & (t == arm)
            predict, start[arm] = _fits.fit_outcome(X[rows], y[rows], s.binary, o.outcome_model, start[arm])
            target[te] = predict(X[te])
    return np.clip(e, _fits.NUMERIC_FLOOR, 1 - _fits.NUMERIC_FLOOR), mu0, mu1


def _sample(n, k, seed, estimand="ate", continuous=False, clusters=0):
    rng = np.random.default_rng(seed)
    X = np.asfortranarray(rng.normal(size=(n, k)))
    t = (rng.random(n) < 1 / (1 + np.exp(-(-0.8 + X[:, 0])))).astype(int)
    if continuous:
        y = X[:, 1] + 0.3 * t + rng.normal(size=n)
    else:
        y = (rng.random(n) < 1 / (1 + np.exp(-(-0.5 + X[:, 1] + 0.2 * t)))).astype(float)
    groups = rng.integers(0, clusters, n) if clusters else None
    if groups is not None:
        groups = np.unique(groups, return_inverse=True)[1]
    return _fits.Sample(X, t, y, estimand, not continuous, groups)


def _options(s, propensity_model=None, outcome_model=None, n_folds=5):
    ps = propensity_model if propensity_model is not None else Logit(alpha=_fits.RIDGE_CROSS_FIT)
    return _fits.Options(ps, outcome_model, n_folds, 1, 3, 0.2, clone(ps).fit(s.X, s.t))


CASES = {
    "binary ATE": dict(n=3000, k=6, seed=1),
    "binary ATT": dict(n=3000, k=6, seed=2, estimand="att"),
    "continuous ATE": dict(n=2500, k=5, seed=3, continuous=True),
    "clusters (whole clusters per fold)": dict(n=3000, k=5, seed=4, clusters=37),
    "fewer rows than folds in an arm": dict(n=60, k=2, seed=5),
    "pilot subsample (> 200,000 rows)": dict(n=210_000, k=3, seed=6),
}


@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_sorted_cross_fitting_gives_the_mask_loops_numbers(case):
    s = _sample(**CASES[case])
    o = _options(s, n_folds=30 if "fewer" in case else 5)
    est, se, e, _, y1, _ = _fits._aipw_once(s, o, 0, o.propensity_fitted)
    e_ref, mu0, mu1 = _reference_aipw_once(s, o, 0, o.propensity_fitted)
    np.testing.assert_allclose(e, e_ref, rtol=0, atol=1e-12)
    if s.estimand == "ate":
        est_ref, psi, y1_ref = _fits._hajek_aipw_ate(s.t, s.y, e_ref, mu0, mu1)
        assert abs(est - est_ref) < 1e-12 and abs(y1 - y1_ref) < 1e-12
        assert abs(se - _fits.se_from_influence(psi, s.groups)) < 1e-12
    np.testing.assert_allclose(_fits.cross_fitted_propensity(s, o, 0), _reference_cross_fitted(s, o), atol=1e-12)


def _reference_cross_fitted(s, o):
    fold = _fits.folds(s.t, o.n_folds, np.random.default_rng([o.seed, 0]), s.groups)
    e = np.empty(len(s.t))
    for k in np.unique(fold):
        e[fold == k] = _reference_propensity(o, s.X, s.t, fold != k, o.propensity_fitted).predict_proba(
            s.X[fold == k])[:, 1]
    return e


@pytest.mark.parametrize("outcome_model", [LogisticRegression(max_iter=500), LinearRegression()],
                         ids=["logistic", "linear"])
def test_other_models_get_their_rows_in_data_order(outcome_model):
    """scikit-learn models receive arrays whose rows come in the order a mask gives (a model whose fit depends on
    the row order, e.g. one with random subsampling, would otherwise change its answer)."""
    s = _sample(2000, 4, 7)
    o = _options(s, LogisticRegression(max_iter=500), outcome_model)
    seen = []

    class Recording(type(outcome_model)):
        def fit(self, X, y, *args, **kwargs):
            seen.append((np.array(X), np.array(y)))
            return super().fit(X, y, *args, **kwargs)

    o = _fits.Options(o.propensity_model, Recording(**outcome_model.get_params()), 5, 1, 3, 0.2,
                      o.propensity_fitted)
    est = _fits._aipw_once(s, o, 0, o.propensity_fitted)
    fold = _fits.folds(s.t, 5, np.random.default_rng([3, 0]), None)
    expected = [(s.X[(fold != k) & (s.t == arm)], s.y[(fold != k) & (s.t == arm)]) for k in range(5) for arm in (0, 1)]
    assert len(seen) == len(expected)
    for (X, y), (X_ref, y_ref) in zip(seen, expected):
        np.testing.assert_array_equal(X, X_ref)
        np.testing.assert_array_equal(y, y_ref)
    o_ref = _fits.Options(o.propensity_model, outcome_model, 5, 1, 3, 0.2, o.propensity_fitted)
    e_ref, mu0, mu1 = _reference_aipw_once(s, o_ref, 0, o.propensity_fitted)
    assert abs(est[0] - _fits._hajek_aipw_ate(s.t, s.y, e_ref, mu0, mu1)[0]) < 1e-12


@st.composite
def _blocks(draw):
    n = draw(st.integers(1, 60))
    k = draw(st.integers(1, 5))
    seed = draw(st.integers(0, 2**16))
    cuts = sorted(draw(st.lists(st.integers(0, n), min_size=2, max_size=8)))
    ranges = list(zip(cuts[::2], cuts[1::2]))
    return np.random.default_rng(seed), n, k, ranges, draw(st.booleans())


@settings(max_examples=60, deadline=None)
@given(_blocks())
def test_row_blocks_act_like_the_rows_they_name(args):
    rng, n, k, ranges, fortran = args
    base = rng.normal(size=(n, k))
    base = np.asfortranarray(base) if fortran else base
    origin = rng.permutation(n)
    rows = RowBlocks(base, ranges, origin)
    pos = np.concatenate([np.arange(a, b) for a, b in ranges] or [np.empty(0, dtype=int)])
    dense = base[pos]
    assert rows.shape == dense.shape
    v, r = rng.normal(size=k), rng.normal(size=len(pos))
    np.testing.assert_allclose(rows.matvec(v), dense @ v, atol=1e-12)
    np.testing.assert_allclose(rows.rmatvec(r), dense.T @ r, atol=1e-12)
    np.testing.assert_array_equal(rows.gather(np.arange(n) * 2), pos * 2)
    np.testing.assert_array_equal(rows.array(), base[pos[np.argsort(origin[pos], kind="stable")]])


def test_logit_on_row_blocks_matches_the_rows_in_data_order():
    """The fit (including the pilot subsample above 200,000 rows) sees the rows as a mask would give them."""
    rng = np.random.default_rng(11)
    n = 230_000
    X = rng.normal(size=(n, 3))
    y = (rng.random(n) < 1 / (1 + np.exp(-(X @ [0.5, -1.0, 0.2])))).astype(float)
    order = np.argsort(rng.integers(0, 4, n), kind="stable")
    sorted_X = np.asfortranarray(X[order])
    rows = RowBlocks(sorted_X, [(0, 20_000), (70_000, n)], order)  # 210,000 rows: the pilot path
    picked = np.r_[order[:20_000], order[70_000:]]
    in_data_order = np.sort(picked)
    a = Logit(alpha=10.0).fit(rows, y[picked])
    b = Logit(alpha=10.0).fit(X[in_data_order], y[in_data_order])
    assert a.n_iter_ == b.n_iter_
    np.testing.assert_allclose(np.r_[a.intercept_, a.coef_], np.r_[b.intercept_, b.coef_], rtol=0, atol=1e-12)
    np.testing.assert_allclose(a.predict_proba(rows)[:, 1], b.predict_proba(X[picked])[:, 1], atol=1e-12)
