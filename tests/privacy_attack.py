"""A curious board member's differencing attack, run against a board's data layer (``Board.set_filters``).

The attacker sees only what the board shows for the filter states it chooses and tries to recover counts that
are hidden ("< 20") or to pin down small ones:

* **complements** — for a dimension (sex, age group, Profillage, jobcenter, period) the "alle" state minus
  every other level's figure, when exactly one level is hidden;
* **rate × base** — a hidden number of integrations from the integration rate (K2) times the average stock;
* **totals minus parts** — a table's "Summe" minus its shown rows, when exactly one row of a column is hidden.

Each derived value is compared with the true count (from the raw cube, which the attacker does not have).
``exact`` counts derived values equal to a true count of 1 to threshold - 1; ``determined`` counts those the
attacker can be *sure* of (the published maximum change D leaves a single possible value), which is what
exact recovery means for an attacker who does not know the truth. ``mad`` is the mean absolute deviation of
the shown counts from the true ones.
"""

from __future__ import annotations

import math
import re

import numpy as np

from casework import fmt, privacy
from casework.cells import KPI_DIMS, REFERRAL_DIMS, cube_figures

ADDITIVE = ("integrations", "need_ending", "avg_stock")  # tiles that add up over the levels of a dimension
DIMENSIONS = ("sex", "age_group", "segment", "jc_id", "period")


def parse(text: str):
    """A shown figure: int/float, None when hidden ("< 20", "*"), NaN when not shown ("–")."""
    text = text.strip()
    if text.startswith(("<", "&lt;")) or text == privacy.SECONDARY:
        return None
    if text in ("–", ""):
        return math.nan
    percent = text.endswith("%")
    value = float(text.rstrip(" %").replace(".", "").replace(",", "."))
    return value / 100 if percent else value


class Attack:
    """Runs the attacks on one board; ``max_change`` is the published D (0 for a board without perturbation)."""

    def __init__(self, board, max_change: int = privacy.MAX_PERTURBATION):
        self.board, self.max_change = board, max_change
        self.t = privacy.threshold()
        self.kpi = board.ds.cube("board_kpi_cube", KPI_DIMS)
        self.ref = board.ds.cube("board_referrals", REFERRAL_DIMS)
        self.options = {k: [v for _, v in w.options] for k, w in board.filters.items()}
        self.open = [d for d in DIMENSIONS if not board.filters[d].disabled]
        self._seen: dict = {}
        self.attempts, self.exact, self.determined = [], 0, 0
        self.details: list[dict] = []
        self._state: dict = {}
        self.deviations: list[float] = []

    # ---------------------------------------------------------------- what the attacker and the truth see
    def shown(self, state: dict) -> dict:
        key = tuple(sorted(state.items()))
        if key not in self._seen:
            self.board.set_filters(**state)
            tiles = self.board.view["tiles"]
            figs = {k: parse(v) for k, v in zip(tiles["kennzahl"], tiles["wert"])}
            start, end = self.board._period()
            truth = cube_figures(self.kpi, start, end, **self.selection(state))
            truth["avg_stock_exact"], truth["avg_stock"] = truth["avg_stock"], fmt.round_half_up(truth["avg_stock"])
            for k in ADDITIVE:
                if isinstance(figs[k], float) and not math.isnan(figs[k]) and truth[k] > 0:
                    self.deviations.append(abs(figs[k] - truth[k]))
            self._seen[key] = (figs, truth, dict(self.board.view.get("referrals", {})), (start, end))
        return self._seen[key]

    @staticmethod
    def selection(state: dict) -> dict:
        return {k: state[k] for k in ("jc_id", "segment", "sex", "age_group")}

    # ---------------------------------------------------------------- bookkeeping
    def _record(self, kind: str, estimate: float, truth: float, cells: int, width_per_cell: float,
                interval: tuple | None = None) -> None:
        if not 1 <= truth < self.t:
            return
        self.attempts.append(kind)
        self.details.append({"kind": kind, "state": self._state, "estimate": estimate, "truth": truth})
        self.exact += round(estimate) == truth
        low, high = interval or (estimate - cells * width_per_cell, estimate + cells * width_per_cell)
        lo, hi = max(1, math.ceil(low - 1e-9)), min(self.t - 1, math.floor(high + 1e-9))
        self.determined += lo == hi == truth

    # ---------------------------------------------------------------- attacks
    def complements(self, rest: dict) -> None:
        for dim in self.open:
            levels = [v for v in self.options[dim] if v != "alle"]
            whole = self.shown({**rest, dim: "alle"})
            parts = [self.shown({**rest, dim: v}) for v in levels]
            for k in ADDITIVE:
                self._state = {"rest": rest, "dim": dim, "figure": k}
                if k == "avg_stock" and dim == "period":
                    continue  # averages over different numbers of months do not add up
                hidden = [i for i, p in enumerate(parts) if p[0][k] is None]
                numbers = [p[0][k] for p in parts if p[0][k] is not None]
                if len(hidden) > 1 or whole[0][k] is None or any(math.isnan(v) for v in [whole[0][k], *numbers]):
                    continue
                estimate = whole[0][k] - sum(numbers)
                width = self.max_change + (0.5 if k == "avg_stock" else 0)
                # one level hidden: that level; none hidden: what "alle" holds beyond the levels offered
                # (e.g. "divers" next to "weiblich" and "männlich")
                exact = k + "_exact" if k == "avg_stock" else k
                truth = (parts[hidden[0]][1][k] if hidden else
                         round(whole[1][exact] - sum(p[1][exact] for p in parts)))
                self._record(f"complement:{dim}", estimate, truth, len(parts) + 1, width)

    def rate_times_base(self, state: dict) -> None:
        figs, truth, _, _ = self.shown(state)
        if figs["integrations"] is None and isinstance(figs["k2"], float) and not math.isnan(figs["k2"]) \
                and isinstance(figs["avg_stock"], float) and not math.isnan(figs["avg_stock"]):
            k2, avg, d = figs["k2"], figs["avg_stock"], self.max_change + 0.5  # K2 shown to 0.1 %
            self._record("rate_x_base", k2 * avg, truth["integrations"], 2, d,
                         ((k2 - 0.0005) * (avg - d), (k2 + 0.0005) * (avg + d)))

    def totals_minus_parts(self, state: dict) -> None:
        _, _, table, (start, end) = self.shown(state)
        if not table or self.ref is None:
            return
        labels = table["Partner"]
        if labels[-1:] != ["Summe"]:
            return
        m = self.ref.mask(start, end, **self.selection(state), measure=state.get("measure", "alle"))
        names = {"Vermittlungen": "referrals", "begonnen": "started", "abgeschlossen": "completed",
                 "abgebrochen": "dropped_out"}
        kinds, sums = self.ref.by_level("partner_kind", list(names.values()), m)
        for header, measure in names.items():
            cells = [parse(v) for v in table[header]]
            body, total = cells[:-1], cells[-1]
            hidden = [i for i, v in enumerate(body) if v is None]
            if len(hidden) != 1 or total is None or len(body) != len(kinds):
                continue
            estimate = total - sum(v for v in body if v is not None)
            self._record("total_minus_parts", estimate, int(sums[measure][hidden[0]]), len(body) + 1,
                         self.max_change)

    def run(self, n_rest: int = 12, seed: int = 0) -> dict:
        """Complements around ``n_rest`` random states, and rate × base and totals − parts in every state seen."""
        rng = np.random.default_rng(seed)
        for _ in range(n_rest):
            rest = {k: vals[rng.integers(len(vals))] if k in self.open else self.board.filters[k].value
                    for k, vals in self.options.items()}
            self.complements(rest)
        for key in list(self._seen):
            self._state = {"state": dict(key)}
            self.rate_times_base(dict(key))
            self.totals_minus_parts(dict(key))
        return self.report()

    def report(self) -> dict:
        kinds = {k: self.attempts.count(k) for k in sorted(set(self.attempts))}
        return {"states": len(self._seen), "attempts": len(self.attempts), "exact": self.exact,
                "determined": self.determined, "by_kind": kinds,
                "mad": float(np.mean(self.deviations)) if self.deviations else math.nan,
                "shown_counts": len(self.deviations)}


def describe(report: dict) -> str:
    return re.sub(r"\s+", " ", f"{report}")
