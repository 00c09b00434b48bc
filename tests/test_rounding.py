"""German rounding half up (DIN 1333) on every path a figure takes to a board: privacy's counts, fmt, the texts.

DIN 1333 (Zahlenangaben), rounding rule: "Ist die erste wegfallende Ziffer eine 0, 1, 2, 3 oder 4, so wird
abgerundet. Ist die erste wegfallende Ziffer eine 5, 6, 7, 8 oder 9, so wird aufgerundet." The tables of the
Bundesagentur für Arbeit follow it. Python's ``round()`` and numpy's ``rint`` round a 5 to the even neighbour.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from casework import fmt, privacy
from casework.effects.sensitivity import EValue, RobustnessValue

T = 20  # the minimum cell used below (explicit, so $CASEWORK_MIN_CELL does not matter)


def _half_up(text: str, decimals: int, scale: int = 1) -> Decimal:
    return (Decimal(text) * scale).quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP)


def _german(d: Decimal) -> str:
    return f"{d:,}".replace(",", "\x00").replace(".", ",").replace("\x00", ".")


#: values written with a 5 in the first dropped digit, as a decimal string and the number of digits to keep
half_boundaries = st.integers(0, 2).flatmap(lambda decimals: st.tuples(
    st.builds(lambda sign, whole, kept: f"{sign}{whole}.{kept:0{decimals}d}5" if decimals else f"{sign}{whole}.5",
              st.sampled_from(["", "-"]), st.integers(0, 10**7), st.integers(0, 10**decimals - 1)),
    st.just(decimals)))


@given(half_boundaries)
@example(("0.125", 2)).via("binary 0.1249999999999999972 — round() gives 0.12")
@example(("2.675", 2)).via("binary 2.67499999999999982236431605997495353221893310546875")
@example(("1.005", 2)).via("binary 1.00499999999999989341858963598497211933135986328125")
@example(("0.285", 2))
@example(("20.5", 0))
@example(("-2.5", 0))
def test_number_rounds_the_written_five_up(case):
    text, decimals = case
    assert fmt.number(float(text), decimals) == _german(_half_up(text, decimals))


@given(half_boundaries)
@example(("0.0125", 3)).via("percent(0.0125, 1): 1.25 % is shown as 1,3 %")
def test_percent_and_points_round_the_shown_digit_half_up(case):
    text, decimals = case
    shown = max(len(text.split(".")[1]) - 3, 0)  # the share scaled by 100 has its 5 in the digit after these
    assert fmt.percent(float(text), shown) == _german(_half_up(text, shown, 100)) + " %"
    assert fmt.pp(float(text), shown).startswith(_german(_half_up(text, shown, 100)) + " ")


@given(st.integers(0, 10**6), st.integers(0, privacy.KEY_MODULUS - 1))
@example(20, 0)
@example(19, 0)
def test_an_average_at_a_half_is_protected_as_the_next_count(n, key):
    """An average of n + 0.5 persons (a stock averaged over an even number of months) is n + 1 before the
    perturbation, for one cell and for many, and shown so; just under a half it stays n."""
    half, below = n + 0.5, np.nextafter(n + 0.5, 0)
    expected = privacy.protected_count(n + 1, key, T)
    assert privacy.protected_count(half, key, T) == expected
    assert privacy.protected_counts([half, below], [key, key], T) == [expected, privacy.protected_count(n, key, T)]
    assert privacy.show_protected(privacy.protected_count(half, key, T), T) == privacy.show_protected(expected, T)


def test_the_threshold_sees_the_rounded_average():
    # 19.5 persons on average are 20, so the cell is shown (perturbed); the old round() gave 20 too, but 20.5
    # became 20 (even), a different count and so a different perturbation table row
    assert privacy.protected_count(19.5, 0, T) is not None
    keys = range(0, privacy.KEY_MODULUS, 97)
    assert all(privacy.protected_count(20.5, k, T) == privacy.protected_count(21, k, T) for k in keys)
    assert any(privacy.protected_count(20.5, k, T) != privacy.protected_count(20, k, T) for k in keys)
    assert privacy.protected_counts([0.5, 1.5, 2.5], [0, 0, 0], T) == [None, None, None]
    assert privacy.protected_counts([0.49], [0], T) == [0]


@given(st.integers(1, 10**4), st.integers(0, 2))
def test_a_shown_rate_is_rounded_half_up(num, decimals):
    """A rate num / den whose percent has a 5 in the first dropped digit (den = 2 * 10**(decimals + 2))."""
    den = 2 * 10 ** (decimals + 2)
    shown = privacy.show_rate(num, den, formatter=lambda x: fmt.percent(x, decimals), min_cell=T)
    assert shown == _german(_half_up(str(Decimal(num) / den), decimals, 100)) + " %"


@pytest.mark.parametrize("point, text", [(2.25, "2,3"), (2.35, "2,4"), (1.05, "1,1"), (1234.45, "1.234,5")])
def test_e_value_sentence_rounds_half_up(point, text):
    assert f"Faktor {text} beeinflussen" in EValue(point, 1.0, 1.0).text_de


@pytest.mark.parametrize("rv, text", [(0.0125, "1,3"), (0.1225, "12,3"), (0.0005, "0,1")])
def test_robustness_sentence_rounds_half_up(rv, text):
    assert f"je {text} % der" in RobustnessValue(rv, rv, rv, 100).text_de


def test_rint_half_up_matches_round_half_up():
    values = [k / 2 for k in range(-41, 42)] + [0.49999999999999994, 2.5000000000000004, 1e15 + 0.5]
    assert privacy.rint_half_up(values).tolist() == [float(fmt.round_half_up(v)) for v in values]
