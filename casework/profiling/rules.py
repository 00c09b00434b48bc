"""Profillagen of the BA 4-phase model from the needs in the four key groups — a documented rule table.

**Assumption.** The official assignment rules are not public (DOMAIN.md 1.13–1.15,
marked R/U). This rule table implements them as recalled and is configurable;
wherever a Profillage shows, it is labelled as an assumption
(:data:`RULES_ARE_ASSUMPTION`).

The inputs are the severities (0 none, 1 moderate, 2 serious) of the key groups
Qualifikation (``need_qualification``), Leistungsfähigkeit (``need_health``),
Motivation (``need_motivation``) and Rahmenbedingungen (``need_framework``),
and whether the caseworker expects integration within 12 months
(``horizon_12m``). Rules are checked in order; the first that matches wins,
and the last rule of each horizon catches everything else, so every
combination of inputs gets exactly one Profillage (property-tested).

=====  ==============  ========================================================
order  Profillage      condition
=====  ==============  ========================================================
1      markt           integration within 12 months expected; no key group with a need
2      aktivierung     within 12 months; a need in Motivation only
3      foerder         within 12 months; any other need pattern
4      unterstuetzung  later than 12 months; need in Rahmenbedingungen plus at least
                       ``further_groups`` (2) further key groups
5      stabilisierung  later than 12 months; need in Leistungsfähigkeit plus at least
                       ``further_groups`` further key groups
6      entwicklung     later than 12 months; any other need pattern
=====  ==============  ========================================================

When both 4 and 5 match, ``complex_priority`` decides (default: Unterstützung,
the profile furthest from the labour market).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from casework import schema as S

__all__ = ["ProfillageRules", "DEFAULT_RULES", "assign_profillage", "profillagen", "transition_matrix",
           "sankey_figure", "RULES_ARE_ASSUMPTION", "KEY_GROUP_COLUMNS", "rule_table"]

RULES_ARE_ASSUMPTION = ("Annahme: Die Zuordnung zu Profillagen folgt einer dokumentierten Regeltabelle nach dem "
                        "4-Phasen-Modell; die offiziellen Regeln der BA sind nicht veröffentlicht.")
KEY_GROUP_COLUMNS = {k: S.NEED_COLUMNS[k] for k in S.KEY_GROUPS}


@dataclass(frozen=True)
class ProfillageRules:
    """Parameters of the rule table.

    Parameters
    ----------
    min_severity : int
        Severity from which a key group counts as having a need (1 = moderate).
    further_groups : int
        Further key groups with a need required for Stabilisierung / Unterstützung.
    complex_priority : {"unterstuetzung", "stabilisierung"}
        Which profile wins when both complex rules match.
    """

    min_severity: int = 1
    further_groups: int = 2
    complex_priority: str = "unterstuetzung"


DEFAULT_RULES = ProfillageRules()


def rule_table(rules: ProfillageRules = DEFAULT_RULES) -> pd.DataFrame:
    """The rule table as a frame (order, profillage, label, horizon, condition) for reports."""
    f = rules.further_groups
    rows = [(1, "markt", "within 12 months", "no key group with a need"),
            (2, "aktivierung", "within 12 months", "a need in Motivation only"),
            (3, "foerder", "within 12 months", "any other need pattern"),
            (4, "unterstuetzung", "later", f"need in Rahmenbedingungen plus >= {f} further key groups"),
            (5, "stabilisierung", "later", f"need in Leistungsfähigkeit plus >= {f} further key groups"),
            (6, "entwicklung", "later", "any other need pattern")]
    out = pd.DataFrame(rows, columns=["order", "profillage", "horizon", "condition"])
    out.insert(2, "label", out["profillage"].map(S.PROFILLAGEN))
    return out


def assign_profillage(assessments: pd.DataFrame, rules: ProfillageRules = DEFAULT_RULES) -> pd.Series:
    """One Profillage (key of :data:`casework.schema.PROFILLAGEN`) per assessment row.

    Parameters
    ----------
    assessments : DataFrame
        Columns ``need_qualification``, ``need_health``, ``need_motivation``,
        ``need_framework`` (severity 0-2) and ``horizon_12m`` (bool).

    Examples
    --------
    >>> a = pd.DataFrame({"need_qualification": [0, 0, 2, 1], "need_health": [0, 0, 0, 2],
    ...                   "need_motivation": [0, 1, 0, 1], "need_framework": [0, 0, 0, 1],
    ...                   "horizon_12m": [True, True, True, False]})
    >>> assign_profillage(a).tolist()
    ['markt', 'aktivierung', 'foerder', 'unterstuetzung']
    """
    missing = [c for c in [*KEY_GROUP_COLUMNS.values(), "horizon_12m"] if c not in assessments]
    if missing:
        raise ValueError(f"assign_profillage needs the column(s) {missing}")
    need = {k: assessments[c].fillna(0).to_numpy() >= rules.min_severity for k, c in KEY_GROUP_COLUMNS.items()}
    n_groups = sum(v.astype(int) for v in need.values())
    near = assessments["horizon_12m"].fillna(False).astype(bool).to_numpy()
    motivation_only = need["motivation"] & (n_groups == 1)
    support = need["framework"] & (n_groups - 1 >= rules.further_groups)
    stabil = need["health"] & (n_groups - 1 >= rules.further_groups)
    if rules.complex_priority == "stabilisierung":
        complex_choice = np.select([stabil, support], ["stabilisierung", "unterstuetzung"], "entwicklung")
    else:
        complex_choice = np.select([support, stabil], ["unterstuetzung", "stabilisierung"], "entwicklung")
    near_choice = np.select([n_groups == 0, motivation_only], ["markt", "aktivierung"], "foerder")
    return pd.Series(np.where(near, near_choice, complex_choice), index=assessments.index, name="profillage")


def profillagen(ds, rules: ProfillageRules = DEFAULT_RULES) -> pd.DataFrame:
    """The Profillage of every assessment of a dataset.

    Returns
    -------
    DataFrame
        Columns person_id, assessment_id, date, profillage, label, sequence
        (1 = the person's first assessment).
    """
    a = ds.table("assessments").sort_values(["person_id", "date"], kind="stable")
    out = a[["person_id", "assessment_id", "date"]].copy()
    out["profillage"] = assign_profillage(a, rules).to_numpy()
    out["label"] = out["profillage"].map(S.PROFILLAGEN)
    out["sequence"] = out.groupby("person_id").cumcount() + 1
    return out.reset_index(drop=True)


def transition_matrix(frame: pd.DataFrame, by: str = "profillage", normalise: bool = True) -> pd.DataFrame:
    """From one assessment to the next of the same person: counts or row shares (rows = from, columns = to).

    ``frame`` needs person_id, date and the ``by`` column (e.g. :func:`profillagen`).

    Examples
    --------
    >>> f = pd.DataFrame({"person_id": [1, 1, 1, 2, 2], "date": pd.to_datetime(["2020-01-01", "2020-06-01",
    ...     "2021-01-01", "2020-01-01", "2020-07-01"]), "profillage": ["foerder", "markt", "markt", "foerder",
    ...     "foerder"]})
    >>> float(transition_matrix(f).loc["foerder", "markt"])
    0.5
    """
    f = frame.sort_values(["person_id", "date"], kind="stable")
    nxt = f.groupby("person_id")[by].shift(-1)
    pairs = pd.DataFrame({"from": f[by], "to": nxt}).dropna()
    counts = pd.crosstab(pairs["from"], pairs["to"])
    order = [k for k in S.PROFILLAGEN if k in set(counts.index) | set(counts.columns)] if by == "profillage" \
        else sorted(set(counts.index) | set(counts.columns))
    counts = counts.reindex(index=order, columns=order, fill_value=0)
    if not normalise:
        return counts
    return counts.div(counts.sum(axis=1).replace(0, np.nan), axis=0).fillna(0.0)


def sankey_figure(frame: pd.DataFrame, by: str = "profillage", min_flow: int = 20):
    """Plotly Sankey of transitions between consecutive assessments (flows under ``min_flow`` left out)."""
    import plotly.graph_objects as go

    counts = transition_matrix(frame, by, normalise=False)
    label = (lambda k: S.PROFILLAGEN.get(k, k)) if by == "profillage" else str
    n = len(counts)
    src, dst, val = [], [], []
    for i, a in enumerate(counts.index):
        for j, b in enumerate(counts.columns):
            v = int(counts.loc[a, b])
            if v >= min_flow:
                src.append(i)
                dst.append(n + j)
                val.append(v)
    labels = [f"{label(k)} (vorher)" for k in counts.index] + [f"{label(k)} (nachher)" for k in counts.columns]
    fig = go.Figure(go.Sankey(node={"label": labels, "pad": 12}, link={"source": src, "target": dst, "value": val}))
    fig.update_layout(title="Wechsel zwischen Profillagen von einer Potenzialanalyse zur nächsten", height=460)
    return fig
