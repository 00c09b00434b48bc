"""The cross-row rules of the case data model, written once.

:func:`casework.schema.validate` reports rows that break them;
:func:`casework.ingest.import_source` quarantines such rows. Both call the
functions here, so a rule and its wording cannot drift apart. Every test takes
a frame of typed model columns and returns a boolean mask by position (True:
the row breaks the rule); a frame whose columns do not have the model's types
breaks no rule here (the type checks report it).

The rules:

- **date order within a row** (:data:`casework.schema.DATE_ORDER`): a later
  date (``end``) must not lie before the earlier one (``start``); a referral
  cannot have ended without having started;
- **age at entry** (year of entry minus birth year) within
  :data:`casework.schema.ELB_AGE`: § 7 Abs. 1 SGB II grants benefits to persons
  "die das 15. Lebensjahr vollendet und die Altersgrenze nach § 7a noch nicht
  erreicht haben";
- **spells of one person do not overlap** (:data:`casework.schema.SPELL_TABLES`);
- **references** point to a row that exists; **primary keys** are unique.

Examples
--------
>>> import pandas as pd
>>> b = pd.DataFrame({"person_id": ["p", "p"], "start": pd.to_datetime(["2020-01-01", "2020-06-01"]),
...                   "end": pd.to_datetime(["2020-12-31", None])})
>>> overlapping_spells(b, "start", "end").tolist()
[False, True]
>>> [r.message for r in row_rules("benefits")]
['end is before start']
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from casework import schema as S

__all__ = ["RowRule", "row_rules", "overlapping_spells", "dangling_references", "duplicate_keys",
           "OVERLAP_MESSAGE", "AGE_MESSAGE"]

#: Reason given for a spell that overlaps an earlier spell of the same person.
OVERLAP_MESSAGE = "spell overlaps an earlier spell of the same person"
#: Reason given for an implausible age at entry.
AGE_MESSAGE = "age at entry outside {lo}-{hi} (SGB II eLb age range)"


@dataclass(frozen=True)
class RowRule:
    """A rule within one row: ``test(frame)`` marks the rows that break it; ``column`` is the one to blame."""

    check: str  # the kind counted by validate(): "date_order" or "plausibility"
    table: str
    column: str
    needs: tuple[str, ...]
    message: str
    test: Callable[[pd.DataFrame], np.ndarray]

    def applies(self, columns) -> bool:
        """True when every column the rule needs is present."""
        return set(self.needs) <= set(columns)


def _is_date(s: pd.Series) -> bool:
    return pd.api.types.is_datetime64_any_dtype(s)


def _before(early: str, late: str):
    def test(df: pd.DataFrame) -> np.ndarray:
        a, b = df[early], df[late]
        if not (_is_date(a) and _is_date(b)):
            return np.zeros(len(df), dtype=bool)
        return (a.notna() & b.notna() & (b < a)).to_numpy(dtype=bool)
    return test


def _ended_without_start(df: pd.DataFrame) -> np.ndarray:
    return (df["ended"].notna() & df["started"].isna()).to_numpy(dtype=bool)


def _age_outside(df: pd.DataFrame) -> np.ndarray:
    entry, born = df["entry_date"], df["birth_year"]
    if not _is_date(entry) or not pd.api.types.is_numeric_dtype(born):
        return np.zeros(len(df), dtype=bool)
    age = entry.dt.year - born.astype("Float64")
    lo, hi = S.ELB_AGE
    return (age.notna() & ((age < lo) | (age > hi))).to_numpy(dtype=bool, na_value=False)


def row_rules(table: str) -> list[RowRule]:
    """The rules within one row of ``table`` (date order, ended without start, age at entry)."""
    rules = [RowRule("date_order", t, late, (early, late), f"{late} is before {early}", _before(early, late))
             for t, early, late in S.DATE_ORDER if t == table]
    if table == "referrals":
        rules.append(RowRule("date_order", table, "started", ("started", "ended"), "ended without a start date",
                             _ended_without_start))
    if table == "persons":
        lo, hi = S.ELB_AGE
        rules.append(RowRule("plausibility", table, "birth_year", ("birth_year", "entry_date"),
                             AGE_MESSAGE.format(lo=lo, hi=hi), _age_outside))
    return rules


def overlapping_spells(df: pd.DataFrame, start: str, end: str, person: str = "person_id") -> np.ndarray:
    """Spells that begin on or before the end of the person's previous spell (an open end runs for ever)."""
    out = np.zeros(len(df), dtype=bool)
    if not len(df) or not _is_date(df[start]):
        return out
    d = pd.DataFrame({"p": df[person].to_numpy(), "s": df[start].to_numpy(),
                      "e": df[end].fillna(pd.Timestamp.max).to_numpy() if _is_date(df[end]) else pd.Timestamp.max,
                      "pos": np.arange(len(df))}).sort_values(["p", "s"], kind="stable")
    prev_end = d.groupby("p", sort=False)["e"].shift()
    hit = (prev_end.notna() & d["s"].notna() & (d["s"] <= prev_end)).to_numpy(dtype=bool)
    out[d["pos"].to_numpy()[hit]] = True
    return out


def dangling_references(values: pd.Series, targets) -> np.ndarray:
    """Values that are set but not among ``targets`` (the keys of the referenced table)."""
    return (values.notna() & ~values.isin(targets)).to_numpy(dtype=bool)


def duplicate_keys(keys: pd.Series) -> np.ndarray:
    """Keys that occurred before (the first occurrence stays); missing keys are never duplicates."""
    return (keys.notna() & keys.duplicated(keep="first")).to_numpy(dtype=bool)
