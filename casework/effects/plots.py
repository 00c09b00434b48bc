"""Plots for effect estimates: love plot, propensity overlap, forest plot (matplotlib).

Colours are the Okabe-Ito palette (readable with colour-vision deficiencies).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["love_plot", "overlap_plot", "forest_plot"]

_BLUE, _ORANGE, _GREY = "#0072B2", "#E69F00", "#999999"


def _axes(ax, size):
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=size)
    return ax


def love_plot(balance: pd.DataFrame, ax=None, top: int = 25, threshold: float = 0.1):
    """Absolute standardised mean differences before/after, the ``top`` largest before adjustment."""
    b = balance.assign(order=balance["smd_before"].abs()).nlargest(top, "order").iloc[::-1]
    ax = _axes(ax, (6, max(2.5, 0.25 * len(b))))
    y = np.arange(len(b))
    ax.scatter(b["smd_before"].abs(), y, color=_ORANGE, label="vorher", zorder=3)
    ax.scatter(b["smd_after"].abs(), y, color=_BLUE, marker="D", label="nachher", zorder=3)
    ax.axvline(threshold, color=_GREY, linestyle="--", linewidth=1)
    ax.set_yticks(y, b["covariate"])
    ax.set_xlabel("|standardisierte Mittelwertdifferenz|")
    ax.legend(loc="lower right")
    return ax


def overlap_plot(propensity: pd.DataFrame, ax=None, bins: int = 40):
    """Histograms of the propensity score for treated and untreated persons."""
    ax = _axes(ax, (6, 3))
    edges = np.linspace(0, 1, bins + 1)
    for value, colour, label in ((0, _GREY, "ohne Maßnahme"), (1, _BLUE, "mit Maßnahme")):
        s = propensity.loc[propensity["treated"] == value, "propensity"]
        ax.hist(s, bins=edges, density=True, alpha=0.6, color=colour, label=label)
    ax.set_xlabel("geschätzte Teilnahmewahrscheinlichkeit (Propensity Score)")
    ax.set_ylabel("Dichte")
    ax.legend()
    return ax


def forest_plot(effects: pd.DataFrame, ax=None, label: str = "label", truth: str | None = None, scale: float = 100):
    """Point estimates with 95 % intervals, one row per effect (in percentage points by default).

    ``effects`` needs columns ``estimate``, ``ci_low``, ``ci_high`` and ``label``;
    ``truth`` names an optional column of true values (synthetic data).
    """
    e = effects.dropna(subset=["estimate"]).iloc[::-1]
    ax = _axes(ax, (6.5, max(2.0, 0.45 * len(e) + 0.8)))
    y = np.arange(len(e))
    ax.errorbar(e["estimate"] * scale, y, xerr=[(e["estimate"] - e["ci_low"]) * scale,
                                                 (e["ci_high"] - e["estimate"]) * scale],
                fmt="o", color=_BLUE, ecolor=_BLUE, capsize=3, label="Schätzung (95-%-Intervall)")
    if truth and truth in e:
        ax.scatter(e[truth] * scale, y, marker="x", color=_ORANGE, zorder=4, label="wahrer Wert (synthetisch)")
    ax.axvline(0, color=_GREY, linewidth=1)
    ax.set_yticks(y, e[label])
    ax.set_xlabel("Effekt in Prozentpunkten" if scale == 100 else "Effekt")
    ax.legend(loc="best", fontsize="small")
    return ax
