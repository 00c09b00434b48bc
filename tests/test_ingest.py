"""Issue 19: an import that never loses data and takes real exports as they come.

Each test is a finding of the issue (it failed on the code before the fix); the
generator and the documented mapping are those of tests/test_io.py.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from casework import ingest
from casework import schema as S
from casework.cli import main
from casework.ingest.convert import age_in_years, convert_column, convert_value
from casework.ingest.mapping import ColumnSpec
from casework.store import Dataset
from tests.test_io import KEY, MAPPING, _persons_only, make_export, write_csv, write_export


@pytest.fixture(autouse=True)
def _key(monkeypatch):
    from casework.ingest.pseudonym import KEY_ENV, KEY_FILE_ENV

    monkeypatch.delenv(KEY_FILE_ENV, raising=False)
    monkeypatch.setenv(KEY_ENV, KEY)


def _persons_mapping(**columns) -> dict:
    m = _persons_only()
    m["tables"]["persons"]["columns"].update(columns)
    return m


def _cli(*args) -> int:
    return main(["import", *map(str, args)])


# --------------------------------------------------------------------------
# 1. derived fields: the year of a birth date, age at a date, yes/no from a count or a grade
# --------------------------------------------------------------------------


def test_date_format_on_a_number_column_is_refused_with_the_fix():
    m = _persons_mapping(birth_year={"source": "Geburtsdatum", "date_format": "dd.mm.yyyy"})
    with pytest.raises(ValueError, match=r"columns\.birth_year: date_format: .*int column.*derive: year"):
        ingest.load_mapping(m)


def test_birth_date_without_derive_fails_as_a_whole_column_and_writes_nothing(tmp_path, capsys):
    """Finding 1: every row 'not a number' used to be quarantined with exit 0."""
    src = write_export(tmp_path / "s", make_export(12, seed=1))
    m = _persons_mapping(birth_year="Geburtsdatum")
    (tmp_path / "m.yaml").write_text(yaml.safe_dump(m, allow_unicode=True), encoding="utf-8")
    assert _cli(src, "--mapping", tmp_path / "m.yaml", "--out", tmp_path / "o") == 1
    err = capsys.readouterr().err
    assert "kunden.csv: column 'Geburtsdatum' (model column persons.birth_year) failed in every row" in err
    assert "derive: year" in err and "Nothing was written" in err
    assert not (tmp_path / "o").exists()


def test_derived_year_quarantines_impossible_and_future_dates_naming_the_source_column(tmp_path):
    export = make_export(8, seed=2)
    k = export["kunden"]
    future = (dt.date.today() + dt.timedelta(days=400)).strftime("%d.%m.%Y")
    k.loc[1, "Geburtsdatum"] = "31.02.1980"
    k.loc[3, "Geburtsdatum"] = future
    k.loc[5, "Geburtsdatum"] = "29.02.1981"  # no leap year
    r = ingest.import_source(write_export(tmp_path / "s", export), _persons_only(), tmp_path / "o", progress=False)
    q = r.quarantine.set_index("row")
    assert sorted(q.index) == [3, 5, 7]
    assert set(q["source_column"]) == {"Geburtsdatum"} and set(q["column"]) == {"birth_year"}
    assert q.loc[3, "reason"] == "not a date (expected dd.mm.yyyy)"
    assert q.loc[5, "reason"] == "date in the future" and q.loc[5, "value"] == future
    born = pd.to_datetime(export["kunden"]["Geburtsdatum"], format="%d.%m.%Y", errors="coerce")
    accepted = Dataset.open(tmp_path / "o").table("persons")["birth_year"]
    assert sorted(accepted) == sorted(born.dt.year.drop([1, 3, 5]).astype(int))


def test_age_at_a_reference_date_and_yes_no_from_a_number():
    age = S.Field("age", "int", "Alter", "Age", min=15, max=67)
    fixed = ColumnSpec("age", ("Geburtsdatum",), derive="age", at=pd.Timestamp("2024-12-31"))
    born = pd.Series(["31.12.1990", "01.01.1991", "31.12.2010", "30.02.1990", "", "01.01.2099"])
    values, reasons = convert_column(age, fixed, born)
    assert values.tolist()[:2] == [34, 33]
    assert list(reasons[2:]) == ["below minimum 15", "not a date (expected dd.mm.yyyy)", "required value is missing",
                                 "date in the future"]
    by_column = ColumnSpec("age", ("Geburtsdatum",), derive="age", at="Zugangsdatum")
    entry = pd.Series(["31.12.2020", "31.12.2020", "01.01.2020", "01.01.2020", "01.01.2020", "01.01.2020"])
    values, reasons = convert_column(age, by_column, born, entry)
    assert values.tolist()[:2] == [30, 29] and reasons[2] == "below minimum 15"
    entry[0] = "1.1.1980"
    values, reasons = convert_column(age, by_column, born, entry)
    assert reasons[0] == "date after the reference date"
    flag = S.TABLES["persons"].field("disability")
    gdb = ColumnSpec("disability", ("GdB",), derive="at_least", threshold=50)
    assert [convert_value(flag, gdb, v) for v in ("50", "40", "100", 0)] == [True, False, True, False]
    assert str(convert_value(flag, gdb, "schwer")).startswith("not a number")
    assert age_in_years(pd.Series(pd.to_datetime(["2000-02-29"])), pd.Series(pd.to_datetime(["2018-02-28"]))
                        ).tolist() == [17]


@pytest.mark.parametrize("column, change, match", [
    ("birth_year", {"derive": "age"}, r"derive: age needs at:"),
    ("birth_year", {"derive": "decade"}, r"derive: 'decade' is unknown"),
    ("sex", {"derive": "year"}, r"derive: year gives a number, but sex is a category column"),
    ("disability", {"derive": "at_least"}, r"needs threshold:"),
    ("disability", {"threshold": 50}, r"threshold: only goes with derive:"),
])
def test_derive_mistakes_name_the_place(column, change, match):
    m = _persons_mapping(**{column: {"source": "X", **change}})
    with pytest.raises(ValueError, match=match):
        ingest.load_mapping(m)


# --------------------------------------------------------------------------
# 2. never lose data
# --------------------------------------------------------------------------


def _files(folder: Path) -> dict:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_out_refuses_a_folder_that_is_not_an_empty_folder_or_a_dataset(tmp_path, capsys):
    src = write_export(tmp_path / "s", make_export(6))
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "thesis.docx").write_bytes(b"years of work")
    assert _cli(src, "--mapping", MAPPING, "--out", notes, "--replace") == 1
    assert "not a casework dataset" in capsys.readouterr().err
    assert _files(notes) == {"thesis.docx": b"years of work"}
    (tmp_path / "empty").mkdir()
    assert _cli(src, "--mapping", MAPPING, "--out", tmp_path / "empty") == 0


def test_out_is_never_the_source_or_a_folder_holding_it(tmp_path, capsys, monkeypatch):
    src = write_export(tmp_path / "raw" / "export", make_export(6))
    before = _files(tmp_path / "raw")
    for out in (src, tmp_path / "raw", tmp_path):
        assert _cli(src, "--mapping", MAPPING, "--out", out, "--replace") == 1
        assert "the import never writes where its export lies" in capsys.readouterr().err
    single = _persons_only()
    assert pytest.raises(ValueError, ingest.import_source, src / "kunden.csv", single, src, replace=True)
    assert _files(tmp_path / "raw") == before
    monkeypatch.chdir(tmp_path)
    assert _cli(src, "--mapping", MAPPING, "--out", ".") == 1
    assert "--out . is the current folder" in capsys.readouterr().err
    assert _files(tmp_path / "raw") == before


def test_replace_needs_the_flag_and_removes_stale_results(tmp_path, capsys):
    src = write_export(tmp_path / "s", make_export(6, seed=1))
    out = tmp_path / "o"
    assert _cli(src, "--mapping", MAPPING, "--out", out) == 0
    Dataset.open(out).save_result("effects", pd.DataFrame({"estimate": [0.1]}))
    first = _files(out)
    write_export(src, make_export(9, seed=2))
    assert _cli(src, "--mapping", MAPPING, "--out", out) == 1
    assert "--replace" in capsys.readouterr().err and _files(out) == first
    assert _cli(src, "--mapping", MAPPING, "--out", out, "--replace") == 0
    assert "stored results were removed" in capsys.readouterr().out
    assert not (out / "results").exists()
    assert Dataset.open(out).meta["tables"]["persons"] == 9
    report = json.loads((out / "import_report.json").read_text(encoding="utf-8"))
    assert report["stale_results_removed"] == ["effects.parquet"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no staging folder left behind


def test_output_appears_as_a_whole_or_not_at_all(tmp_path, monkeypatch):
    src = write_export(tmp_path / "s", make_export(6, seed=1))
    out = tmp_path / "o"
    ingest.import_source(src, MAPPING, out, progress=False)
    first = _files(out)

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(pd.DataFrame, "to_csv", broken)  # the quarantine is written after the tables
    with pytest.raises(OSError, match="disk full"):
        ingest.import_source(write_export(src, make_export(9, seed=3)), MAPPING, out, progress=False, replace=True)
    assert _files(out) == first
    assert sorted(p.name for p in tmp_path.iterdir()) == ["o", "s"]


# --------------------------------------------------------------------------
# 3. optional fields: missing stays missing, the report and the analyses say so
# --------------------------------------------------------------------------


def test_optional_fields_stay_missing_and_the_report_lists_them(tmp_path):
    export = make_export(10, seed=4)
    export["kunden"] = export["kunden"].drop(columns=["GdB", "Dauer Arbeitslosigkeit (Monate)"])
    m = _persons_only()
    for c in ("disability", "unemployment_months"):
        del m["tables"]["persons"]["columns"][c]
    r = ingest.import_source(write_export(tmp_path / "s", export), m, tmp_path / "o", progress=False)
    assert r.exit_code == 0 and r.tables["persons"]["accepted"] == 10
    persons = Dataset.open(tmp_path / "o").table("persons")
    assert persons["disability"].isna().all() and persons["unemployment_months"].isna().all()
    assert r.not_provided == {"persons": ["unemployment_months", "disability"]}
    assert "persons.unemployment_months, persons.disability" in r.summary()
    rep = json.loads((tmp_path / "o" / "import_report.json").read_text(encoding="utf-8"))
    assert rep["not_provided"] == {"persons": ["unemployment_months", "disability"]}
    assert main(["validate", str(tmp_path / "o")]) == 0  # missing optional values are valid as written


def test_the_bg_number_becomes_a_household_pseudonym_shared_by_its_members(tmp_path):
    export = make_export(10, seed=4)
    export["kunden"].loc[1, "BG-Nummer"] = export["kunden"].loc[0, "BG-Nummer"]  # two members of one BG
    r = ingest.import_source(write_export(tmp_path / "s", export), _persons_only(), tmp_path / "o", progress=False)
    assert r.exit_code == 0 and "bg_id" not in r.not_provided.get("persons", [])
    persons = Dataset.open(tmp_path / "o").table("persons")
    bg = persons.set_index("person_id")["bg_id"]
    assert bg.str.match(r"^bg_[0-9a-f]{16}$").all() and bg.nunique() == 9
    assert not any("98765BG" in str(v) for v in persons.to_numpy().ravel())  # the number itself never arrives


def test_analyses_say_which_optional_fields_they_left_out():
    from casework import synth
    from casework.panel import analysis_cohort, available_covariates
    from casework.profiling.statistical import profiling_frame

    ds = synth.generate("gelsenkirchen", seed=3, persons=1500)
    tables = {t: ds.table(t) for t in ds.tables}
    tables["persons"] = tables["persons"].assign(disability=pd.array([pd.NA] * len(tables["persons"]),
                                                                      dtype="boolean"))
    lacking = Dataset.from_tables(tables)
    cohort = analysis_cohort(lacking)
    assert cohort["disability"].isna().all()
    with pytest.warns(UserWarning, match=r"disability \(missing for"):
        kept = available_covariates(cohort)
    assert "disability" not in kept and "age" in kept
    with pytest.warns(UserWarning, match="profiling features not provided by the data, left out: disability"):
        frame = profiling_frame(lacking, cohort)
    assert "disability" not in frame and set(frame["disability_group"]) == {"nicht erfasst"}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert "disability" in available_covariates(analysis_cohort(ds))


# --------------------------------------------------------------------------
# 4. exit codes
# --------------------------------------------------------------------------


def test_exit_codes_mean_something(tmp_path, capsys):
    export = make_export(10, seed=5)
    src = write_export(tmp_path / "s", export)
    assert _cli(src, "--mapping", MAPPING, "--out", tmp_path / "a") == 0
    export["kunden"].loc[4, "Geschlecht"] = "unbekannt"
    write_export(src, export)
    assert _cli(src, "--mapping", MAPPING, "--out", tmp_path / "b") == 3
    out = capsys.readouterr().out
    assert "9 of 10" not in out and "persons (kunden.csv): input 10 = accepted 9 + quarantined 1" in out
    assert "persons.sex: unknown value: 1" in out
    export["kunden"]["Geschlecht"] = "unbekannt"
    write_export(src, export)
    assert _cli(src, "--mapping", MAPPING, "--out", tmp_path / "c") == 1
    err = capsys.readouterr().err
    assert "column 'Geschlecht' (model column persons.sex) failed in every row: unknown value" in err
    assert "add the labels ['unbekannt'] under values:" in err and not (tmp_path / "c").exists()


def test_a_table_quarantined_as_a_whole_fails(tmp_path):
    export = make_export(8, seed=6)
    src = write_export(tmp_path / "s", export)
    m = yaml.safe_load(MAPPING.read_text(encoding="utf-8"))
    m["tables"]["contacts"]["columns"]["person_id"]["pseudonym"] = "customer"  # a different domain: no join
    with pytest.raises(ValueError, match=r"kontakte\.csv: every row of table 'contacts' was quarantined.*person_id"):
        ingest.import_source(src, m, tmp_path / "o", progress=False)
    assert not (tmp_path / "o").exists()


# --------------------------------------------------------------------------
# 5./6. single-file SOURCE, wrong file kinds, mapping encoding, unknown names
# --------------------------------------------------------------------------


def test_single_file_source_is_imported_as_given(tmp_path):
    export = make_export(6, seed=7)
    src = write_export(tmp_path / "s", export)
    other = make_export(9, seed=8)["kunden"]
    write_csv(other, src / "kunden_2024.csv")
    r = ingest.import_source(src / "kunden_2024.csv", _persons_only(), tmp_path / "o", progress=False)
    assert r.tables["persons"]["input"] == 9 and r.tables["persons"]["file"] == "kunden_2024.csv"
    assert r.notes == ["SOURCE kunden_2024.csv imported as table persons (the mapping names kunden.csv)"]
    with pytest.raises(ValueError, match=r"kunden_2024\.csv: SOURCE is a single file, but the mapping also reads"):
        ingest.import_source(src / "kunden_2024.csv", MAPPING, tmp_path / "o2", progress=False)
    (src / "kunden.xlsx").write_bytes((src / "kunden.csv").read_bytes())
    with pytest.raises(ValueError, match=r"SOURCE is a xlsx file, but the mapping reads table 'persons' from"):
        ingest.import_source(src / "kunden.xlsx", _persons_only(), tmp_path / "o3", progress=False)


def test_a_file_that_is_not_what_its_name_says(tmp_path, capsys):
    src = write_export(tmp_path / "s", make_export(5))
    m = _persons_only()
    m["tables"]["persons"]["file"] = "kunden.xlsx"
    (src / "kunden.xlsx").write_bytes((src / "kunden.csv").read_bytes())
    (tmp_path / "m.yaml").write_text(yaml.safe_dump(m, allow_unicode=True), encoding="utf-8")
    assert _cli(src, "--mapping", tmp_path / "m.yaml", "--out", tmp_path / "o") == 1
    err = capsys.readouterr().err
    assert "kunden.xlsx: is not an Excel .xlsx file" in err and "looks like a text (CSV) file" in err
    assert "Traceback" not in err
    import openpyxl

    wb = openpyxl.Workbook()
    wb.active.append(["Kundennummer"])
    wb.save(src / "kunden.csv")
    with pytest.raises(ValueError, match=r"kunden\.csv: is not a text \(CSV\) file.*rename it to \.xlsx"):
        ingest.read_source(src / "kunden.csv")


def test_mapping_in_cp1252_names_the_file_and_the_fix(tmp_path):
    text = MAPPING.read_text(encoding="utf-8")
    (tmp_path / "m.yaml").write_bytes(text.encode("cp1252"))
    with pytest.raises(ValueError, match=r"m\.yaml: line \d+: the mapping is not saved as UTF-8.*cp1252.*UTF-8"):
        ingest.load_mapping(tmp_path / "m.yaml")


@pytest.mark.parametrize("section", ["drop", "identifiers"])
def test_unknown_names_under_drop_and_identifiers(tmp_path, section):
    src = write_export(tmp_path / "s", make_export(5))
    m = _persons_only()
    m["tables"]["persons"][section] = [*m["tables"]["persons"].get(section, []), "Nmae"]
    with pytest.raises(ValueError, match=rf"kunden\.csv: {section}: of table 'persons' names column\(s\) \['Nmae'\]"):
        ingest.import_source(src, m, tmp_path / "o", progress=False)
    m["tables"]["persons"][section] = {"Name": 1}
    with pytest.raises(ValueError, match=rf"persons\.{section}: expected a list of source column names"):
        ingest.load_mapping(m)


# --------------------------------------------------------------------------
# 7. no raw values of identifier or free-text columns in the report or the quarantine
# --------------------------------------------------------------------------


def test_no_offending_values_in_the_report_and_free_text_masked(tmp_path):
    export = make_export(10, seed=9)
    export["kunden"].loc[2, "Staatsangehörigkeit"] = "Müller-Lüdenscheidt"  # a name in a category column
    out = tmp_path / "o"
    ingest.import_source(write_export(tmp_path / "s", export), MAPPING, out, progress=False)
    assert "Müller-Lüdenscheidt" not in (out / "import_report.json").read_text(encoding="utf-8")
    jc = pd.DataFrame({"Nr": ["J1", "J2"], "Name": ["JC Essen", ""], "Land": ["NW", "NW"],
                       "Typ": ["city", "city"], "Vergleich": ["IIIa", "IIIa"]})
    write_csv(jc, tmp_path / "jc.csv")
    m = {"tables": {"jobcenters": {"file": "jc.csv", "columns": {
        "jc_id": "Nr", "name": "Name", "land": "Land", "region_type": "Typ", "comparison_type": "Vergleich"}}}}
    r = ingest.import_source(tmp_path / "jc.csv", m, tmp_path / "j", progress=False)
    assert r.quarantine[["column", "reason"]].values.tolist() == [["name", "required value is missing"]]
    table = ingest.importer._Table(ingest.load_mapping(m).tables["jobcenters"],
                                   ingest.read.read_file(tmp_path / "jc.csv"), "jc.csv")
    assert table.masked("name") and table.masked("land") and not table.masked("region_type")


# --------------------------------------------------------------------------
# 8. vectorised conversion gives what the cell-by-cell conversion gives
# --------------------------------------------------------------------------

CELLS = st.one_of(st.sampled_from(["", " ", "k.A.", "1.234,5", "24,0", "1.2", "7", "-3", "31.02.2020", "01.02.2020",
                                   "2020-02-01", "ja", "nein", "x", "weiblich", "f", "Abitur", "12,5", "600", "601"]),
                  st.integers(-5, 700), st.floats(allow_nan=True, allow_infinity=False), st.none(), st.booleans(),
                  st.text(max_size=4))
FIELDS = [(t, f.name) for t in ("persons", "benefits") for f in S.TABLES[t].fields if f.kind != "key"]


@settings(max_examples=int(os.environ.get("CASEWORK_FUZZ_EXAMPLES", "25")), deadline=None)
@given(cells=st.lists(CELLS, max_size=30), which=st.sampled_from(FIELDS),
       missing=st.sampled_from([frozenset(), frozenset({"k.a."})]))
def test_property_column_conversion_equals_cell_conversion(cells, which, missing):
    f = S.TABLES[which[0]].field(which[1])
    spec = ColumnSpec(f.name, ("x",), missing=missing)
    values, reasons = convert_column(f, spec, pd.Series(cells, dtype=object))
    for i, cell in enumerate(cells):
        one = convert_value(f, spec, cell)
        if isinstance(one, Exception):
            assert reasons[i] == str(one) and pd.isna(values[i])
        elif one is ingest.convert.MISSING:
            assert pd.isna(values[i]) and reasons[i] == ("required value is missing" if f.required else None)
        else:
            assert reasons[i] is None and values[i] == one, (cell, values[i], one)


# --------------------------------------------------------------------------
# 9. a generated export through the documented mapping, end to end
# --------------------------------------------------------------------------

BAD = [  # (source column, bad value, model column, start of the reason)
    ("Geburtsdatum", "31.02.1985", "birth_year", "not a date"),
    ("Geburtsdatum", "01.01.2099", "birth_year", "date in the future"),
    ("Geburtsdatum", "1985", "birth_year", "not a date"),
    ("Zugangsdatum", "32.01.2020", "entry_date", "not a date"),
    ("GdB", "schwer", "disability", "not a number"),
    ("GdB", "50,5,", "disability", "not a number"),
    ("Kinder unter 3 (Anzahl)", "zwei", "children_under_3", "not a number"),
    ("Geschlecht", "Herr Meier", "sex", "unknown value"),
    ("Alleinerziehend", "vielleicht", "single_parent", "not a yes/no value"),
    ("Dauer Arbeitslosigkeit (Monate)", "601", "unemployment_months", "above maximum 600"),
    ("Bezugsdauer (Monate)", "12,5", "benefit_months", "not a whole number"),
]


def test_generated_export_end_to_end_through_the_documented_mapping(tmp_path, capsys):
    rng = np.random.default_rng(11)
    export = make_export(400, seed=11)
    k = export["kunden"]
    rows = rng.choice(len(k), size=44, replace=False)
    planted = {}
    for n, i in enumerate(rows):
        col, value, target, reason = BAD[n % len(BAD)]
        k.loc[i, col] = value
        planted[int(i) + 2] = (target, col, reason)
    k.loc[rng.choice(np.setdiff1d(np.arange(len(k)), rows), 20, replace=False),
          "Dauer Arbeitslosigkeit (Monate)"] = "k.A."
    src = write_export(tmp_path / "export", export, encoding="cp1252")
    assert (src / "kunden.csv").read_bytes().startswith("Kundennummer;BG-Nummer;Name".encode("cp1252"))
    assert _cli(src, "--mapping", MAPPING, "--out", tmp_path / "ds") == 3
    out = capsys.readouterr().out
    assert "persons (kunden.csv): input 400 = accepted 356 + quarantined 44" in out
    q = pd.read_csv(tmp_path / "ds" / "quarantine.csv", sep=";", encoding="utf-8-sig", dtype=str)
    qp = q[q["table"] == "persons"]
    assert sorted(qp["row"].astype(int)) == sorted(planted)
    for row in qp.itertuples():
        target, col, reason = planted[int(row.row)]
        assert (row.column, row.source_column) == (target, col) and row.reason.startswith(reason), row
    assert "Herr Meier" in set(qp["value"])  # a category value stays visible in the quarantine (to fix the mapping)
    report = (tmp_path / "ds" / "import_report.json").read_text(encoding="utf-8")
    assert "Meier" not in report  # ... but never in the report
    ds = Dataset.open(tmp_path / "ds")
    persons = ds.table("persons")
    assert persons["unemployment_months"].isna().sum() == 20  # k.A. stays missing, nothing invented
    exp = export["expected"].drop(index=rows).reset_index(drop=True)
    ids = ingest.pseudonym.pseudonymise(k["Kundennummer"].drop(index=rows).reset_index(drop=True), KEY, "person")
    got = persons.set_index("person_id").loc[ids]
    for col in ("birth_year", "disability", "children_under_3", "sex"):
        assert got[col].tolist() == exp[col].tolist(), col
    assert (ds.table("contacts")["person_id"].isin(persons["person_id"])).all()


# --------------------------------------------------------------------------
# the fast CSV reader reads what the record-by-record reader reads
# --------------------------------------------------------------------------

FIELD = st.one_of(st.sampled_from(["", " ", "a", "Groß", "1,5", '"x;y"', '"q""z"', 'ab"c', "  ", '" "', '""']),
                  st.text(alphabet="ab; \"", max_size=4))


@settings(max_examples=int(os.environ.get("CASEWORK_FUZZ_EXAMPLES", "25")) * 4, deadline=None)
@given(header=st.integers(1, 4), rows=st.lists(st.lists(FIELD, min_size=0, max_size=6), max_size=12),
       lead=st.integers(0, 2), crlf=st.booleans(), final=st.booleans())
def test_property_fast_csv_reader_equals_the_careful_one(header, rows, lead, crlf, final):
    from casework.ingest.read import _read_csv_fast, _read_csv_records

    end = "\r\n" if crlf else "\n"
    lines = [""] * lead + [";".join(f"h{i}" for i in range(header))] + [";".join(r) for r in rows]
    text = end.join(lines) + (end if final else "")
    try:
        careful = _read_csv_records(text, ";", Path("x.csv"))
    except ValueError:
        careful = None
    fast = _read_csv_fast(text.encode("utf-8"), "utf-8", ";", Path("x.csv"))
    if fast is None:  # only a record over two lines or one with more fields than the header needs the careful one
        assert careful is None or '"' in text or any(";".join(r).count(";") >= header for r in rows)
        return
    assert careful is not None
    pd.testing.assert_frame_equal(fast.frame, careful.frame)
    assert fast.bad_rows == careful.bad_rows
    assert list(fast.lines) == list(careful.lines)


@settings(max_examples=int(os.environ.get("CASEWORK_FUZZ_EXAMPLES", "25")), deadline=None)
@given(values=st.lists(st.one_of(st.text(max_size=6), st.sampled_from([" 12 ab ", "12\u00a0AB", "ｆｕｌｌ", "12  ab"]),
                                 st.integers(0, 99), st.floats(allow_nan=True, allow_infinity=False), st.none()),
                       max_size=20))
def test_property_pseudonyms_per_distinct_value_equal_the_definition(values):
    """prefix + HMAC-SHA256(key, domain + ":" + normalise(value)), first 16 hex characters, for every value."""
    import hashlib
    import hmac

    from casework.ingest.pseudonym import normalise, pseudonymise

    values = [v for v in values if not isinstance(v, bool)]
    got = pseudonymise(values, KEY, "person").tolist()
    for v, p in zip(values, got, strict=True):
        norm = normalise(v)
        want = None if norm is None else "p_" + hmac.new(KEY.encode(), b"person:" + norm.encode(),
                                                          hashlib.sha256).hexdigest()[:16]
        assert p == want, (v, p, want)


def test_data_failing_validation_are_never_written(tmp_path, monkeypatch):
    """The import applies the model's rules itself; should the written tables still fail validation, that is a
    defect and nothing is written (exit 1), never a dataset that says it is invalid."""
    from casework import _validation

    src = write_export(tmp_path / "s", make_export(6, seed=1))
    real = _validation.validate

    def strict(dataset):
        report = real(dataset)
        issue = _validation.ValidationIssue("persons", 0, "sex", "planted problem")
        return _validation.ValidationReport((issue,), {"value": 1}, report.rows)

    monkeypatch.setattr(_validation, "validate", strict)
    with pytest.raises(ValueError, match=r"(?s)fail validation, so nothing was written.*planted problem"):
        ingest.import_source(src, MAPPING, tmp_path / "o", progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s"]
