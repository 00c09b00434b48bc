"""Data dictionary generated from the schema (written to docs/data_dictionary.md)."""

from __future__ import annotations

from casework import schema as S

__all__ = ["data_dictionary"]


def _allowed(f: S.Field) -> str:
    if f.allowed:
        vocab = _VOCABS.get(f.allowed)
        if vocab:
            return "; ".join(f"`{k}` ({v})" for k, v in vocab.items())
        return ", ".join(f"`{a}`" for a in f.allowed)
    if f.min is not None or f.max is not None:
        lo = "" if f.min is None else f"{f.min:g}"
        hi = "" if f.max is None else f"{f.max:g}"
        return f"{lo} … {hi}"
    if f.ref:
        return f"→ `{f.ref}`"
    return ""


_VOCABS = {tuple(v): v for v in (
    S.PROFILLAGEN, S.MEASURES, S.NEEDS, S.PARTNER_KINDS, S.EMPLOYMENT_KINDS, S.REFERRAL_STATUS,
    S.CONTACT_KINDS, S.PLAN_KINDS, S.STEP_STATUS, S.SEX, S.CITIZENSHIP, S.GERMAN_LEVEL, S.SCHOOL,
    S.VOCATIONAL, S.REGION_TYPES)}


def data_dictionary() -> str:
    """Return the data dictionary as Markdown (one section per table).

    Examples
    --------
    >>> from casework.schema import data_dictionary
    >>> text = data_dictionary()
    >>> "| person_id |" in text and "## persons" in text
    True
    """
    lines = [
        "# Data dictionary",
        "",
        f"Generated from `casework.schema` (schema version {S.SCHEMA_VERSION}) by "
        "`casework dictionary`; do not edit by hand.",
        "",
        "Field names are English (they are API); labels are German (what boards see). "
        "Needs are severities 0 = none, 1 = moderate, 2 = serious.",
        "",
        "Required *yes*: the column must be in the export and every value filled. Required *no*: the column "
        "may be left out of the export altogether or have empty values (`casework validate` accepts both); "
        "an analysis that needs it says which fields it left out.",
        "",
    ]
    for t in S.TABLES.values():
        lines += [f"## {t.name} — {t.label}", "", t.meaning, "", f"Primary key: `{t.primary_key}`", "",
                  "| field | label (de) | type | required | meaning | allowed values |",
                  "|---|---|---|---|---|---|"]
        for f in t.fields:
            lines.append(f"| {f.name} | {f.label} | {f.kind} | {'yes' if f.required else 'no'} | "
                         f"{f.meaning} | {_allowed(f)} |")
        lines.append("")
    return "\n".join(lines)
