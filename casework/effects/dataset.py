"""Dataset-level shortcuts: the effect of every measure kind, keyed like the ground truth."""

from __future__ import annotations

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from casework import schema as S
from casework.effects.core import estimate

__all__ = ["measure_effects", "effect_sample", "EFFECT_COLUMNS"]

EFFECT_COLUMNS = ["measure", "label", "method", "estimand", "outcome", "estimate", "se", "ci_low", "ci_high",
                  "p_value", "n_treated", "n_control", "n_trimmed", "max_abs_smd_after", "outcome_mean_treated", "mde",
                  "note"]


def effect_sample(cohort: pd.DataFrame, kind: str) -> pd.DataFrame:
    """Persons who started ``kind`` or no measure, in jobcenter-half-years where ``kind`` was started at all.

    The restriction is the observable side of positivity: where nobody started
    a measure, nobody could have (it was not on offer), so those persons are no
    comparison for it. Adds the 0/1 column ``treated``.
    """
    c = cohort[cohort["measure"].isin([kind, "none"])]
    half = c["index_date"].dt.year.astype(str) + "-" + (c["index_date"].dt.month > 6).astype(int).astype(str)
    cell = c["jc_id"].astype(str) + "|" + half
    offered = set(cell[c["measure"] == kind])
    c = c[cell.isin(offered).to_numpy()]
    return c.assign(treated=(c["measure"] == kind).astype(int))


def measure_effects(ds, method: str = "aipw", estimand: str = "att", outcome: str = "integration_12m", *,
                    covariates=None, cohort: pd.DataFrame | None = None, min_treated: int = 30, seed: int = 0,
                    progress: bool | None = None, **kwargs) -> pd.DataFrame:
    """The effect of starting each measure kind, against starting none, in the analysis cohort.

    Parameters
    ----------
    ds : Dataset
    method, estimand : see :func:`casework.effects.estimate`
    outcome : str
        A binary cohort outcome (:data:`casework.panel.OUTCOMES`, docs/estimands.md):
        ``integration_12m`` (default), ``receipt_end_12m`` (end of benefit receipt within 12 months,
        derived from the benefit spells) or ``unemployment_exit_12m`` (end of registered unemployment
        within 12 months, among the persons unemployed at the landmark; needs the table
        ``unemployment``, else a ValueError naming it). Another name is a ValueError naming the
        available ones. Persons for whom the outcome is missing (not at risk) are left out.
    covariates : list, optional
        Default :data:`casework.panel.COHORT_COVARIATES` that the data provide
        (:func:`casework.panel.available_covariates` warns about the others).
    cohort : DataFrame, optional
        A prepared :func:`casework.panel.analysis_cohort` (saves rebuilding it).
    min_treated : int
        Measures with fewer treated persons get a row with a note and no estimate.

    Returns
    -------
    DataFrame
        One row per measure kind: measure (ground-truth key), label (German),
        method, estimand, outcome, estimate, se, ci_low, ci_high, p_value,
        n_treated, n_control, n_trimmed, max_abs_smd_after, outcome_mean_treated
        (the mean outcome under treatment in the estimand's population: among
        the treated for the ATT, the estimated E[Y(1)] for the ATE; for
        E-values), mde (minimum detectable effect at 80 % power), note (why
        there is no estimate, or the result's warnings joined by " | ").
    """
    from casework.panel import OUTCOMES, analysis_cohort, available_covariates, require_outcome

    if outcome not in OUTCOMES:
        raise ValueError(f"measure_effects: outcome {outcome!r} is not a cohort outcome; available outcomes: "
                         f"{', '.join(OUTCOMES)}")
    require_outcome(ds, outcome)
    cohort = analysis_cohort(ds) if cohort is None else cohort
    if outcome not in cohort.columns:
        raise ValueError(f"measure_effects: the cohort given has no column {outcome!r}; build it with "
                         "casework.panel.analysis_cohort on this dataset")
    cohort = cohort[cohort[outcome].notna()]  # persons at risk (unemployment_exit_12m: unemployed at the landmark)
    covariates = available_covariates(cohort) if covariates is None else list(covariates)
    kinds = [k for k in S.MEASURES if (cohort["measure"] == k).any()]
    rows = []
    for kind in tqdm(kinds, desc=f"effects ({method})", disable=True if progress is None else not progress):
        sample = effect_sample(cohort, kind)
        base = {"measure": kind, "label": S.MEASURES[kind], "method": method, "estimand": estimand,
                "outcome": outcome, "n_treated": int(sample["treated"].sum()),
                "n_control": int((sample["treated"] == 0).sum())}
        if base["n_treated"] < min_treated:
            rows.append({**base, "note": f"fewer than {min_treated} persons started it"})
            continue
        try:
            r = estimate(sample, "treated", outcome, covariates, method=method, estimand=estimand, seed=seed,
                         min_treated=min(min_treated, 10), **kwargs)
        except ValueError as err:
            rows.append({**base, "note": str(err)})
            continue
        row = {**r.to_frame().iloc[0].to_dict(), "outcome_mean_treated": r.spec["mean_y1"]}
        rows.append({**base, **{k: row[k] for k in EFFECT_COLUMNS if k in row and k not in ("method", "estimand",
                                                                                            "outcome")},
                     "note": " | ".join(r.warnings)})
    out = pd.DataFrame(rows, columns=EFFECT_COLUMNS)
    for c in ("estimate", "se", "ci_low", "ci_high", "p_value", "max_abs_smd_after", "outcome_mean_treated", "mde"):
        out[c] = out[c].astype("float64")
    out["n_trimmed"] = out["n_trimmed"].fillna(0).astype(int)
    out["note"] = out["note"].fillna("")
    return out.replace({np.nan: np.nan})
