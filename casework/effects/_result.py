"""The immutable results of :func:`casework.effects.estimate`: :class:`EffectResult` and its :class:`Diagnostics`."""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType

import pandas as pd

from casework.summary import SummaryFace

__all__ = ["Diagnostics", "EffectResult"]


@dataclass(frozen=True)
class Diagnostics:
    """Balance, overlap and weight diagnostics of one estimate (read-only)."""

    _balance: pd.DataFrame = field(repr=False)
    _propensity: pd.DataFrame = field(repr=False)
    n_trimmed: int
    overlap_rule: str
    ess_treated: float
    ess_control: float
    propensity_converged: bool
    n_unmatched: int = 0
    max_weight_share_control: float = float("nan")
    max_weight_share_treated: float = float("nan")

    @property
    def balance(self) -> pd.DataFrame:
        """Columns covariate, smd_before, smd_after (standardised mean differences)."""
        return self._balance.copy()

    @property
    def propensity(self) -> pd.DataFrame:
        """Columns treated (0/1), propensity — the scores the method used (cross-fitted for AIPW)."""
        return self._propensity.copy()

    @property
    def max_abs_smd_before(self) -> float:
        return float(self._balance["smd_before"].abs().max()) if len(self._balance) else float("nan")

    @property
    def max_abs_smd_after(self) -> float:
        return float(self._balance["smd_after"].abs().max()) if len(self._balance) else float("nan")

    def love_plot(self, ax=None, top: int = 25):
        """Standardised mean differences before and after adjustment (matplotlib)."""
        from casework.effects.plots import love_plot

        return love_plot(self.balance, ax=ax, top=top)

    def overlap_plot(self, ax=None):
        """Histograms of the propensity score by treatment group (matplotlib)."""
        from casework.effects.plots import overlap_plot

        return overlap_plot(self.propensity, ax=ax)


@dataclass(frozen=True)
class EffectResult(SummaryFace):
    """An immutable effect estimate with its interval, sizes, diagnostics and warnings.

    ``warnings`` are plain sentences (empty when every guard passed);
    ``mde`` is the minimum detectable effect at 80 % power with this standard
    error; ``rep_estimates`` are AIPW's estimates over repeated cross-fitting
    splits (their median is ``estimate``).
    """

    estimate: float
    se: float
    ci_low: float
    ci_high: float
    p_value: float
    n_treated: int
    n_control: int
    method: str
    estimand: str
    treatment: str
    outcome: str
    diagnostics: Diagnostics = field(repr=False)
    n_clusters: int | None = None
    spec: MappingProxyType = field(default_factory=lambda: MappingProxyType({}), repr=False, compare=False)
    warnings: list = field(default_factory=list, compare=False)
    mde: float = float("nan")
    rep_estimates: tuple = field(default=(), repr=False, compare=False)

    @property
    def n(self) -> int:
        return self.n_treated + self.n_control

    @property
    def rep_spread(self) -> float:
        """Range (max - min) of the estimates over the cross-fitting repetitions (0 with one repetition)."""
        return float(max(self.rep_estimates) - min(self.rep_estimates)) if self.rep_estimates else 0.0

    def to_frame(self) -> pd.DataFrame:
        """One tidy row: treatment, outcome, method, estimand, estimate, se, ci_low, ci_high, p_value,
        n_treated, n_control, n_trimmed, max_abs_smd_after, mde, rep_spread, warnings (joined by " | ")."""
        d = self.diagnostics
        return pd.DataFrame([{
            "treatment": self.treatment, "outcome": self.outcome, "method": self.method, "estimand": self.estimand,
            "estimate": self.estimate, "se": self.se, "ci_low": self.ci_low, "ci_high": self.ci_high,
            "p_value": self.p_value, "n_treated": self.n_treated, "n_control": self.n_control,
            "n_trimmed": d.n_trimmed, "max_abs_smd_after": d.max_abs_smd_after, "mde": self.mde,
            "rep_spread": self.rep_spread, "warnings": " | ".join(self.warnings)}])

    def _summary_rows(self) -> list[tuple[str, str]]:
        """The report's rows, warnings last."""
        d = self.diagnostics
        rows = [
            ("Effect", f"{self.estimand.upper()} of {self.treatment} on {self.outcome} ({self.method})"),
            ("Estimate", f"{self.estimate:.4f} (SE {self.se:.4f})"),
            ("95% interval" if abs(self.spec.get("alpha", 0.05) - 0.05) < 1e-12
             else f"{1 - self.spec['alpha']:.0%} interval",
             f"[{self.ci_low:.4f}, {self.ci_high:.4f}], p = {self.p_value:.3g}"),
            ("Minimum detectable effect", f"{self.mde:.4f} (80% power)"),
            ("Treated / control", f"{self.n_treated:,} / {self.n_control:,}"),
            ("Overlap rule", f"{d.overlap_rule}; {d.n_trimmed:,} excluded"
                             + (f"; {d.n_unmatched:,} without a match within the caliper" if d.n_unmatched else "")),
            ("Balance (max |SMD|)", f"{d.max_abs_smd_before:.3f} before, {d.max_abs_smd_after:.3f} after"),
            ("Effective sample size", f"{d.ess_treated:,.0f} treated, {d.ess_control:,.0f} control"),
            ("Propensity model", "converged" if d.propensity_converged else "did NOT converge"),
        ]
        if len(self.rep_estimates) > 1:
            rows.append(("Cross-fitting splits", f"{len(self.rep_estimates)}, estimates from "
                                                 f"{min(self.rep_estimates):.4f} to {max(self.rep_estimates):.4f}"))
        if self.n_clusters:
            rows.append(("Clusters", f"{self.n_clusters:,} (cluster-robust errors, t({self.n_clusters - 1}))"))
        for i, w in enumerate(self.warnings):
            rows.append(("Warning" if i == 0 else "", w))
        return rows

