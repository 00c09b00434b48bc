"""Profiling: rule table (property), statistical profiler, fairness audit, latent classes, transitions."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.base import clone
from sklearn.metrics import adjusted_rand_score

from casework import schema as S
from casework.profiling import (
    LatentClassModel,
    ProfillageRules,
    StatisticalProfiler,
    assign_profillage,
    fairness_audit,
    latent_classes,
    profiling_frame,
    profillagen,
    rule_table,
    tradeoff_curve,
    tradeoff_statement,
    transition_matrix,
)
from casework.profiling.latent import NEED_ITEMS, oracle_ari
from casework.profiling.statistical import PROFILING_FEATURES
from tests.datasets import small

KEYS = ["need_qualification", "need_health", "need_motivation", "need_framework"]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 2), st.integers(0, 2), st.integers(0, 2), st.integers(0, 2),
                          st.booleans()), min_size=1, max_size=40),
       st.integers(1, 2), st.integers(1, 3), st.sampled_from(["unterstuetzung", "stabilisierung"]))
def test_every_combination_gets_exactly_one_profillage(rows, min_sev, further, priority):
    a = pd.DataFrame(rows, columns=[*KEYS, "horizon_12m"])
    out = assign_profillage(a, ProfillageRules(min_sev, further, priority))
    assert len(out) == len(a) and out.index.equals(a.index)
    assert set(out) <= set(S.PROFILLAGEN)
    near = out[a["horizon_12m"]].isin(["markt", "aktivierung", "foerder"])
    assert near.all()
    assert (~out[~a["horizon_12m"]].isin(["markt", "aktivierung", "foerder"])).all()


def test_rule_examples_from_domain():
    a = pd.DataFrame([(0, 0, 0, 0, True), (0, 0, 2, 0, True), (2, 0, 1, 0, True), (2, 0, 0, 0, False),
                      (1, 2, 1, 0, False), (1, 0, 1, 2, False), (1, 2, 1, 2, False)], columns=[*KEYS, "horizon_12m"])
    assert assign_profillage(a).tolist() == ["markt", "aktivierung", "foerder", "entwicklung", "stabilisierung",
                                             "unterstuetzung", "unterstuetzung"]
    assert assign_profillage(a, ProfillageRules(complex_priority="stabilisierung")).iloc[-1] == "stabilisierung"
    assert len(rule_table()) == 6
    with pytest.raises(ValueError, match="need_health"):
        assign_profillage(a.drop(columns="need_health"))


def test_profillagen_and_transitions_on_a_dataset():
    ds = small("pankow", 0, 3000)
    p = profillagen(ds)
    assert len(p) == len(ds.table("assessments")) and set(p["profillage"]) <= set(S.PROFILLAGEN)
    tm = transition_matrix(p)
    assert np.allclose(tm.sum(axis=1)[tm.sum(axis=1) > 0], 1.0)


@pytest.fixture(scope="module")
def frame():
    return profiling_frame(small("gelsenkirchen", 0, 8000))


@pytest.mark.parametrize("model", ["logit", "gbm"])
def test_statistical_profiler_predicts_and_is_calibrated(frame, model):
    feats = [f for f in PROFILING_FEATURES if f in frame]
    train, test = frame.iloc[: len(frame) * 2 // 3], frame.iloc[len(frame) * 2 // 3:]
    prof = StatisticalProfiler(model=model, random_state=0).fit(train[feats], train["integration_12m"])
    ev = prof.evaluate(test[feats], test["integration_12m"])
    assert ev["auc"] > 0.6
    assert abs(ev["calibration"]["mean_predicted"].mean() - ev["calibration"]["observed"].mean()) < 0.05
    assert ev["brier"] < ev["base_rate"] * (1 - ev["base_rate"])  # better than always predicting the base rate
    assert abs(sum(ev["segments"].values()) - 1) < 1e-9
    if model == "logit":
        assert {"feature", "coefficient", "odds_ratio"} <= set(prof.coefficients_.columns)
    clone(prof)  # a proper scikit-learn estimator


def test_profiler_errors_and_thresholds(frame):
    feats = ["age", "citizenship"]
    with pytest.raises(ValueError, match="0/1"):
        StatisticalProfiler().fit(frame[feats], frame["age"])
    with pytest.raises(ValueError, match="thresholds"):
        StatisticalProfiler(thresholds=(0.7, 0.3)).fit(frame[feats], frame["integration_12m"])
    p = StatisticalProfiler(thresholds=(0.1, 0.2)).fit(frame[feats], frame["integration_12m"])
    seg = p.segment(proba=np.array([0.05, 0.15, 0.5]))
    assert seg.tolist() == ["low", "middle", "high"]


def test_fairness_audit_on_a_hand_made_frame():
    y = np.array([1, 1, 1, 1, 1, 1, 0, 0])
    p = np.array([0.1, 0.1, 0.1, 0.5, 0.5, 0.5, 0.1, 0.5])
    g = pd.DataFrame({"citizenship": ["non_eu", "non_eu", "german", "german", "german", "german", "non_eu",
                                      "german"]})
    seg = np.where(p < 0.25, "low", "middle")
    a = fairness_audit(y, p, seg, g).set_index("group")
    assert a.loc["non_eu", "false_low_rate"] == 1.0 and a.loc["german", "false_low_rate"] == 0.25
    assert a.loc["non_eu", "false_low_ratio"] == 4.0
    assert "4,0-Fache" in tradeoff_statement(a.reset_index(), "citizenship")
    curve = tradeoff_curve(y, p, g["citizenship"])
    assert {"threshold", "accuracy", "ratio"} <= set(curve.columns)


def test_latent_classes_recover_a_simulated_mixture():
    rng = np.random.default_rng(3)
    z = rng.integers(0, 3, 4000)
    probs = np.array([[0.9, 0.8, 0.1, 0.1, 0.2, 0.1], [0.1, 0.2, 0.9, 0.8, 0.1, 0.2], [0.1, 0.1, 0.1, 0.2, 0.9, 0.9]])
    X = pd.DataFrame({f"need_{k}": (rng.random(4000) < probs[z, j]).astype(int)
                      for j, k in enumerate(["debt", "housing", "health", "addiction", "language", "mobility"])})
    m = LatentClassModel(random_state=0, max_classes=5).fit(X)
    assert m.n_classes_ == 3  # chosen by BIC
    # the best any classifier can do knows the true parameters: classify by the true posterior
    loglik = sum(np.log(np.where(X.iloc[:, j].to_numpy()[:, None] == 1, probs[:, j], 1 - probs[:, j]))
                 for j in range(X.shape[1]))
    optimal = adjusted_rand_score(z, loglik.argmax(axis=1))
    assert adjusted_rand_score(z, m.predict(X)) > optimal - 0.02
    assert np.allclose(m.predict_proba(X).sum(axis=1), 1)
    assert len(m.describe()) == 3 and m.describe()["label"].str.len().gt(0).all()
    assert m.bootstrap_stability(X, n_boot=3).min() > 0.8


def test_latent_classes_match_the_synthetic_truth():
    ds = small("gelsenkirchen", 1, 6000)
    result = latent_classes(ds, n_classes=5)
    lc = result.classes
    assert list(lc.columns) == ["person_id", "latent_class", "label", "probability"] and not lc.attrs
    assert len(result.description) == 5 and "Class 0" in result.summary() and "<table>" in result._repr_html_()
    assert result.to_frame().equals(lc)
    truth = ds.truth.set_index("person_id")["latent_class"].reindex(lc["person_id"])
    ari = adjusted_rand_score(truth, lc["latent_class"])
    # the best possible on these data: classify with the true classes' own item profiles (from the truth)
    assert ari > _oracle_ari(ds, lc["person_id"], truth.to_numpy()) - 0.03, ari  # docs/profiling.md
    # key groups hold their sub-needs since issue 17, so the classes overlap more in their needs: the best
    # possible is about 0.6 (the oracle); the twelve columns as independent items reach only about 0.35
    assert ari > 0.5, ari


def test_key_group_items_keep_the_hierarchy():
    from casework.profiling.latent import key_group_items

    a = pd.DataFrame({c: [0, 1, 2, 1] for c in NEED_ITEMS})
    a["need_framework"] = [0, 1, 2, 2]
    a["need_debt"] = [0, 1, 0, 2]
    items = key_group_items(a)
    assert list(items.columns) == ["kg_qualification", "kg_health", "kg_motivation", "kg_framework"]
    assert items["kg_motivation"].tolist() == [0, 1, 2, 1]  # no sub-needs: the severity itself
    assert items["kg_framework"].nunique() == 4 and items.loc[0, "kg_framework"] == 0


def _oracle_ari(ds, person_ids: pd.Series, truth: np.ndarray) -> float:
    a = ds.table("assessments").sort_values(["person_id", "date"], kind="stable").drop_duplicates("person_id")
    X = a.set_index("person_id").reindex(person_ids)[[c for c in NEED_ITEMS if c in a]].to_numpy()
    return oracle_ari(X, truth)
