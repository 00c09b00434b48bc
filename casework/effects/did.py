"""Model-project evaluation: difference-in-differences at jobcenter-month level.

The outcome is the monthly integration rate of each jobcenter
(:func:`casework.panel.jobcenter_months`). Two-way fixed effects (jobcenter
and month) with one adoption date equal the classic 2x2 comparison: the
estimate is the mean effect over the project jobcenter-months from the
project start (unweighted, as in docs/estimands.md).

Inference with few treated clusters (Pankow is one jobcenter against a
handful) cannot rely on cluster-robust standard errors. The p-value and
interval come from the **wild cluster bootstrap** (restricted under the null
for the p-value, Webb's six-point weights when there are fewer than 12
clusters, Rademacher otherwise; MacKinnon & Webb 2017); the analytic
cluster-robust values are reported beside them. With a single treated
cluster no method can separate the project from that jobcenter's own shocks:
the result says so (``warning``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

__all__ = ["DidResult", "did", "event_study", "project_did", "project_groups"]

_WEBB = np.array([-np.sqrt(1.5), -1.0, -np.sqrt(0.5), np.sqrt(0.5), 1.0, np.sqrt(1.5)])


@dataclass(frozen=True)
class DidResult:
    """A difference-in-differences estimate with wild-cluster-bootstrap inference."""

    estimate: float
    se: float
    ci_low: float
    ci_high: float
    p_value: float
    p_value_analytic: float
    n_clusters: int
    n_treated_clusters: int
    n_obs: int
    start: pd.Timestamp
    warning: str = ""
    _event_study: pd.DataFrame | None = field(default=None, repr=False)
    pretrend_p: float = float("nan")

    @property
    def event_study(self) -> pd.DataFrame | None:
        return None if self._event_study is None else self._event_study.copy()

    def to_frame(self) -> pd.DataFrame:
        """One row: estimate, se, ci_low, ci_high, p_value, p_value_analytic, n_clusters, n_treated_clusters,
        pretrend_p, warning."""
        return pd.DataFrame([{k: getattr(self, k) for k in (
            "estimate", "se", "ci_low", "ci_high", "p_value", "p_value_analytic", "n_clusters",
            "n_treated_clusters", "n_obs", "pretrend_p", "warning")}])

    def summary(self) -> str:
        lines = [f"DiD estimate {self.estimate:.5f} (cluster SE {self.se:.5f})",
                 f"95% interval (wild cluster bootstrap) [{self.ci_low:.5f}, {self.ci_high:.5f}]",
                 f"p = {self.p_value:.3g} (bootstrap), {self.p_value_analytic:.3g} (analytic)",
                 f"{self.n_treated_clusters} treated of {self.n_clusters} jobcenters, {self.n_obs} jobcenter-months",
                 f"pre-trend test p = {self.pretrend_p:.3g}"]
        if self.warning:
            lines.append("WARNING: " + self.warning)
        return "\n".join(lines)


def _demean(x, unit, time, w=None, tol=1e-10, max_iter=500):
    """Two-way within transformation by alternating projections (works for unbalanced panels)."""
    x = np.asarray(x, dtype="float64").copy()
    nu, nt = unit.max() + 1, time.max() + 1
    cu, ct = np.bincount(unit, minlength=nu), np.bincount(time, minlength=nt)
    for _ in range(max_iter):
        x -= (np.bincount(unit, weights=x, minlength=nu) / np.maximum(cu, 1))[unit]
        mt = np.bincount(time, weights=x, minlength=nt) / np.maximum(ct, 1)
        x -= mt[time]
        if np.max(np.abs(mt)) < tol:
            break
    return x


def _fit(yt, dt, groups):
    s = dt @ dt
    delta = (dt @ yt) / s
    u = yt - delta * dt
    g = np.bincount(groups, weights=dt * u)
    n_g = len(g)
    n, k = len(yt), 1
    adj = n_g / max(n_g - 1, 1) * (n - 1) / max(n - k, 1)
    se = np.sqrt(adj * np.sum(g ** 2)) / s
    return delta, se


def did(panel: pd.DataFrame, treated, start, outcome: str = "rate", unit: str = "jc_id", time: str = "month",
        n_boot: int = 999, seed: int = 0, event_window: tuple[int, int] = (-12, 12)) -> DidResult:
    """Two-way fixed-effects DiD with wild cluster bootstrap and an event study.

    Parameters
    ----------
    panel : DataFrame
        One row per unit and period (e.g. :func:`casework.panel.jobcenter_months`).
    treated : iterable
        The units that run the project.
    start : date
        First period of the project.
    n_boot : int
        Bootstrap draws.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> months = pd.date_range("2019-01-01", periods=36, freq="MS")
    >>> p = pd.DataFrame([(j, m) for j in range(12) for m in months], columns=["jc_id", "month"])
    >>> p["rate"] = 0.02 + 0.001 * p["jc_id"] + rng.normal(0, 0.002, len(p))
    >>> p.loc[(p["jc_id"] < 3) & (p["month"] >= "2020-07-01"), "rate"] += 0.005
    >>> r = did(p, treated=[0, 1, 2], start="2020-07-01", n_boot=199)
    >>> bool(r.ci_low < 0.005 < r.ci_high)
    True
    """
    d = panel.dropna(subset=[outcome]).reset_index(drop=True)
    start = pd.Timestamp(start)
    treated = set(treated)
    is_t = d[unit].isin(treated).to_numpy()
    if not is_t.any() or is_t.all():
        raise ValueError(f"did needs treated and comparison units in column {unit!r}")
    post = (pd.to_datetime(d[time]) >= start).to_numpy()
    if not post.any() or post.all():
        raise ValueError(f"did needs periods before and after the start {start.date()}")
    u_codes, t_codes = pd.factorize(d[unit])[0], pd.factorize(d[time], sort=True)[0]
    y = d[outcome].to_numpy(dtype="float64")
    D = (is_t & post).astype(float)
    yt, dt = _demean(y, u_codes, t_codes), _demean(D, u_codes, t_codes)
    delta, se = _fit(yt, dt, u_codes)
    n_g = u_codes.max() + 1
    rng = np.random.default_rng(seed)
    weights = _WEBB if n_g < 12 else np.array([-1.0, 1.0])
    t_obs = delta / se
    # restricted (null imposed) residuals: y demeaned is the residual of the FE-only model
    ur = yt
    # unrestricted residuals for the interval
    uu = yt - delta * dt
    t_r, t_u = np.empty(n_boot), np.empty(n_boot)
    for b in range(n_boot):
        v = rng.choice(weights, size=n_g)[u_codes]
        ys = _demean(v * ur, u_codes, t_codes)
        db, sb = _fit(ys, dt, u_codes)
        t_r[b] = db / sb if sb > 0 else 0.0
        ys = delta * dt + _demean(v * uu, u_codes, t_codes)
        db, sb = _fit(ys, dt, u_codes)
        t_u[b] = (db - delta) / sb if sb > 0 else 0.0
    p_boot = float(np.mean(np.abs(t_r) >= abs(t_obs)))
    q_lo, q_hi = np.quantile(t_u, [0.025, 0.975])
    n_treated = len(treated & set(d[unit]))
    ci_low, ci_high = delta - q_hi * se, delta - q_lo * se
    warning = ""
    if n_treated == 1:
        # Conley & Taber (2011): with one treated cluster, the bootstrap and cluster-robust errors are far too
        # optimistic; the placebo estimates of the comparison units give the distribution of the error.
        placebo = _placebo_effects(d, treated, start, outcome, unit, time)
        ci_low, ci_high = delta - np.max(placebo), delta - np.min(placebo)
        p_boot = float((1 + np.sum(np.abs(placebo) >= abs(delta))) / (1 + len(placebo)))
        warning = (f"Only one project jobcenter: inference by placebo projects in the {len(placebo)} comparison "
                   "jobcenters (Conley-Taber); the interval is wide by necessity and the estimate cannot be told "
                   "apart from that jobcenter's own changes at the same time.")
    es, pre_p = event_study(d, treated, start, outcome, unit, time, window=event_window)
    return DidResult(estimate=float(delta), se=float(se), ci_low=float(ci_low),
                     ci_high=float(ci_high), p_value=p_boot,
                     p_value_analytic=float(2 * stats.t.sf(abs(t_obs), df=max(n_g - 1, 1))),
                     n_clusters=int(n_g), n_treated_clusters=int(n_treated), n_obs=len(d), start=start,
                     warning=warning, _event_study=es, pretrend_p=pre_p)


def _placebo_effects(d, treated, start, outcome, unit, time) -> np.ndarray:
    """DiD estimates with each comparison unit in turn as the only 'treated' one (project units left out)."""
    controls = d[~d[unit].isin(treated)].reset_index(drop=True)
    u_codes, t_codes = pd.factorize(controls[unit])[0], pd.factorize(controls[time], sort=True)[0]
    yt = _demean(controls[outcome].to_numpy(dtype="float64"), u_codes, t_codes)
    post = (pd.to_datetime(controls[time]) >= start).to_numpy()
    out = []
    for j in range(u_codes.max() + 1):
        dt = _demean(((u_codes == j) & post).astype(float), u_codes, t_codes)
        out.append((dt @ yt) / (dt @ dt))
    return np.asarray(out)


def event_study(panel, treated, start, outcome="rate", unit="jc_id", time="month", window=(-12, 12), bin_months=3):
    """Leads and lags of the project (in bins of ``bin_months``), relative to the bin before the start.

    Returns ``(frame, pretrend_p)``: frame columns event_time (months, bin
    start), estimate, se, ci_low, ci_high; ``pretrend_p`` is the cluster-robust
    Wald test that all leads are zero.
    """
    import statsmodels.api as sm

    d = panel.dropna(subset=[outcome]).reset_index(drop=True)
    start = pd.Timestamp(start)
    m = pd.to_datetime(d[time])
    rel = (m.dt.year - start.year) * 12 + (m.dt.month - start.month)
    rel = rel.clip(window[0], window[1])
    b = np.floor_divide(rel, bin_months) * bin_months
    is_t = d[unit].isin(set(treated)).to_numpy()
    bins = sorted(set(b[is_t]) - {-bin_months})
    u_codes, t_codes = pd.factorize(d[unit])[0], pd.factorize(d[time], sort=True)[0]
    X = np.column_stack([((b == k) & is_t).to_numpy(dtype=float) for k in bins])
    Xt = np.column_stack([_demean(X[:, j], u_codes, t_codes) for j in range(X.shape[1])])
    yt = _demean(d[outcome].to_numpy(dtype="float64"), u_codes, t_codes)
    keep = Xt.std(axis=0) > 1e-12
    Xt, bins = Xt[:, keep], [k for k, ok in zip(bins, keep) if ok]
    fit = sm.OLS(yt, Xt).fit(cov_type="cluster", cov_kwds={"groups": u_codes})
    ci = fit.conf_int()
    frame = pd.DataFrame({"event_time": bins, "estimate": fit.params, "se": fit.bse, "ci_low": ci[:, 0],
                          "ci_high": ci[:, 1]})
    frame = pd.concat([frame, pd.DataFrame([{"event_time": -bin_months, "estimate": 0.0, "se": 0.0,
                                             "ci_low": 0.0, "ci_high": 0.0}])]).sort_values("event_time")
    leads = [i for i, k in enumerate(bins) if k < -bin_months]
    pre_p = float("nan")
    if leads:
        R = np.zeros((len(leads), len(bins)))
        R[np.arange(len(leads)), leads] = 1
        pre_p = float(fit.wald_test(R, scalar=True).pvalue)
    return frame.reset_index(drop=True), pre_p


def project_groups(projects: pd.DataFrame) -> pd.DataFrame:
    """Projects evaluated together by DiD: key, jc_ids, start, names.

    Rows that share the part of ``project_id`` before "/" form one project
    (one row per jobcenter); phases of one project (``pankow_modell``,
    ``pankow_verstetigung``: same jobcenters, same prefix before "_") are
    joined; a project whose jobcenters are a strict subset of another's
    running at the same time is an add-on (e.g. state-funded coaching) and is
    not evaluated on its own.
    """
    p = projects.assign(key=projects["project_id"].str.split("/").str[0])
    g = p.groupby("key").agg(jc_ids=("jc_id", lambda s: tuple(sorted(set(s)))), start=("start", "min"),
                             names=("name", lambda s: tuple(dict.fromkeys(s))))
    g = g.reset_index()
    g["stem"] = g["key"].str.split("_").str[0]
    merged = g.groupby(["stem", "jc_ids"]).agg(
        key=("key", lambda s: s.iloc[0] if len(s) == 1 else s.iloc[0].split("_")[0]),
        start=("start", "min"), names=("names", lambda s: tuple(n for t in s for n in t))).reset_index()
    sets = [set(j) for j in merged["jc_ids"]]
    addon = [any(a < b for b in sets) for a in sets]
    return merged.loc[~np.array(addon, dtype=bool), ["key", "jc_ids", "start", "names"]].reset_index(drop=True)


def project_did(ds, project: str | None = None, n_boot: int = 999, seed: int = 0) -> pd.DataFrame:
    """DiD of every model project of a dataset against its other jobcenters.

    Returns
    -------
    DataFrame
        Columns project (ground-truth key), start, jobcenters, estimate, se,
        ci_low, ci_high, p_value, p_value_analytic, n_clusters,
        n_treated_clusters, n_obs, pretrend_p, warning.
    """
    from casework.panel import jobcenter_months

    groups = project_groups(ds.table("projects"))
    if project is not None:
        groups = groups[groups["key"] == project]
    all_jcs = set(ds.table("jobcenters")["jc_id"])
    panel = jobcenter_months(ds)
    rows = []
    for g in groups.itertuples():
        if set(g.jc_ids) >= all_jcs:
            continue
        r = did(panel, g.jc_ids, g.start, n_boot=n_boot, seed=seed)
        rows.append({"project": g.key, "start": g.start, "jobcenters": len(g.jc_ids), **r.to_frame().iloc[0]})
    return pd.DataFrame(rows)
