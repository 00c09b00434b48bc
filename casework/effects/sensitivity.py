"""Sensitivity and refutation: E-values, placebo treatment, placebo outcome, random common cause.

Each check is an immutable object to show next to the estimate; ``passed``
says whether the estimate survived it, ``text`` says so in one English
sentence and ``text_de`` in plain German for boards.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from casework.effects.core import EffectResult, estimate

__all__ = ["EValue", "Refutation", "e_value", "e_value_for", "placebo_treatment", "placebo_outcome",
           "random_common_cause", "refute", "sensitivity_table"]


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
                f"Faktor {self.point:.1f} beeinflussen, um den Effekt vollständig zu erklären.".replace(
                    f"{self.point:.1f}", f"{self.point:.1f}".replace(".", ",")))


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


def placebo_treatment(df: pd.DataFrame, result: EffectResult, seed: int = 0, draws: int = 100) -> Refutation:
    """Replace the treatment by random permutations of it (``draws`` times): the effects should vanish.

    Fails when more placebo intervals exclude zero than the 5 % a calibrated
    method allows (with three binomial standard deviations of slack): then the
    method finds effects that are not there, or its intervals are too narrow.
    ``p_value`` is the permutation p-value of the original estimate (the
    share of placebo estimates at least as far from zero).
    """
    col = "__placebo_treatment"
    treat = df[result.treatment].to_numpy()

    def make(rng):
        return df.assign(**{col: rng.permutation(treat)}), {"treatment": col}

    runs, refused = _runs(df, result, draws, lambda rng: make(np.random.default_rng([seed, rng.integers(1 << 31)])))
    ests = np.array([r.estimate for r in runs])
    false_hits = float(np.mean([not (r.ci_low <= 0 <= r.ci_high) for r in runs])) if runs else 1.0
    p = float((1 + np.sum(np.abs(ests) >= abs(result.estimate))) / (len(ests) + 1))
    ok = bool(runs) and false_hits <= _binomial_tolerance(0.05, len(runs))
    lo, hi = (float(np.quantile(ests, 0.025)), float(np.quantile(ests, 0.975))) if runs else (np.nan, np.nan)
    return Refutation("placebo treatment", result.estimate, float(np.mean(ests)) if runs else np.nan, lo, hi, ok,
                      f"Over {len(runs)} randomly permuted treatments {false_hits:.0%} of the intervals exclude zero "
                      f"(5 % expected; permutation p-value of the estimate {p:.3f}"
                      + (f"; {refused} refused" if refused else "") + ") "
                      + ("- no effect where there is none, as it should be." if ok
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


def refute(df: pd.DataFrame, result: EffectResult, placebo_outcome_column: str | None = None,
           seed: int = 0) -> list[Refutation]:
    """All three refutations of ``result`` on the frame it was estimated from."""
    return [placebo_treatment(df, result, seed), placebo_outcome(df, result, placebo_outcome_column, seed),
            random_common_cause(df, result, seed)]


def sensitivity_table(df: pd.DataFrame, result: EffectResult, placebo_outcome_column: str | None = None,
                      seed: int = 0) -> pd.DataFrame:
    """E-value and refutations as one tidy table: check, estimate, ci_low, ci_high, passed, text, text_de."""
    ev = e_value(result)
    rows = [{"check": "E-value", "estimate": ev.point, "ci_low": np.nan, "ci_high": ev.ci, "passed": np.nan,
             "text": ev.text, "text_de": ev.text_de}]
    for r in refute(df, result, placebo_outcome_column, seed):
        rows.append({"check": r.name, "estimate": r.new_estimate, "ci_low": r.new_ci_low, "ci_high": r.new_ci_high,
                     "passed": r.passed, "text": r.text, "text_de": r.text_de})
    return pd.DataFrame(rows)
