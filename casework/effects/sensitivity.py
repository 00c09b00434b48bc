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


def _e_from_rr(rr: float) -> float:
    rr = 1 / rr if rr < 1 else rr
    return float(rr + math.sqrt(rr * (rr - 1)))


def e_value_for(estimate: float, ci_low: float, ci_high: float, outcome_mean_treated: float) -> EValue:
    """E-value of a difference in proportions given the outcome share among the treated (table rows).

    Examples
    --------
    >>> round(e_value_for(0.05, 0.03, 0.07, 0.25).point, 2)
    1.81
    """
    from types import MappingProxyType

    r = EffectResult(estimate, float("nan"), ci_low, ci_high, float("nan"), 0, 0, "", "", "", "", None,
                     spec=MappingProxyType({"outcome_mean_treated": outcome_mean_treated, "binary_outcome": True}))
    return e_value(r)


def e_value(result: EffectResult) -> EValue:
    """E-value of an :class:`EffectResult` (risk ratio from the difference in proportions).

    For a binary outcome the risk ratio is ``p1 / (p1 - effect)`` with ``p1``
    the outcome share among the treated; for a continuous outcome the
    standardised difference ``d`` is converted with ``RR = exp(0.91 d)``.

    Examples
    --------
    >>> from types import MappingProxyType
    >>> r = EffectResult(0.05, 0.01, 0.03, 0.07, 0.0, 100, 100, "ols", "att", "t", "y", None,
    ...                  spec=MappingProxyType({"outcome_mean_treated": 0.25, "binary_outcome": True, "outcome_sd": 1}))
    >>> round(e_value(r).point, 2)
    1.81
    """
    spec = result.spec
    if spec.get("binary_outcome", True):
        p1 = spec["outcome_mean_treated"]

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
    spec = dict(result.spec)
    kw = {k: spec[k] for k in ("method", "estimand", "cluster", "seed", "trim", "n_folds", "caliper", "min_treated")}
    covariates = list(changes.pop("covariates", spec["covariates"]))
    treatment = changes.pop("treatment", result.treatment)
    outcome = changes.pop("outcome", result.outcome)
    return estimate(df, treatment, outcome, covariates, **{**kw, **changes})


def placebo_treatment(df: pd.DataFrame, result: EffectResult, seed: int = 0) -> Refutation:
    """Replace the treatment by a random permutation of it: the effect should vanish."""
    rng = np.random.default_rng(seed)
    col = "__placebo_treatment"
    d = df.assign(**{col: rng.permutation(df[result.treatment].to_numpy())})
    r = _rerun(d, result, treatment=col)
    ok = r.ci_low <= 0 <= r.ci_high
    return Refutation("placebo treatment", result.estimate, r.estimate, r.ci_low, r.ci_high, bool(ok),
                      f"With a randomly permuted treatment the estimate is {r.estimate:.4f} "
                      + ("(no effect, as it should be)." if ok
                         else "(NOT zero: the method finds effects that are not there)."),
                      "Mit einer zufällig vertauschten Teilnahme zeigt sich "
                      + ("kein Effekt – wie erwartet." if ok else "ein Effekt – das spricht gegen die Schätzung."))


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
                      + ("kein Effekt – wie erwartet." if ok else "ein Effekt – Hinweis auf verbliebene Verzerrung."))


def random_common_cause(df: pd.DataFrame, result: EffectResult, seed: int = 0) -> Refutation:
    """Add a random covariate: a sound estimate barely moves (less than half a standard error)."""
    rng = np.random.default_rng(seed)
    col = "__random_common_cause"
    d = df.assign(**{col: rng.normal(size=len(df))})
    r = _rerun(d, result, covariates=[*result.spec["covariates"], col])
    ok = abs(r.estimate - result.estimate) <= 0.5 * result.se
    return Refutation("random common cause", result.estimate, r.estimate, r.ci_low, r.ci_high, bool(ok),
                      f"With an added random covariate the estimate is {r.estimate:.4f} "
                      f"(was {result.estimate:.4f}; {'stable' if ok else 'UNSTABLE'}).",
                      "Eine zusätzliche Zufallsvariable verändert die Schätzung "
                      + ("kaum – sie ist stabil." if ok else "deutlich – sie ist instabil."))


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
