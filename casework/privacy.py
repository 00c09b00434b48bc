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

The rules work on plain columns (``{name: values}``, :func:`hide_cells`,
:func:`suppress_columns`), so that the boards apply them without pandas; the
DataFrame functions (:func:`suppress`, :func:`suppression_mask`,
:func:`suppressed_numeric`) are the same rules for analysts' frames.

Examples
--------
>>> show_count(7), show_count(0), show_count(1234)
('< 20', '0', '1.234')
>>> show_rate(3, 10), show_rate(30, 120)
('–', '25,0 %')
"""

from __future__ import annotations

import math
import os

from casework import fmt

__all__ = ["threshold", "show_count", "show_rate", "hide_cells", "suppress_columns", "suppressed_values",
           "suppression_mask", "suppress", "suppressed_numeric", "assert_aggregate", "PERSON_LEVEL_COLUMNS",
           "SECONDARY"]

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
    if fmt.is_missing(n):
        return "–"
    return f"< {t}" if 0 < n < t else fmt.number(n)


def show_rate(numerator, denominator, formatter=fmt.percent, min_cell: int | None = None) -> str:
    """A rate for display: ``"–"`` when the denominator is under the threshold."""
    t = threshold() if min_cell is None else min_cell
    if fmt.is_missing(denominator) or not math.isfinite(denominator) or denominator < t:
        return "–"
    return formatter(numerator / denominator)


def hide_cells(columns, count_cols, min_cell: int | None = None, secondary: bool = True) -> dict:
    """``{column: [hidden?]}`` for the count columns of a table given as ``{column: values}``.

    Primary: ``0 < count < threshold``. Secondary (per column, because the
    column total is shown): while a column has exactly one hidden cell, also
    hide its smallest visible non-zero cell (the first of equal ones).

    Examples
    --------
    >>> hide_cells({"n": [5, 40, 60]}, ["n"], 20)
    {'n': [True, True, False]}
    """
    t = threshold() if min_cell is None else min_cell
    out = {}
    for col in count_cols:
        values = [math.nan if fmt.is_missing(v) else float(v) for v in columns[col]]
        hidden = [0 < v < t for v in values]
        while secondary and sum(hidden) == 1:
            candidates = [(v, i) for i, v in enumerate(values) if not hidden[i] and v > 0]
            if not candidates:
                break
            hidden[min(candidates)[1]] = True
        out[col] = hidden
    return out


def suppress_columns(columns, count_cols, rate_cols: dict | None = None, total: bool = True,
                     min_cell: int | None = None, label_col: str | None = None) -> dict:
    """A display copy of a table given as ``{column: values}``: counts as German strings with small cells
    hidden, rates with small bases hidden (see :func:`suppress` for the parameters)."""
    assert_aggregate(columns)
    rate_cols = rate_cols or {}
    t = threshold() if min_cell is None else min_cell
    hidden = hide_cells(columns, count_cols, t, secondary=total)
    out = {c: list(v) for c, v in columns.items()}
    for c in count_cols:
        out[c] = [(f"< {t}" if 0 < v < t else SECONDARY) if h else fmt.number(v) for v, h in zip(columns[c], hidden[c])]
    for rate, spec in rate_cols.items():
        num, denom = spec if isinstance(spec, tuple) else (None, spec)
        num_hidden = hidden.get(num, [False] * len(out[rate]))
        out[rate] = [show_rate(r, 1.0, min_cell=1) if d >= t and not h else "–"
                     for r, d, h in zip(columns[rate], columns[denom], num_hidden)]
    if total and len(next(iter(out.values()), [])):
        label_col = label_col or next((c for c in columns if c not in count_cols and c not in rate_cols), None)
        for c in out:
            if c in count_cols:
                out[c].append(show_count(sum(v for v in columns[c] if not fmt.is_missing(v)), t))
            else:
                out[c].append("Summe" if c == label_col else ("–" if c in rate_cols else ""))
    return out


def suppressed_values(columns, count_cols, min_cell: int | None = None) -> dict:
    """Like :func:`suppress_columns` but numeric, for charts: ``{count column: [value or None]}``."""
    assert_aggregate(columns)
    hidden = hide_cells(columns, count_cols, min_cell)
    return {c: [None if h or fmt.is_missing(v) else v for v, h in zip(columns[c], hidden[c])] for c in count_cols}


def _frame_columns(frame) -> dict:
    return {c: frame[c].tolist() for c in frame.columns}


def suppression_mask(frame, count_cols, min_cell: int | None = None, secondary: bool = True):
    """Boolean frame (same shape as ``frame[count_cols]``): True where a cell must be hidden (:func:`hide_cells`)."""
    import pandas as pd

    hidden = hide_cells(_frame_columns(frame[list(count_cols)]), count_cols, min_cell, secondary)
    return pd.DataFrame(hidden, index=frame.index)


def suppress(frame, count_cols, rate_cols: dict | None = None, total: bool = True,
             min_cell: int | None = None, label_col: str | None = None):
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
    >>> import pandas as pd
    >>> f = pd.DataFrame({"partner": ["A", "B", "C"], "n": [5, 40, 60]})
    >>> suppress(f, ["n"])["n"].tolist()
    ['< 20', '*', '60', '105']
    """
    import pandas as pd

    return pd.DataFrame(suppress_columns(_frame_columns(frame), count_cols, rate_cols, total, min_cell, label_col))


def suppressed_numeric(frame, count_cols, min_cell: int | None = None):
    """Like :func:`suppress` but numeric: hidden cells become NaN (for charts)."""
    assert_aggregate(frame)
    mask = suppression_mask(frame, count_cols, min_cell)
    out = frame.copy()
    for c in count_cols:
        out[c] = frame[c].astype("float64").where(~mask[c])
    return out


def assert_aggregate(frame) -> None:
    """Raise if ``frame`` (a DataFrame or ``{column: values}``) looks person-level (a person key, pseudonym or
    name column)."""
    bad = [c for c in getattr(frame, "columns", frame) if str(c).lower() in PERSON_LEVEL_COLUMNS]
    if bad:
        raise ValueError(f"person-level column(s) {bad} must never reach a dashboard; aggregate first")
