"""Time to integration: Kaplan-Meier, Cox, and a discrete-time hazard with time-varying measures.

The clock starts at the landmark of the analysis cohort (docs/estimands.md).
In the discrete-time hazard model a measure enters as a *time-varying* state:
``lockin`` while the person participates and ``post`` after the measure
ended, so that neither the waiting time before a measure nor the months in it
are credited to its effect (immortal-time bias), and the lock-in effect is
separated from the effect after it.

What the "lock-in" and "post" ratios condition on: each compares, in the
same month since the landmark and at equal baseline covariates, persons who
are still without integration and currently *in* the measure (lock-in) or
*past its end* (post) with persons still without integration who are not (yet)
in one. Both condition on having survived to that month without
integration; "post" also on having ended the measure - who ends it, and
when, may itself depend on prospects, and the comparison group includes
later participants. They are ratios of hazards (odds of the monthly
integration chance), not differences in the share integrated: for the
latter, :func:`adjusted_cumulative_incidence` gives the adjusted shares with
and without treatment by a given time. A causal reading needs no unmeasured
confounding of the measure start by prospects that change after the
landmark (sequential ignorability).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from casework import schema as S
from casework.effects._design import Logit, design_matrix
from casework.effects._survival_data import (
    check_events,
    covariate_frame,
    cox_time_varying,
    episodes,
    need_columns,
    require_finite,
)

__all__ = ["kaplan_meier", "km_plot", "cox", "adjusted_cumulative_incidence", "cox_time_varying", "episodes",
           "person_months", "discrete_hazard", "HORIZON", "UNITS"]

HORIZON = 24  # months after the landmark: the person-month expansion of the analysis cohort only
UNITS = ("days", "weeks", "months", "years")


def _time_to_event(cohort: pd.DataFrame, outcome: str):
    """The rows at risk for a cohort ``outcome`` and its (duration, event) columns; a clear error when missing."""
    from casework.panel import TIME_TO_EVENT, require_outcome

    if outcome not in TIME_TO_EVENT:
        raise ValueError(f"unknown outcome {outcome!r}; available: {', '.join(TIME_TO_EVENT)}")
    duration, event = TIME_TO_EVENT[outcome]
    if duration not in cohort.columns:
        require_outcome(cohort, outcome)  # names the table the outcome needs
        need_columns(cohort, [duration, event])
    return cohort[cohort[duration].notna()], duration, event


def _columns_for(df, outcome, duration, event):
    """``(df, duration, event)``: as given, or from a cohort ``outcome`` (:data:`casework.panel.TIME_TO_EVENT`)."""
    if outcome is None:
        return df, duration, event
    if (duration, event) != ("months_to_event", "event"):
        raise ValueError("give either outcome= or duration=/event=, not both")
    return _time_to_event(df, outcome)


def kaplan_meier(cohort: pd.DataFrame, by: str | None = None, duration: str = "months_to_event",
                 event: str = "event", *, horizon: float | None = None, unit: str | None = None,
                 outcome: str | None = None) -> pd.DataFrame:
    """Kaplan-Meier share still without the event (integration by default), by group.

    ``horizon`` (optional) censors at that time, in the ``unit`` of
    ``duration``; a horizon without its unit is refused. ``outcome``: a cohort
    outcome instead of ``duration``/``event`` (``"receipt_end_12m"``: time to
    the end of receipt; ``"unemployment_exit_12m"``: time to the end of
    registered unemployment, persons unemployed at the landmark only); the
    column ``still_unintegrated`` then holds the share still without that event.

    Returns
    -------
    DataFrame
        Columns group, time (months), still_unintegrated, ci_low, ci_high, at_risk.
    """
    from lifelines import KaplanMeierFitter

    cohort, duration, event = _columns_for(cohort, outcome, duration, event)
    if horizon is not None and unit not in UNITS:
        raise ValueError(f"a horizon needs the unit of column {duration!r}: unit= one of {UNITS}")
    horizon = np.inf if horizon is None else horizon
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
        event: str = "event", *, horizon: float | None = None, unit: str | None = None, penalizer: float = 0.0,
        robust: bool = False, outcome: str | None = None) -> pd.DataFrame:
    """Cox proportional hazards with the treatment status at time zero (lifelines).

    Parameters
    ----------
    covariates : list of str
        Baseline columns (numeric, bool or categorical; categories become
        indicators against the first).
    horizon : float, optional
        Administrative censoring at ``horizon`` (in the unit of ``duration``);
        none by default. A horizon needs its ``unit``.
    unit : str, optional
        The unit of ``duration`` ("days", "weeks", "months", "years"); required
        with ``horizon`` so that "24" is never read in the wrong unit.
    penalizer : float
        Ridge penalty on the *covariates* only; the treatment coefficient is
        never penalised. 0 (none) by default.
    robust : bool
        Sandwich standard errors (lifelines' ``robust=True``).
    outcome : str, optional
        A cohort outcome instead of ``duration``/``event``
        (:data:`casework.panel.TIME_TO_EVENT`): ``"integration_12m"``,
        ``"receipt_end_12m"`` (hazard of ending receipt) or
        ``"unemployment_exit_12m"`` (hazard of leaving registered unemployment,
        among the persons unemployed at the landmark; rows not at risk are left out).

    Returns the lifelines summary (coef, exp(coef), its 95 % limits, p) indexed by term.

    Examples
    --------
    >>> from lifelines.datasets import load_rossi
    >>> s = cox(load_rossi(), ["age", "race", "wexp", "mar", "paro", "prio"], treatment="fin", duration="week",
    ...         event="arrest")
    >>> round(float(s.loc["fin", "coef"]), 4)
    -0.3794
    """
    cohort, duration, event = _columns_for(cohort, outcome, duration, event)
    frame = _survival_frame(cohort, covariates, treatment, duration, event, horizon, unit)
    fit = _fit_cox(frame, treatment, penalizer, robust)
    return fit.summary


def _survival_frame(df, covariates, treatment, duration, event, horizon, unit) -> pd.DataFrame:
    need_columns(df, [treatment, duration, event, *covariates])
    frame = covariate_frame(df, covariates)
    frame[treatment] = require_finite(df, treatment)
    t, e = require_finite(df, duration), require_finite(df, event)
    check_events(df, event, e)
    if (t < 0).any():
        raise ValueError(f"column {duration!r} is negative in row {df.index[np.argmax(t < 0)]!r}")
    if horizon is not None:
        if unit not in UNITS:
            raise ValueError(f"a horizon needs the unit of column {duration!r}: unit= one of {UNITS}")
        e = e * (t <= horizon)
        t = np.minimum(t, horizon)
    frame["_T"], frame["_E"] = t, e.astype(int)
    return frame


def _fit_cox(frame: pd.DataFrame, treatment: str, penalizer: float, robust: bool):
    from lifelines import CoxPHFitter

    names = [c for c in frame.columns if c not in ("_T", "_E")]
    pen = np.array([0.0 if c == treatment else float(penalizer) for c in names]) if penalizer else 0.0
    return CoxPHFitter(penalizer=pen).fit(frame, duration_col="_T", event_col="_E", robust=robust)


def adjusted_cumulative_incidence(df: pd.DataFrame, covariates, times, treatment: str = "treated",
                                  duration: str = "months_to_event", event: str = "event", *,
                                  among: str = "all", n_boot: int = 200, level: float = 0.95, seed: int = 0,
                                  horizon: float | None = None, unit: str | None = None,
                                  outcome: str | None = None) -> pd.DataFrame:
    """Covariate-adjusted cumulative incidence with and without treatment, and their difference.

    The Cox model of :func:`cox` predicts each person's survival curve twice,
    once as treated and once as untreated; averaging over ``among`` ("all":
    the analysed sample; "treated": the treated, an ATT) gives the share with
    an event by each of ``times`` in both worlds (direct standardisation).
    The difference is an absolute effect in shares - what a hazard ratio does
    not say. Intervals: percentile bootstrap over persons (``n_boot`` refits).
    ``outcome``: a cohort outcome instead of ``duration``/``event``, as in :func:`cox`.

    Returns
    -------
    DataFrame
        Columns time, treated, untreated, difference, ci_low, ci_high.
    """
    if among not in ("all", "treated"):
        raise ValueError(f"among must be 'all' or 'treated', not {among!r}")
    times = np.asarray(list(times), dtype="float64")
    df, duration, event = _columns_for(df, outcome, duration, event)
    frame = _survival_frame(df, covariates, treatment, duration, event, horizon, unit)
    point = _standardised(frame, treatment, times, among)
    rng = np.random.default_rng(seed)
    draws = []
    for _ in range(n_boot):
        sample = frame.iloc[rng.integers(0, len(frame), len(frame))].reset_index(drop=True)
        if sample[treatment].nunique() < 2 or sample["_E"].sum() == 0:
            continue
        draws.append(_standardised(sample, treatment, times, among)[2])
    q = [(1 - level) / 2, (1 + level) / 2]
    lo, hi = np.quantile(np.array(draws), q, axis=0) if draws else (np.full(len(times), np.nan),) * 2
    return pd.DataFrame({"time": times, "treated": point[0], "untreated": point[1], "difference": point[2],
                         "ci_low": lo, "ci_high": hi})


def _standardised(frame, treatment, times, among):
    fit = _fit_cox(frame, treatment, 0.0, False)
    x = frame.drop(columns=["_T", "_E"])
    if among == "treated":
        x = x[x[treatment] == 1]
    risk = []
    for value in (1.0, 0.0):
        surv = fit.predict_survival_function(x.assign(**{treatment: value}), times=times)
        risk.append(1 - surv.to_numpy().mean(axis=1))
    return risk[0], risk[1], risk[0] - risk[1]


def person_months(cohort: pd.DataFrame, horizon: int = HORIZON, *, outcome: str = "integration_12m") -> pd.DataFrame:
    """Expand the cohort to person-months from the landmark with the time-varying measure state.

    Month ``m`` runs from ``landmark + m`` months; a person is at risk in it
    until the event month (event = 1 there) or censoring (a censored
    person's last, incomplete month is left out). ``outcome`` picks the event
    (:data:`casework.panel.TIME_TO_EVENT`): integration (default), the end of
    receipt (``receipt_end_12m``) or the end of registered unemployment
    (``unemployment_exit_12m``, persons unemployed at the landmark only).

    Returns
    -------
    DataFrame
        Columns person_id, month (0-based), event (0/1), state
        ("none", "lockin", "post"), measure, and the cohort's other columns.
    """
    cohort, duration, event = _time_to_event(cohort, outcome)
    t = cohort[duration].to_numpy(dtype=float)
    ev = cohort[event].to_numpy().astype(bool)
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


def discrete_hazard(cohort: pd.DataFrame, covariates, horizon: int = HORIZON, kinds=None, *,
                    outcome: str = "integration_12m") -> pd.DataFrame:
    """Discrete-time logit of the monthly event hazard with lock-in and post terms per measure kind.

    Takes the analysis cohort (:func:`casework.panel.analysis_cohort`: columns
    person_id, landmark, measure, measure_end and the outcome's time to event)
    and follows it ``horizon`` months. ``outcome``: the event, see
    :func:`person_months` (the hazard of integration by default; of ending
    receipt; of leaving registered unemployment, among those unemployed at the
    landmark). For any other data use :func:`episodes` and
    :func:`cox_time_varying`.

    Covariates are standardised; month-since-landmark enters as dummies; the
    terms ``<kind>:lockin`` and ``<kind>:post`` are 0/1 and their odds ratios
    compare to not (yet) participating. Standard errors are clustered by person.

    Returns
    -------
    DataFrame
        Columns term, measure, phase, coef, se, odds_ratio, ci_low, ci_high
        (odds-ratio scale), for the measure terms.
    """
    need_columns(cohort, ["person_id", "landmark", "measure", "measure_end"])
    pm = person_months(cohort, horizon, outcome=outcome)
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
