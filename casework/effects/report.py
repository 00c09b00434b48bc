"""Effect tables for boards: truth beside the estimate (synthetic data), assumption notes, German sentences."""

from __future__ import annotations

import pandas as pd

from casework import fmt

__all__ = ["MEASURE_PHRASE", "OUTCOME_PHRASE", "board_effects"]

#: "Die Teilnahme <phrase> erhöht ..." for each measure kind.
MEASURE_PHRASE = {
    "debt_counselling": "an der Schuldnerberatung",
    "addiction_counselling": "an der Suchtberatung",
    "childcare": "an der vermittelten Kinderbetreuung",
    "psychosocial_care": "an der psychosozialen Betreuung",
    "health_module": "an einem Gesundheitsmodul",
    "neighbourhood_centre": "an einem Angebot im Stadtteilzentrum",
    "volunteering": "an Freiwilligenarbeit",
    "self_help": "an einer Selbsthilfegruppe",
    "funded_employment": "an geförderter Beschäftigung mit Coaching",
    "assisted_placement": "an der assistierten Vermittlung",
}

#: "... erhöht <phrase> um ..." for each outcome (:data:`casework.panel.OUTCOMES`).
OUTCOME_PHRASE = {
    "integration_12m": "den Anteil der Integrationen innerhalb von 12 Monaten",
    "receipt_end_12m": "den Anteil der Personen, deren Leistungsbezug innerhalb von 12 Monaten endet,",
    "unemployment_exit_12m": "den Anteil der arbeitslos gemeldeten Personen, deren Arbeitslosigkeit innerhalb von "
                             "12 Monaten endet,",
}


def board_effects(effects: pd.DataFrame, ground_truth: dict | None = None) -> pd.DataFrame:
    """Add ``truth`` and ``assumption`` (synthetic data) and a German ``sentence`` to a measure-effects table.

    Where the interval includes zero and the table has ``mde``, the sentence
    says from which size on an effect could be seen with these numbers.

    Parameters
    ----------
    effects : DataFrame
        From :func:`casework.effects.measure_effects`.
    ground_truth : dict, optional
        ``Dataset.ground_truth``; on real data None (no truth, no assumption notes).

    Examples
    --------
    >>> e = pd.DataFrame({"measure": ["debt_counselling"], "estimand": ["att"], "outcome": ["integration_12m"],
    ...                   "estimate": [0.031], "ci_low": [0.012], "ci_high": [0.05]})
    >>> board_effects(e)["sentence"].iloc[0][:40]
    'Die Teilnahme an der Schuldnerberatung e'
    """
    out = effects.copy()
    out["truth"] = float("nan")
    out["assumption"] = False
    if ground_truth:
        recs = {(r["measure"], r["estimand"], r["outcome"]): r for r in ground_truth.get("effects", [])
                if r.get("segment") is None}
        for i, row in out.iterrows():
            r = recs.get((row["measure"], row.get("estimand", "att"), row.get("outcome", "integration_12m")))
            if r:
                out.at[i, "truth"] = r["value"]
                out.at[i, "assumption"] = bool(r.get("assumption", False))
    mdes = out["mde"] if "mde" in out else [None] * len(out)
    outcomes = out["outcome"] if "outcome" in out else ["integration_12m"] * len(out)
    out["sentence"] = [fmt.effect_sentence(MEASURE_PHRASE.get(m, f"an {m}"), e, lo, hi,
                                           outcome_label=OUTCOME_PHRASE.get(o, OUTCOME_PHRASE["integration_12m"]),
                                           assumption=a, mde=d)
                       for m, e, lo, hi, a, d, o in zip(out["measure"], out["estimate"], out["ci_low"], out["ci_high"],
                                                        out["assumption"], mdes, outcomes)]
    return out
