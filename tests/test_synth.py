"""The synthetic population: deterministic, valid, calibrated, and its ground truth is what it did."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from casework import panel, synth
from casework.schema import INTEGRATION_KINDS, validate
from tests.datasets import small


def test_deterministic_per_seed():
    a = synth.generate("pankow", seed=5, persons=800)
    b = synth.generate("pankow", seed=5, persons=800)
    c = synth.generate("pankow", seed=6, persons=800)
    for t in a.tables:
        pd.testing.assert_frame_equal(a.table(t), b.table(t))
    assert a.ground_truth == b.ground_truth
    assert not a.table("persons").equals(c.table("persons"))


@pytest.mark.parametrize("scenario", ["gelsenkirchen", "pankow", "nrw_teilhabe", "scale"])
def test_every_scenario_is_valid(scenario):
    ds = synth.generate(scenario, seed=2, persons=1200)
    report = validate(ds)
    assert report.ok, report.summary()


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), persons=st.integers(150, 900),
       scenario=st.sampled_from(["gelsenkirchen", "pankow", "nrw_teilhabe"]))
def test_any_seed_and_size_gives_a_valid_dataset(seed, persons, scenario):
    ds = synth.generate(scenario, seed=seed, persons=persons)
    assert len(ds.table("persons")) == persons
    assert validate(ds).ok


def test_gelsenkirchen_matches_seed_004():
    ds = small("gelsenkirchen", 1, 20_000)  # the default size
    enrolled = ds.table("enrolments")
    day = pd.Timestamp("2017-09-30")  # the Steckbrief's date (DOMAIN.md 9.4)
    in_care = enrolled[(enrolled["start"] <= day) & (enrolled["end"].isna() | (enrolled["end"] >= day))]
    assert 1350 <= len(in_care) <= 1650  # a standing caseload of about 900 + 600 customers (DOMAIN.md 0.7)
    # seed 004: "circa 900" market-distant long-term unemployed, "ungefähr 600 weitere" with health restrictions:
    # two parts of the caseload, told apart in the truth and in the data (persons.health_restriction)
    part = ds.truth.set_index("person_id").loc[in_care["person_id"], "enrolled_part"]
    counts = part.value_counts()
    assert 800 <= counts["marktfern"] <= 1000 and 520 <= counts["gesundheit"] <= 680
    health = ds.table("persons").set_index("person_id").loc[in_care["person_id"], "health_restriction"]
    assert (health == (part == "gesundheit")).all()
    gt = {r["part"]: r for r in ds.ground_truth["caseload_parts"]}
    assert gt["marktfern"]["places"] == 900 and gt["gesundheit"]["places"] == 600
    assert gt["marktfern"]["enrolled"] == (ds.truth["enrolled_part"] == "marktfern").sum()
    benefits = ds.table("benefits").set_index("person_id")
    ended = enrolled[enrolled["end"].notna()].set_index("person_id")
    assert (ended["end"] == benefits.loc[ended.index, "end"]).all()  # in care until they leave receipt
    offers = ds.table("offers")
    assert (offers["measure"] == "health_module").sum() == 30  # about 30 modules
    placements = ds.sql("select count(*) n from referrals r join offers o using(offer_id) "
                        "where o.measure = 'health_module' and r.started >= '2016-05-01'")["n"].iloc[0]
    assert placements > 4000  # more than 4,000 module places since May 2016
    assert ds.table("projects")["start"].iloc[0] == pd.Timestamp("2016-01-01")


def test_teilhabe_eligibility_is_the_programme_s():
    """Förderrichtlinie (DOMAIN.md 0.8): "Langzeitarbeitslose ab 35 Jahren, mindestens vier Jahre im
    Leistungsbezug, mit gesundheitlichen Einschränkungen oder minderjährigen Kindern in der Bedarfsgemeinschaft"."""
    ds = small("nrw_teilhabe", 1, 20_000)
    t = ds.truth.set_index("person_id")
    funded = t[t["measure"] == "funded_employment"]
    p = ds.table("persons").set_index("person_id").loc[funded.index]
    age = funded["index_month"].dt.year - p["birth_year"]
    months = (funded["index_month"].dt.year - p["entry_date"].dt.year) * 12 + (
        funded["index_month"].dt.month - p["entry_date"].dt.month) + p["benefit_months"]
    bg = ds.table("persons").groupby("bg_id")
    minors_in_bg = p["bg_id"].map(bg["birth_year"].max()) > funded["index_month"].dt.year - 18
    kids = p["single_parent"] | p["children_under_3"] | minors_in_bg | t.loc[funded.index, "minor_children"]
    assert len(funded) > 300
    assert (age >= 35).all() and (months >= 47).all()
    assert (p["health_restriction"] | kids).all()


def test_bedarfsgemeinschaften_are_consistent():
    ds = small("pankow", 1, 3000)
    p = ds.table("persons")
    assert p["bg_id"].notna().all() and p["bg_id"].nunique() < len(p)
    by_bg = p.groupby("bg_id")
    assert (by_bg["children_under_3"].nunique() == 1).all()  # a child under 3 lives with everyone in the BG
    age = p["entry_date"].dt.year.clip(lower=2017) - p["birth_year"]
    minors = p[age < 18]
    assert (minors["bg_id"].map(by_bg.size()) >= 2).all()  # no minor eLb forms a BG alone
    assert not minors["single_parent"].any()
    couples = by_bg.filter(lambda g: (g["single_parent"]).any() and ((2017 - g["birth_year"]) >= 25).sum() >= 2)
    assert couples.empty  # a single parent has no partner in the BG


def test_unemployment_spells_lie_within_receipt():
    ds = small("pankow", 1, 3000)
    u = ds.table("unemployment").merge(ds.table("benefits"), on="person_id", suffixes=("", "_b"))
    assert len(u) > 0 and (u["start"] >= u["start_b"]).all()
    ended = u["end_b"].notna()
    assert (u.loc[ended, "end"].notna() & (u.loc[ended, "end"] <= u.loc[ended, "end_b"])).all()
    p = ds.table("persons").set_index("person_id").loc[u["person_id"].unique()]
    assert not p["children_under_3"].any()  # § 10 Abs. 1 Nr. 3 SGB II: not available while caring for a child < 3
    assert (u["start"].dt.year - ds.table("persons").set_index("person_id").loc[u["person_id"], "birth_year"]
            .to_numpy() >= 17).all()


def test_nrw_matches_seed_003():
    ds = small("nrw_teilhabe", 1, 20_000)
    projects = ds.table("projects")
    bund = projects[projects["project_id"].str.startswith("teilhabe_bund/")]
    land = projects[projects["project_id"].str.startswith("teilhabe_land/")]
    assert len(ds.table("jobcenters")) == 53 and len(bund) == 34 and len(land) == 20
    assert bund["places"].sum() == 6400 and land["places"].sum() == 2720
    assert set(land["jc_id"]) <= set(bund["jc_id"])
    funded = ds.table("employment").query("kind == 'funded_programme'")
    assert 0.7 * 6400 * 0.1 <= len(funded) <= 1.1 * 6400 * 0.1  # places scale with the population (20k/200k)


@pytest.mark.parametrize("scenario", ["gelsenkirchen", "pankow", "nrw_teilhabe"])
def test_calibration_table_holds_on_the_demo_scenarios(scenario):
    """Every row of the calibration table (docs/synthetic.md) at the demo test size."""
    from casework.synth.calibration import calibration_table

    table = calibration_table(small(scenario, 1, 20_000))
    assert {"u25_share", "youngest_age", "health_restriction", "key_group_violations"} <= set(table["key"])
    assert table["ok"].all(), table.loc[~table["ok"], ["key", "target", "value"]].to_string()


def test_calibration_table_catches_a_miscalibrated_population():
    """The table's checks can fail: an old-style population (nobody under 18, key groups drawn apart) fails."""
    from casework.synth.calibration import calibration_table

    ds = small("pankow", 1, 3000)
    persons = ds.table("persons").assign(birth_year=lambda p: p["birth_year"] - 10)
    a = ds.table("assessments").assign(need_framework=0)
    broken = type(ds).from_tables({**{t: ds.table(t) for t in ds.tables}, "persons": persons, "assessments": a},
                                  ground_truth=ds.ground_truth)
    table = calibration_table(broken).set_index("key")
    assert not table.loc["u25_share", "ok"] and not table.loc["youngest_age", "ok"]
    assert not table.loc["key_group_violations", "ok"]


def test_key_groups_are_at_least_as_severe_as_their_sub_needs():
    from casework.synth.population import consistent_needs

    rng = np.random.default_rng(0)
    n = 500
    needs = {f"need_{k}": rng.integers(0, 3, n) for k in ("qualification", "health", "motivation", "framework",
                                                          "childcare", "care_duties", "housing", "debt",
                                                          "addiction", "mobility", "language", "psychosocial")}
    cov = {"vocational": rng.choice(["none", "vocational"], n), "school": rng.choice(["none", "middle"], n),
           "health_restriction": rng.random(n) < 0.5, "disability": rng.random(n) < 0.2,
           "minor_children": rng.random(n) < 0.4}
    out = consistent_needs(needs, cov)
    assert (out["need_framework"] >= np.maximum.reduce([out[f"need_{s}"] for s in
                                                        ("childcare", "care_duties", "housing", "debt",
                                                         "mobility")])).all()
    assert (out["need_health"] >= np.maximum(out["need_addiction"], out["need_psychosocial"])).all()
    assert (out["need_health"][cov["disability"]] == 2).all()
    assert (out["need_qualification"][cov["vocational"] == "none"] >= 1).all()
    assert (out["need_childcare"][~cov["minor_children"]] == 0).all()


def test_citizenship_follows_the_year():
    from casework.synth.population import draw_persons

    rng = np.random.default_rng(3)
    early = draw_persons(20_000, rng, start_year=2014)
    late = draw_persons(20_000, rng, start_year=2024)
    assert (early["citizenship"] != "german").mean() + 0.15 < (late["citizenship"] != "german").mean()
    assert (2014 - early["birth_year"]).min() == 15 and (2024 - late["birth_year"]).max() <= 64


def test_ground_truth_is_what_the_generator_did():
    ds = small("gelsenkirchen", 1, 3000)
    gt, t = ds.ground_truth, ds.truth
    cohort = t[t["in_cohort"]]
    for rec in gt["effects"]:
        if rec["segment"] is not None:
            continue
        kind, pre = rec["measure"], {"integration_12m": "y", "receipt_end_12m": "e",
                                     "unemployment_exit_12m": "ux"}[rec["outcome"]]
        if rec["estimand"] == "att":
            rows = cohort["measure"] == kind
        else:
            rows = cohort["measure"].isin([kind, "none"]) & cohort[f"possible_{kind}"]
        rows &= cohort[f"{pre}0"].notna()  # unemployment exit: the registered unemployed at the landmark only
        value = (cohort.loc[rows, f"{pre}_{kind}"] - cohort.loc[rows, f"{pre}0"]).mean()
        assert rec["value"] == pytest.approx(value, abs=1e-6), rec
        assert rec["n"] == rows.sum()
    # consistency: the observed outcome is the potential outcome of the treatment received
    treated = cohort[cohort["measure"] != "none"]
    y_real = np.array([row[f"y_{m}"] for m, (_, row) in zip(treated["measure"], treated.iterrows())])
    assert np.array_equal(y_real, treated["y1"].to_numpy())
    assert np.array_equal(cohort.loc[cohort["measure"] == "none", "integration_12m"],
                          cohort.loc[cohort["measure"] == "none", "y0"])
    assert {r["outcome"] for r in gt["effects"]} == {"integration_12m", "receipt_end_12m", "unemployment_exit_12m"}
    # the end of receipt is what the benefit spells show: leaving within 12 months of the landmark
    b = ds.table("benefits").set_index("person_id")["end"]
    ended = b.reindex(cohort["person_id"]).to_numpy()
    limit = (cohort["landmark"] + pd.DateOffset(months=12)).to_numpy()
    observed = pd.notna(ended) & (ended < limit)
    assert np.array_equal(observed, cohort["receipt_end_12m"].to_numpy() == 1)
    # the needs-coverage effect: covering a need at the index assessment, per need
    cov = [r for r in gt["coverage"] if r["when"] == "index_assessment" and r["outcome"] == "integration_12m"]
    assert cov and all(r["n"] > 0 for r in cov)
    health = next(r for r in cov if r["need"] == "health")
    rows = cohort["measure"].isin(health["measures"])  # in this scenario everybody with a health module has the need
    assert health["n"] <= rows.sum()


def test_analyst_cohort_reproduces_the_truth_cohort():
    for scenario in ("gelsenkirchen", "pankow", "nrw_teilhabe"):
        ds = small(scenario, 1, 3000)
        c = panel.analysis_cohort(ds)
        t = ds.truth[ds.truth["in_cohort"]]
        assert set(c["person_id"]) == set(t["person_id"]), scenario
        m = c.merge(t[["person_id", "measure", "integration_12m"]], on="person_id", suffixes=("", "_truth"))
        assert (m["measure"] == m["measure_truth"]).all()
        assert (m["integration_12m"] == m["integration_12m_truth"]).all()


def test_observed_integrations_follow_the_truth():
    ds = small("pankow", 1, 3000)
    emp = ds.table("employment")
    assert not emp[emp["kind"].isin(INTEGRATION_KINDS)].duplicated("person_id").any()  # one integration each
    gt = ds.ground_truth
    assert gt["did"] and gt["did"][0]["project"] == "pankow" and gt["did"][0]["jobcenters"] == ["JC-BE-PAN"]
    hr = {(r["term"], r["phase"]): r["value"] for r in gt["hazard_ratios"]}
    assert hr[("health_restriction", None)] == pytest.approx(np.exp(-0.55))


def test_confounding_parameter_changes_selection():
    a = synth.generate("gelsenkirchen", seed=3, persons=4000)
    b = synth.generate("gelsenkirchen", seed=3, persons=4000, confounding=1.0)
    assert b.ground_truth["confounding"] == 1.0
    tb = b.truth[b.truth["in_cohort"]]
    treated_u = tb.loc[tb["measure"] != "none", "u"].mean()
    assert treated_u > tb.loc[tb["measure"] == "none", "u"].mean() + 0.2
    assert a.ground_truth["confounding"] == 0.0


def test_latent_classes_are_recorded():
    t = small("gelsenkirchen", 1, 3000).truth
    assert set(t["latent_class"]) == {"market_near", "health", "family", "language_qualification", "multiple"}
    assert t["latent_class_label"].notna().all()


def test_bad_arguments():
    with pytest.raises(ValueError, match="unknown scenario"):
        synth.generate("hamburg")
    with pytest.raises(ValueError, match="at least 100"):
        synth.generate("pankow", persons=10)


def test_streaming_equals_in_memory_across_chunks(tmp_path, monkeypatch):
    monkeypatch.setattr(synth, "CHUNK", 700)  # several chunks at a small size
    a = synth.generate("nrw_teilhabe", seed=4, persons=2000)
    b = synth.generate("nrw_teilhabe", seed=4, persons=2000, out=tmp_path / "nrw")
    for t in a.tables:
        pd.testing.assert_frame_equal(a.table(t), b.table(t), check_dtype=False)
    assert a.ground_truth == b.ground_truth
    assert validate(b).ok  # keys stay unique across chunks
    assert len(b.truth) == 2000


def test_interrupted_streaming_leaves_nothing(tmp_path, monkeypatch):
    import casework.synth as s

    monkeypatch.setattr(synth, "CHUNK", 500)
    calls = {"n": 0}
    real = s.person_tables

    def failing(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(s, "person_tables", failing)
    with pytest.raises(KeyboardInterrupt):
        synth.generate("pankow", seed=1, persons=1500, out=tmp_path / "p")
    assert list(tmp_path.iterdir()) == []


def test_chunks_are_joined_like_pandas_concat():
    from casework.synth import _concat

    a = pd.DataFrame({"x": [1, 2], "empty": [None, None], "y": ["a", None]}).astype({"empty": object})
    b = pd.DataFrame({"x": [3], "empty": [None], "y": ["c"]}).astype({"empty": object})
    pd.testing.assert_frame_equal(_concat([a, b]), pd.concat([a, b], ignore_index=True))
    c = b.assign(empty=["filled"])
    pd.testing.assert_frame_equal(_concat([a, c]), pd.concat([a, c], ignore_index=True))
