"""Simulated jobcenter-month panels with a known effect, for validating :mod:`casework.effects.did`.

The monthly rate of a jobcenter is its level, a common month effect (season
and shocks), serially correlated noise (AR(1): the reason naive standard
errors fail) and, from its start, the project effect. ``pretrend`` adds a
linear drift to the project jobcenters from the beginning of the panel (a
violated parallel-trends assumption); ``dynamic`` lets the effect grow
linearly over the first months after the start (the case where collapsing
staggered starts to the earliest one is biased).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["simulate_panel", "truth"]


def simulate_panel(n_units: int = 8, starts=None, n_treated: int = 1, start: str = "2020-01-01",
                   effect: float = 0.002, n_months: int = 48, first: str = "2018-01-01", rho: float = 0.5,
                   sd: float = 0.002, pretrend: float = 0.0, dynamic: int = 0, seed: int = 0,
                   sd_treated: float = 1.0, sizes=None, sd_treated_post: float = 1.0) -> pd.DataFrame:
    """A panel with columns jc_id, month, rate, stock and the project's ``start`` (NaT for comparison units).

    ``starts`` (a list of dates, one per treated unit) gives staggered starts;
    otherwise the first ``n_treated`` units start at ``start``. ``sd_treated``
    scales the noise of the treated units (1: all jobcenters exchangeable),
    ``sd_treated_post`` their noise from the start on. ``sizes``: the stock of
    each unit (treated first), adding the sampling noise of a 2 % share.
    """
    rng = np.random.default_rng(seed)
    months = pd.date_range(first, periods=n_months, freq="MS")
    starts = [pd.Timestamp(start)] * n_treated if starts is None else [pd.Timestamp(s) for s in starts]
    unit_start = np.full(n_units, n_months + 1)
    for i, s in enumerate(starts):
        unit_start[i] = months.searchsorted(s)
    noise = np.empty((n_units, n_months))
    noise[:, 0] = rng.normal(0, sd, n_units)
    innov = rng.normal(0, sd * np.sqrt(1 - rho ** 2), (n_units, n_months))
    for t in range(1, n_months):
        noise[:, t] = rho * noise[:, t - 1] + innov[:, t]
    noise[: len(starts)] *= sd_treated
    stock = np.full(n_units, 2000.0) if sizes is None else np.asarray(sizes, dtype=float)
    if sizes is not None:
        noise += rng.normal(0, 1, (n_units, n_months)) * np.sqrt(0.02 * 0.98 / stock)[:, None]
    level = 0.02 + rng.normal(0, 0.003, n_units)[:, None]
    season = 0.002 * np.sin(2 * np.pi * months.month.to_numpy() / 12)[None, :] + rng.normal(0, 0.001, n_months)
    rel = np.arange(n_months)[None, :] - unit_start[:, None]
    noise = np.where(rel >= 0, noise * sd_treated_post, noise)
    ramp = np.clip((rel + 1) / dynamic, 0, 1) if dynamic else (rel >= 0)
    treated_units = (unit_start <= n_months)[:, None]
    drift = pretrend * np.arange(n_months)[None, :] * treated_units
    rate = level + season + noise + effect * ramp * (rel >= 0) + drift
    return pd.DataFrame({"jc_id": np.repeat(np.arange(n_units), n_months), "month": np.tile(months, n_units),
                         "rate": rate.ravel(), "stock": np.repeat(stock.round().astype(int), n_months),
                         "start": np.repeat([months[s] if s < n_months else pd.NaT for s in unit_start], n_months)})


def truth(panel: pd.DataFrame, effect: float, dynamic: int = 0) -> float:
    """Mean effect over the treated jobcenter-months from each start (the estimand of :func:`did`)."""
    p = panel[panel["start"].notna() & (panel["month"] >= panel["start"])]
    rel = (p["month"].dt.year - p["start"].dt.year) * 12 + p["month"].dt.month - p["start"].dt.month
    ramp = np.clip((rel + 1) / dynamic, 0, 1) if dynamic else 1.0
    return float(np.mean(effect * ramp))
