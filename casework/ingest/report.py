"""The account of an import: :class:`ImportReport` (rows per table, quarantine, validation)."""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

__all__ = ["QUARANTINE_COLUMNS", "ImportReport"]

#: Columns of the quarantine frame and of ``quarantine.csv``.
QUARANTINE_COLUMNS = ["file", "table", "row", "line", "column", "source_column", "value", "reason"]
#: Exit code of ``casework import`` when rows were quarantined (the accepted rows are written).
EXIT_QUARANTINED = 3
#: The part of a quarantine reason that may repeat a value of the export (a quoted value, a detail in brackets).
VALUE_PART = r":? '.*$| \(.*$"
#: Columns of :meth:`ImportReport.to_frame`.
REPORT_COLUMNS = ["table", "file", "input", "accepted", "quarantined", "issues", "balanced"]


@dataclass
class ImportReport:
    """What :func:`casework.ingest.import_source` did.

    Attributes
    ----------
    tables : dict
        Per table: ``file``, ``input``, ``accepted``, ``quarantined`` (rows) and
        ``issues`` (quarantine lines); ``input == accepted + quarantined``.
    quarantine : pandas.DataFrame
        Columns file, table, row, line, column, source_column, value, reason
        (identifier values masked).
    out : Path or None
        The dataset folder written.
    validation : casework.schema.ValidationReport or None
        Validation of the written dataset (cross-table rules such as spells).
    key_fingerprint : str or None
        Non-secret id of the pseudonym key used.
    ignored_columns : dict
        Per table, source columns neither mapped nor listed as identifiers.
    not_provided : dict
        Per table, model fields the export did not provide (not mapped, or
        empty in every accepted row); they stay missing, nothing is invented.
    notes : list
        Remarks on how the import ran (e.g. a single-file SOURCE read under another name).
    stale_results : list
        Stored analysis results of the replaced dataset, removed with it.
    """

    tables: dict
    quarantine: pd.DataFrame
    out: Path | None = None
    validation: object = None
    key_fingerprint: str | None = None
    ignored_columns: dict = field(default_factory=dict)
    not_provided: dict = field(default_factory=dict)
    notes: list = field(default_factory=list)
    stale_results: list = field(default_factory=list)

    @property
    def balanced(self) -> bool:
        """True when every table has ``input == accepted + quarantined``."""
        return all(t["input"] == t["accepted"] + t["quarantined"] for t in self.tables.values())

    @property
    def ok(self) -> bool:
        """Every row accounted for and the written dataset valid (quarantined rows are allowed)."""
        return self.balanced and (self.validation is None or self.validation.ok)

    @property
    def exit_code(self) -> int:
        """What ``casework import`` returns: 0 every row accepted, 3 rows quarantined (data written).

        (An import that cannot be written raises instead; ``casework import`` exits with 1 then.)
        """
        if not self.ok:
            return 1
        return EXIT_QUARANTINED if any(t["quarantined"] for t in self.tables.values()) else 0

    def to_frame(self) -> pd.DataFrame:
        """One tidy row per table: table, file, input, accepted, quarantined, issues, balanced.

        Examples
        --------
        >>> r = ImportReport({"persons": {"file": "k.csv", "input": 3, "accepted": 2, "quarantined": 1,
        ...                               "issues": 1}}, pd.DataFrame(columns=QUARANTINE_COLUMNS))
        >>> r.to_frame().values.tolist()
        [['persons', 'k.csv', 3, 2, 1, 1, True]]
        """
        rows = [{"table": name, **{k: t[k] for k in REPORT_COLUMNS[1:-1]},
                 "balanced": t["input"] == t["accepted"] + t["quarantined"]} for name, t in self.tables.items()]
        return pd.DataFrame(rows, columns=REPORT_COLUMNS)

    def reasons(self) -> pd.DataFrame:
        """Quarantine lines counted by table, column and reason.

        The reason is cut before any quoted value or detail in brackets, so no
        value of the export appears here (``unknown value 'Meier'`` counts as
        ``unknown value``).
        """
        q = self.quarantine.assign(reason=self.quarantine["reason"].str.replace(VALUE_PART, "", regex=True))
        counts = q.groupby(["table", "column", "reason"], dropna=False).size()
        return counts.rename("lines").reset_index().sort_values("lines", ascending=False, kind="stable")

    def to_dict(self) -> dict:
        """JSON-ready content of ``import_report.json``."""
        return {
            "tables": {name: {**t, "balanced": t["input"] == t["accepted"] + t["quarantined"]}
                       for name, t in self.tables.items()},
            "quarantine_lines": int(len(self.quarantine)),
            "quarantine_by_reason": {f"{r.table}.{r.column}: {r.reason}": int(r.lines)
                                     for r in self.reasons().sort_values(["table", "column", "reason"])
                                     .itertuples()},
            "balanced": self.balanced,
            "valid": None if self.validation is None else bool(self.validation.ok),
            "validation_problems": None if self.validation is None else
            {k: int(v) for k, v in self.validation.counts.items() if v},
            "key_fingerprint": self.key_fingerprint,
            "ignored_columns": self.ignored_columns,
            "not_provided": self.not_provided,
            "notes": self.notes,
            "stale_results_removed": self.stale_results,
        }

    def summary(self) -> str:
        """A readable account per table (printed by ``casework import``).

        Examples
        --------
        >>> r = ImportReport({"persons": {"file": "k.csv", "input": 3, "accepted": 2, "quarantined": 1,
        ...                               "issues": 1}}, pd.DataFrame(columns=QUARANTINE_COLUMNS))
        >>> print(r.summary())
        Import finished: 2 of 3 rows accepted, 1 quarantined.
          persons (k.csv): input 3 = accepted 2 + quarantined 1
        """
        total = sum(t["input"] for t in self.tables.values())
        acc = sum(t["accepted"] for t in self.tables.values())
        head = "Import finished" if self.balanced else "Import INCOMPLETE (rows unaccounted for)"
        lines = [f"{head}: {acc:,} of {total:,} rows accepted, {total - acc:,} quarantined."]
        for name, t in self.tables.items():
            eq = "=" if t["input"] == t["accepted"] + t["quarantined"] else "!="
            lines.append(f"  {name} ({t['file']}): input {t['input']:,} {eq} accepted {t['accepted']:,} "
                         f"+ quarantined {t['quarantined']:,}")
        if len(self.quarantine):
            lines.append("Most frequent quarantine reasons (table.column: reason: lines):")
            lines += [f"  {r.table}.{r.column or '(row)'}: {r.reason}: {r.lines:,}"
                      for r in self.reasons().head(10).itertuples()]
        if self.not_provided:
            lines.append("Not provided by the export (left missing, nothing invented): " + ", ".join(
                f"{t}.{c}" for t, cols in self.not_provided.items() for c in cols))
        lines += self.notes
        if self.stale_results:
            lines.append(f"Replaced a dataset: its {len(self.stale_results)} stored results were removed "
                         f"(computed from the old data; run the pipeline again).")
        if self.out is not None:
            lines.append(f"Written to {self.out} (quarantine.csv, import_report.json).")
        if self.validation is not None and not self.validation.ok:
            lines += ["", self.validation.summary()]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        status = "Import finished" if self.balanced else "Import INCOMPLETE (rows unaccounted for)"
        parts = [f"<b>{html.escape(status)}</b>", self.to_frame().to_html(index=False)]
        if len(self.quarantine):
            parts += ["<b>Quarantine by reason</b>", self.reasons().head(20).to_html(index=False)]
        return "\n".join(parts)

    def __str__(self) -> str:
        return self.summary()
