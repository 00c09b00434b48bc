"""Guards of :func:`casework.effects.estimate`: bad input, the overlap rule, and weights that carry too little.

Every refusal is a subclass of :class:`ValueError` whose message says what is
wrong and what to do. The limits are module constants, documented in
docs/effects.md ("Guards that act"):

=====================================  ===========  ==========
check (per weighted arm)               warning      error
=====================================  ===========  ==========
effective sample size (ESS)            < 50         < 10
largest unit's share of the arm weight > 5 %        > 20 %
max |SMD| after weighting (*)          > 0.1        > 0.25
IPW: implied bias / standard error     > 0.5        > 1
OLS, matching: difference to AIPW (**) > 1.96       > 2.576
OLS ATE: AIPW's weights leave |SMD| (*) -          > 0.25
=====================================  ===========  ==========

(*) counting only covariates whose SMD also exceeds its sampling noise:
``|SMD| > z * noise`` with ``z`` the two-sided 5 % Bonferroni critical value
over the covariate columns (:func:`balance_beyond_noise`). In an arm of 30
persons an SMD of 0.2 is chance; in arms of thousands the noise is far below
0.1 and the rule is the plain ``|SMD| > 0.1``.

(**) in standard deviations of the difference, counted only where it exceeds
half a standard error of the estimate (:func:`specification_guard`).

The IPW row (:func:`prognostic_guard`) compares the weighted arms on the
outcome predicted from the covariates (a prognostic score): the difference is
the bias the remaining imbalance implies for an estimate without an outcome
model.

An arm is *weighted* when its units carry unequal weights: the controls of an
ATT, both arms of an ATE. The treated of an ATT all weigh one, so their number
is a sample size, not a weighting problem.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["EffectInputError", "OverlapError", "WeightError", "SpecificationError", "GUARD_LIMITS", "check_covariates",
           "overlap_rule", "weight_guards", "balance_beyond_noise", "prognostic_guard", "specification_guard",
           "unchecked_extrapolation"]

#: (warning, error) limits of the weight guards; "implied_bias" in standard errors of the estimate (IPW).
GUARD_LIMITS = {"ess": (50.0, 10.0), "max_share": (0.05, 0.20), "smd": (0.1, 0.25), "implied_bias": (0.5, 1.0),
                "specification": (1.96, 2.576)}
#: A disagreement with the doubly robust estimate matters from this many standard errors of the estimate on.
MATERIAL_DIFFERENCE = 0.5
#: Family-wise level of the test "this SMD is more than sampling noise" over the covariate columns.
BALANCE_NOISE_LEVEL = 0.05
#: A non-numeric covariate with more levels than MAX_LEVELS is refused (group it first) when its levels hold
#: fewer than MIN_ROWS_PER_LEVEL rows on average: then most dummies are estimated from a handful of persons.
#: Jobcenter fixed effects of a Land (53 NRW jobcenters over 100,000 persons) are not refused.
MAX_LEVELS = 50
MIN_ROWS_PER_LEVEL = 200


class EffectInputError(ValueError):
    """The input cannot be used as given (the message names the column and the row)."""


class OverlapError(ValueError):
    """Treated and untreated do not overlap enough for the requested estimand."""


class WeightError(ValueError):
    """The weights leave too few effective persons, one person carries the estimate, or balance fails."""


class SpecificationError(ValueError):
    """Lin OLS or matching disagrees with the doubly robust estimate on the same rows beyond noise, or Lin OLS
    extrapolates across a gap that no weighting closes."""


def check_covariates(df: pd.DataFrame, treatment: str, outcome: str, covariates, cluster=None) -> None:
    """Refuse covariates that cannot be baseline characteristics: the outcome, the treatment, dates, IDs,
    categoricals with very many levels, infinite values."""
    for role, col in (("outcome", outcome), ("treatment", treatment)):
        if col in covariates:
            raise EffectInputError(f"the {role} {col!r} is listed among the covariates; a covariate must be a "
                                   f"baseline characteristic measured before the treatment, not the {role} itself")
    if len(set(covariates)) != len(covariates):
        dup = sorted({c for c in covariates if list(covariates).count(c) > 1})
        raise EffectInputError(f"covariate(s) listed twice: {', '.join(map(str, dup))}")
    n = len(df)
    for c in covariates:
        s = df[c]
        if pd.api.types.is_datetime64_any_dtype(s) or pd.api.types.is_timedelta64_dtype(s) or _holds_dates(s):
            raise EffectInputError(f"covariate {c!r} is a date/time column; use a number derived from it "
                                   "(e.g. age in years, months since entry, the calendar year) instead")
        numeric = pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s)
        if numeric and not pd.api.types.is_integer_dtype(s) and not _named_like_id(c):
            continue  # a measurement, neither a running number nor categories (nunique: 1.5 s at 1M x 30)
        n_levels = int(s.nunique())
        if _looks_like_id(c, s, numeric, n_levels, n):
            raise EffectInputError(f"covariate {c!r} looks like an identifier ({n_levels:,} distinct values in "
                                   f"{n:,} rows); identifiers are no characteristics: leave it out, or use "
                                   "cluster= for group ids")
        if not numeric and n_levels > MAX_LEVELS and n < MIN_ROWS_PER_LEVEL * n_levels:
            raise EffectInputError(f"covariate {c!r} has {n_levels:,} categories (more than {MAX_LEVELS}, "
                                   f"{n / n_levels:,.0f} rows each on average, fewer than {MIN_ROWS_PER_LEVEL}); "
                                   "group it into fewer, coarser categories first")
    for c in [treatment, outcome, *covariates] + ([cluster] if cluster else []):
        _check_finite(df[c], c)


def _holds_dates(s: pd.Series) -> bool:
    if s.dtype != object or len(s) == 0:
        return False
    import datetime

    first = s.iloc[0]
    return isinstance(first, (datetime.date, datetime.datetime, pd.Timestamp, np.datetime64))


def _looks_like_id(name, s, numeric, n_levels, n) -> bool:
    if n < 20:
        return False
    if _named_like_id(name) and n_levels > 0.5 * n:
        return True
    if not numeric:
        return n_levels > 0.9 * n
    if pd.api.types.is_integer_dtype(s) and n_levels == n:
        v = np.sort(s.to_numpy())
        return bool((np.diff(v) == 1).all())  # a running number 1, 2, 3, ...
    return False


def _named_like_id(name) -> bool:
    lowered = str(name).lower()
    return lowered == "id" or lowered.endswith("_id") or lowered.endswith("id_")


def label(value):
    """An index label as the user wrote it (plain Python, not ``np.int64(17)``)."""
    return value.item() if isinstance(value, np.generic) else value


def _check_finite(s: pd.Series, name) -> None:
    if not (pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s)):
        return
    values = s.to_numpy(dtype="float64", na_value=np.nan)
    bad = np.isinf(values)
    if bad.any():
        first = s.index[bad][0]
        raise EffectInputError(f"column {name!r} has {int(bad.sum())} infinite value(s) (first at index "
                               f"{label(first)!r}, value {values[bad][0]}); replace or drop them before estimating")


def overlap_rule(e, t, trim: float, estimand: str):
    """The overlap rule, relative to the treated share.

    With treated share ``p``, persons are kept whose propensity ``e`` satisfies
    ``e >= trim * min(1, 2p)`` (ATE only) and ``1 - e >= trim * min(1, 2(1 - p))``.
    At ``p = 0.5`` this is the familiar ``[trim, 1 - trim]``; for a rare
    treatment the lower bound shrinks with ``p``, so a treatment taken by 1 %
    is not trimmed away merely for being rare (the ATE weights ``1/e`` are
    then large for everybody alike, and normalised weights only see their
    ratios). Returns (keep mask, rule text).
    """
    if trim == 0:
        return np.ones(len(e), dtype=bool), "no trimming"
    p = float(np.mean(t))
    lower = trim * min(1.0, 2 * p)
    upper = 1 - trim * min(1.0, 2 * (1 - p))
    why = f"trim={trim:g} at a treated share of {p:.1%}"
    if estimand == "ate":
        return (e >= lower) & (e <= upper), f"propensity within [{lower:.3g}, {upper:.4g}] ({why})"
    return e <= upper, f"propensity at most {upper:.4g} ({why})"


def overlap_error(excluded_share, rule, treatment, p_treated, max_excluded, scores) -> OverlapError:
    return OverlapError(
        f"too little overlap in {treatment!r}: the overlap rule ({rule}, on the {scores} propensity scores) "
        f"excludes {excluded_share:.0%} of the rows (more than max_excluded={max_excluded:g}) although "
        f"{p_treated:.1%} are treated; the covariates separate treated from untreated almost completely. "
        "Use fewer or coarser covariates, the ATT (estimand='att') or restrict the sample to comparable persons")


def weighted_arms(estimand: str, method: str):
    """The arms whose weights vary: ATT controls, both arms of an ATE (the matched controls for matching)."""
    return (0, 1) if estimand == "ate" else (0,)


def _arm_name(arm):
    return "treated" if arm == 1 else "control"


def balance_beyond_noise(smd_after, smd_noise) -> float:
    """The largest |SMD| after weighting among the columns whose SMD exceeds its sampling noise (0 if none).

    A column counts when ``|SMD| > z * noise``, ``z`` the two-sided Bonferroni
    critical value at :data:`BALANCE_NOISE_LEVEL` over the columns (about 3.2
    for 40 columns); ``noise`` is the standard deviation of the SMD from the
    (weighted) arm means, weights taken as fixed. NaN when nothing was weighted.
    """
    from scipy import stats

    smd, noise = np.abs(np.asarray(smd_after, dtype=float)), np.asarray(smd_noise, dtype=float)
    if len(smd) == 0 or not np.isfinite(smd).any():
        return float("nan")
    z = float(stats.norm.isf(BALANCE_NOISE_LEVEL / (2 * len(smd))))
    real = np.isfinite(smd) & (smd > z * np.nan_to_num(noise, nan=0.0))
    return float(smd[real].max()) if real.any() else 0.0


def prognostic_guard(implied_bias, se, *, raise_errors=True) -> list[str]:
    """IPW's check of the prognostic score: warn past 0.5, refuse past 1 standard error of implied bias."""
    warn, err = GUARD_LIMITS["implied_bias"]
    if not (np.isfinite(implied_bias) and se > 0):
        return []
    ratio = abs(implied_bias) / se
    what = (f"the weights leave the covariates that predict the outcome unbalanced: an outcome model would move "
            f"the estimate by {-implied_bias:+.4g} ({ratio:.1f} standard errors)")
    if ratio > err:
        if raise_errors:
            raise WeightError(what[0].upper() + what[1:] + f" (limit {err:g}). IPW has no outcome model to correct "
                              "this: use method='aipw' (doubly robust), or trim more (trim=0.05).")
        return [what[0].upper() + what[1:] + " (past the error limit)."]
    if ratio > warn:
        return [what[0].upper() + what[1:] + ": the IPW estimate may be biased by about that much; "
                "method='aipw' corrects it."]
    return []


def weight_guards(weights, t, max_abs_smd_after, estimand, method, *, raise_errors=True):
    """Plain-sentence warnings for weights below the warning limits; an error past the error limits.

    ``max_abs_smd_after`` is the largest |SMD| that exceeds its sampling noise
    (:func:`balance_beyond_noise`). Returns (warnings, checks) with checks a
    dict ess_<arm> / max_share_<arm> / max_abs_smd_after.
    """
    messages, checks, errors = [], {}, []
    if weights is None:
        return messages, checks
    (ess_warn, ess_err), (share_warn, share_err), (smd_warn, smd_err) = (
        GUARD_LIMITS["ess"], GUARD_LIMITS["max_share"], GUARD_LIMITS["smd"])
    for arm in weighted_arms(estimand, method):
        w = weights[t == arm]
        total = w.sum()
        if total <= 0:
            errors.append(f"the {_arm_name(arm)} persons carry no weight at all")
            continue
        ess = float(total ** 2 / np.square(w).sum())
        share = float(w.max() / total)
        checks[f"ess_{_arm_name(arm)}"], checks[f"max_share_{_arm_name(arm)}"] = ess, share
        who = _arm_name(arm)
        if ess < ess_err:
            errors.append(f"after weighting only {ess:.1f} effective {who} persons remain (limit {ess_err:g})")
        elif ess < ess_warn:
            messages.append(f"After weighting only {ess:.0f} effective {who} persons remain (of {len(w):,}): "
                            "the estimate rests on few people and may move with small changes to the data.")
        if share > share_err:
            errors.append(f"one {who} person carries {share:.0%} of the {who} weight (limit {share_err:.0%})")
        elif share > share_warn:
            messages.append(f"One {who} person carries {share:.0%} of the {who} weight: check that person's "
                            "covariates for extreme or wrong values.")
    if np.isfinite(max_abs_smd_after):
        checks["max_abs_smd_after"] = float(max_abs_smd_after)
        if max_abs_smd_after > smd_err:
            errors.append(f"after weighting the groups still differ by {max_abs_smd_after:.2f} standard "
                          f"deviations in a covariate (limit {smd_err:g})")
        elif max_abs_smd_after > smd_warn:
            messages.append(f"After weighting the groups still differ by up to {max_abs_smd_after:.2f} standard "
                            "deviations in a covariate, more than chance explains (see diagnostics.balance): the "
                            "adjustment is incomplete.")
    if errors and raise_errors:
        raise WeightError("; ".join(errors) + ". No trustworthy estimate: trim more (trim=0.05), use fewer or "
                          "coarser covariates (cap extreme values), another estimand (the ATT needs overlap "
                          "only among the treated), or matching (method='match').")
    return messages + [e[0].upper() + e[1:] + " (past the error limit)." for e in errors], checks


def specification_guard(diff, sd_diff, se, method, *, raise_errors=True) -> list[str]:
    """Lin OLS's or matching's estimate against AIPW's on the same rows (a Hausman test): warn when the difference
    ``diff`` lies beyond 1.96 of its standard deviations ``sd_diff``, refuse beyond 2.576, in both cases only when
    it is also material (more than :data:`MATERIAL_DIFFERENCE` standard errors ``se`` of the estimate).

    If the outcome model of Lin's regression or of matching's bias correction (linear in the covariates in each
    arm) were right, both would estimate what AIPW estimates and the difference would be noise. Where the
    outcome depends on the covariates in a way the linear model misses and the arms lie apart, the linear
    model extrapolates and is biased (Gelsenkirchen health modules, about 1,700 treated: Lin's ATE covered the
    truth in 35 %, its ATT and matching's ATT in 69-73 %); AIPW, with its propensity weights correcting the
    outcome model, is not.
    """
    warn, err = GUARD_LIMITS["specification"]
    if not (np.isfinite(diff) and np.isfinite(sd_diff) and sd_diff > 0 and se > 0):
        return []
    z, material = abs(diff) / sd_diff, abs(diff) > MATERIAL_DIFFERENCE * se
    name = {"ols": "Lin's regression (method='ols')", "match": "Matching (method='match')"}.get(method, method)
    what = (f"{name} and the doubly robust estimate (method='aipw') on the same persons differ by {diff:+.4g} "
            f"({z:.1f} standard deviations of their difference, {abs(diff) / se:.1f} standard errors of the "
            "estimate): the linear outcome model misses how the outcome depends on the covariates")
    if material and z > err:
        if raise_errors:
            raise SpecificationError(what + f" (limit {err:g}). Use method='aipw'.")
        return [what + " (past the error limit)."]
    if material and z > warn:
        return [what + "; the estimate may be biased, method='aipw' is safer."]
    return []


def unchecked_extrapolation(max_abs_smd_after, overlap_failure="", *, raise_errors=True) -> list[str]:
    """Lin OLS's ATE where AIPW's own weights leave a covariate apart beyond the balance error limit
    (``max_abs_smd_after`` from :func:`balance_beyond_noise`) or AIPW's overlap rule refused the rows
    (``overlap_failure``, its message): the regression bridges the gap with its linear model alone and nothing in
    the data can check it, so it is refused (or, with ``guards="warn"``, warned)."""
    err = GUARD_LIMITS["smd"][1]
    if overlap_failure:
        what = ("The doubly robust check finds too little overlap (" + overlap_failure.split(":")[0] + "): Lin's "
                "regression would bridge the gap by extrapolating its linear model, and nothing in the data can "
                "check it")
    elif np.isfinite(max_abs_smd_after) and max_abs_smd_after > err:
        what = (f"Even weighting by the propensity (AIPW) leaves the groups {max_abs_smd_after:.2f} standard "
                f"deviations apart in a covariate (limit {err:g}): Lin's regression bridges that gap by "
                "extrapolating its linear model, and nothing in the data can check it")
    else:
        return []
    if raise_errors:
        raise SpecificationError(what + ". Use the ATT (estimand='att'), restrict the sample to comparable "
                                 "persons, or use fewer or coarser covariates.")
    return [what + " (past the error limit)."]
