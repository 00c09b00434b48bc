"""Sensitivity and refutation that can fail: E-values, robustness values, repeated placebo and random-cause
refuters with p-values, and a stability check over seeds and subsets.

Each check is an immutable object to show next to the estimate; ``passed``
says whether the estimate survived it, ``text`` says so in one English
sentence and ``text_de`` in plain German for boards.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from casework import fmt
from casework.effects.core import EffectResult, estimate

__all__ = ["EValue", "Refutation", "RobustnessValue", "e_value", "e_value_for", "placebo_treatment",
           "placebo_outcome", "random_common_cause", "stability", "robustness_value", "refute", "sensitivity_table"]


@dataclass(frozen=True)
class EValue:
    """E-value of an estimate and of the confidence limit closest to the null (VanderWeele & Ding 2017)."""

    point: float
    ci: float
    risk_ratio: float

    @property
    def text(self) -> str:
        return (f"An unmeasured confounder would need a risk-ratio association of {self.point:.2f} with both the "
                f"measure and the outcome to explain the estimate away ({self.ci:.2f} to move the interval to "
                "include no effect).")

    @property
    def text_de(self) -> str:
        return (f"Ein nicht erfasster Einflussfaktor müsste sowohl die Teilnahme als auch die Integration um den "
                f"Faktor {fmt.number(self.point, 1)} beeinflussen, um den Effekt vollständig zu erklären.")


@dataclass(frozen=True)
class Refutation:
    """The result of one refutation test."""

    name: str
    original: float
    new_estimate: float
    new_ci_low: float
    new_ci_high: float
    passed: bool
    text: str
    text_de: str
    draws: int = 1
    p_value: float = float("nan")
    share_failed: float = float("nan")


def _e_from_rr(rr: float) -> float:
    rr = 1 / rr if rr < 1 else rr
    return float(rr + math.sqrt(rr * (rr - 1)))


def e_value_for(estimate: float, ci_low: float, ci_high: float, outcome_mean_treated: float) -> EValue:
    """E-value of a difference in proportions given the mean outcome under treatment (table rows: for the ATT
    the outcome share among the treated, for the ATE the estimated E[Y(1)]).

    Examples
    --------
    >>> round(e_value_for(0.05, 0.03, 0.07, 0.25).point, 2)
    1.81
    """
    from types import MappingProxyType

    r = EffectResult(estimate, float("nan"), ci_low, ci_high, float("nan"), 0, 0, "", "", "", "", None,
                     spec=MappingProxyType({"mean_y1": outcome_mean_treated, "binary_outcome": True}))
    return e_value(r)


def e_value(result: EffectResult) -> EValue:
    """E-value of an :class:`EffectResult` (VanderWeele & Ding 2017).

    For a binary outcome the risk ratio is ``E[Y(1)] / (E[Y(1)] - effect)``
    with the mean outcome under treatment *in the estimand's population*: the
    outcome share among the treated for the ATT, the estimated overall
    ``E[Y(1)]`` for the ATE (not the treated share). For a continuous outcome
    the standardised difference ``d`` is converted with ``RR = exp(0.91 d)``.

    Examples
    --------
    >>> from types import MappingProxyType
    >>> r = EffectResult(0.05, 0.01, 0.03, 0.07, 0.0, 100, 100, "ols", "att", "t", "y", None,
    ...                  spec=MappingProxyType({"mean_y1": 0.25, "binary_outcome": True, "outcome_sd": 1}))
    >>> round(e_value(r).point, 2)
    1.81
    """
    spec = result.spec
    if spec.get("binary_outcome", True):
        p1 = spec.get("mean_y1", spec.get("outcome_mean_treated"))

        def rr(effect):
            p0 = min(max(p1 - effect, 1e-9), 1.0)
            return max(p1, 1e-9) / p0
    else:
        sd = spec.get("outcome_sd") or 1.0

        def rr(effect):
            return math.exp(0.91 * effect / sd)

    point = rr(result.estimate)
    if result.ci_low <= 0 <= result.ci_high:
        ci = 1.0
    else:
        near = result.ci_low if result.estimate > 0 else result.ci_high
        ci = _e_from_rr(rr(near))
    return EValue(point=_e_from_rr(point), ci=ci, risk_ratio=float(point))


def _rerun(df, result, **changes):
    """Re-estimate like ``result`` with changes; one cross-fitting split and guards that only warn (fast, and a
    refuter must see the number the guards would have refused)."""
    spec = dict(result.spec)
    kw = {k: spec[k] for k in ("method", "estimand", "cluster", "seed", "trim", "n_folds", "caliper", "min_treated")
          if k in spec}
    kw.update(n_rep=1, guards="warn")
    covariates = list(changes.pop("covariates", spec["covariates"]))
    treatment = changes.pop("treatment", result.treatment)
    outcome = changes.pop("outcome", result.outcome)
    return estimate(df, treatment, outcome, covariates, **{**kw, **changes})


def _binomial_tolerance(share: float, draws: int) -> float:
    """An upper limit for a share of draws that should be ``share``: three binomial standard deviations above."""
    return share + 3 * math.sqrt(share * (1 - share) / max(draws, 1))


def _runs(df, result, draws, make):
    """Re-estimates for ``draws`` random variations (``make(rng) -> (frame, changes)``); refusals are counted."""
    rng = np.random.default_rng(result.spec.get("seed", 0) + 7919)
    out, refused = [], 0
    for _ in range(draws):
        frame, changes = make(rng)
        try:
            out.append(_rerun(frame, result, **changes))
        except ValueError:
            refused += 1
    return out, refused


def placebo_treatment(df: pd.DataFrame, result: EffectResult, seed: int = 0, draws: int = 100,
                      alpha: float = 0.05) -> Refutation:
    """Replace the treatment by random permutations of it (``draws`` times): the effects should vanish.

    ``p_value`` is the permutation p-value of the original estimate (the
    share of placebo estimates at least as far from zero). Fails when more
    placebo intervals exclude zero than the 5 % a calibrated method allows
    (with three binomial standard deviations of slack) - the method finds
    effects that are not there, or its intervals are too narrow - and when
    the estimate is significant by its own interval but not against the
    placebo estimates (p_value >= alpha): then random treatments produce
    effects as large, as with weights carried by a single person.
    """
    col = "__placebo_treatment"
    treat = df[result.treatment].to_numpy()

    def make(rng):
        return df.assign(**{col: rng.permutation(treat)}), {"treatment": col}

    runs, refused = _runs(df, result, draws, lambda rng: make(np.random.default_rng([seed, rng.integers(1 << 31)])))
    ests = np.array([r.estimate for r in runs])
    false_hits = float(np.mean([not (r.ci_low <= 0 <= r.ci_high) for r in runs])) if runs else 1.0
    p = float((1 + np.sum(np.abs(ests) >= abs(result.estimate))) / (len(ests) + 1))
    calibrated = false_hits <= _binomial_tolerance(0.05, len(runs))
    # an interval that excludes zero claims more than random treatments give: the permutation must confirm it
    confirmed = not (result.p_value < alpha <= p)
    ok = bool(runs) and calibrated and confirmed
    lo, hi = (float(np.quantile(ests, 0.025)), float(np.quantile(ests, 0.975))) if runs else (np.nan, np.nan)
    return Refutation("placebo treatment", result.estimate, float(np.mean(ests)) if runs else np.nan, lo, hi, ok,
                      f"Over {len(runs)} randomly permuted treatments {false_hits:.0%} of the intervals exclude zero "
                      f"(5 % expected; permutation p-value of the estimate {p:.3f}"
                      + (f"; {refused} refused" if refused else "") + ") "
                      + ("- no effect where there is none, as it should be." if ok
                         else "- random treatments give effects as large as the estimate: its interval is too narrow."
                         if not confirmed
                         else "- the method finds effects that are not there or its intervals are too narrow."),
                      "Mit zufällig vertauschter Teilnahme zeigt sich "
                      + ("kein Effekt – wie erwartet." if ok
                         else "zu oft ein Effekt – das spricht gegen die Schätzung."),
                      draws=len(runs), p_value=p, share_failed=false_hits)


def placebo_outcome(df: pd.DataFrame, result: EffectResult, outcome: str | None = None,
                    seed: int = 0) -> Refutation:
    """Estimate the effect on an outcome the measure cannot affect: a given pre-treatment column or noise."""
    col = outcome
    d = df
    if col is None:
        rng = np.random.default_rng(seed)
        col = "__placebo_outcome"
        p = float(df[result.outcome].mean())
        binary = bool(result.spec.get("binary_outcome", True))
        noise = (rng.random(len(df)) < p).astype(float) if binary else rng.normal(size=len(df))
        d = df.assign(**{col: noise})
    covs = [c for c in result.spec["covariates"] if c != col]
    r = _rerun(d, result, outcome=col, covariates=covs)
    ok = r.ci_low <= 0 <= r.ci_high
    return Refutation("placebo outcome", result.estimate, r.estimate, r.ci_low, r.ci_high, bool(ok),
                      f"On a placebo outcome ({outcome or 'random noise'}) the estimate is {r.estimate:.4f}"
                      + (" (no effect, as it should be)." if ok else " (NOT zero: suspect residual confounding)."),
                      "Auf eine Größe, die die Maßnahme nicht beeinflussen kann, zeigt sich "
                      + ("kein Effekt – wie erwartet." if ok else "ein Effekt – Hinweis auf verbliebene Verzerrung."),
                      draws=1, p_value=float(r.p_value), share_failed=float(not ok))


def random_common_cause(df: pd.DataFrame, result: EffectResult, seed: int = 0, draws: int = 100) -> Refutation:
    """Add a random covariate (``draws`` times): a sound estimate barely moves.

    Fails when more than 5 % of the draws (plus binomial slack) move the
    estimate by more than half its standard error: then a meaningless column
    changes the answer, the signature of weights carried by a few persons.
    ``p_value`` is that share of draws.
    """
    col = "__random_common_cause"
    covs = [*result.spec["covariates"], col]

    def make(rng):
        return df.assign(**{col: rng.normal(size=len(df))}), {"covariates": covs}

    runs, refused = _runs(df, result, draws, lambda rng: make(np.random.default_rng([seed, rng.integers(1 << 31)])))
    base = _rerun(df, result)  # the same single split without the random column
    moves = np.array([abs(r.estimate - base.estimate) for r in runs])
    share = float(np.mean(moves > 0.5 * result.se)) if runs else 1.0
    ok = bool(runs) and share <= _binomial_tolerance(0.05, len(runs)) and refused == 0
    ests = np.array([r.estimate for r in runs]) if runs else np.array([np.nan])
    return Refutation("random common cause", result.estimate, float(np.mean(ests)), float(np.min(ests)),
                      float(np.max(ests)), ok,
                      f"With an added random covariate ({len(runs)} draws) the estimate moved by more than half a "
                      f"standard error in {share:.0%} of the draws (largest move {np.max(moves, initial=0):.4g}"
                      + (f"; {refused} refused" if refused else "") + f"): {'stable' if ok else 'UNSTABLE'}.",
                      "Eine zusätzliche Zufallsvariable verändert die Schätzung "
                      + ("kaum – sie ist stabil." if ok else "deutlich – sie ist instabil."),
                      draws=len(runs), p_value=share, share_failed=share)


def stability(df: pd.DataFrame, result: EffectResult, seeds: int = 10, subsets: int = 20, fraction: float = 0.8,
              seed: int = 0) -> Refutation:
    """Re-estimate over ``seeds`` cross-fitting seeds and ``subsets`` random subsets of ``fraction`` of the rows.

    Flags an estimate that moves with the random split (the estimates over
    seeds span more than one standard error) or with a few persons (the
    subset estimates scatter by more than twice what subsampling alone gives,
    ``sqrt(1/fraction - 1)`` standard errors), and one the guards refuse on
    some subsets. ``new_ci_low``/``new_ci_high`` are the smallest and largest
    of all re-estimates.
    """
    spec = dict(result.spec)
    n_rep = spec.get("n_rep")
    by_seed, refused = [], 0
    for s in range(seeds):
        try:
            by_seed.append(_rerun(df, result, seed=int(spec.get("seed", 0)) + 1 + s, n_rep=n_rep).estimate)
        except ValueError:
            refused += 1
    rng = np.random.default_rng([seed, 104729])
    by_subset = []
    size = int(round(fraction * len(df)))
    for _ in range(subsets):
        rows = np.sort(rng.choice(len(df), size=size, replace=False))
        try:
            by_subset.append(_rerun(df.iloc[rows], result, n_rep=n_rep, guards="raise").estimate)
        except ValueError:
            refused += 1
    se = result.se if result.se > 0 else float("nan")
    seed_span = float(np.ptp(by_seed)) / se if len(by_seed) > 1 else float("nan")
    subset_sd = float(np.std(by_subset, ddof=1)) / se if len(by_subset) > 1 else float("nan")
    expected = math.sqrt(1 / fraction - 1)
    ok = refused == 0 and seed_span <= 1.0 and subset_sd <= 2 * expected
    every = np.array(by_seed + by_subset) if by_seed or by_subset else np.array([np.nan])
    text = (f"Over {len(by_seed)} cross-fitting seeds the estimate spans {seed_span:.2f} standard errors (limit 1); "
            f"over {len(by_subset)} random {fraction:.0%} subsets it scatters by {subset_sd:.2f} standard errors "
            f"(subsampling alone gives {expected:.2f}, limit {2 * expected:.2f})"
            + (f"; {refused} re-estimates were refused by the guards" if refused else "")
            + (": stable." if ok else ": UNSTABLE - the estimate depends on the split or on a few persons."))
    text_de = ("Die Schätzung bleibt bei anderer Zufallsaufteilung und ohne einzelne Personen "
               + ("stabil." if ok else "nicht stabil – sie hängt vom Zufall oder von wenigen Personen ab."))
    return Refutation("stability", result.estimate, float(np.median(every)), float(np.min(every)),
                      float(np.max(every)), bool(ok), text, text_de, draws=len(by_seed) + len(by_subset),
                      p_value=float("nan"), share_failed=float(refused / max(seeds + subsets, 1)))


@dataclass(frozen=True)
class RobustnessValue:
    """Cinelli & Hazlett (2020): how strong an unobserved confounder must be to explain a regression estimate away.

    ``rv`` is the share of the residual variance of both the treatment and
    the outcome such a confounder must explain to bring the estimate to zero;
    ``rv_alpha`` to make it insignificant at level alpha; ``partial_r2`` the
    treatment's partial R-squared with the outcome (the bound for a confounder
    explaining all of the outcome's residual variance).
    """

    rv: float
    rv_alpha: float
    partial_r2: float
    dof: int

    @property
    def text(self) -> str:
        return (f"An unobserved confounder explaining {self.rv:.1%} of the residual variance of both the measure "
                f"and the outcome would bring the estimate to zero; {self.rv_alpha:.1%} would make it "
                "insignificant (robustness value, Cinelli & Hazlett 2020).")

    @property
    def text_de(self) -> str:
        share = fmt.number(self.rv, 1, scale=100)
        return (f"Ein nicht erfasster Einflussfaktor, der je {share} % der verbleibenden Unterschiede in Teilnahme "
                "und Integration erklärt, könnte den Effekt vollständig erklären.")


def _rv(f: float) -> float:
    return 0.0 if f <= 0 else float(0.5 * (math.sqrt(f ** 4 + 4 * f ** 2) - f ** 2))


def robustness_value(result: EffectResult, q: float = 1.0, alpha: float = 0.05) -> RobustnessValue:
    """The robustness value of a regression estimate (``method="ols"``) for a reduction of ``q`` (1 = to zero).

    ``f = q |t| / sqrt(dof)``, ``RV = (sqrt(f^4 + 4 f^2) - f^2) / 2``; for
    ``rv_alpha`` ``f`` is first reduced by ``t_crit / sqrt(dof - 1)``. The t
    statistic uses the estimate's (robust) standard error.

    Examples
    --------
    >>> from types import MappingProxyType
    >>> r = EffectResult(0.1, 0.02, 0.06, 0.14, 0.0, 500, 500, "ols", "att", "t", "y", None,
    ...                  spec=MappingProxyType({"n_covariate_columns": 3}))
    >>> round(robustness_value(r).rv, 3)
    0.147
    """
    from scipy import stats

    if result.method != "ols":
        raise ValueError("the robustness value is defined for regression-type estimates (method='ols'); "
                         f"this estimate used {result.method!r} - use the E-value (e_value) instead")
    dof = int(result.n_treated + result.n_control - 2 - 2 * int(result.spec.get("n_covariate_columns", 0)))
    if dof < 3:
        raise ValueError(f"too few residual degrees of freedom ({dof}) for a robustness value")
    t_stat = result.estimate / result.se
    f = q * abs(t_stat) / math.sqrt(dof)
    f_alpha = f - float(stats.t(dof - 1).ppf(1 - alpha / 2)) / math.sqrt(dof - 1)
    return RobustnessValue(rv=_rv(f), rv_alpha=_rv(f_alpha), partial_r2=float(t_stat ** 2 / (t_stat ** 2 + dof)),
                           dof=dof)


def refute(df: pd.DataFrame, result: EffectResult, placebo_outcome_column: str | None = None,
           seed: int = 0, draws: int = 100) -> list[Refutation]:
    """All three refutations of ``result`` on the frame it was estimated from (``draws`` repetitions each)."""
    return [placebo_treatment(df, result, seed, draws), placebo_outcome(df, result, placebo_outcome_column, seed),
            random_common_cause(df, result, seed, draws)]


def sensitivity_table(df: pd.DataFrame, result: EffectResult, placebo_outcome_column: str | None = None,
                      seed: int = 0, draws: int = 100, with_stability: bool = False) -> pd.DataFrame:
    """E-value (robustness value for OLS), refutations and optionally the stability check as one tidy table.

    Columns: check, estimate, ci_low, ci_high, passed, p_value, text, text_de.
    """
    ev = e_value(result)
    rows = [{"check": "E-value", "estimate": ev.point, "ci_low": np.nan, "ci_high": ev.ci, "passed": np.nan,
             "p_value": np.nan, "text": ev.text, "text_de": ev.text_de}]
    checks = refute(df, result, placebo_outcome_column, seed, draws)
    if with_stability:
        checks.append(stability(df, result, seed=seed))
    for r in checks:
        rows.append({"check": r.name, "estimate": r.new_estimate, "ci_low": r.new_ci_low, "ci_high": r.new_ci_high,
                     "passed": r.passed, "p_value": r.p_value, "text": r.text, "text_de": r.text_de})
    if result.method == "ols":
        rv = robustness_value(result)
        rows.append({"check": "robustness value", "estimate": rv.rv, "ci_low": np.nan, "ci_high": rv.rv_alpha,
                     "passed": np.nan, "p_value": np.nan, "text": rv.text, "text_de": rv.text_de})
    return pd.DataFrame(rows)
