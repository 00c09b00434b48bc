"""The ground floor of counting: months, age bands, cube dimensions and key figures from counts.

Every figure a board shows is a sum over additive cells (jobcenter × month ×
sex × age band × segment). The pipeline builds the cells (:mod:`casework.kpi`,
:mod:`casework.boards.build`), the boards filter and sum them
(:mod:`casework.boards.app`); both need the same months, the same age bands and
the same ratios, so they live here, once. This module imports numpy only: a
board's kernel starts cold for every viewer and must not pay for pandas.

Months are counted as whole months since January 1970 ("month index"), which
makes month arithmetic integer arithmetic.

Examples
--------
>>> cube = Cube({"jc_id": ["A", "A", "B"], "month": ["2020-01-01", "2020-02-01", "2020-01-01"],
...              "stock": [10, 20, 30], "integrations": [1, 2, 3]})
>>> cube.total("stock", cube.mask(jc_id="A")), cube.levels("jc_id")
(30, ['A', 'B'])
>>> months, sums = cube.by_month(["stock"], cube.mask(jc_id="B"))
>>> [str(month_start(m)) for m in months], sums["stock"].tolist()
(['2020-01-01', '2020-02-01'], [30.0, 0.0])
"""

from __future__ import annotations

import datetime as dt

import numpy as np

__all__ = ["ALL", "AGE_GROUPS", "AGE_LOWER_BOUNDS", "age_band", "age_band_sql", "KPI_DIMS", "KPI_MEASURES",
           "REFERRAL_DIMS", "month_index", "month_start", "month_end", "month_ordinal", "month_starts", "ratio",
           "figures_from_counts", "Cube", "cube_figures"]

ALL = "alle"
AGE_GROUPS = ["unter 25", "25 bis 34", "35 bis 49", "50 und älter"]
AGE_LOWER_BOUNDS = (25, 35, 50)  # an age below the n-th bound falls into AGE_GROUPS[n]
KPI_DIMS = ("jc_id", "month", "sex", "age_group", "segment")
KPI_MEASURES = ("stock", "ltr_stock", "integrations", "ltr_integrations", "need_ending")
REFERRAL_DIMS = ("jc_id", "month", "partner_kind", "measure", "project_id", "sex", "age_group", "segment")


# ---------------------------------------------------------------------------- age bands
def age_band(ages) -> np.ndarray:
    """The boards' age band of each age (an object array of German labels; None where the age is missing).

    >>> age_band([18, 25, 49, 50, float("nan")]).tolist()
    ['unter 25', '25 bis 34', '35 bis 49', '50 und älter', None]
    """
    a = np.asarray(ages, dtype="float64")
    labels = np.asarray(AGE_GROUPS, dtype=object)[np.searchsorted(AGE_LOWER_BOUNDS, a, side="right")
                                                  .clip(0, len(AGE_GROUPS) - 1)]
    labels[np.isnan(a)] = None
    return labels


def age_band_sql(column: str = "age") -> str:
    """The same bands as a SQL CASE expression over ``column`` (DuckDB builds the pipeline's cells).

    >>> print(age_band_sql("a"))
    CASE WHEN a < 25 THEN 'unter 25' WHEN a < 35 THEN '25 bis 34' WHEN a < 50 THEN '35 bis 49' ELSE '50 und älter' END
    """
    whens = " ".join(f"WHEN {column} < {b} THEN '{g}'" for b, g in zip(AGE_LOWER_BOUNDS, AGE_GROUPS))
    return f"CASE {whens} ELSE '{AGE_GROUPS[-1]}' END"


# ---------------------------------------------------------------------------- months
def month_index(value) -> int:
    """Months since January 1970 of one date-like value (datetime, date, ISO string, numpy datetime64).

    >>> month_index("1970-02-15"), month_index(dt.date(2021, 12, 31))
    (1, 623)
    """
    if isinstance(value, np.datetime64):
        return int(value.astype("datetime64[M]").astype("int64"))
    if not isinstance(value, dt.date):
        value = dt.date.fromisoformat(str(value)[:10])
    return (value.year - 1970) * 12 + value.month - 1


def month_start(index: int) -> dt.date:
    """The first day of a month given as months since January 1970."""
    return dt.date(1970 + index // 12, index % 12 + 1, 1)


def month_end(value) -> dt.date:
    """The last day of the month of a date-like value.

    >>> month_end("2024-02-01")
    datetime.date(2024, 2, 29)
    """
    return month_start(month_index(value) + 1) - dt.timedelta(days=1)


def month_ordinal(dates) -> np.ndarray:
    """Months since January 1970 of many dates (a datetime Series or array) as floats; a missing date -> +inf.

    A missing date sorts after every real month, so "spell ends before month m" stays False for open spells.

    >>> month_ordinal(np.array(["1970-02-15", "NaT"], dtype="datetime64[D]")).tolist()
    [1.0, inf]
    """
    d = np.asarray(dates, dtype="datetime64[ns]").astype("datetime64[M]")
    return np.where(np.isnat(d), np.inf, d.astype("int64").astype("float64"))


def month_starts(indices) -> np.ndarray:
    """The first days of months given as months since 1970 (a ``datetime64[D]`` array).

    >>> month_starts([0, 623]).tolist()
    [datetime.date(1970, 1, 1), datetime.date(2021, 12, 1)]
    """
    return np.asarray(indices, dtype="int64").astype("datetime64[M]").astype("datetime64[D]")


# ---------------------------------------------------------------------------- figures from counts
def ratio(numerator, denominator):
    """numerator ÷ denominator, NaN where the denominator is 0 (scalars or arrays).

    >>> float(ratio(3, 4)), bool(np.isnan(ratio(3, 0)))
    (0.75, True)
    """
    out = np.full(np.shape(denominator), np.nan)
    return np.divide(numerator, denominator, out=out, where=np.asarray(denominator) > 0)[()]


def figures_from_counts(stock_months, ltr_months, integrations, ltr_integrations, need_ending, months) -> dict:
    """K2, K3E1 (the integration rate of long-term recipients) and their parts from the counts of a period of
    ``months`` months (scalars or arrays).

    The stock of a period is its average monthly stock: person-months in receipt ÷ months.
    """
    avg, avg_ltr = np.divide(stock_months, months), np.divide(ltr_months, months)
    return {"integrations": integrations, "avg_stock": avg, "k2": ratio(integrations, avg),
            "ltr_integrations": ltr_integrations, "avg_ltr_stock": avg_ltr, "k3e1": ratio(ltr_integrations, avg_ltr),
            "need_ending": need_ending}


# ---------------------------------------------------------------------------- cubes
class Cube:
    """Additive cells (a KPI or referral cube) as numpy arrays: filter with :meth:`mask`, sum with :meth:`total`.

    ``columns`` maps a column to values or to a ``(codes, levels)`` pair (see
    :func:`casework.boards.results.read_columns`); the ``month`` column becomes months since 1970
    (``self.month``).
    """

    def __init__(self, columns: dict):
        self.codes: dict[str, np.ndarray] = {}
        self._levels: dict[str, list] = {}
        self.values: dict[str, np.ndarray] = {}
        self.month = None
        for name, col in columns.items():
            if name == "month":
                self.month = _months(col)
            elif isinstance(col, tuple):
                self.codes[name], self._levels[name] = np.asarray(col[0]), list(col[1])
            elif isinstance(col, list) and not all(isinstance(v, (int, float)) for v in col):
                self.codes[name], self._levels[name] = _encode(col)
            else:
                self.values[name] = np.asarray(col)
        self.n = len(next(iter([*self.codes.values(), *self.values.values()])))
        self.months = np.unique(self.month) if self.month is not None else None  # every month of the cube, sorted

    @classmethod
    def from_frame(cls, frame) -> Cube:
        """A cube from a pandas DataFrame (analysts' notebooks and tests)."""
        return cls({c: frame[c].to_numpy() if frame[c].dtype.kind in "iufbM" else frame[c].astype(object).tolist()
                    for c in frame.columns})

    def levels(self, dim: str) -> list:
        """The distinct values of a dimension, sorted (missing values left out)."""
        return sorted(v for v in self._levels[dim] if v is not None)

    def mask(self, start=None, end=None, **filters) -> np.ndarray:
        """Cells in the months ``start``..``end`` (inclusive, any date-like) matching every filter.

        A filter is a value, a list of values, or None/"alle" for no restriction; an unknown value matches nothing.
        """
        m = np.ones(self.n, dtype=bool)
        if start is not None:
            m &= self.month >= month_index(start)
        if end is not None:
            m &= self.month <= month_index(end)
        for dim, value in filters.items():
            if value is None or value == ALL or dim not in self.codes:
                continue
            wanted = value if isinstance(value, (list, tuple, set)) else [value]
            idx = [i for i, lv in enumerate(self._levels[dim]) if lv in wanted]
            m &= np.isin(self.codes[dim], idx)
        return m

    def total(self, measure: str, mask: np.ndarray):
        """The sum of a measure over the cells of ``mask`` (a Python int or float)."""
        return self.values[measure][mask].sum().item()

    def by_month(self, measures, mask: np.ndarray) -> tuple[list[int], dict]:
        """Sums per month (every month of the cube, in order): months since 1970 and ``{measure: array}``."""
        months = self.months
        pos = np.searchsorted(months, self.month[mask])
        return months.tolist(), {k: np.bincount(pos, weights=self.values[k][mask], minlength=len(months))
                                 for k in measures}

    def by_level(self, dim: str, measures, mask: np.ndarray) -> tuple[list, dict]:
        """Sums per value of ``dim`` among the cells of ``mask`` (values present there only, sorted)."""
        codes = self.codes[dim][mask]
        present = np.unique(codes)
        pos = np.searchsorted(present, codes)
        sums = {k: np.bincount(pos, weights=self.values[k][mask], minlength=len(present)).astype("int64")
                for k in measures}
        labels = [self._levels[dim][c] for c in present]
        order = sorted(range(len(labels)), key=lambda i: str(labels[i]))
        return [labels[i] for i in order], {k: v[order] for k, v in sums.items()}


def _encode(values: list) -> tuple[np.ndarray, list]:
    """Dictionary-encode a list: codes in order of first appearance and the distinct values."""
    index: dict = {}
    codes = np.fromiter((index.setdefault(v, len(index)) for v in values), dtype=np.int32, count=len(values))
    return codes, list(index)


def _months(col) -> np.ndarray:
    arr = np.asarray(col)
    if arr.dtype.kind == "M":
        return arr.astype("datetime64[M]").astype("int64")
    return np.array([month_index(v) for v in col], dtype="int64")


def cube_figures(cube, start, end, **filters) -> dict:
    """Key figures for a period and filters from a KPI cube (:class:`Cube` or the pipeline's DataFrame).

    ``filters``: any of jc_id, sex, age_group, segment (a value or a list). Returns a dict with integrations,
    avg_stock, k2 (integrations / average stock), ltr_integrations, avg_ltr_stock, k3e1 (LZB integrations /
    average LZB stock), need_ending, months, and the stocks of the last month and the same month a year earlier
    (stock_end, stock_year_before, ltr_end, ltr_year_before) with their changes k1e2 and k3 (``now / before - 1``,
    NaN when the month a year earlier has no stock or lies before the cube).
    """
    if not isinstance(cube, Cube):
        cube = Cube.from_frame(cube)
    m = cube.mask(start, end, **filters)
    months = max(1, month_index(end) - month_index(start) + 1)
    sums = {k: cube.total(k, m) for k in KPI_MEASURES}
    figs = figures_from_counts(sums["stock"], sums["ltr_stock"], sums["integrations"], sums["ltr_integrations"],
                               sums["need_ending"], months)
    last = month_index(end)
    now = cube.mask(month_start(last), month_start(last), **filters)
    before = cube.mask(month_start(last - 12), month_start(last - 12), **filters)
    stocks = {"stock_end": int(cube.total("stock", now)), "stock_year_before": int(cube.total("stock", before)),
              "ltr_end": int(cube.total("ltr_stock", now)), "ltr_year_before": int(cube.total("ltr_stock", before))}
    return {"integrations": int(sums["integrations"]), "avg_stock": float(figs["avg_stock"]), "k2": float(figs["k2"]),
            "ltr_integrations": int(sums["ltr_integrations"]), "avg_ltr_stock": float(figs["avg_ltr_stock"]),
            "k3e1": float(figs["k3e1"]), "need_ending": int(sums["need_ending"]), "months": months, **stocks,
            "k1e2": float(ratio(stocks["stock_end"], stocks["stock_year_before"]) - 1),
            "k3": float(ratio(stocks["ltr_end"], stocks["ltr_year_before"]) - 1)}
