"""Hard simulated designs with a known effect, for validating the estimators where defaults break.

Each generator returns ``(frame, truth)``: a DataFrame with the columns named
in its docstring (treatment ``t``, outcome ``y``) and a dict with the true
``att`` and ``ate`` (sample quantities from both potential outcomes) and the
``covariates`` an analyst would use. Nothing here is downloaded; the
mechanisms are those of the findings in issue 15.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import expit

__all__ = ["DESIGNS", "heavy_tail", "kang_schafer", "poor_overlap", "few_clusters", "hidden_confounder"]


def _truth(y1, y0, t, covariates, **extra):
    return {"att": float(np.mean((y1 - y0)[t == 1])), "ate": float(np.mean(y1 - y0)), "covariates": covariates,
            **extra}


def heavy_tail(n: int = 3000, seed: int = 0, n_extreme: int = 3):
    """Earnings with a heavy right tail, a large control group far from the treated, squared earnings among the
    covariates, and ``n_extreme`` controls with extreme prior earnings (the mechanism of issue 15, finding 1).

    Treatment is likelier at low prior earnings and rises again at high ones
    (a quadratic in earnings); the extreme controls lie far beyond every
    treated person, so a model fitted without them extrapolates their
    propensity towards one. Their later earnings are extreme too. The effect
    is 1.0 (thousand euros) for everybody.
    """
    rng = np.random.default_rng(seed)
    age = rng.integers(18, 56, n).astype(float)
    educ = rng.integers(6, 17, n).astype(float)
    earn = np.where(rng.random(n) < 0.3, 0.0, rng.lognormal(2.3, 0.8, n))  # thousands a year
    earn = np.minimum(earn, 60.0)
    z = (earn - 10) / 8
    eta = -2.6 - 0.9 * z + 0.35 * z ** 2 - 0.03 * (age - 35) - 0.1 * (educ - 11)
    t = (rng.random(n) < expit(eta)).astype(int)
    extreme = rng.choice(np.flatnonzero(t == 0), size=n_extreme, replace=False)
    earn[extreme] = rng.uniform(150, 250, n_extreme)
    noise = rng.standard_t(2.5, n) * 3
    y0 = np.maximum(0.0, 2 + 0.8 * earn + 0.1 * (educ - 11) + noise)
    y1 = y0 + 1.0
    y = np.where(t == 1, y1, y0)
    df = pd.DataFrame({"age": age, "educ": educ, "earn": earn, "earn2": earn ** 2, "zero_earn": (earn == 0) * 1.0,
                       "t": t, "y": y})
    return df, _truth(y1, y0, t, ["age", "educ", "earn", "earn2", "zero_earn"], extreme=extreme.tolist())


def kang_schafer(n: int = 1000, seed: int = 0, observed: str = "transformed", effect: float = 10.0):
    """Kang & Schafer (2007): four normal Z drive treatment and outcome; the analyst sees only the nonlinear
    transforms X (``observed="transformed"``: both nuisance models misspecified) or Z itself ("correct").

    ``y = 210 + effect * t + 27.4 Z1 + 13.7 (Z2 + Z3 + Z4) + N(0, 1)``,
    ``P(t) = expit(-Z1 + 0.5 Z2 - 0.25 Z3 - 0.1 Z4)``; the effect is constant.
    """
    rng = np.random.default_rng(seed)
    Z = rng.normal(size=(n, 4))
    t = (rng.random(n) < expit(-Z[:, 0] + 0.5 * Z[:, 1] - 0.25 * Z[:, 2] - 0.1 * Z[:, 3])).astype(int)
    y0 = 210 + 27.4 * Z[:, 0] + 13.7 * Z[:, 1:].sum(axis=1) + rng.normal(size=n)
    y1 = y0 + effect
    if observed == "correct":
        X = Z
    else:
        X = np.column_stack([np.exp(Z[:, 0] / 2), Z[:, 1] / (1 + np.exp(Z[:, 0])) + 10,
                             (Z[:, 0] * Z[:, 2] / 25 + 0.6) ** 3, (Z[:, 1] + Z[:, 3] + 20) ** 2])
    cols = ["x1", "x2", "x3", "x4"]
    df = pd.DataFrame(X, columns=cols).assign(t=t, y=np.where(t == 1, y1, y0))
    return df, _truth(y1, y0, t, cols)


def poor_overlap(n: int = 4000, seed: int = 0):
    """A rare treatment whose propensity reaches near 0 and 1 (skewed earnings with many zeros, long
    durations) and a binary outcome whose effect grows with earnings (0.05 or 0.10)."""
    rng = np.random.default_rng(seed)
    earnings = np.where(rng.random(n) < 0.6, 0.0, rng.lognormal(8, 1.2, n))
    duration = rng.gamma(0.7, 30, n)
    t = (rng.random(n) < expit(-2.5 + 1.5e-4 * earnings - 0.03 * duration)).astype(int)
    tau = 0.05 + 0.05 * (earnings > 5000)
    p0 = expit(-1.2 + 1e-4 * earnings - 0.01 * duration)
    u = rng.random(n)
    y0 = (u < p0).astype(float)
    y1 = (u < np.clip(p0 + tau, 0, 1)).astype(float)
    df = pd.DataFrame({"earnings": earnings, "duration": duration, "t": t, "y": np.where(t == 1, y1, y0)})
    return df, _truth(y1, y0, t, ["earnings", "duration"])


def few_clusters(n: int = 2400, seed: int = 0, clusters: int = 8, icc: float = 0.15):
    """Persons in ``clusters`` jobcenters with a jobcenter shock in the outcome (intra-class correlation
    ``icc``) and jobcenter-specific take-up of the measure; the effect (0.3) varies by jobcenter."""
    rng = np.random.default_rng(seed)
    g = rng.integers(0, clusters, n)
    x = rng.normal(size=n)
    take_up = rng.normal(scale=1.0, size=clusters)
    t = (rng.random(n) < expit(-0.3 + 0.5 * x + take_up[g])).astype(int)
    shock = rng.normal(scale=np.sqrt(icc / (1 - icc)), size=clusters)
    tau_g = 0.3 + rng.normal(scale=0.4, size=clusters)
    y0 = 0.5 * x + shock[g] + rng.normal(size=n)
    y1 = y0 + tau_g[g]
    df = pd.DataFrame({"x": x, "jc": g, "t": t, "y": np.where(t == 1, y1, y0)})
    # the truth of a clustered design is the superpopulation effect over jobcenters, not this draw's average
    return df, {"att": 0.3, "ate": 0.3, "covariates": ["x"], "cluster": "jc"}


def hidden_confounder(n: int = 3000, seed: int = 0, strength: float = 0.5):
    """An unobserved U raises both treatment and outcome (coefficient ``strength`` on the logit of the
    treatment and on the outcome's standard-deviation scale); the effect is 0.2. The estimate must be biased
    by about the confounding; the sensitivity tools should say that such a U could explain it."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    u = rng.normal(size=n)
    t = (rng.random(n) < expit(-0.5 + 0.6 * x + 2 * strength * u)).astype(int)
    y0 = 0.5 * x + strength * u + rng.normal(size=n)
    y1 = y0 + 0.2
    df = pd.DataFrame({"x": x, "t": t, "y": np.where(t == 1, y1, y0)})
    return df, _truth(y1, y0, t, ["x"], strength=strength)


DESIGNS = {"heavy_tail": heavy_tail, "kang_schafer": kang_schafer, "poor_overlap": poor_overlap,
           "few_clusters": few_clusters, "hidden_confounder": hidden_confounder}
