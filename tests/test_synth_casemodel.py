"""The case model's optional tables in the synthetic data (amounts, instruments, caseworkers) and the ground truth
of unemployment exit."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from casework import kpi, synth
from casework.kpi_defs import NEW_16E_FROM
from casework.schema import INSTRUMENT_KINDS, validate
from casework.synth.amounts import REGELBEDARF, SINGLE_PARENT_SHARE, regelbedarf
from tests.datasets import small


@pytest.mark.parametrize("scenario", ["gelsenkirchen", "pankow", "nrw_teilhabe"])
def test_every_demo_scenario_has_the_optional_tables(scenario):
    ds = small(scenario, 1, 3000)
    for table in ("benefit_amounts", "instruments", "caseworkers", "assignments", "unemployment"):
        assert table in ds.tables and len(ds.table(table)) > 0, table
    assert validate(ds).ok
    assert set(ds.table("instruments")["kind"]) <= set(INSTRUMENT_KINDS)
    kf = kpi.key_figures(ds, f"{ds.table('benefits')['start'].max().year - 1}-01-01",
                         f"{ds.table('benefits')['start'].max().year - 1}-12-01").set_index("kpi")
    assert np.isfinite(kf.loc[["k1", "k1e1", "k3e2"], "value"]).all()  # the figures that need the tables compute


def test_regelbedarf_is_the_published_table():
    # Regelbedarfsstufe 1: 404 EUR in 2016, 446 in 2021, 502 in 2023 (Bürgergeld), 563 in 2024
    assert regelbedarf(np.array([2016, 2021, 2023, 2024]), 1).tolist() == [404, 446, 502, 563]
    assert regelbedarf(np.array([2024]), 2).tolist() == [506]
    assert all(REGELBEDARF[y][0] > REGELBEDARF[y][1] > REGELBEDARF[y][2] for y in REGELBEDARF)
    with pytest.raises(KeyError, match="2013"):
        regelbedarf(np.array([2013]), 1)


def test_amounts_follow_the_household_and_the_year():
    ds = small("pankow", 1, 3000)
    a = ds.table("benefit_amounts")
    p = ds.table("persons").set_index("person_id")
    t = ds.truth.set_index("person_id")
    b = ds.table("benefits").set_index("person_id")
    # one row per person and month in receipt, inside the receipt
    assert not a.duplicated(["person_id", "month"]).any()
    end = b.loc[a["person_id"], "end"].fillna(pd.Timestamp("2100-01-01")).to_numpy()
    assert (a["month"].to_numpy() <= end).all()
    first_month = b.loc[a["person_id"], "start"].dt.to_period("M").dt.to_timestamp().to_numpy()
    assert (a["month"].to_numpy() >= first_month).all()
    # a person alone in the BG, no children, never integrated: exactly RBS 1 of the year
    size = p["bg_id"].map(p["bg_id"].value_counts())
    never = ds.table("employment").query("kind in ['svb', 'training', 'self_employed', 'funded_16e']")["person_id"]
    alone = p.index[(size == 1) & ~p["single_parent"] & ~p["children_under_3"]
                    & ~t.loc[p.index, "minor_children"] & ~p.index.isin(never)]
    mine = a[a["person_id"].isin(alone)]
    assert len(mine) > 1000
    assert np.allclose(mine["llu"], regelbedarf(mine["month"].dt.year.to_numpy(), 1))
    # a single parent gets the Mehrbedarf (§ 21 Abs. 3 SGB II) on top of RBS 1: never less
    sp = a[a["person_id"].isin(p.index[p["single_parent"]]) & ~a["person_id"].isin(never)]
    rb1 = regelbedarf(sp["month"].dt.year.to_numpy(), 1)
    assert (sp["llu"] >= rb1 * (1 + SINGLE_PARENT_SHARE) - 0.01).all()
    # both partners of a couple get RBS 2 (§ 20 Abs. 4 SGB II)
    age = p["entry_date"].dt.year - p["birth_year"]
    couple_bg = (size == 2) & (p["bg_id"].map(age.groupby(p["bg_id"]).min()) >= 25)
    kids = p["single_parent"] | p["children_under_3"] | t.loc[p.index, "minor_children"]
    partners = p.index[couple_bg & ~kids]
    pm = a[a["person_id"].isin(partners) & ~a["person_id"].isin(never)]
    assert len(pm) > 500
    assert np.allclose(pm["llu"], regelbedarf(pm["month"].dt.year.to_numpy(), 2))
    # the Bürgergeld raise of 2023 and 2024 shows in K1 (LLU sum against the year before)
    k1 = kpi.key_figures(ds, "2024-01-01", "2024-12-01").set_index("kpi").at["k1", "value"]
    stock = kpi.key_figures(ds, "2024-01-01", "2024-12-01").set_index("kpi").at["k1e2", "value"]
    assert k1 > stock + 0.05  # RBS 1 rose by 12 % from 2023 to 2024; the stock alone would not do it
    assert (a["kdu"] > 0).all() and (a["llu"] > 0).all()


def test_instruments_and_the_date_aware_16e_rule():
    ds = small("pankow", 1, 20_000)
    ins = ds.table("instruments")
    emp = ds.table("employment")
    assert set(ins["kind"]) == set(INSTRUMENT_KINDS)  # every regular instrument occurs
    assert (ins.loc[ins["kind"] == "16i", "start"] >= "2019-01-01").all()  # § 16i exists from 2019
    # § 16e before 2019 (Förderung von Arbeitsverhältnissen) is publicly funded employment, from 2019 an integration:
    # both occur, so the key figures' date rule matters on these data
    e16 = emp[emp["kind"] == "funded_16e"]
    assert (e16["start"] < NEW_16E_FROM).sum() > 20 and (e16["start"] >= NEW_16E_FROM).sum() > 20
    # a new § 16e job is the simulated integration (the key figures and the truth agree), of a person with two
    # years or more in receipt (§ 16e Abs. 3: two years unemployed)
    new = e16[e16["start"] >= NEW_16E_FROM].merge(ins[ins["kind"] == "16e"], on=["person_id", "start"])
    assert len(new) == (e16["start"] >= NEW_16E_FROM).sum()
    p = ds.table("persons").set_index("person_id").loc[new["person_id"]]
    months = ((new["start"].dt.year - p["entry_date"].dt.year.to_numpy()) * 12
              + new["start"].dt.month - p["entry_date"].dt.month.to_numpy() + p["benefit_months"].to_numpy())
    assert (months >= 23).all()
    # the instruments lie inside receipt (or accompany the job that ended it)
    b = ds.table("benefits").set_index("person_id")
    on_job = ins["kind"].isin(["egz", "16e"]) & (ins["start"] >= NEW_16E_FROM) | (ins["kind"] == "egz")
    inside = ins[~on_job]
    assert (inside["start"] >= b.loc[inside["person_id"], "start"].to_numpy() - pd.Timedelta(days=31)).all()


def test_k3e2_counts_long_term_recipients_in_instruments():
    """Dropping the instruments table makes K3E2 a "no data" figure; halving the instruments lowers it."""
    ds = small("gelsenkirchen", 1, 3000)
    kf = kpi.key_figures(ds, "2018-01-01", "2018-12-01").set_index("kpi")
    assert 0.05 < kf.at["k3e2", "value"] < 0.25
    tables = {t: ds.table(t) for t in ds.tables}
    ins = tables["instruments"]
    fewer = type(ds).from_tables({**tables, "instruments": ins.iloc[::2]})
    assert kpi.key_figures(fewer, "2018-01-01", "2018-12-01").set_index("kpi").at["k3e2", "value"] < kf.at[
        "k3e2", "value"]


def test_caseloads_follow_the_betreuungsschluessel():
    ds = small("gelsenkirchen", 1, 20_000)
    cw = ds.table("caseworkers")
    assert cw["fallmanagement"].any() and not cw["fallmanagement"].all()
    a = ds.table("assignments")
    assert set(a["caseworker_id"]) <= set(cw["caseworker_id"])
    # assignments of a person do not overlap and lie within receipt
    a = a.sort_values(["person_id", "start"])
    prev_end = a.groupby("person_id")["end"].shift()
    assert not (prev_end.notna() & (a["start"] <= prev_end)).any()
    b = ds.table("benefits").set_index("person_id")
    assert (a["start"] >= b.loc[a["person_id"], "start"].to_numpy()).all()
    c = kpi.caseloads(ds, "2017-09-30")
    team = c["team_id"].str.rsplit("-", n=1).str[-1]
    assert 120 <= c.loc[team == "ue25", "persons"].mean() <= 180  # 1:150
    assert 50 <= c.loc[team == "u25", "persons"].mean() <= 100  # 1:75
    # the ABCaktiv team cares for the project's standing caseload, in Fallmanagement
    abc = c[team == "abcaktiv"]
    assert abc["fallmanagement"].all() and 1350 <= abc["persons"].sum() <= 1650
    # persons under 25 are in the U25 team
    p = ds.table("persons").set_index("person_id")
    on = a[(a["start"] <= "2017-09-30") & (a["end"].isna() | (a["end"] >= "2017-09-30"))]
    young = on[(2017 - p.loc[on["person_id"], "birth_year"].to_numpy()) <= 23]
    assert young["caseworker_id"].str.contains("-u25-|-abcaktiv-").all()


def test_the_case_model_does_not_change_the_other_tables(monkeypatch):
    """The optional tables have their own generator: the other tables are what a generator without them makes."""
    from casework.synth import tables as synth_tables

    ds = synth.generate("gelsenkirchen", seed=3, persons=600)
    monkeypatch.setattr(synth_tables, "_case_model", lambda *a, **k: {})
    bare = synth.generate("gelsenkirchen", seed=3, persons=600)
    assert "benefit_amounts" not in bare.tables
    for table in ("persons", "assessments", "referrals", "benefits", "unemployment", "enrolments"):
        pd.testing.assert_frame_equal(ds.table(table), bare.table(table))
    emp, core = ds.table("employment"), bare.table("employment")
    pd.testing.assert_frame_equal(emp.iloc[:len(core)].drop(columns="kind"), core.drop(columns="kind"))
    changed = emp.iloc[:len(core)]["kind"] != core["kind"]
    assert (emp.iloc[:len(core)].loc[changed, "kind"] == "funded_16e").all()  # svB jobs with the new § 16e
    assert (core.loc[changed, "kind"] == "svb").all()


# ------------------------------------------------------------------ unemployment exit: ground truth
def _episodes(u: pd.DataFrame) -> pd.DataFrame:
    """Spells less than 43 days apart form one episode (outcome_def.md rule 1), written from the rule."""
    u = u.sort_values(["person_id", "start"]).copy()
    far = pd.Timestamp("2200-01-01")
    end = u["end"].fillna(far)
    reach = end.groupby(u["person_id"]).cummax().groupby(u["person_id"]).shift()
    new = reach.isna() | ((u["start"] - reach).dt.days - 1 > 42)
    u["episode"] = new.cumsum()
    ep = u.assign(end=end).groupby("episode").agg(person_id=("person_id", "first"), start=("start", "min"),
                                                   end=("end", "max"))
    ep["end"] = ep["end"].where(ep["end"] < far)
    return ep


@pytest.mark.parametrize("scenario", ["gelsenkirchen", "nrw_teilhabe"])
def test_unemployment_exit_truth_follows_the_outcome_definition(scenario):
    ds = small(scenario, 1, 3000)
    t = ds.truth.set_index("person_id")
    cohort = t[t["in_cohort"]]
    ep = _episodes(ds.table("unemployment"))
    m = ep.merge(cohort["landmark"], left_on="person_id", right_index=True)
    covering = m[(m["start"] <= m["landmark"]) & (m["end"].isna() | (m["end"] >= m["landmark"]))]
    assert covering["person_id"].is_unique
    h = covering["landmark"] + pd.DateOffset(months=12)
    expected = pd.Series((covering["end"].notna() & (covering["end"] < h)).astype(float).to_numpy(),
                         index=covering["person_id"].to_numpy())
    got = cohort["unemployment_exit_12m"]
    assert got.notna().sum() == len(expected) > 200  # at risk = registered unemployed at the landmark
    pd.testing.assert_series_equal(got.dropna().sort_index(), expected.sort_index(), check_names=False)
    assert t.loc[~t["in_cohort"], "unemployment_exit_12m"].isna().all()


def test_unemployment_exit_effects_are_the_potential_outcomes():
    ds = small("gelsenkirchen", 1, 20_000)
    t = ds.truth[ds.truth["in_cohort"]]
    recs = [r for r in ds.ground_truth["effects"] if r["outcome"] == "unemployment_exit_12m"]
    kinds = {r["measure"] for r in recs}
    assert kinds == {r["measure"] for r in ds.ground_truth["effects"] if r["outcome"] == "integration_12m"}
    at_risk = t["ux0"].notna()
    for r in recs:
        k = r["measure"]
        treated = (t["measure"] == k) & at_risk
        rows = treated if r["estimand"] == "att" else (
            (treated | (t["measure"] == "none")) & t[f"possible_{k}"] & at_risk)
        assert r["n"] == rows.sum()
        assert r["value"] == pytest.approx((t.loc[rows, f"ux_{k}"] - t.loc[rows, "ux0"]).mean(), abs=1e-6)
    # observed = the potential outcome of the measure received
    for k in kinds:
        got = t.loc[(t["measure"] == k) & at_risk]
        assert (got["unemployment_exit_12m"] == got[f"ux_{k}"]).all()
    none = t[(t["measure"] == "none") & at_risk]
    assert (none["unemployment_exit_12m"] == none["ux0"]).all()
    # a measure with a positive effect on integration raises exit from unemployment (earlier jobs end spells)
    modules = [r for r in recs if r["measure"] == "health_module" and r["estimand"] == "ate"][0]
    assert modules["value"] > 0


def test_unemployment_exit_potential_outcomes_are_monotone_in_the_integration():
    """Under common random numbers a spell can only end earlier when the integration comes earlier."""
    ds = small("nrw_teilhabe", 1, 3000)
    t = ds.truth[ds.truth["in_cohort"] & ds.truth["ux0"].notna()]
    y = t["y_funded_employment"]
    rows = y.notna()
    # integration within the horizon under the measure but not without it: exit can only be as likely or more
    better = rows & (y > t["y0"])
    assert (t.loc[better, "ux_funded_employment"] >= t.loc[better, "ux0"]).all()
    worse = rows & (y < t["y0"])
    assert (t.loc[worse, "ux_funded_employment"] <= t.loc[worse, "ux0"]).all()
    assert better.any() or worse.any()


@settings(max_examples=60, deadline=None)
@given(prefix=st.sampled_from(["P", "A", "BG", "E"]), n=st.integers(0, 50), start=st.integers(0, 10**12),
       width=st.integers(1, 12))
def test_keys_are_zero_padded_numbers(prefix, n, start, width):
    """The keys of the synthetic tables: the prefix and the number zero-padded to the width, longer numbers whole
    (the numpy-string version they replaced, as a reference)."""
    from casework.synth.dates import ids

    nums = np.arange(start, start + n).astype(str)
    expected = np.char.add(prefix, np.char.zfill(nums, width)).tolist() if n else []
    got = ids(prefix, n, start=start, width=width)
    assert got.dtype == object and got.tolist() == expected
