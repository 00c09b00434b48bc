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
* **Cell key method** (boards): every record has a fixed record key, a
  cell's key is the sum of its records' keys modulo :data:`KEY_MODULUS`, and
  the perturbation table (:func:`perturbation_table`) turns (count, cell key)
  into a small consistent change, so the same cell always shows the same
  value and differences of overlapping filter states no longer reveal small
  counts. Counts under the threshold stay hidden ("< 20"), rates are formed
  from protected counts only (:func:`protected_rate`). A board reads counts
  only through :class:`GuardedCube` and :func:`protect_table`
  (docs/security.md).

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

import bisect
import functools
import hashlib
import hmac
import itertools
import math
import os

import numpy as np

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


# ---------------------------------------------------------------------------- cell key method
#: Record keys are whole numbers 0 .. KEY_MODULUS - 1; a cell's key is the sum of its records' keys modulo this
#: prime (a prime, so that a person counted c times in a cell still gives a uniform cell key: c * k mod p).
KEY_MODULUS = 65521
#: D: the largest change of a shown count (ONS and Destatis publish tables with D of this order).
MAX_PERTURBATION = 4
#: V: the variance of the change for counts far enough above the threshold (mean change 0).
PERTURBATION_VARIANCE = 2.0
#: The dataset's secret for the record keys: hex in this variable, else ``results/cell_key.secret``.
SECRET_ENV = "CASEWORK_CELL_KEY_SECRET"
SECRET_FILE = "cell_key.secret"
KEY_SUFFIX = "_key"


class MissingCellKeys(ValueError):
    """A table or cube reached the board without cell keys (made before the cell key method: re-run the pipeline)."""


def dataset_secret(folder) -> bytes:
    """The secret behind a dataset's record keys: ``$CASEWORK_CELL_KEY_SECRET`` (hex) or the file
    ``<folder>/results/cell_key.secret``, made once with 32 random bytes (kept when the dataset is re-saved,
    so the same person keeps the same record keys and the same cell the same value)."""
    import secrets
    from pathlib import Path

    env = os.environ.get(SECRET_ENV)
    if env:
        try:
            secret = bytes.fromhex(env)
        except ValueError as err:
            raise ValueError(f"{SECRET_ENV} must be hex digits") from err
        if len(secret) < 16:
            raise ValueError(f"{SECRET_ENV} must hold at least 16 bytes (32 hex digits)")
        return secret
    path = Path(folder) / "results" / SECRET_FILE
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(secrets.token_bytes(32))
    return path.read_bytes()


def _digests(secret: bytes, texts) -> np.ndarray:
    """HMAC-SHA256 of each text as eight big-endian 32-bit words per row."""
    raw = b"".join(hmac.new(secret, t.encode("utf-8"), hashlib.sha256).digest() for t in texts)
    return np.frombuffer(raw, dtype=">u4").reshape(-1, 8).astype("int64")


def person_keys(person_ids, secret: bytes) -> np.ndarray:
    """Per person five numbers from its pseudonymised key and the secret, shape ``(n, 5)``.

    Columns 0-1 give the record key of the person's month ``m`` in receipt, ``(k0 + m * k1) mod p``; columns
    2-3 the key of an integration in month ``m``, ``(k2 + m * k3) mod p``; column 4 is a random bit for
    :func:`binary_sex`. Each person's records thus get fixed keys, and a cell's key (sum modulo p) is uniform
    whenever the cell holds any record (k0 and k2 are uniform and p is prime).
    """
    words = _digests(secret, (f"person:{pid}" for pid in person_ids))
    if not len(words):
        return np.zeros((0, 5), dtype="int64")
    out = words[:, :5] % KEY_MODULUS
    out[:, 4] = words[:, 4] & 1
    return out


def record_keys(ids, secret: bytes, kind: str) -> np.ndarray:
    """A fixed key per record (e.g. a referral) from its identifier: int64 array in ``[0, KEY_MODULUS)``."""
    words = _digests(secret, (f"{kind}:{i}" for i in ids))
    return words[:, 0] % KEY_MODULUS if len(words) else np.zeros(0, dtype="int64")


def label_key(secret: bytes, *parts) -> int:
    """The cell key of a fixed cell of a stored table (no filters), from its name, row, column and count.

    The count is part of it, so that a new data stand with a changed count gives a fresh change.
    """
    return int(_digests(secret, ["|".join(map(str, parts))])[0, 0] % KEY_MODULUS)


def binary_sex(sex, bits) -> list:
    """Sex as the statistical offices publish it: "divers" and "ohne Angabe" are assigned to "f" or "m" by a
    fixed random bit per person, so that they count in every total but cannot be recovered as
    alle − weiblich − männlich (Statistikamt Nord, answer of 22.10.2020: "per Zufallsprinzip")."""
    return [s if s in ("f", "m") else ("f" if b else "m") for s, b in zip(sex, bits)]


@functools.lru_cache(maxsize=256)
def _distribution(count: int, min_cell: int, d: int = MAX_PERTURBATION,
                  v: float = PERTURBATION_VARIANCE) -> tuple[tuple[int, ...], tuple[float, ...]]:
    """The changes allowed for a count and their probabilities (maximum entropy with mean 0, variance V).

    A shown count never falls under the threshold (so ``< 20`` always means a true count of 1 to 19) and
    never moves by more than D: the support is symmetric, -k..k with k = min(D, count - threshold).
    """
    k = min(d, count - min_cell)
    if k <= 0:
        return (0,), (1.0,)
    e = np.arange(-k, k + 1)
    target = min(v, 0.95 * k * k)
    lo, hi = -20.0, 50.0  # p(e) ~ exp(-b e^2); the variance falls as b grows
    for _ in range(80):
        b = (lo + hi) / 2
        w = np.exp(-b * e * e - np.max(-b * e * e))
        if float((w * e * e).sum() / w.sum()) > target:
            lo = b
        else:
            hi = b
    p = w / w.sum()
    return tuple(int(x) for x in e), tuple(float(x) for x in p)


def perturbation(count: int, cell_key: int, min_cell: int | None = None) -> int:
    """The change the perturbation table gives a count with a cell key (the same pair, the same change)."""
    t = threshold() if min_cell is None else min_cell
    changes, probs = _distribution(int(count), t) if count < t + MAX_PERTURBATION else _distribution(
        t + MAX_PERTURBATION, t)
    u = (int(cell_key) % KEY_MODULUS + 0.5) / KEY_MODULUS
    return changes[min(bisect.bisect_right(list(itertools.accumulate(probs)), u), len(changes) - 1)]


def perturbation_table(min_cell: int | None = None) -> list[dict]:
    """The published perturbation table: per count (from the threshold up to threshold + D, the last row for
    every larger count) the changes, their probabilities and the cell-key ranges that select them."""
    t = threshold() if min_cell is None else min_cell
    rows = []
    for count in range(t, t + MAX_PERTURBATION + 1):
        changes, probs = _distribution(count, t)
        cum = 0.0
        for change, p in zip(changes, probs):
            rows.append({"count": count, "change": change, "p": p, "key_from": math.ceil(cum * KEY_MODULUS - 0.5),
                         "key_to": math.ceil((cum + p) * KEY_MODULUS - 0.5) - 1})
            cum += p
    return rows


def protected_count(count, cell_key, min_cell: int | None = None):
    """The count a board shows: 0 for none, None (hidden, "< 20") for 1 to threshold - 1, else the count
    perturbed by its cell key. Averages (e.g. the average stock) are rounded first. Missing stays NaN."""
    if fmt.is_missing(count) or fmt.is_missing(cell_key):
        return math.nan
    t = threshold() if min_cell is None else min_cell
    n = fmt.round_half_up(float(count))  # an average of 20.5 is 21 as in DIN 1333, not 20 as round() gives
    if n <= 0:
        return 0
    if n < t:
        return None
    return n + perturbation(n, int(cell_key), t)


def rint_half_up(values) -> np.ndarray:
    """Whole numbers rounded half away from zero (DIN 1333), like :func:`casework.fmt.round_half_up` with no
    decimals; numpy's ``rint`` rounds half to even. ``x - floor(x)`` is exact in binary floating point, so a value
    just under a half (``0.49999999999999994``) stays under it.

    Examples
    --------
    >>> rint_half_up([0.5, 1.5, 2.5, -2.5, 20.5, 0.49999999999999994]).tolist()
    [1.0, 2.0, 3.0, -3.0, 21.0, 0.0]
    """
    x = np.asarray(values, dtype="float64")
    magnitude = np.abs(x)
    whole = np.floor(magnitude)
    return np.copysign(whole + (magnitude - whole >= 0.5), x)


def protected_counts(counts, cell_keys, min_cell: int | None = None) -> list:
    """:func:`protected_count` for many cells at once (numpy; the same values): a list of 0, None or counts."""
    t = threshold() if min_cell is None else min_cell
    raw = np.asarray(counts, dtype="float64")
    missing = np.isnan(raw) | np.isnan(np.asarray(cell_keys, dtype="float64"))
    n = rint_half_up(np.where(missing, 0, raw))
    u = (np.nan_to_num(np.asarray(cell_keys, dtype="float64")).astype("int64") % KEY_MODULUS + 0.5) / KEY_MODULUS
    shown = n.copy()
    for count in range(t, t + MAX_PERTURBATION + 1):
        rows = n >= count if count == t + MAX_PERTURBATION else n == count
        if rows.any():
            changes, probs = _distribution(count, t)
            cdf = np.array(list(itertools.accumulate(probs)))
            shown[rows] += np.asarray(changes)[np.minimum(np.searchsorted(cdf, u[rows], side="right"),
                                                           len(changes) - 1)]
    return [math.nan if miss else 0 if c <= 0 else None if c < t else int(v)
            for miss, c, v in zip(missing.tolist(), n.tolist(), shown.tolist())]


def show_protected(value, min_cell: int | None = None) -> str:
    """A protected count for display: ``"< 20"`` when hidden, ``"–"`` when missing."""
    t = threshold() if min_cell is None else min_cell
    if value is None:
        return f"< {t}"
    return "–" if fmt.is_missing(value) else fmt.number(value)


def protected_rate(numerator, denominator, min_cell: int | None = None):
    """A rate from two protected counts, or None: both must be shown and the base at least the threshold
    (a rate next to its base would otherwise give a hidden numerator away)."""
    t = threshold() if min_cell is None else min_cell
    if any(v is None or fmt.is_missing(v) for v in (numerator, denominator)) or denominator < t:
        return None
    return numerator / denominator


def protected_rates(numerators, denominators, min_cell: int | None = None) -> list:
    """:func:`protected_rate` for two lists of protected counts (a trend line)."""
    t = threshold() if min_cell is None else min_cell
    return [None if a is None or b is None or a != a or b != b or b < t else a / b  # x != x: NaN
            for a, b in zip(numerators, denominators)]


def show_protected_rate(numerator, denominator, formatter=fmt.percent, min_cell: int | None = None) -> str:
    """:func:`protected_rate` for display (``"–"`` when it cannot be shown)."""
    rate = protected_rate(numerator, denominator, min_cell)
    return "–" if rate is None else formatter(rate)


def show_protected_change(now, before, min_cell: int | None = None) -> str:
    """A change against an earlier count (K1E2, K3: ``now / before - 1``, signed) from two protected counts;
    "–" when either is hidden or under the threshold (the change and one count would reveal the other)."""
    t = threshold() if min_cell is None else min_cell
    if any(v is None or fmt.is_missing(v) for v in (now, before)) or before < t or 0 < now < t:
        return "–"
    x = now / before - 1
    return ("+" if x > 0 else "") + fmt.percent(x)


def _key_column(columns, col: str):
    key = columns.get(col + KEY_SUFFIX)
    if key is None or col not in columns:
        raise MissingCellKeys(f"column {col!r} has no cell keys ({col}{KEY_SUFFIX}): re-run the pipeline "
                              "(make run) so that the board's tables carry them")
    return key


def protected_columns(columns, count_cols, secondary: bool = True, min_cell: int | None = None) -> dict:
    """``{count column: [protected value]}`` for a table with ``<column>_key`` columns; None = hidden,
    ``SECONDARY`` = hidden only so that a shown total does not give a hidden cell away."""
    t = threshold() if min_cell is None else min_cell
    out = {}
    for col in count_cols:
        keys = _key_column(columns, col)
        values = protected_counts([math.nan if fmt.is_missing(v) else v for v in columns[col]],
                                  [math.nan if fmt.is_missing(v) else v for v in keys], t)
        hidden = [v is None for v in values]
        while secondary and sum(hidden) == 1:
            candidates = [(v, i) for i, v in enumerate(values) if not hidden[i] and not fmt.is_missing(v) and v > 0]
            if not candidates:
                break
            i = min(candidates)[1]
            hidden[i], values[i] = True, SECONDARY
        out[col] = values
    return out


def protect_table(columns, count_cols, rate_cols: dict | None = None, total: bool = True,
                  min_cell: int | None = None, label_col: str | None = None) -> dict:
    """The display copy of a table whose count columns carry cell keys (``<column>_key``).

    Counts shown perturbed, under the threshold ``"< 20"``, hidden for a shown total ``"*"``; rates
    ``{rate: (numerator, denominator)}`` formed from the protected counts; the total row ("Summe") is the
    protected total of the rows (its key the sum of theirs), so it may differ by a few from the shown parts.
    Key columns are not part of the result.
    """
    assert_aggregate(columns)
    t = threshold() if min_cell is None else min_cell
    rate_cols = rate_cols or {}
    values = protected_columns(columns, count_cols, secondary=total, min_cell=t)
    keys = {c + KEY_SUFFIX for c in count_cols}
    out = {c: list(v) for c, v in columns.items() if c not in keys}
    for c in count_cols:
        out[c] = [SECONDARY if v == SECONDARY else show_protected(v, t) for v in values[c]]
    for rate, (num, den) in rate_cols.items():
        out[rate] = [show_protected_rate(*(None if v == SECONDARY else v for v in pair), min_cell=t)
                     for pair in zip(values[num], values[den])]
    if total and len(next(iter(out.values()), [])):
        label_col = label_col or next((c for c in out if c not in count_cols and c not in rate_cols), None)
        for c in out:
            if c in count_cols:
                n = sum(v for v in columns[c] if not fmt.is_missing(v))
                k = sum(int(v) for v in _key_column(columns, c) if not fmt.is_missing(v))
                out[c].append(show_protected(protected_count(n, k % KEY_MODULUS, t), t))
            else:
                out[c].append("Summe" if c == label_col else ("–" if c in rate_cols else ""))
    return out


def chart_values(columns, count_cols, min_cell: int | None = None) -> dict:
    """Protected numbers for a chart: ``{count column: [value or None]}`` (hidden cells as None)."""
    values = protected_columns(columns, count_cols, min_cell=min_cell)
    return {c: [None if v is None or v == SECONDARY or fmt.is_missing(v) else v for v in vs]
            for c, vs in values.items()}


class GuardedCube:
    """A board's only access to the counts of an additive cube (KPI or referral cube with ``<measure>_key``
    columns): filters give masks, and every figure comes back protected — never a raw sum.

    Works on any object with the methods of :class:`casework.cells.Cube` (``mask``, ``levels``,
    ``months``, ``values``, ``by_month``, ``by_level``), without importing it (this module is ground floor).
    """

    def __init__(self, cube, measures):
        missing = [m for m in measures if m + KEY_SUFFIX not in cube.values]
        if missing:
            raise MissingCellKeys(f"cube without cell keys for {missing}: re-run the pipeline (make run)")
        self._cube = cube
        self.measures = tuple(measures)
        self.months = cube.months

    def levels(self, dim: str) -> list:
        return self._cube.levels(dim)

    def mask(self, start=None, end=None, **filters):
        return self._cube.mask(start, end, **filters)

    def count(self, measure: str, mask, per: int = 1):
        """The protected sum of a measure over the cells of ``mask`` (divided by ``per`` first: an average)."""
        values = self._cube.values
        n = values[measure][mask].sum().item()
        key = int(values[measure + KEY_SUFFIX][mask].sum().item()) % KEY_MODULUS
        return protected_count(n / per, key)

    def rolling(self, measure: str, mask, window: int = 1, per: int = 1) -> list:
        """Per month of the cube the protected sum over the ``window`` months up to it (None before a full
        window), divided by ``per``; each window is a cell of its own with the sum of its cells' keys."""
        _, sums = self._cube.by_month([measure, measure + KEY_SUFFIX], mask)
        counts, keys = (np.concatenate([[0.0], np.cumsum(sums[k])]) for k in (measure, measure + KEY_SUFFIX))
        n, k = counts[window:] - counts[:-window], np.rint(keys[window:] - keys[:-window])
        return [math.nan] * min(window - 1, len(counts) - 1) + protected_counts(n / per, k)

    def table(self, dim: str, measures, mask, per: dict | None = None, total: bool = True,
              label=None) -> tuple[dict, dict]:
        """A table by the levels of ``dim``: the display copy (:func:`protect_table`, header ``dim``) and the
        protected numbers for charts and rates (:func:`chart_values`)."""
        per = per or {}
        levels, sums = self._cube.by_level(dim, [*measures, *(m + KEY_SUFFIX for m in measures)], mask)
        columns = {dim: [label(v) if label else v for v in levels]}
        for m in measures:
            columns[m] = (sums[m] / per.get(m, 1)).tolist()
            columns[m + KEY_SUFFIX] = (sums[m + KEY_SUFFIX] % KEY_MODULUS).tolist()
        return protect_table(columns, list(measures), total=total), chart_values(columns, list(measures))
