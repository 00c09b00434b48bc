"""Describing a population: who the customers are (tables and plots for notebook phase 0).

Examples
--------
>>> from casework import synth, describe
>>> ds = synth.generate("pankow", seed=1, persons=1000)
>>> prof = describe.needs_profile(ds)
>>> list(prof.columns)
['need', 'label', 'key_group', 'moderate', 'serious', 'any']
"""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from casework import schema as S

__all__ = ["baseline_assessments", "population_overview", "needs_profile", "barrier_counts", "needs_plot",
           "caseload_plot", "table_sizes"]

PALETTE = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000"]


def table_sizes(ds) -> pd.DataFrame:
    """Rows per table: columns ``table``, ``label`` (German), ``rows``."""
    return pd.DataFrame([(t, S.TABLES[t].label, len(ds.table(t))) for t in ds.tables],
                        columns=["table", "label", "rows"])


def baseline_assessments(ds) -> pd.DataFrame:
    """Each person's first assessment (one row per person)."""
    a = ds.table("assessments")
    return a.sort_values(["person_id", "date"], kind="stable").drop_duplicates("person_id")


def population_overview(ds, at=None) -> pd.DataFrame:
    """Shares of the main characteristics among persons (all persons, or those in receipt on ``at``).

    Returns columns ``characteristic``, ``value``, ``label`` (German), ``n``, ``share``.
    """
    p = ds.table("persons")
    if at is not None:
        b = ds.table("benefits")
        at = pd.Timestamp(at)
        inside = b[(b["start"] <= at) & (b["end"].isna() | (b["end"] >= at))]["person_id"]
        p = p[p["person_id"].isin(inside)]
    rows = []
    vocab = {"sex": S.SEX, "citizenship": S.CITIZENSHIP, "german_level": S.GERMAN_LEVEL, "school": S.SCHOOL,
             "vocational": S.VOCATIONAL}
    for col, labels in vocab.items():
        counts = p[col].value_counts()
        rows += [(col, k, labels.get(k, k), int(n), n / len(p)) for k, n in counts.items()]
    for col in ("single_parent", "children_under_3", "health_restriction", "disability"):
        n = int(p[col].sum())
        rows.append((col, "yes", S.TABLES["persons"].field(col).label, n, n / max(len(p), 1)))
    return pd.DataFrame(rows, columns=["characteristic", "value", "label", "n", "share"])


def needs_profile(ds) -> pd.DataFrame:
    """Prevalence of each need at the first assessment.

    Returns columns ``need``, ``label`` (German), ``key_group``, ``moderate``,
    ``serious`` and ``any`` (shares of persons).
    """
    a = baseline_assessments(ds)
    rows = []
    for need, col in S.NEED_COLUMNS.items():
        group = need if need in S.KEY_GROUPS else S.SUB_NEED_GROUP[need]
        rows.append((need, S.NEEDS[need], S.KEY_GROUPS[group], (a[col] == 1).mean(), (a[col] == 2).mean(),
                     (a[col] >= 1).mean()))
    return pd.DataFrame(rows, columns=["need", "label", "key_group", "moderate", "serious", "any"])


def barrier_counts(ds) -> pd.DataFrame:
    """How many of the four key groups show a need at the first assessment (DOMAIN.md 3.1: >3/4 have >= 2).

    Returns columns ``key_groups_with_need`` (0-4), ``n``, ``share``.
    """
    a = baseline_assessments(ds)
    k = (a[[S.NEED_COLUMNS[g] for g in S.KEY_GROUPS]] >= 1).sum(axis=1)
    out = k.value_counts().sort_index().rename_axis("key_groups_with_need").reset_index(name="n")
    out["share"] = out["n"] / out["n"].sum()
    return out


def needs_plot(profile: pd.DataFrame, title: str = "Handlungsbedarfe bei der ersten Potenzialanalyse"):
    """Stacked bar chart of need prevalence (moderate / serious), German labels."""
    prof = profile.sort_values("any")
    fig = go.Figure()
    fig.add_bar(y=prof["label"], x=prof["moderate"] * 100, name="mittel", orientation="h", marker_color=PALETTE[5])
    fig.add_bar(y=prof["label"], x=prof["serious"] * 100, name="schwer", orientation="h", marker_color=PALETTE[0])
    fig.update_layout(barmode="stack", title=title, xaxis_title="Anteil der Personen (%)", height=460,
                      separators=",.", legend_title_text="Schwere")
    return fig


def caseload_plot(jm: pd.DataFrame, title: str = "Bestand und Integrationen je Monat"):
    """Stock and integrations per month (sum over jobcenters) from ``panel.jobcenter_months``."""
    m = jm.groupby("month", as_index=False)[["stock", "integrations"]].sum()
    fig = go.Figure()
    fig.add_scatter(x=m["month"], y=m["stock"], name="Bestand (Personen im Leistungsbezug)",
                    line_color=PALETTE[0])
    fig.add_bar(x=m["month"], y=m["integrations"], name="Integrationen", marker_color=PALETTE[1], yaxis="y2")
    fig.update_layout(title=title, yaxis_title="Bestand", separators=",.", height=420,
                      yaxis2=dict(title="Integrationen", overlaying="y", side="right"))
    return fig
