"""Small-cell suppression, applied centrally to everything a board sees.

* Counts under the threshold (default 20, setting ``CASEWORK_MIN_CELL``;
  DOMAIN.md section 6: FDZ practice asks for at least 20 observations per
  published cell) are shown as ``"< 20"``; a count of zero stays ``0``
  (nobody is revealed by it).
* Rates whose denominator is under the threshold are shown as ``"–"``.
* **Secondary suppression**: within a table with a shown total, a column
  with exactly one suppressed cell would let the reader subtract; the next
  smallest cell of that column is suppressed too (repeated until no column
  has a single suppressed cell). A cell hidden only for that reason shows
  ``"*"`` (BA practice), so that no false "< 20" is printed.
* No person-level frame may reach a dashboard: :func:`assert_aggregate`
  rejects frames with person keys, pseudonyms or names.

Examples
--------
>>> show_count(7), show_count(0), show_count(1234)
('< 20', '0', '1.234')
>>> show_rate(3, 10), show_rate(30, 120)
('–', '25,0 %')
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd

from casework import fmt

__all__ = ["threshold", "show_count", "show_rate", "suppression_mask", "suppress", "suppressed_numeric",
           "assert_aggregate", "PERSON_LEVEL_COLUMNS", "SECONDARY"]

SECONDARY = "*"
PERSON_LEVEL_COLUMNS = ("person_id", "person_name", "first_name", "last_name", "address", "customer_number",
                        "bg_number", "pseudonym", "birth_date")


def threshold() -> int:
    """The minimum cell size: ``$CASEWORK_MIN_CELL`` or 20."""
    value = os.environ.get("CASEWORK_MIN_CELL", "20")
    try:
        t = int(value)
    except ValueError as err:
        raise ValueError(f"CASEWORK_MIN_CELL must be a whole number, got {value!r}") from err
    if t < 1:
        raise ValueError(f"CASEWORK_MIN_CELL must be at least 1, got {t}")
    return t


def show_count(n, min_cell: int | None = None) -> str:
    """A count for display: ``"< 20"`` below the threshold (zero excepted), German format otherwise."""
    t = threshold() if min_cell is None else min_cell
    if n is None or (isinstance(n, float) and np.isnan(n)):
        return "–"
    return f"< {t}" if 0 < n < t else fmt.number(n)


def show_rate(numerator, denominator, formatter=fmt.percent, min_cell: int | None = None) -> str:
    """A rate for display: ``"–"`` when the denominator is under the threshold."""
    t = threshold() if min_cell is None else min_cell
    if denominator is None or not np.isfinite(denominator) or denominator < t:
        return "–"
    return formatter(numerator / denominator)


def suppression_mask(frame: pd.DataFrame, count_cols, min_cell: int | None = None,
                     secondary: bool = True) -> pd.DataFrame:
    """Boolean frame (same shape as ``frame[count_cols]``): True where a cell must be hidden.

    Primary: ``0 < count < threshold``. Secondary (per column, because the
    column total is shown): while a column has exactly one hidden cell, also
    hide its smallest visible non-zero cell.
    """
    t = threshold() if min_cell is None else min_cell
    values = frame[list(count_cols)].astype("float64")
    mask = (values > 0) & (values < t)
    if secondary:
        for col in values.columns:
            m = mask[col].copy()
            while m.sum() == 1:
                candidates = values[col].where(~m & (values[col] > 0))
                if candidates.notna().sum() == 0:
                    break
                m[candidates.idxmin()] = True
            mask[col] = m
    return mask


def suppress(frame: pd.DataFrame, count_cols, rate_cols: dict | None = None, total: bool = True,
             min_cell: int | None = None, label_col: str | None = None) -> pd.DataFrame:
    """A display copy of ``frame``: counts as German strings with small cells hidden, rates with small bases hidden.

    Parameters
    ----------
    count_cols : list
        Columns of counts.
    rate_cols : dict, optional
        ``{rate_column: denominator_column}`` or ``{rate_column: (numerator_column, denominator_column)}``;
        rates (shares) shown as percent, hidden when the denominator is under the threshold or the
        numerator cell is hidden (the rate and a visible denominator would reveal it).
    total : bool
        Append a total row ("Summe"); secondary suppression protects it.
    label_col : str, optional
        Column that receives the "Summe" label (default: the first non-count column).

    Examples
    --------
    >>> f = pd.DataFrame({"partner": ["A", "B", "C"], "n": [5, 40, 60]})
    >>> suppress(f, ["n"])["n"].tolist()
    ['< 20', '*', '60', '105']
    """
    assert_aggregate(frame)
    rate_cols = rate_cols or {}
    t = threshold() if min_cell is None else min_cell
    mask = suppression_mask(frame, count_cols, t, secondary=total)
    out = frame.copy().astype({c: object for c in [*count_cols, *rate_cols]})
    for c in count_cols:
        out[c] = [(f"< {t}" if 0 < v < t else SECONDARY) if hidden else fmt.number(v)
                  for v, hidden in zip(frame[c], mask[c])]
    for rate, spec in rate_cols.items():
        num, denom = spec if isinstance(spec, tuple) else (None, spec)
        num_hidden = mask[num] if num in mask else pd.Series(False, index=frame.index)
        out[rate] = [show_rate(r, 1.0, min_cell=1) if d >= t and not h else "–"
                     for r, d, h in zip(frame[rate], frame[denom], num_hidden)]
    if total and len(frame):
        label_col = label_col or next((c for c in frame.columns if c not in count_cols and c not in rate_cols), None)
        row = {c: "" for c in frame.columns}
        if label_col:
            row[label_col] = "Summe"
        for c in count_cols:
            row[c] = show_count(frame[c].sum(), t)
        for rate in rate_cols:
            row[rate] = "–"
        out = pd.concat([out, pd.DataFrame([row])], ignore_index=True)
    return out


def suppressed_numeric(frame: pd.DataFrame, count_cols, min_cell: int | None = None) -> pd.DataFrame:
    """Like :func:`suppress` but numeric: hidden cells become NaN (for charts)."""
    assert_aggregate(frame)
    mask = suppression_mask(frame, count_cols, min_cell)
    out = frame.copy()
    for c in count_cols:
        out[c] = frame[c].astype("float64").where(~mask[c])
    return out


def assert_aggregate(frame: pd.DataFrame) -> None:
    """Raise if ``frame`` looks person-level (a person key, pseudonym or name column)."""
    bad = [c for c in frame.columns if str(c).lower() in PERSON_LEVEL_COLUMNS]
    if bad:
        raise ValueError(f"person-level column(s) {bad} must never reach a dashboard; aggregate first")
