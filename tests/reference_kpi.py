"""An independent computation of every § 48a figure, written from the regulation's text with plain pandas/numpy.

It shares no code with :mod:`casework.kpi`: it builds a person × month matrix of receipt (a person is in the
stock of a month when a benefit spell covers a day of it), the long-term matrix (21 of the last 24 months,
receipt before entry from ``persons.benefit_months``) and counts every figure from them. Used by
``tests/test_kpi48a.py`` on the demo scenarios, on hypothesis-generated spells and on hand-made cases.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from tests.reference_cube import last_full_month

NEW_16E = pd.Timestamp("2019-01-01")  # Teilhabechancengesetz: § 16e "Eingliederung von Langzeitarbeitslosen"
AGE_BANDS = [(0, 24, "unter 25"), (25, 34, "25 bis 34"), (35, 49, "35 bis 49"), (50, 200, "50 und älter")]


def _ord(ts) -> int:
    ts = pd.Timestamp(ts)
    return (ts.year - 1970) * 12 + ts.month - 1


def _month_end(m: int) -> pd.Timestamp:
    return pd.Timestamp(year=1970 + m // 12, month=m % 12 + 1, day=1) + pd.offsets.MonthEnd(0)


class Panel:
    """Receipt and long-term matrices over months ``L..H`` for every person, with the persons' attributes."""

    def __init__(self, ds, lo: int, hi: int):
        self.persons = ds.table("persons").reset_index(drop=True)
        self.pos = {p: i for i, p in enumerate(self.persons["person_id"])}
        self.L, self.H = min(lo - 1, hi - 12) - 23, hi + 12
        n, width = len(self.persons), self.H - self.L + 1
        self.R = np.zeros((n, width), dtype=bool)
        for pid, s, e in ds.table("benefits")[["person_id", "start", "end"]].itertuples(index=False):
            a = max(_ord(s), self.L)
            b = self.H if pd.isna(e) else min(_ord(e), self.H)
            if b >= a:
                self.R[self.pos[pid], a - self.L:b - self.L + 1] = True
        prior = np.zeros_like(self.R)
        for i, (entry, months) in enumerate(zip(self.persons["entry_date"], self.persons["benefit_months"])):
            em = _ord(entry)
            a, b = max(em - int(months), self.L), min(em - 1, self.H)
            if b >= a:
                prior[i, a - self.L:b - self.L + 1] = True
        either = (self.R | prior).astype(int)
        window = np.cumsum(np.pad(either, ((0, 0), (1, 0))), axis=1)
        self.LZB = np.zeros_like(self.R)
        for j in range(23, width):  # 24 months up to and including month j
            self.LZB[:, j] = self.R[:, j] & (window[:, j + 1] - window[:, j - 23] >= 21)

    def col(self, m: int) -> int:
        return m - self.L

    def selected(self, m: int, filters: dict) -> np.ndarray:
        """Persons matching the filters in month m (age from the birth year in the month's calendar year)."""
        keep = np.ones(len(self.persons), dtype=bool)
        for key, v in (filters or {}).items():
            values = set(v) if isinstance(v, (list, tuple, set)) else {v}
            if key == "age_group":
                age = (1970 + m // 12) - self.persons["birth_year"].to_numpy()
                band = np.array([next(b for lo_, hi_, b in AGE_BANDS if lo_ <= a <= hi_) for a in age])
                keep &= np.isin(band, list(values))
            else:
                keep &= self.persons[key].isin(values).to_numpy()
        return keep


def _events(ds, panel: Panel, lo: int, hi: int) -> pd.DataFrame:
    """Starts per person and month by group, of persons in receipt in the month before or the month itself."""
    emp = ds.table("employment")
    new_16e = (emp["kind"] == "funded_16e") & (emp["start"] >= NEW_16E)
    group = np.where(emp["kind"].isin(["svb", "training", "self_employed"]) | new_16e, "integration",
                     np.where(emp["kind"] == "minijob", "minijob",
                              np.where(emp["kind"].isin(["funded_16i", "funded_programme", "funded_16e"]),
                                       "funded", "")))
    ev = pd.DataFrame({"person_id": emp["person_id"], "m": [_ord(s) for s in emp["start"]], "group": group})
    ev = ev[(ev["group"] != "") & (ev["m"] >= lo) & (ev["m"] <= hi)].drop_duplicates()
    rows = [panel.pos[p] for p in ev["person_id"]]
    elb = [panel.R[r, panel.col(m - 1)] or panel.R[r, panel.col(m)] for r, m in zip(rows, ev["m"])]
    return ev.assign(row=rows)[np.array(elb, dtype=bool)].reset_index(drop=True)


def _continuous(emp: pd.DataFrame, person: str, m: int) -> bool:
    """svB-employed (svB, training, new § 16e) at each of the 12 month-ends after month m."""
    jobs = emp[(emp["person_id"] == person) & (emp["kind"].isin(["svb", "training"]) | (
        (emp["kind"] == "funded_16e") & (emp["start"] >= NEW_16E)))]
    for k in range(1, 13):
        cp = _month_end(m + k)
        if not ((jobs["start"] <= cp) & (jobs["end"].isna() | (jobs["end"] >= cp))).any():
            return False
    return True


def _change(now, before) -> float:
    return now / before - 1 if before else np.nan


def _mean_rate(num: list, den: list) -> float:
    rates = [a / b for a, b in zip(num, den) if b > 0]
    return float(np.mean(rates)) if rates else np.nan


def reference_figures(ds, start, end, filters: dict | None = None) -> dict:
    """Every figure key_figures gives (value only), from the VO's text."""
    lo, hi = _ord(start), _ord(end)
    P = Panel(ds, lo, hi)
    sel = {m: P.selected(m, filters) for m in range(min(lo - 1, hi - 12), hi + 1)}
    sp = P.persons["single_parent"].fillna(False).to_numpy(bool) if "single_parent" in P.persons else \
        np.zeros(len(P.persons), bool)
    months = range(lo, hi + 1)
    n = len(months)

    def stock(m, M=None):
        return int((P.R if M is None else M)[:, P.col(m)][sel[m]].sum())

    avg = sum(stock(m) for m in months) / n
    avg_ltr = sum(stock(m, P.LZB) for m in months) / n
    avg_sp = sum(int((P.R[:, P.col(m)] & sel[m] & sp).sum()) for m in months) / n
    ev = _events(ds, P, lo, hi)
    ev = ev[np.array([bool(sel[m][r]) for r, m in zip(ev["row"], ev["m"])], dtype=bool)]
    ints = ev[ev["group"] == "integration"]
    full = last_full_month(ds)
    emp = ds.table("employment")
    need_obs = [m + 3 <= full for m in ints["m"]]
    need = [o and not P.R[r, P.col(m + 3)] for o, r, m in zip(need_obs, ints["row"], ints["m"])]
    cont_obs = [m + 12 <= full for m in ints["m"]]
    cont = [o and _continuous(emp, p, m) for o, p, m in zip(cont_obs, ints["person_id"], ints["m"])]
    ltr_ints = sum(bool(P.LZB[r, P.col(m)]) for r, m in zip(ints["row"], ints["m"]))
    sp_ints = sum(bool(sp[r]) for r in ints["row"])

    def flows(M):
        entries = [int((M[:, P.col(m)] & ~M[:, P.col(m - 1)] & sel[m]).sum()) for m in months]
        exits = [int((M[:, P.col(m - 1)] & ~M[:, P.col(m)] & sel[m - 1]).sum()) for m in months]
        now = [stock(m, M) for m in months]
        before = [stock(m - 1, M) for m in months]
        return _mean_rate(entries, now), _mean_rate(exits, before)

    k1e3, k1e4 = flows(P.R)
    k3e3, k3e4 = flows(P.LZB)
    ratio = (lambda a, b: a / b if b else np.nan)
    ltr_now = P.LZB[:, P.col(hi)] & sel[hi]
    k3e2 = ratio(int((ltr_now & _in_measure(ds, P, hi)).sum()), int(ltr_now.sum())) if "instruments" in \
        ds.tables else np.nan
    return {"k1": _amount_change(ds, hi, filters, "llu"), "k1e1": _amount_change(ds, hi, filters, "kdu"),
            "k3e2": k3e2, "integrations": len(ints), "avg_stock": avg, "k2": ratio(len(ints), avg),
            "ltr_integrations": ltr_ints, "avg_ltr_stock": avg_ltr, "k3e1": ratio(ltr_ints, avg_ltr),
            "need_ending": sum(need), "k1e2": _change(stock(hi), stock(hi - 12)), "k1e3": k1e3, "k1e4": k1e4,
            "k2e1": ratio((ev["group"] == "minijob").sum(), avg), "k2e2": ratio((ev["group"] == "funded").sum(), avg),
            "k2e3": ratio(sum(cont), sum(cont_obs)), "k2e4": ratio(sp_ints, avg_sp),
            "k3": _change(stock(hi, P.LZB), stock(hi - 12, P.LZB)), "k3e3": k3e3, "k3e4": k3e4}


# VO § 4 Abs. 1 (K1): "Summe der Leistungen zum Lebensunterhalt im Bezugsmonat geteilt durch Summe der Leistungen
# zum Lebensunterhalt im Bezugsmonat des Vorjahres"; § 4 Abs. 2 Nr. 1 (K1E1) the same for the "Leistungen für
# Unterkunft und Heizung". Not given (NaN) where the amounts do not reach both months or a KdU is missing.
def _amount_change(ds, hi: int, filters: dict | None, column: str) -> float:
    if "benefit_amounts" not in ds.tables:
        return np.nan
    a = ds.table("benefit_amounts")
    period = a["month"].dt.to_period("M")
    now = pd.Period(year=1970 + hi // 12, month=hi % 12 + 1, freq="M")
    if len(a) == 0 or now - 12 < period.min() or now > period.max():
        return np.nan
    if column not in a.columns:
        return np.nan
    persons = ds.table("persons").set_index("person_id")
    totals = []
    for month in (now, now - 12):
        rows = a[period == month].join(persons, on="person_id", how="inner")
        for key, v in (filters or {}).items():
            values = set(v) if isinstance(v, (list, tuple, set)) else {v}
            if key == "age_group":
                band = [next(b for lo_, hi_, b in AGE_BANDS if lo_ <= month.year - y <= hi_)
                        for y in rows["birth_year"]]
                rows = rows[[b in values for b in band]]
            else:
                rows = rows[rows[key].isin(values)]
        if rows[column].isna().any():
            return np.nan
        totals.append(float(rows[column].sum()))
    return _change(*totals)


# VO § 6 Abs. 2 Nr. 2 (K3E2): "Zahl der Langzeitleistungsbeziehenden in einer Maßnahme der aktiven
# Arbeitsförderung im Bezugsmonat geteilt durch Zahl der Langzeitleistungsbeziehenden im Bezugsmonat"; in a
# measure in the month = a participation covering at least one day of it.
def _in_measure(ds, panel: Panel, hi: int) -> np.ndarray:
    ins = ds.table("instruments")
    first = pd.Timestamp(year=1970 + hi // 12, month=hi % 12 + 1, day=1)
    covering = ins[(ins["start"] <= _month_end(hi)) & (ins["end"].isna() | (ins["end"] >= first))]
    return panel.persons["person_id"].isin(set(covering["person_id"])).to_numpy()


# § 18 Abs. 1 SGB III: "Langzeitarbeitslose sind Arbeitslose, die ein Jahr und länger arbeitslos sind" (BA: 364
# days); Satz 2: interruptions "bis zu sechs Wochen unterbrechen die Dauer der Arbeitslosigkeit nicht".
def reference_long_term_unemployed(spells: pd.DataFrame, day: pd.Timestamp, bridge_days: int = 0) -> set:
    """Day by day: the persons registered unemployed on ``day`` whose unemployment, walking back day by day
    and passing over gaps of at most ``bridge_days`` days, reaches back to 364 days before ``day``."""
    out = set()
    one = pd.Timedelta(days=1)
    for pid, g in spells.groupby("person_id"):
        days = set()
        for s, e in zip(g["start"], g["end"]):
            e = day if pd.isna(e) else min(e, day)
            days.update(pd.date_range(s, e) if s <= e else [])
        if day not in days:
            continue
        first, d, gap = day, day, 0
        while d > min(days):
            d -= one
            if d in days:
                first, gap = d, 0
            else:
                gap += 1
                if gap > bridge_days:
                    break
        if first <= day - pd.Timedelta(days=364):
            out.add(pid)
    return out
