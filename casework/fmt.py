"""German formatting for everything a board sees: 1.234,5 · 23,1 % · 31.12.2025 · plain-German sentences.

Examples
--------
>>> number(1234.5, 1), percent(0.231), date("2025-12-31"), month("2025-12-01")
('1.234,5', '23,1 %', '31.12.2025', 'Dezember 2025')
"""

from __future__ import annotations

import datetime as dt
import math
from decimal import ROUND_HALF_UP, Decimal

__all__ = ["is_missing", "round_half_up", "number", "parse_number", "percent", "pp", "date", "month", "interval",
           "effect_sentence",
           "mde_sentence", "MONTHS_DE"]

MONTHS_DE = ["Januar", "Februar", "März", "April", "Mai", "Juni", "Juli", "August", "September", "Oktober",
             "November", "Dezember"]
_MISSING = "–"


def is_missing(x) -> bool:
    """None, NaN, pandas' NA/NaT or numpy's NaT (checked by type name: boards run without pandas)."""
    if x is None:
        return True
    if isinstance(x, float):
        return math.isnan(x)
    return type(x).__name__ in ("NAType", "NaTType") or (type(x).__name__ == "datetime64" and x != x)


def _as_date(d) -> dt.date:
    """A date-like value (date, datetime, pandas Timestamp, numpy datetime64, ISO string) as a date."""
    if isinstance(d, dt.date):  # datetime and pandas' Timestamp are dates too
        return d
    try:
        return dt.date.fromisoformat(str(d)[:10])
    except ValueError:
        import pandas as pd  # other spellings of a date, as pandas reads them

        return pd.Timestamp(d).date()


def _decimal(x, scale=1) -> Decimal:
    """``x * scale`` as the decimal number it is written as (``0.125`` is 0.125, not the binary
    0.1249999…), so that rounding sees the digits a reader sees."""
    return Decimal(repr(float(x))) * Decimal(repr(scale))


def _rounded(x, decimals: int, scale=1) -> Decimal:
    # DIN 1333 and the tables of the Bundesagentur für Arbeit round a 5 in the first dropped digit up
    # (away from zero), not to the even neighbour as Python's round() and format() do
    return _decimal(x, scale).quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP)


def round_half_up(x, decimals: int = 0):
    """Commercial rounding (DIN 1333: a 5 rounds away from zero): an int for ``decimals=0``, else a float.

    Examples
    --------
    >>> round_half_up(2.5), round_half_up(3.5), round_half_up(-2.5), round_half_up(0.125, 2), round(0.125, 2)
    (3, 4, -3, 0.13, 0.12)
    """
    value = _rounded(x, decimals)
    return int(value) if decimals == 0 else float(value)


def number(x, decimals: int = 0, scale=1) -> str:
    """``1234.5`` → ``"1.234,5"`` (German thousands and decimal separators, rounded half up as in DIN 1333);
    missing → ``"–"``. ``scale`` multiplies first, exactly (percentages: ``scale=100``).

    Examples
    --------
    >>> number(-1234567.891, 2), number(0.5), number(2.5), number(0.125, 2), number(None)
    ('-1.234.567,89', '1', '3', '0,13', '–')
    """
    if is_missing(x) or not math.isfinite(float(x)):
        return _MISSING
    value = _rounded(x, decimals, scale)
    s = f"{value:,.{decimals}f}"
    if s.startswith("-") and value == 0:
        s = s[1:]
    return s.replace(",", "\x00").replace(".", ",").replace("\x00", ".")


def parse_number(s: str) -> float:
    """Inverse of :func:`number`: ``"1.234,5"`` → ``1234.5``.

    Examples
    --------
    >>> parse_number("1.234,5")
    1234.5
    """
    return float(s.replace(".", "").replace(",", "."))


def percent(x, decimals: int = 1) -> str:
    """A share as percent: ``0.231`` → ``"23,1 %"``."""
    return _MISSING if is_missing(x) else f"{number(x, decimals, scale=100)} %"


def pp(x, decimals: int = 1, unit: str = "Prozentpunkte") -> str:
    """A difference in proportions in percentage points: ``0.031`` → ``"3,1 Prozentpunkte"``."""
    return _MISSING if is_missing(x) else f"{number(x, decimals, scale=100)} {unit}"


def date(d) -> str:
    """``"2025-12-31"`` → ``"31.12.2025"``."""
    if is_missing(d):
        return _MISSING
    return _as_date(d).strftime("%d.%m.%Y")


def month(d) -> str:
    """``"2025-12-01"`` → ``"Dezember 2025"``."""
    if is_missing(d):
        return _MISSING
    t = _as_date(d)
    return f"{MONTHS_DE[t.month - 1]} {t.year}"


def interval(lo, hi, decimals: int = 1, scale: float = 100) -> str:
    """A 95 % interval in points: ``(0.012, 0.05)`` → ``"1,2 bis 5,0"``."""
    return f"{number(lo, decimals, scale=scale)} bis {number(hi, decimals, scale=scale)}"


def mde_sentence(mde: float, decimals: int = 1) -> str:
    """The board sentence for a minimum detectable effect (a difference in proportions).

    Examples
    --------
    >>> mde_sentence(0.0412)
    'Mit dieser Zahl von Teilnehmenden lassen sich erst Effekte ab 4,1 Prozentpunkten sicher erkennen.'
    """
    return (f"Mit dieser Zahl von Teilnehmenden lassen sich erst Effekte ab {number(mde, decimals, scale=100)} "
            "Prozentpunkten sicher erkennen.")


def effect_sentence(measure_label: str, estimate: float, ci_low: float, ci_high: float,
                    outcome_label: str = "den Anteil der Integrationen innerhalb von 12 Monaten",
                    assumption: bool = False, decimals: int = 1, mde: float | None = None) -> str:
    """One plain-German sentence for a board.

    With ``mde`` (the minimum detectable effect at 80 % power, a difference in
    proportions) a sentence whose interval includes zero adds how large an
    effect would have to be to be seen with these numbers of participants.

    Examples
    --------
    >>> effect_sentence("an der Schuldnerberatung", 0.031, 0.012, 0.050)[-65:]
    'von 12 Monaten um 3,1 Prozentpunkte (95-%-Intervall 1,2 bis 5,0).'
    >>> effect_sentence("an der Schuldnerberatung", 0.01, -0.01, 0.03).endswith("nicht sicher von null unterscheiden.")
    True
    >>> effect_sentence("an der Schuldnerberatung", 0.01, -0.01, 0.03, mde=0.032)[-97:]
    'Mit dieser Zahl von Teilnehmenden lassen sich erst Effekte ab 3,2 Prozentpunkten sicher erkennen.'
    """
    subject = f"Die Teilnahme {measure_label}"
    if is_missing(estimate):
        return f"Für die Teilnahme {measure_label} liegt keine belastbare Schätzung vor (zu wenige Teilnehmende)."
    verb = "erhöht" if estimate >= 0 else "senkt"
    text = (f"{subject} {verb} {outcome_label} um {pp(abs(estimate), decimals)} "
            f"(95-%-Intervall {interval(ci_low, ci_high, decimals)}).")
    if ci_low <= 0 <= ci_high:
        text = (f"{subject} verändert {outcome_label} geschätzt um {number(estimate, decimals, scale=100)} "
                f"Prozentpunkte (95-%-Intervall {interval(ci_low, ci_high, decimals)}); "
                "der Effekt lässt sich nicht sicher von null unterscheiden.")
        if mde is not None and not is_missing(mde):
            text += " " + mde_sentence(mde, decimals)
    if assumption:
        text += " Hinweis: In den Beispieldaten ist dieser Effekt eine Annahme des Szenarios, kein Befund."
    return text
