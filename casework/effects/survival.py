"""Time to integration: Kaplan-Meier, Cox, and a discrete-time hazard with time-varying measures.

The clock starts at the landmark of the analysis cohort (docs/estimands.md).
In the discrete-time hazard model a measure enters as a *time-varying* state:
``lockin`` while the person participates and ``post`` after the measure
ended, so that neither the waiting time before a measure nor the months in it
are credited to its effect (immortal-time bias), and the lock-in effect is
separated from the effect after it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from casework import schema as S
from casework.effects._design import Logit, design_matrix

__all__ = ["kaplan_meier", "km_plot", "cox", "person_months", "discrete_hazard", "HORIZON"]

HORIZON = 24


def kaplan_meier(cohort: pd.DataFrame, by: str | None = None, duration: str = "months_to_event",
                 event: str = "event", horizon: float = HORIZON) -> pd.DataFrame:
    """Kaplan-Meier share still without integration, by group.

    Returns
    -------
    DataFrame
        Columns group, time (months), still_unintegrated, ci_low, ci_high, at_risk.
    """
    from lifelines import KaplanMeierFitter

    frames = []
    groups = [("alle", cohort)] if by is None else list(cohort.groupby(by, observed=True))
    for level, sub in groups:
        d = sub[duration].clip(upper=horizon)
        e = sub[event].astype(bool) & (sub[duration] <= horizon)
        kmf = KaplanMeierFitter().fit(d, e)
        sf = kmf.survival_function_.iloc[:, 0]
        ci = kmf.confidence_interval_survival_function_
        at_risk = kmf.event_table["at_risk"].reindex(sf.index)
        frames.append(pd.DataFrame({"group": level, "time": sf.index.to_numpy(), "still_unintegrated": sf.to_numpy(),
                                    "ci_low": ci.iloc[:, 0].to_numpy(), "ci_high": ci.iloc[:, 1].to_numpy(),
                                    "at_risk": at_risk.to_numpy()}))
    return pd.concat(frames, ignore_index=True)


def km_plot(km: pd.DataFrame, ax=None, labels: dict | None = None):
    """Step plot of :func:`kaplan_meier` curves (matplotlib), share integrated = 1 - survival."""
    import matplotlib.pyplot as plt

    from casework.describe import PALETTE

    if ax is None:
        _, ax = plt.subplots(figsize=(6.5, 3.5))
    colours = list(PALETTE)
    for i, (g, sub) in enumerate(km.groupby("group", sort=False)):
        c = colours[i % len(colours)]
        ax.step(sub["time"], 1 - sub["still_unintegrated"], where="post", color=c, label=(labels or {}).get(g, g))
        ax.fill_between(sub["time"], 1 - sub["ci_low"], 1 - sub["ci_high"], step="post", color=c, alpha=0.15)
    ax.set_xlabel("Monate ab Stichtag")
    ax.set_ylabel("Anteil integriert")
    ax.legend(fontsize="small")
    return ax


def cox(cohort: pd.DataFrame, covariates, treatment: str = "treated", duration: str = "months_to_event",
        event: str = "event", horizon: float = HORIZON, penalizer: float = 0.01) -> pd.DataFrame:
    """Cox proportional hazards with the treatment status at the landmark (lifelines).

    Returns the lifelines summary (coef, exp(coef), its 95 % limits, p) indexed by term.
    """
    from lifelines import CoxPHFitter

    design = design_matrix(cohort, list(covariates))
    frame = pd.DataFrame(design.X, columns=design.names, index=cohort.index)
    frame[treatment] = cohort[treatment].astype(float)
    frame["_T"] = cohort[duration].clip(upper=horizon, lower=1e-3)
    frame["_E"] = (cohort[event].astype(bool) & (cohort[duration] <= horizon)).astype(int)
    fit = CoxPHFitter(penalizer=penalizer).fit(frame, duration_col="_T", event_col="_E")
    return fit.summary


def person_months(cohort: pd.DataFrame, horizon: int = HORIZON) -> pd.DataFrame:
    """Expand the cohort to person-months from the landmark with the time-varying measure state.

    Month ``m`` runs from ``landmark + m`` months; a person is at risk in it
    until the integration month (event = 1 there) or censoring (a censored
    person's last, incomplete month is left out).

    Returns
    -------
    DataFrame
        Columns person_id, month (0-based), event (0/1), state
        ("none", "lockin", "post"), measure, and the cohort's other columns.
    """
    t = cohort["months_to_event"].to_numpy()
    ev = cohort["event"].to_numpy().astype(bool)
    n_rows = np.where(ev, np.floor(t) + 1, np.floor(t)).astype(int).clip(0, horizon)
    idx = np.repeat(np.arange(len(cohort)), n_rows)
    month = np.concatenate([np.arange(k) for k in n_rows]) if len(n_rows) else np.empty(0, int)
    pm = cohort.iloc[idx].reset_index(drop=True)
    pm["month"] = month
    pm["event"] = (ev[idx] & (month == np.floor(t[idx]))).astype(int)
    month_start = pm["landmark"] + pd.to_timedelta(month * 30.4375, unit="D")
    treated = pm["measure"] != "none"
    ended = pm["measure_end"].notna() & (pm["measure_end"] < month_start)
    pm["state"] = np.where(~treated, "none", np.where(ended, "post", "lockin"))
    return pm


def discrete_hazard(cohort: pd.DataFrame, covariates, horizon: int = HORIZON, kinds=None) -> pd.DataFrame:
    """Discrete-time logit of the monthly integration hazard with lock-in and post terms per measure kind.

    Covariates are standardised; month-since-landmark enters as dummies; the
    terms ``<kind>:lockin`` and ``<kind>:post`` are 0/1 and their odds ratios
    compare to not (yet) participating. Standard errors are clustered by person.

    Returns
    -------
    DataFrame
        Columns term, measure, phase, coef, se, odds_ratio, ci_low, ci_high
        (odds-ratio scale), for the measure terms.
    """
    pm = person_months(cohort, horizon)
    kinds = [k for k in (kinds or S.MEASURES) if (pm["measure"] == k).any()]
    design = design_matrix(pm, list(covariates))
    cols, names = [design.X], list(design.names)
    months = pd.get_dummies(pm["month"], prefix="month", drop_first=True, dtype=float)
    cols.append(months.to_numpy())
    names += list(months.columns)
    for k in kinds:
        for phase in ("lockin", "post"):
            x = ((pm["measure"] == k) & (pm["state"] == phase)).to_numpy(dtype=float)
            if x.sum() > 0:
                cols.append(x[:, None])
                names.append(f"{k}:{phase}")
    X = np.hstack(cols)
    y = pm["event"].to_numpy(dtype=float)
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):  # tall, thin products: threads only add contention
        m = Logit().fit(X, y)
    p = m.predict_proba(X)[:, 1]
    Xa = np.column_stack([np.ones(len(y)), X])
    scores = Xa * (y - p)[:, None]
    groups = pd.factorize(pm["person_id"])[0]
    summed = np.zeros((groups.max() + 1, Xa.shape[1]))
    np.add.at(summed, groups, scores)
    bread = np.linalg.inv(m.hessian_)
    cov = bread @ (summed.T @ summed) @ bread
    coef = np.r_[m.intercept_, m.coef_]
    se = np.sqrt(np.diag(cov))
    rows = []
    for j, name in enumerate(names, start=1):
        if ":" in name:
            kind, phase = name.split(":")
            rows.append({"term": name, "measure": kind, "phase": phase, "coef": coef[j], "se": se[j],
                         "odds_ratio": np.exp(coef[j]), "ci_low": np.exp(coef[j] - 1.96 * se[j]),
                         "ci_high": np.exp(coef[j] + 1.96 * se[j])})
    return pd.DataFrame(rows)
