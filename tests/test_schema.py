"""The data model and its validation: every kind of corruption is named by table, row and column."""

import pandas as pd
import pytest

from casework import schema as S
from casework.schema import validate
from tests.datasets import small


def _tables():
    ds = small("gelsenkirchen", 1, 1500)
    return {name: ds.table(name) for name in ds.tables}


def test_synthetic_dataset_is_valid():
    report = validate(_tables())
    assert report.ok, report.summary()
    # the generator makes every table, the optional ones of the case model included (issue 17)
    assert set(report.rows) == set(S.TABLES)


def test_invalid_category_is_named():
    t = _tables()
    t["persons"].loc[7, "sex"] = "x"
    report = validate(t)
    assert not report.ok
    e = [e for e in report.errors if e.column == "sex"]
    assert e and e[0].table == "persons" and e[0].row == 7 and e[0].value == "x"


def test_out_of_range_severity_is_named():
    t = _tables()
    t["assessments"].loc[3, "need_debt"] = 5
    errs = validate(t).errors
    assert any(e.table == "assessments" and e.row == 3 and e.column == "need_debt" for e in errs)


def test_broken_foreign_key_is_named():
    t = _tables()
    t["referrals"].loc[0, "person_id"] = "P9999999"
    errs = [e for e in validate(t).errors if "refers to a missing" in e.message]
    assert errs[0].table == "referrals" and errs[0].row == 0 and errs[0].column == "person_id"
    assert errs[0].value == "P9999999"


def test_date_order_and_overlap_and_duplicates():
    t = _tables()
    r = t["referrals"]
    i = r.index[r["ended"].notna()][0]
    t["referrals"].loc[i, "ended"] = r.loc[i, "started"] - pd.Timedelta(days=5)
    b = t["benefits"]
    t["benefits"] = pd.concat([b, b.iloc[[0]].assign(spell_id="B-dup")], ignore_index=True)
    t["persons"].loc[1, "person_id"] = t["persons"].loc[0, "person_id"]
    report = validate(t)
    msgs = {(e.table, e.column, e.message) for e in report.errors}
    assert ("referrals", "ended", "ended is before started") in msgs
    assert any(tb == "benefits" and "overlaps" in m for tb, _, m in msgs)
    assert any(tb == "persons" and m == "duplicate key" for tb, _, m in msgs)


def test_missing_column_and_required_value():
    t = _tables()
    t["persons"] = t["persons"].drop(columns=["sex"])
    t["offers"].loc[2, "measure"] = None
    report = validate(t)
    assert any(e.table == "persons" and e.column == "sex" and "missing" in e.message for e in report.errors)
    assert any(e.table == "offers" and e.row == 2 and e.column == "measure" for e in report.errors)


def test_implausible_age():
    t = _tables()
    t["persons"].loc[4, "birth_year"] = 2009
    errs = validate(t).errors
    assert any(e.table == "persons" and e.row == 4 and e.column == "birth_year" for e in errs)


def test_report_renders():
    t = _tables()
    t["persons"].loc[0, "citizenship"] = "mars"
    report = validate(t)
    assert "persons, row 0, column 'citizenship'" in report.summary()
    assert list(report.to_frame().columns) == ["table", "row", "column", "message", "value"]
    assert "<table" in report._repr_html_()


def test_data_dictionary_covers_every_field():
    text = S.data_dictionary()
    for table in S.TABLES.values():
        assert f"## {table.name}" in text
        for f in table.fields:
            assert f"| {f.name} |" in text


def test_vocabularies_are_consistent():
    assert set(S.MEASURE_NEED) == set(S.MEASURES)
    assert set(S.MEASURE_NEED.values()) <= set(S.NEEDS)
    assert set(S.SUB_NEED_GROUP.values()) <= set(S.KEY_GROUPS)
    assert not set(S.INTEGRATION_KINDS) & set(S.FUNDED_KINDS)
    with pytest.raises(KeyError):
        S.TABLES["persons"].field("nope")


def test_committed_data_dictionary_is_current():
    from pathlib import Path

    committed = (Path(__file__).resolve().parents[1] / "docs" / "data_dictionary.md").read_text()
    assert committed.strip() == S.data_dictionary().strip(), "run `make dictionary`"


def test_an_optional_column_may_be_absent_but_a_required_one_may_not():
    t = _tables()
    t["employment"] = t["employment"].drop(columns="need_ending")  # optional: real exports lack it
    assert validate(t).ok
    t["employment"] = t["employment"].drop(columns="kind")
    assert any(e.column == "kind" and "missing" in e.message for e in validate(t).errors)


def test_required_is_the_one_rule_for_absent_columns():
    """One flag, one meaning (the former ``Field.optional`` said the same as ``required=False`` and was never read):
    every non-required column of every table may be left out at once; each required one is named when missing."""
    import dataclasses

    assert [f.name for f in dataclasses.fields(S.Field) if f.name in ("optional", "required")] == ["required"]
    t = _tables()
    stripped = {name: df.drop(columns=[f.name for f in S.TABLES[name].fields if not f.required and f.name in df])
                for name, df in t.items()}
    assert validate(stripped).ok, validate(stripped).summary()
    for name, df in t.items():
        required = [f.name for f in S.TABLES[name].fields if f.required]
        broken = dict(t, **{name: df.drop(columns=required[-1])})
        assert any(e.table == name and e.column == required[-1] and "missing" in e.message
                   for e in validate(broken).errors), name
    assert "may be left out of the export altogether" in S.data_dictionary()


def test_optional_tables_are_checked_when_present():
    t = _tables()
    person = t["persons"]["person_id"].iloc[0]
    t["instruments"] = pd.DataFrame({"spell_id": ["i1", "i2"], "person_id": [person, "P-nobody"],
                                     "kind": ["16i", "bootcamp"], "start": pd.to_datetime(["2019-01-01"] * 2),
                                     "end": pd.to_datetime(["2020-01-01", "2018-01-01"])})
    errs = validate(t).errors
    assert any(e.table == "instruments" and e.row == 1 and e.column == "kind" for e in errs)
    assert any(e.table == "instruments" and e.row == 1 and e.column == "person_id" for e in errs)
    assert any(e.table == "instruments" and e.row == 1 and e.column == "end" for e in errs)
    assert not any(e.table == "instruments" and e.row == 0 for e in errs)
