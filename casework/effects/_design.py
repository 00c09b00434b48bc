"""Design matrices and a fast, convergence-checked logistic regression.

The propensity and outcome models of :mod:`casework.effects` run on scaled
inputs: numeric columns are standardised, categorical columns one-hot coded
(first level dropped), constant columns removed. Missing values are never
imputed silently: they raise an error that names the column; infinite values,
dates, identifiers and categoricals with very many levels are refused
(:mod:`casework.effects._guards`).

The default nuisance models are penalised: a modest ridge (``alpha=1``, the
penalty of a standard-normal prior on each standardised coefficient) keeps an
out-of-fold prediction for a person with extreme covariates from running off
to 0 or 1, and it fades as the sample grows.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.special import expit
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.exceptions import ConvergenceWarning

from casework.effects._guards import EffectInputError, check_covariates, label

__all__ = ["Design", "design_matrix", "Logit", "RowBlocks", "check_inputs"]


@dataclass(frozen=True)
class Design:
    """A scaled design matrix and the names of its columns (unscaled copy for balance tables)."""

    X: np.ndarray
    raw: np.ndarray
    names: tuple[str, ...]


def check_inputs(df: pd.DataFrame, treatment: str, outcome: str, covariates, cluster=None) -> None:
    """Raise a clear error (:class:`EffectInputError`, a ValueError) for missing columns, missing or infinite
    values, a non-binary treatment, and covariates that cannot be baseline characteristics."""
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"expected a pandas DataFrame, got {type(df).__name__}")
    cols = [treatment, outcome, *covariates] + ([cluster] if cluster else [])
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise EffectInputError(f"column(s) not in the frame: {', '.join(map(str, missing))}")
    for c in cols:
        n_na = int(df[c].isna().sum())
        if n_na:
            first = df.index[df[c].isna().to_numpy()][0]
            raise EffectInputError(f"column {c!r} has {n_na} missing value(s) (first at index {label(first)!r}); "
                                   "impute or drop them before estimating")
    values = set(pd.unique(df[treatment]))
    if not values <= {0, 1}:
        shown = sorted(map(str, values))[:5]
        raise EffectInputError(f"treatment {treatment!r} must be binary 0/1, found values {shown}")
    if not (pd.api.types.is_numeric_dtype(df[outcome]) or pd.api.types.is_bool_dtype(df[outcome])):
        raise EffectInputError(f"outcome {outcome!r} must be numeric (0/1 or continuous)")
    check_covariates(df, treatment, outcome, list(covariates), cluster)


def design_matrix(df: pd.DataFrame, covariates) -> Design:
    """One-hot code categoricals, standardise everything, drop constant columns.

    Examples
    --------
    >>> d = design_matrix(pd.DataFrame({"age": [20, 30, 40], "sex": ["f", "m", "f"]}), ["age", "sex"])
    >>> d.names
    ('age', 'sex=m')
    >>> bool(abs(d.X[:, 0].mean()) < 1e-12)
    True
    """
    numeric = [c for c in covariates
               if pd.api.types.is_bool_dtype(df[c]) or pd.api.types.is_numeric_dtype(df[c])]
    if len(numeric) == len(covariates):
        # column-major, filled column by column (df[list] would first copy the frame by a row take): the nuisance
        # fits' products X @ b and X' r run faster on columns, and a range of rows stays a view BLAS can use
        raw = np.empty((len(df), len(covariates)), order="F")
        for j, c in enumerate(covariates):
            raw[:, j] = df[c].to_numpy(dtype="float64")
        return _standardise(raw, [str(c) for c in covariates])
    parts, names = [], []
    for c in covariates:
        s = df[c]
        if pd.api.types.is_bool_dtype(s) or pd.api.types.is_numeric_dtype(s):
            parts.append(s.to_numpy(dtype="float64"))
            names.append(str(c))
        else:
            cat = pd.Categorical(s.astype(str))
            codes = cat.codes
            for j, level in enumerate(cat.categories[1:], start=1):
                parts.append((codes == j).astype("float64"))
                names.append(f"{c}={level}")
    raw = np.empty((len(df), len(parts)), order="F")
    for j, col in enumerate(parts):
        raw[:, j] = col
    return _standardise(raw, names)


def _standardise(raw: np.ndarray, names) -> Design:
    n = max(len(raw), 1)
    mean = raw.sum(axis=0) / n
    sd = np.sqrt(np.maximum(np.einsum("ij,ij->j", raw, raw) / n - mean ** 2, 0.0))
    shaky = np.abs(mean) > 1e5 * np.maximum(sd, 1e-300)  # one-pass variance loses digits: use two passes there
    if shaky.any():
        sd[shaky] = raw[:, shaky].std(axis=0)
    keep = sd > 1e-12 * np.maximum(1.0, np.abs(mean))
    if not keep.all():
        raw, mean, sd = np.asfortranarray(raw[:, keep]), mean[keep], sd[keep]
    names = tuple(n for n, k in zip(names, keep) if k)
    X = raw - mean
    X /= sd
    return Design(X=X, raw=raw, names=names)


class RowBlocks:
    """Some rows of a matrix, given as ranges of its rows: views, never a copy.

    Cross-fitting trains on all folds but one; with the rows sorted by (arm,
    fold) once, every training set and test fold is a few ranges, and
    :class:`Logit` runs its products range by range instead of copying the
    rows out with a boolean mask (a 1,000,000 x 30 design would be copied some
    twenty times per split). ``origin`` gives each row of ``base`` its
    position in the data before sorting: :meth:`array` and the pilot
    subsample of :meth:`Logit.fit` take the rows in that order, so a fit
    sees its rows as a mask would have given them.
    """

    def __init__(self, base: np.ndarray, ranges, origin: np.ndarray | None = None):
        self.base = base
        self.ranges = tuple((int(a), int(b)) for a, b in ranges if b > a)
        self.origin = origin
        self.shape = (sum(b - a for a, b in self.ranges), base.shape[1])

    def __len__(self) -> int:
        return self.shape[0]

    def positions(self) -> np.ndarray:
        """Row numbers in ``base``, in block order."""
        return np.concatenate([np.arange(a, b) for a, b in self.ranges] or [np.empty(0, dtype=np.intp)])

    def natural(self) -> np.ndarray:
        """Indices into the block order that put the rows in their order before sorting."""
        if self.origin is None:
            return np.arange(len(self))
        return np.argsort(self.origin[self.positions()], kind="stable")

    def gather(self, values: np.ndarray) -> np.ndarray:
        """A per-row vector of ``base`` (e.g. the outcome) restricted to these rows, in block order."""
        return np.concatenate([values[a:b] for a, b in self.ranges] or [values[:0]])

    def array(self) -> np.ndarray:
        """The rows as one array, in their order before sorting (for models that need an array)."""
        return np.ascontiguousarray(self.base[self.positions()[self.natural()]])

    def matvec(self, v: np.ndarray) -> np.ndarray:
        out = np.empty(len(self))
        at = 0
        for a, b in self.ranges:
            out[at:at + b - a] = self.base[a:b] @ v
            at += b - a
        return out

    def rmatvec(self, r: np.ndarray) -> np.ndarray:
        out = np.zeros(self.shape[1])
        at = 0
        for a, b in self.ranges:
            out += self.base[a:b].T @ r[at:at + b - a]
            at += b - a
        return out


def _matvec(X, v):
    return X.matvec(v) if isinstance(X, RowBlocks) else X @ v


def _rmatvec(X, r):
    return X.rmatvec(r) if isinstance(X, RowBlocks) else X.T @ r


def _loglik(eta, y, w, beta, pen) -> float:
    return float(np.sum(w * (y * eta - np.logaddexp(0, eta))) - 0.5 * np.sum(pen * beta ** 2))


def _weighted_gram(X, weights: np.ndarray) -> np.ndarray:
    """``[1 X]' diag(weights) [1 X]`` without building ``[1 X]``; ``Z'Z`` with ``Z = sqrt(weights) X``."""
    if isinstance(X, RowBlocks):
        parts, at = [], 0
        for a, b in X.ranges:
            parts.append(_weighted_gram(X.base[a:b], weights[at:at + b - a]))
            at += b - a
        return np.sum(parts, axis=0)
    sw = np.sqrt(weights)
    Z = X * sw[:, None]
    k = X.shape[1]
    out = np.empty((k + 1, k + 1))
    out[1:, 1:] = Z.T @ Z  # numpy recognises Z'Z and uses the symmetric BLAS routine
    out[0, 0] = weights.sum()
    out[0, 1:] = out[1:, 0] = sw @ Z
    return out


class Logit(ClassifierMixin, BaseEstimator):
    """Logistic regression by Newton-Raphson (IRLS) with a small documented ridge.

    Unlike an lbfgs fit with default tolerances, Newton steps on standardised
    inputs converge in a handful of iterations even with skewed covariates;
    convergence is checked (``converged_``) and a :class:`ConvergenceWarning`
    is raised when it fails. The ridge on the coefficients (not the
    intercept) is ``alpha + l2 * n``: ``alpha`` a fixed penalty (``alpha=1``
    is scikit-learn's ``C=1``, the default nuisance model of
    :func:`~casework.effects.estimate`), ``l2`` one per observation whose
    default ``1e-6`` only keeps the Hessian invertible under separation.

    Parameters
    ----------
    l2 : float
        Ridge penalty per observation.
    alpha : float
        Fixed ridge penalty (independent of the sample size).
    max_iter : int
    tol : float
        Stop when the largest absolute Newton step (standardised coefficients) is below ``tol``.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(2000, 2))
    >>> y = (rng.random(2000) < 1 / (1 + np.exp(-(0.5 + X[:, 0])))).astype(int)
    >>> m = Logit().fit(X, y)
    >>> bool(m.converged_), round(float(m.coef_[0]), 1)
    (True, 1.0)
    """

    def __init__(self, l2: float = 1e-6, max_iter: int = 50, tol: float = 1e-6, alpha: float = 0.0):
        self.l2 = l2
        self.alpha = alpha
        self.max_iter = max_iter
        self.tol = tol

    def fit(self, X, y, sample_weight=None, init=None, hessian=None):
        """Fit by damped Newton steps.

        ``init`` starts the iterations at given coefficients (intercept first);
        without it, large samples start from a fit on an evenly spaced
        subsample of 100,000 rows. ``hessian`` (of the penalised
        log-likelihood at a nearby solution, e.g. the full-sample fit rescaled
        to this sample's size) is reused for every step instead of being
        recomputed (the chord method: each step costs a gradient only); should
        that not converge within 15 steps, full Newton steps take over. Both
        only change the path, not the solution.
        """
        if not isinstance(X, RowBlocks):
            X = np.asarray(X, dtype="float64")
        y = np.asarray(y, dtype="float64")
        n, k = X.shape
        unweighted = sample_weight is None
        w = np.ones(n) if unweighted else np.asarray(sample_weight, dtype="float64")
        if init is None and hessian is None and n > 200_000 and sample_weight is None:
            init, hessian = self._pilot(X, y)
        beta = np.zeros(k + 1) if init is None else np.asarray(init, dtype="float64").copy()
        if init is None:
            p0 = np.clip(y.mean(), 1e-6, 1 - 1e-6)
            beta[0] = np.log(p0 / (1 - p0))
        pen = np.full(k + 1, self.l2 * w.sum() + self.alpha)
        pen[0] = 0.0
        self.converged_ = False
        self.n_iter_ = 0
        eta = _matvec(X, beta[1:]) + beta[0]
        ll, first = None, (eta, beta)  # the likelihood is computed when a long step needs it (warm starts seldom)
        step = np.zeros_like(beta)
        hess = np.eye(k + 1)
        fixed = None if hessian is None else np.asarray(hessian, dtype="float64")
        for _ in range(self.max_iter):
            self.n_iter_ += 1
            p = expit(eta)
            r = y - p if unweighted else w * (y - p)
            grad = np.r_[r.sum(), _rmatvec(X, r)] - pen * beta
            if fixed is not None and self.n_iter_ > 15:
                fixed = None
            hess = fixed if fixed is not None else _weighted_gram(X, w * p * (1 - p)) + np.diag(pen)
            try:
                step = np.linalg.solve(hess, grad)
            except np.linalg.LinAlgError:
                step = np.linalg.lstsq(hess, grad, rcond=None)[0]
            new_eta = eta + _matvec(X, step[1:]) + step[0]
            if np.max(np.abs(step)) > 1e-2:
                # damped Newton: far from the solution, halve the step until the penalised likelihood does not
                # fall (near it, in the region of quadratic convergence, the check is skipped to save a pass)
                if ll is None:  # as if computed at the start: short steps leave ll where it was
                    ll = _loglik(first[0], y, w, first[1], pen)
                for _ in range(40):
                    new_ll = _loglik(new_eta, y, w, beta + step, pen)
                    if new_ll >= ll - 1e-12 * abs(ll):
                        break
                    step = step / 2
                    new_eta = eta + _matvec(X, step[1:]) + step[0]
                ll = new_ll
            beta, eta = beta + step, new_eta
            if np.max(np.abs(step)) < self.tol:
                self.converged_ = True
                break
        if not self.converged_:
            warnings.warn(f"Logit did not converge in {self.max_iter} Newton steps (largest step "
                          f"{np.max(np.abs(step)):.2g}); the data may be separated", ConvergenceWarning, stacklevel=2)
        self.intercept_ = float(beta[0])
        self.coef_ = beta[1:].copy()
        self.classes_ = np.array([0, 1])
        self.hessian_ = hess
        return self

    def _pilot(self, X, y):
        """Start and Hessian (scaled to all rows) of a loose fit on every (n // 100,000)-th row, in the rows'
        order before any sorting: the start of a large fit."""
        step = len(y) // 100_000
        if isinstance(X, RowBlocks):
            pick = X.natural()[::step]
            Xs, ys = np.asfortranarray(X.base[X.positions()[pick]]), y[pick]
        else:
            Xs, ys = np.asfortranarray(X[::step]), y[::step]
        pilot = Logit(self.l2, self.max_iter, 1e-4, self.alpha).fit(Xs, ys)
        return np.r_[pilot.intercept_, pilot.coef_], pilot.hessian_ * (len(y) / len(ys))

    def decision_function(self, X):
        if isinstance(X, RowBlocks):
            return X.matvec(self.coef_) + self.intercept_
        return np.asarray(X, dtype="float64") @ self.coef_ + self.intercept_

    def predict_proba(self, X):
        p = expit(self.decision_function(X))
        return np.column_stack([1 - p, p])

    def predict(self, X):
        return (self.decision_function(X) > 0).astype(int)
