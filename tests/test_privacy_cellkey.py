"""The cell key method of casework.privacy: record keys, the perturbation table, protected counts and rates,
tables with cell keys and the guarded cube (the boards' only access to counts)."""

from __future__ import annotations

import math
import os
import stat

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from casework import privacy as P
from casework.cells import Cube

T = 20
SECRET = b"0123456789abcdef-test-only"


def test_perturbation_table_rows_are_distributions_with_mean_zero():
    rows = P.perturbation_table(T)
    for count in {r["count"] for r in rows}:
        mine = [r for r in rows if r["count"] == count]
        probs = np.array([r["p"] for r in mine])
        changes = np.array([r["change"] for r in mine])
        assert probs.sum() == pytest.approx(1.0)
        assert (probs * changes).sum() == pytest.approx(0.0, abs=1e-12)
        assert (probs * changes ** 2).sum() <= P.PERTURBATION_VARIANCE + 1e-9
        assert changes.min() >= max(-P.MAX_PERTURBATION, T - count) and changes.max() <= P.MAX_PERTURBATION
        # the cell-key ranges cover every key once, in order
        assert mine[0]["key_from"] == 0 and mine[-1]["key_to"] == P.KEY_MODULUS - 1
        assert all(a["key_to"] + 1 == b["key_from"] for a, b in zip(mine, mine[1:]))
    far = [r for r in rows if r["count"] == T + P.MAX_PERTURBATION]
    assert sum(r["p"] * r["change"] ** 2 for r in far) == pytest.approx(P.PERTURBATION_VARIANCE, rel=1e-6)


def test_perturbation_follows_the_published_table():
    for r in P.perturbation_table(T):
        for key in (r["key_from"], r["key_to"]):
            if r["key_to"] >= r["key_from"]:
                assert P.perturbation(r["count"], key, T) == r["change"], r


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 5000), st.integers(0, P.KEY_MODULUS - 1))
def test_protected_count_hides_small_and_moves_others_a_little(n, key):
    shown = P.protected_count(n, key, T)
    assert shown == P.protected_count(n, key, T)  # the same cell always shows the same value
    if n == 0:
        assert shown == 0
    elif n < T:
        assert shown is None
    else:
        assert shown >= T and abs(shown - n) <= P.MAX_PERTURBATION


def test_perturbation_is_unbiased_over_uniform_keys():
    keys = np.random.default_rng(0).integers(0, P.KEY_MODULUS, 40_000)
    for n in (T + 1, T + 3, 500):
        changes = np.array([P.perturbation(n, k, T) for k in keys])
        assert abs(changes.mean()) < 0.03, n
    assert 0.2 < np.mean(changes == 0) < 0.35  # most cells move, so a difference rarely hits the truth


def test_protected_rate_needs_both_counts_shown():
    assert P.protected_rate(None, 300, T) is None  # a hidden numerator stays hidden
    assert P.protected_rate(25, None, T) is None
    assert P.protected_rate(0, 300, T) == 0
    assert P.protected_rate(30, 120, T) == 0.25
    assert P.show_protected_rate(None, 300, min_cell=T) == "–"
    assert P.show_protected(None, T) == "< 20" and P.show_protected(1234, T) == "1.234"
    assert P.show_protected(math.nan, T) == "–"


def test_record_keys_are_fixed_secret_and_spread():
    ids = [f"p_{i:06d}" for i in range(20_000)]
    a, b = P.person_keys(ids, SECRET), P.person_keys(ids, SECRET)
    assert a.shape == (20_000, 5) and (a == b).all()
    assert (P.person_keys(ids, SECRET + b"x")[:, 0] == a[:, 0]).mean() < 0.01
    assert a[:, :4].min() >= 0 and a[:, :4].max() < P.KEY_MODULUS and set(np.unique(a[:, 4])) == {0, 1}
    counts = np.bincount(a[:, 0] * 16 // P.KEY_MODULUS, minlength=16)
    assert counts.min() > 20_000 / 16 * 0.85  # uniform over the key range
    r = P.record_keys(["R1", "R2", "R1"], SECRET, "referral")
    assert r[0] == r[2] and r[0] != r[1]
    assert P.label_key(SECRET, "t", "a", 5) == P.label_key(SECRET, "t", "a", 5) != P.label_key(SECRET, "t", "a", 6)


def test_binary_sex_keeps_f_and_m_and_assigns_the_rest():
    assert P.binary_sex(["f", "m", "d", None, "d"], [0, 1, 1, 0, 0]) == ["f", "m", "f", "m", "m"]


def test_dataset_secret_is_made_once_and_private(tmp_path, monkeypatch):
    monkeypatch.delenv(P.SECRET_ENV, raising=False)
    s1 = P.dataset_secret(tmp_path)
    assert len(s1) == 32 and P.dataset_secret(tmp_path) == s1
    mode = stat.S_IMODE(os.stat(tmp_path / "results" / P.SECRET_FILE).st_mode)
    assert mode == 0o600
    monkeypatch.setenv(P.SECRET_ENV, "ab" * 16)
    assert P.dataset_secret(tmp_path) == bytes.fromhex("ab" * 16)
    monkeypatch.setenv(P.SECRET_ENV, "abc")
    with pytest.raises(ValueError, match=P.SECRET_ENV):
        P.dataset_secret(tmp_path)


def _table():
    return {"partner": ["A", "B", "C"], "n": [5, 40, 60], "n_key": [11, 2000, 60000], "d": [50, 80, 90],
            "d_key": [1, 2, 3]}


def test_protect_table_hides_perturbs_and_totals_from_keys():
    shown = P.protect_table(_table(), ["n", "d"], rate_cols={"r": ("n", "d")}, min_cell=T)
    assert "n_key" not in shown and "d_key" not in shown
    assert shown["n"][0] == "< 20" and shown["n"][1] == "*"  # a shown total would give one hidden cell away
    assert shown["r"][:2] == ["–", "–"]  # no rate from a hidden numerator
    assert shown["n"][3] == P.show_protected(P.protected_count(105, (11 + 2000 + 60000) % P.KEY_MODULUS, T), T)
    assert shown["partner"][3] == "Summe"
    assert P.chart_values(_table(), ["n"], T)["n"][:2] == [None, None]


def test_protect_table_without_keys_refuses():
    with pytest.raises(P.MissingCellKeys, match="n_key"):
        P.protect_table({"partner": ["A"], "n": [30]}, ["n"])


def _cube(rng, cells=400):
    n = rng.integers(0, 30, cells)
    return Cube({"jc_id": [f"J{i % 4}" for i in range(cells)], "month": [f"2020-{1 + i % 12:02d}-01"
                                                                       for i in range(cells)],
                 "sex": ["f" if i % 3 else "m" for i in range(cells)], "integrations": n,
                 "integrations_key": rng.integers(0, P.KEY_MODULUS, cells)})


def test_guarded_cube_gives_only_protected_sums_with_additive_keys():
    rng = np.random.default_rng(1)
    cube = _cube(rng)
    g = P.GuardedCube(cube, ["integrations"])
    assert not hasattr(g, "values") and not hasattr(g, "total")
    m = g.mask(jc_id="J1", sex="f")
    n, k = cube.values["integrations"][m].sum(), cube.values["integrations_key"][m].sum() % P.KEY_MODULUS
    assert g.count("integrations", m) == P.protected_count(n, k)
    roll = g.rolling("integrations", g.mask(jc_id="J2"), window=3)
    assert math.isnan(roll[0]) and math.isnan(roll[1])
    sel = g.mask(jc_id="J2") & g.mask("2020-01-01", "2020-03-01")
    assert roll[2] == g.count("integrations", sel)
    shown, values = g.table("jc_id", ["integrations"], g.mask(sex="m"))
    assert shown["jc_id"][-1] == "Summe"
    assert shown["integrations"][-1] == P.show_protected(g.count("integrations", g.mask(sex="m")))
    with pytest.raises(P.MissingCellKeys):
        P.GuardedCube(Cube({"jc_id": ["A"], "integrations": [3]}), ["integrations"])


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(st.floats(0, 400), st.integers(0, 10 * P.KEY_MODULUS)), max_size=60))
def test_protected_counts_equal_the_single_cell_rule(cells):
    counts, keys = [c for c, _ in cells], [k for _, k in cells]
    assert P.protected_counts(counts, keys, T) == [P.protected_count(c, k, T) for c, k in cells]
    nan = P.protected_counts([math.nan, 30], [5, math.nan], T)
    assert all(math.isnan(v) for v in nan)


def test_protected_rates_equal_the_single_rule():
    nums, dens = [None, 0, 30, 25, math.nan, 40], [300, 300, 120, None, 100, 19]
    assert P.protected_rates(nums, dens, T) == [P.protected_rate(a, b, T) for a, b in zip(nums, dens)]


def test_cube_keys_equal_an_independent_sum_of_record_keys_and_do_not_depend_on_pieces():
    """The pipeline's SQL key sums against a pandas sum of the record keys (person-months: (k0 + m k1) mod p,
    integrations: (k2 + m k3) mod p), by jobcenter, sex (binary) and month; and the same cube in pieces."""
    import pandas as pd

    from casework import engine
    from casework.boards.build import kpi_cube, person_months
    from casework.panel import month_ordinal
    from tests.datasets import small
    from tests.reference_cube import _integration_events

    ds = small("pankow", 2, 1500)
    start, end = "2016-01-01", "2016-12-01"
    with engine.using(None):
        cube = kpi_cube(ds, None, start, end, cell_keys=SECRET)
    persons = ds.table("persons")[["person_id", "jc_id", "sex"]].reset_index(drop=True)
    k = P.person_keys(persons["person_id"].astype(str), SECRET)
    persons = persons.assign(k0=k[:, 0], k1=k[:, 1], k2=k[:, 2], k3=k[:, 3],
                             sex=P.binary_sex(persons["sex"].tolist(), k[:, 4]))
    assert set(cube["sex"]) <= {"f", "m"}
    lo, hi = (int(month_ordinal([pd.Timestamp(t)])[0]) for t in (start, end))
    pm = person_months(ds, start, end).merge(persons, on="person_id")
    pm["key"] = (pm["k0"] + pm["m"] * pm["k1"]) % P.KEY_MODULUS
    ev = _integration_events(ds, lo, hi).merge(persons, on="person_id")
    ev["key"] = (ev["k2"] + ev["m"] * ev["k3"]) % P.KEY_MODULUS
    cube = cube.assign(m=month_ordinal(cube["month"]).astype(int))
    for by in ("jc_id", "sex", "m"):
        for rows, measure in ((pm, "stock"), (pm[pm["ltr"]], "ltr_stock"), (ev, "integrations"),
                              (ev[ev["need_ending"].astype(bool)], "need_ending")):
            want = rows.groupby(by)["key"].sum() % P.KEY_MODULUS
            got = cube.groupby(by)[f"{measure}_key"].sum() % P.KEY_MODULUS
            pd.testing.assert_series_equal(got[got.index.isin(want.index)], want, check_names=False,
                                           check_dtype=False)
    with engine.using(None, partition_persons=300):
        pd.testing.assert_frame_equal(kpi_cube(ds, None, start, end, cell_keys=SECRET),
                                      cube.drop(columns="m"))
