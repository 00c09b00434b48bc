"""Import of real exports: German CSV, Excel, SPSS, Stata; pseudonyms; quarantine; no identifier leaks."""

from __future__ import annotations

import csv
import datetime as dt
import json
import os
import pickle
import re
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from casework import ingest as io
from casework import schema as S
from casework.cli import main
from casework.ingest.convert import convert_value
from casework.ingest.pseudonym import KEY_ENV, KEY_FILE_ENV, PseudonymKey, load_key, pseudonymise
from casework.schema import validate
from casework.store import Dataset

KEY = "test-only-key-0123456789abcdef"
MAPPING = Path(__file__).resolve().parents[1] / "data" / "mappings" / "example_mapping.yaml"
FUZZ_EXAMPLES = int(os.environ.get("CASEWORK_FUZZ_EXAMPLES", "25"))

FIRST = ["Jürgen", "Özlem", "Marlène", "Sören", "Anna-Lena", "Zoë", "Björn"]
LAST = ["Müller", "Schröder", "Yilmaz", "Weiß", "Öztürk", "Nowak", "Groß", "Bäcker"]
SEX = {"weiblich": "f", "männlich": "m", "divers": "d"}
CITIZEN = {"deutsch": "german", "polnisch": "eu", "türkisch": "non_eu", "syrisch": "non_eu"}
GERMAN = {"Muttersprache": "native", "gut": "good", "Grundkenntnisse": "basic", "keine": "none"}
SCHOOL = {"ohne Abschluss": "none", "Hauptschulabschluss": "lower", "Mittlere Reife": "middle", "Abitur": "upper"}
VOC = {"keiner": "none", "Ausbildung": "vocational", "Studium": "academic"}
KUNDEN_COLUMNS = ["Kundennummer", "BG-Nummer", "Name", "Vorname", "Straße", "PLZ", "Wohnort", "Telefon", "E-Mail",
                  "Zugangsdatum", "Geburtsdatum", "Geschlecht", "Staatsangehörigkeit", "Deutschkenntnisse",
                  "Alleinerziehend", "Kinder unter 3 (Anzahl)", "Schulabschluss", "Berufsabschluss",
                  "Bezugsdauer (Monate)", "Dauer Arbeitslosigkeit (Monate)", "Gesundheitliche Einschränkung", "GdB"]
#: Grad der Behinderung as exports write it (0: none recognised); severely disabled from 50 (§ 2 Abs. 2 SGB IX).
GDB = [0, 0, 0, 20, 30, 50, 60, 80, 100]


@pytest.fixture(autouse=True)
def _key(monkeypatch):
    monkeypatch.delenv(KEY_FILE_ENV, raising=False)
    monkeypatch.setenv(KEY_ENV, KEY)


# --------------------------------------------------------------------------
# generator of a typical export matching data/mappings/example_mapping.yaml
# --------------------------------------------------------------------------


def make_export(n: int = 40, seed: int = 0) -> dict:
    """Raw export tables (German labels, text as the source writes it) plus the expected model values."""
    rng = np.random.default_rng(seed)
    pick = lambda d: list(d)[rng.integers(len(d))]  # noqa: E731
    kunden, expected = [], []
    for i in range(n):
        sex, cit, ger, sch, voc = pick(SEX), pick(CITIZEN), pick(GERMAN), pick(SCHOOL), pick(VOC)
        entry = dt.date(2015, 1, 1) + dt.timedelta(days=int(rng.integers(0, 3000)))
        year, months, unemp = int(rng.integers(1960, 1996)), int(rng.integers(0, 200)), int(rng.integers(0, 100))
        flags = rng.integers(0, 2, 4).astype(bool)
        born = dt.date(year, 1, 1) + dt.timedelta(days=int(rng.integers(0, 365)))
        under3, gdb = int(rng.integers(0, 3)) * int(flags[1]), GDB[int(rng.integers(len(GDB)))]
        kunden.append({
            "Kundennummer": f"{i + 1:03d}D{int(rng.integers(10000, 99999))}",
            "BG-Nummer": f"98765BG{i + 1:05d}",
            "Name": LAST[i % len(LAST)] + f"-{i}",
            "Vorname": FIRST[i % len(FIRST)],
            "Straße": f"Bahnhofstraße {i + 1}; Hinterhaus",  # embedded separator
            "PLZ": "45879",
            "Wohnort": "Gelsenkirchen\nBuer" if i % 3 == 0 else "Gelsenkirchen",  # embedded line break
            "Telefon": f"0209 {1000 + i}",
            "E-Mail": f"kunde{i}@example.org",
            "Zugangsdatum": entry.strftime("%d.%m.%Y"),
            "Geburtsdatum": born.strftime("%d.%m.%Y"),
            "Geschlecht": sex,
            "Staatsangehörigkeit": cit,
            "Deutschkenntnisse": ger,
            "Alleinerziehend": "ja" if flags[0] else "nein",
            "Kinder unter 3 (Anzahl)": str(under3),
            "Schulabschluss": sch,
            "Berufsabschluss": voc,
            "Bezugsdauer (Monate)": f"{months},0" if i % 4 == 0 else str(months),  # decimal comma
            "Dauer Arbeitslosigkeit (Monate)": str(unemp),
            "Gesundheitliche Einschränkung": "ja" if flags[2] else "nein",
            "GdB": str(gdb),
        })
        expected.append({"entry_date": pd.Timestamp(entry), "birth_year": year, "sex": SEX[sex],
                         "citizenship": CITIZEN[cit], "german_level": GERMAN[ger], "single_parent": flags[0],
                         "children_under_3": under3 >= 1, "school": SCHOOL[sch], "vocational": VOC[voc],
                         "benefit_months": months, "unemployment_months": unemp,
                         "health_restriction": flags[2], "disability": gdb >= 50})
    leist, kont = [], []
    for i, k in enumerate(kunden):
        start = dt.datetime.strptime(k["Zugangsdatum"], "%d.%m.%Y").date()
        end = "" if i % 2 else (start + dt.timedelta(days=200)).strftime("%d.%m.%Y")
        leist.append({"Kundennummer": k["Kundennummer"], "BG-Nummer": k["BG-Nummer"],
                      "Beginn": start.strftime("%d.%m.%Y"), "Ende": end, "Betrag": "1.234,56"})
        for j in range(2):
            kont.append({"Kontakt-ID": f"K{i}-{j}", "Kundennummer": k["Kundennummer"],
                         "Datum": (start + dt.timedelta(days=30 * (j + 1))).strftime("%d.%m.%Y"),
                         "Kontaktart": ["Beratungsgespräch", "Hausbesuch"][j], "Sachbearbeitung": "Frau Krüger"})
    return {"kunden": pd.DataFrame(kunden, columns=KUNDEN_COLUMNS), "leistungen": pd.DataFrame(leist),
            "kontakte": pd.DataFrame(kont), "expected": pd.DataFrame(expected)}


def write_csv(df: pd.DataFrame, path: Path, encoding: str = "cp1252") -> Path:
    """Write as a German system does: ';', quotes only where needed, CRLF."""
    with open(path, "w", encoding=encoding, newline="") as fh:
        w = csv.writer(fh, delimiter=";", quoting=csv.QUOTE_MINIMAL, lineterminator="\r\n")
        w.writerow(df.columns)
        w.writerows(df.astype(str).values.tolist())
    return path


def write_export(folder: Path, export: dict, encoding: str = "cp1252") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("kunden", "leistungen", "kontakte"):
        write_csv(export[name], folder / f"{name}.csv", encoding)
    return folder


def _check_persons(persons: pd.DataFrame, export: dict) -> None:
    exp = export["expected"].assign(person_id=pseudonymise(export["kunden"]["Kundennummer"], KEY, "person"))
    got = persons.set_index("person_id").loc[exp["person_id"]].reset_index()
    for col in exp.columns:
        assert got[col].tolist() == exp[col].tolist(), col
    assert (persons["jc_id"] == "JC-GE").all()


def _all_bytes(folder: Path) -> bytes:
    return b"\n".join(p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file())


# --------------------------------------------------------------------------
# German CSV
# --------------------------------------------------------------------------


@pytest.mark.parametrize("encoding", ["cp1252", "utf-8-sig", "utf-8"])
def test_german_csv_round_trip(tmp_path, encoding):
    export = make_export(30, seed=1)
    src = write_export(tmp_path / "src", export, encoding)
    report = io.import_source(src, MAPPING, tmp_path / "out", progress=False)
    assert report.ok, report.summary()
    assert report.quarantine.empty
    assert {t: (s["input"], s["accepted"]) for t, s in report.tables.items()} == {
        "persons": (30, 30), "contacts": (60, 60), "benefits": (30, 30)}
    ds = Dataset.open(tmp_path / "out")
    assert validate(ds).ok
    persons = ds.table("persons")
    _check_persons(persons, export)
    assert persons["entry_date"].dtype == "datetime64[ns]" and persons["birth_year"].dtype == "int64"
    assert persons["single_parent"].dtype == bool
    assert list(persons.columns) == S.TABLES["persons"].columns
    # tables join through the same person pseudonym; open spells have no end
    assert set(ds.table("contacts")["person_id"]) == set(persons["person_id"])
    benefits = ds.table("benefits")
    assert benefits["end"].isna().sum() == 15 and benefits["spell_id"].str.match(r"^s_[0-9a-f]{16}$").all()
    assert set(ds.table("contacts")["kind"]) == {"counselling", "home_visit"}
    assert "Betrag" in report.ignored_columns["benefits"]


def test_read_source_quotes_newlines_encodings_and_bad_rows(tmp_path):
    text = ('Nr;Betrag;Notiz;Datum\r\n'
            '1;1.234,5;"Straße; Hinterhaus";01.02.2020\r\n'
            '2;-0,5;"zwei\r\nZeilen mit ""Zitat""";31.12.2021\r\n'
            '\r\n'
            '3;7;zu viele;01.01.2020;x\r\n'
            '4;8;ok;02.01.2020\r\n')
    p = tmp_path / "x.csv"
    p.write_bytes(text.encode("cp1252"))
    df = io.read_source(p)
    assert df.attrs["encoding"] == "cp1252"
    assert df.index.tolist() == [2, 3, 6]  # header is row 1; the blank line keeps its number
    assert df.loc[2, "Notiz"] == "Straße; Hinterhaus"
    assert df.loc[3, "Notiz"] == 'zwei\r\nZeilen mit "Zitat"'
    assert df.attrs["bad_rows"] == [{"row": 5, "line": 6, "fields": 5, "expected": 4}]
    p.write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
    df2 = io.read_source(p)
    assert df2.attrs["encoding"] == "utf-8-sig" and df2.columns[0] == "Nr"
    assert df2.equals(df)
    p.write_bytes(text.encode("utf-16"))
    assert io.read_source(p).equals(df)
    p.write_bytes("Nr;Name\n1;Gro\xdf\n".encode("latin-1"))  # cp1252 and latin-1 agree here
    assert io.read_source(p).loc[2, "Name"] == "Groß"


def test_numbers_and_dates_german_format(tmp_path):
    rows = [["A1", "01.02.2020", "24,0"], ["A2", "1.2.2020", "1.2"], ["A3", "2020-02-03", "12,5"],
            ["A4", "01.02.1850", "1.000"], ["A5", "31.02.2020", "7"], ["A6", "03.02.2020 00:00", " 3 "]]
    write_csv(pd.DataFrame(rows, columns=["Kundennummer", "Beginn", "Monate"]), tmp_path / "l.csv")
    mapping = {"tables": {"benefits": {"file": "l.csv", "columns": {
        "spell_id": {"source": "Kundennummer", "pseudonym": "spell"},
        "person_id": {"source": "Kundennummer", "pseudonym": "person"}, "start": "Beginn"}}}}
    r = io.import_source(tmp_path, mapping, tmp_path / "o", progress=False)
    q = r.quarantine.set_index("row")
    assert set(q.index) == {5, 6}  # 1850 implausible, 31.02. does not exist
    assert q.loc[5, "reason"].startswith("implausible date") and q.loc[6, "value"] == "31.02.2020"
    start = Dataset.open(tmp_path / "o").table("benefits")["start"]
    assert start.tolist() == [pd.Timestamp(d) for d in ("2020-02-01", "2020-02-01", "2020-02-03", "2020-02-03")]
    # decimal comma in a whole-number column: 24,0 -> 24; 1.2 is not German; 12,5 is not whole; 1.000 -> 1000
    f = S.TABLES["persons"].field("benefit_months")
    spec = io.ColumnSpec("benefit_months")
    got = [convert_value(f, spec, v) for v in ("24,0", "1.2", "12,5", "1.000", " 3 ", "1.234,5")]
    assert got[0] == 24 and got[4] == 3
    assert [str(g) for g in (got[1], got[2], got[3])] == [
        "not a number (expected German format such as 1.234,5)", "not a whole number", "above maximum 600"]


def test_row_numbers_count_records_and_report_lines(tmp_path):
    export = make_export(6, seed=2)
    k = export["kunden"]
    k.loc[0, "Wohnort"] = "a\nb\nc"  # record 2 spans three lines
    k.loc[1, "Zugangsdatum"] = "32.01.2020"
    src = write_export(tmp_path / "s", export)
    r = io.import_source(src, MAPPING, tmp_path / "o", progress=False)
    q = r.quarantine.query("table == 'persons'")
    assert q[["table", "row", "line", "column", "value"]].values.tolist() == [
        ["persons", 3, 5, "entry_date", "32.01.2020"]]
    # the contacts and benefits of the quarantined person cannot be linked and are quarantined too
    assert r.tables["contacts"]["quarantined"] == 2 and r.tables["benefits"]["quarantined"] == 1
    assert set(r.quarantine.query("table != 'persons'")["column"]) == {"person_id"}
    assert r.ok and all(t["input"] == t["accepted"] + t["quarantined"] for t in r.tables.values())


def test_row_rules_of_the_model_quarantine_rows(tmp_path):
    export = make_export(5, seed=7)
    k, leist = export["kunden"], export["leistungen"]
    k.loc[0, ["Zugangsdatum", "Geburtsdatum"]] = ["01.01.2020", "03.05.2009"]  # 11 years old at entry
    a, b = k.loc[1, "Kundennummer"], k.loc[2, "Kundennummer"]
    extra = pd.DataFrame([
        {"Kundennummer": a, "BG-Nummer": "x", "Beginn": "01.01.2021", "Ende": "31.12.2021", "Betrag": ""},
        {"Kundennummer": a, "BG-Nummer": "x", "Beginn": "01.06.2021", "Ende": "", "Betrag": ""},  # overlaps
        {"Kundennummer": a, "BG-Nummer": "x", "Beginn": "01.01.2021", "Ende": "", "Betrag": ""},  # same key
        {"Kundennummer": b, "BG-Nummer": "x", "Beginn": "01.06.2030", "Ende": "01.01.2030", "Betrag": ""},
    ])
    export["leistungen"] = pd.concat([leist.assign(Ende=""), extra], ignore_index=True)
    export["leistungen"].loc[1:2, ["Beginn", "Ende"]] = ["01.01.2010", "31.12.2010"]  # before the extra spells
    src = write_export(tmp_path / "s", export)
    r = io.import_source(src, MAPPING, tmp_path / "o", progress=False)
    q = r.quarantine.set_index(["table", "row"])["reason"]
    assert q[("persons", 2)].startswith("age at entry outside 15-67")
    assert q[("benefits", 8)] == "spell overlaps an earlier spell of the same person"
    assert q[("benefits", 9)].startswith("duplicate key (first in row 7)")
    assert q[("benefits", 10)] == "end is before start"
    assert q[("benefits", 2)].startswith("refers to a persons.person_id")
    assert r.tables["benefits"] == {"file": "leistungen.csv", "input": 9, "accepted": 5, "quarantined": 4,
                                    "issues": 4}
    assert r.ok, r.summary()


# --------------------------------------------------------------------------
# Excel, SPSS, Stata
# --------------------------------------------------------------------------


def _persons_only() -> dict:
    raw = yaml.safe_load(MAPPING.read_text(encoding="utf-8"))
    return {"defaults": raw["defaults"], "tables": {"persons": raw["tables"]["persons"]}}


def test_excel_round_trip(tmp_path):
    import openpyxl

    export = make_export(25, seed=3)
    k = export["kunden"].copy()
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Kunden"
    ws.append(list(k.columns))
    for rec in k.to_dict("records"):
        rec["Zugangsdatum"] = dt.datetime.strptime(rec["Zugangsdatum"], "%d.%m.%Y")  # real Excel date cells
        rec["Geburtsdatum"] = dt.datetime.strptime(rec["Geburtsdatum"], "%d.%m.%Y")
        rec["GdB"] = int(rec["GdB"])
        rec["Dauer Arbeitslosigkeit (Monate)"] = float(rec["Dauer Arbeitslosigkeit (Monate)"])
        ws.append([rec[c] for c in k.columns])
    ws.append([None] * len(k.columns))  # trailing empty row
    wb.save(tmp_path / "kunden.xlsx")
    mapping = _persons_only()
    mapping["tables"]["persons"].update(file="kunden.xlsx", sheet="Kunden")
    r = io.import_source(tmp_path, mapping, tmp_path / "out", progress=False)
    assert r.ok and r.quarantine.empty and r.tables["persons"]["accepted"] == 25
    _check_persons(Dataset.open(tmp_path / "out").table("persons"), export)


STAT_NAMES = {"Kundennummer": "kdnr", "Zugangsdatum": "zugang", "Geburtsdatum": "gebdat", "Geschlecht": "geschl",
              "Staatsangehörigkeit": "staat", "Deutschkenntnisse": "deutsch", "Alleinerziehend": "alleinerz",
              "Kinder unter 3 (Anzahl)": "kind_u3", "Schulabschluss": "schule", "Berufsabschluss": "beruf",
              "Bezugsdauer (Monate)": "bezug_mon", "Dauer Arbeitslosigkeit (Monate)": "alo_mon",
              "Gesundheitliche Einschränkung": "gesundh", "GdB": "gdb", "Name": "name", "BG-Nummer": "bgnr"}
LABELLED = {"geschl": SEX, "staat": CITIZEN, "deutsch": GERMAN, "schule": SCHOOL, "beruf": VOC,
            "alleinerz": {"nein": 0, "ja": 1}, "gesundh": {"nein": 0, "ja": 1}}


def _stat_frame(export):
    k = export["kunden"][list(STAT_NAMES)].rename(columns=STAT_NAMES).copy()
    labels = {}
    for col, vocab in LABELLED.items():
        codes = {lab: i + 1 for i, lab in enumerate(vocab)} if col not in ("alleinerz", "gesundh") else vocab
        k[col] = k[col].map(codes).astype(float)
        labels[col] = {float(v): lab for lab, v in codes.items()}
    k["zugang"] = pd.to_datetime(k["zugang"], format="%d.%m.%Y")
    k["gebdat"] = pd.to_datetime(k["gebdat"], format="%d.%m.%Y")
    for col in ("kind_u3", "gdb", "alo_mon"):
        k[col] = k[col].astype(float)
    k["bezug_mon"] = k["bezug_mon"].str.replace(",0", "").astype(float)
    return k, labels


def _stat_mapping(fname):
    m = _persons_only()
    t = m["tables"]["persons"]
    t["file"] = fname
    t["drop"] = ["name"]
    cols = {}
    for target, spec in t["columns"].items():
        if isinstance(spec, str):
            spec = STAT_NAMES[spec]
        elif "source" in spec:
            spec = {**spec, "source": STAT_NAMES[spec["source"]]}
        cols[target] = spec
    t["columns"] = cols
    return m


@pytest.mark.parametrize("fmt", ["sav", "dta"])
def test_spss_and_stata_round_trip_with_value_labels(tmp_path, fmt):
    import pyreadstat

    export = make_export(25, seed=4)
    frame, labels = _stat_frame(export)
    path = tmp_path / f"kunden.{fmt}"
    if fmt == "sav":
        pyreadstat.write_sav(frame, path, variable_value_labels=labels)
    else:
        frame = frame.assign(**{c: frame[c].astype("int32") for c in labels})
        pyreadstat.write_dta(frame, path, variable_value_labels={c: {int(k): v for k, v in lab.items()}
                                                                 for c, lab in labels.items()})
    raw = io.read_source(path)
    assert raw.index[0] == 2 and set(raw["geschl"]) <= set(SEX)  # value labels applied
    r = io.import_source(path, _stat_mapping(path.name), tmp_path / "out", progress=False)
    assert r.ok and r.quarantine.empty, r.summary()
    _check_persons(Dataset.open(tmp_path / "out").table("persons"), export)


# --------------------------------------------------------------------------
# pseudonyms, keys, leaks
# --------------------------------------------------------------------------


def test_pseudonyms_deterministic_key_and_domain_dependent():
    ids = pd.Series(["123D45678", "123d45678 ", "999X1", None], index=[7, 8, 9, 10])
    a = pseudonymise(ids, KEY, "person")
    assert a.index.tolist() == [7, 8, 9, 10] and a[7] == a[8] != a[9] and a[10] is None
    assert a.iloc[:3].str.fullmatch(r"p_[0-9a-f]{16}").all()
    assert pseudonymise(ids, KEY, "person").equals(a)
    assert pseudonymise(ids, PseudonymKey(KEY), "person").equals(a)
    other = pseudonymise(ids, KEY + "x", "person")
    assert not (other.iloc[:3] == a.iloc[:3]).any()
    hh = pseudonymise(ids, KEY, "household")
    assert hh[7].startswith("bg_") and hh[7][3:] != a[7][2:]
    assert pseudonymise([12345.0], KEY, "person")[0] == pseudonymise(["12345"], KEY, "person")[0]


def test_key_loading_errors_and_hiding(tmp_path, monkeypatch):
    monkeypatch.delenv(KEY_ENV)
    with pytest.raises(ValueError, match=f"{KEY_ENV}.*{KEY_FILE_ENV}"):
        load_key()
    monkeypatch.setenv(KEY_ENV, "short")
    with pytest.raises(ValueError, match=f"too short.*{KEY_ENV}.*{KEY_FILE_ENV}"):
        load_key()
    monkeypatch.delenv(KEY_ENV)
    monkeypatch.setenv(KEY_FILE_ENV, str(tmp_path / "missing.key"))
    with pytest.raises(ValueError, match=KEY_FILE_ENV):
        load_key()
    (tmp_path / "p.key").write_text(KEY + "\n")
    monkeypatch.setenv(KEY_FILE_ENV, str(tmp_path / "p.key"))
    key = load_key()
    assert key == PseudonymKey(KEY)
    for text in (repr(key), str(key), f"{key}", repr([key]), repr({"k": key})):
        assert KEY not in text and "hidden" in text
    with pytest.raises(TypeError):
        pickle.dumps(key)
    assert not hasattr(key, "__dict__")


def test_import_without_key_fails_naming_both_variables(tmp_path, monkeypatch):
    src = write_export(tmp_path / "s", make_export(3))
    monkeypatch.delenv(KEY_ENV)
    with pytest.raises(ValueError, match=f"{KEY_ENV}.*{KEY_FILE_ENV}"):
        io.import_source(src, MAPPING, tmp_path / "o", progress=False)
    assert not (tmp_path / "o").exists()


def test_no_identifier_and_no_key_in_any_written_file(tmp_path):
    export = make_export(30, seed=5)
    k = export["kunden"]
    k.loc[3, "Geschlecht"] = "unbekannt"  # quarantined rows must not leak identifiers either
    k.loc[4, "Kundennummer"] = ""
    k.loc[5, "Geburtsdatum"] = "01.01.1800"
    src = write_export(tmp_path / "s", export)
    out = tmp_path / "out"
    r = io.import_source(src, MAPPING, out, progress=False)
    assert r.tables["persons"]["quarantined"] == 3
    files = {p.name for p in out.rglob("*") if p.is_file()}
    assert {"persons.parquet", "manifest.json", "quarantine.csv", "import_report.json"} <= files
    blob = _all_bytes(out)
    secrets = set()
    for col in ("Kundennummer", "BG-Nummer", "Name", "Vorname", "Straße", "Telefon"):
        secrets |= {v for v in k[col] if v}
    secrets |= set(export["kontakte"]["Sachbearbeitung"]) | {"Bahnhofstraße"}
    for s in sorted(secrets):
        for enc in ("utf-8", "cp1252", "utf-16-le"):
            assert s.encode(enc, errors="ignore") not in blob, s
    for form in (KEY, KEY.upper(), KEY.encode().hex()):
        assert form.encode() not in blob
    assert KEY.encode("utf-16-le") not in blob


# --------------------------------------------------------------------------
# report, quarantine file, errors, CLI
# --------------------------------------------------------------------------


def test_report_files_and_cli(tmp_path, capsys):
    export = make_export(10, seed=6)
    export["kunden"].loc[2, "Staatsangehörigkeit"] = "marsianisch"
    src = write_export(tmp_path / "s", export)
    assert main(["import", str(src), "--mapping", str(MAPPING), "--out", str(tmp_path / "o")]) == 3  # quarantined
    text = capsys.readouterr().out
    assert "persons (kunden.csv): input 10 = accepted 9 + quarantined 1" in text
    assert "persons.citizenship: unknown value: 1" in text
    q = pd.read_csv(tmp_path / "o" / "quarantine.csv", sep=";", encoding="utf-8-sig", dtype=str)
    assert q.columns.tolist() == io.QUARANTINE_COLUMNS
    assert set(q["table"]) == {"persons", "contacts", "benefits"}  # the person's contacts cannot be linked
    q = q[q["table"] == "persons"].reset_index(drop=True)
    assert q.loc[0, ["file", "table", "row", "column", "source_column", "value"]].tolist() == [
        "kunden.csv", "persons", "4", "citizenship", "Staatsangehörigkeit", "marsianisch"]
    assert "unknown value 'marsianisch'" in q.loc[0, "reason"]
    rep = json.loads((tmp_path / "o" / "import_report.json").read_text(encoding="utf-8"))
    assert rep["balanced"] and rep["valid"]
    assert rep["tables"]["persons"] == {"file": "kunden.csv", "input": 10, "accepted": 9, "quarantined": 1,
                                        "issues": 1, "balanced": True}
    assert re.fullmatch(r"[0-9a-f]{8}", rep["key_fingerprint"])
    assert "marsianisch" not in json.dumps(rep, ensure_ascii=False)  # values never in the report
    assert Dataset.open(tmp_path / "o").meta["provenance"]["mapping"] == MAPPING.name


def test_missing_file_and_missing_column_errors_name_them(tmp_path):
    export = make_export(4)
    src = write_export(tmp_path / "s", export)
    (src / "kontakte.csv").unlink()
    with pytest.raises(FileNotFoundError, match="kontakte.csv"):
        io.import_source(src, MAPPING, tmp_path / "o", progress=False)
    with pytest.raises(FileNotFoundError, match="nothere"):
        io.import_source(tmp_path / "nothere", MAPPING, tmp_path / "o", progress=False)
    with pytest.raises(FileNotFoundError, match="nomap.yaml"):
        io.load_mapping(tmp_path / "nomap.yaml")
    write_export(src, export)
    write_csv(export["kunden"].drop(columns=["Geburtsdatum"]), src / "kunden.csv")
    with pytest.raises(ValueError, match=r"kunden\.csv.*Geburtsdatum"):
        io.import_source(src, MAPPING, tmp_path / "o", progress=False)


@pytest.mark.parametrize("change, match", [
    (lambda t: t["columns"].update(sex={"source": "Geschlecht", "values": {"weiblich": "female"}}),
     r"persons\.columns\.sex.*'female'"),
    (lambda t: t["columns"].update(nickname="Name"), r"has no column 'nickname'"),
    (lambda t: t["columns"].pop("sex"), r"required column\(s\) \['sex'\]"),
    (lambda t: t["columns"].update(person_id="Kundennummer", jc_id="BG-Nummer"), r"jc_id.*BG-Nummer.*drop"),
    (lambda t: t["columns"].update(entry_date={"source": "Zugangsdatum", "date_format": "31.12."}), "date_format"),
    (lambda t: t.update(colums={}), r"unknown setting.*colums"),
])
def test_mapping_errors_name_the_place(change, match):
    m = _persons_only()
    change(m["tables"]["persons"])
    with pytest.raises(ValueError, match=match):
        io.load_mapping(m)


# --------------------------------------------------------------------------
# property test: every row accounted for, each malformed row quarantined at the right column
# --------------------------------------------------------------------------

# kind -> list of (source column, bad value, model column)
MALFORMED = {
    "bad_date": [("Zugangsdatum", "31.02.2020", "entry_date"), ("Zugangsdatum", "2020/13/01", "entry_date"),
                 ("Zugangsdatum", "01.01.1066", "entry_date"), ("Zugangsdatum", "gestern", "entry_date")],
    "unknown_label": [("Geschlecht", "unbekannt", "sex"), ("Staatsangehörigkeit", "marsianisch", "citizenship"),
                      ("Schulabschluss", "Baumschule", "school"), ("Alleinerziehend", "vielleicht", "single_parent")],
    "out_of_range": [("Geburtsdatum", "01.01.1935", "birth_year"), ("Geburtsdatum", "01.01.2090", "birth_year"),
                     ("Bezugsdauer (Monate)", "-3", "benefit_months"),
                     ("Dauer Arbeitslosigkeit (Monate)", "601", "unemployment_months")],
    "missing": [("Kundennummer", "", "person_id"), ("Geschlecht", "", "sex"), ("Zugangsdatum", " ", "entry_date"),
                ("Alleinerziehend", "", "single_parent")],
}
ROW_KINDS = ["ok", "ok", "too_few", "too_many", *MALFORMED]


@settings(max_examples=FUZZ_EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(plan=st.lists(st.tuples(st.sampled_from(ROW_KINDS), st.integers(0, 3)), min_size=1, max_size=25),
       encoding=st.sampled_from(["cp1252", "utf-8", "utf-8-sig"]), seed=st.integers(0, 2**16))
def test_property_every_row_accounted_for(plan, encoding, seed):
    export = make_export(len(plan), seed=seed)
    k = export["kunden"]
    lines = [list(k.columns)]
    expected = {}  # row number -> model column ("" for a wrong field count)
    for i, (kind, j) in enumerate(plan):
        rec = k.iloc[i].tolist()
        if kind == "too_few":
            rec = rec[:-1 - j]
            expected[i + 2] = ""
        elif kind == "too_many":
            rec = rec + ["extra"] * (j + 1)
            expected[i + 2] = ""
        elif kind != "ok":
            src_col, value, target = MALFORMED[kind][j]
            rec[k.columns.get_loc(src_col)] = value
            expected[i + 2] = target
        lines.append(rec)
    mapping = _persons_only()
    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        with open(d / "kunden.csv", "w", encoding=encoding, newline="") as fh:
            csv.writer(fh, delimiter=";", lineterminator="\r\n").writerows(lines)
        if len(plan) >= io.importer.WHOLE_COLUMN_ROWS and all(kind != "ok" for kind, _ in plan):
            # every row bad: a column or the table failed as a whole, which is a mapping error
            with pytest.raises(ValueError, match=r"kunden\.csv: .*failed in every row|every row of table"):
                io.import_source(d, mapping, d / "out", progress=False)
            assert not (d / "out").exists()
            return
        r = io.import_source(d, mapping, d / "out", progress=False)
        stats = r.tables["persons"]
        assert stats["input"] == len(plan)
        assert stats["input"] == stats["accepted"] + stats["quarantined"]
        assert stats["quarantined"] == len(expected)
        q = r.quarantine
        assert set(q["row"]) == set(expected)
        for row, column in expected.items():
            assert column in set(q.loc[q["row"] == row, "column"]), (row, column, q[q["row"] == row])
        written = Dataset.open(d / "out").table("persons")
        assert len(written) == stats["accepted"] and written["person_id"].is_unique
        assert validate(Dataset.open(d / "out")).ok


# --------------------------------------------------------------------------
# fuzz: hostile files — broken bytes, wrong separators, truncation, huge fields, duplicated keys
# --------------------------------------------------------------------------

def _mutate(data: bytes, kind: str, at: int, size: int) -> bytes:
    """One hostile change to the bytes of a valid export file."""
    pos = at % max(1, len(data))
    if kind == "truncate":
        return data[:pos]
    if kind == "junk_bytes":  # invalid in UTF-8, odd in cp1252 (0x81, 0x8d are undefined there)
        return data[:pos] + bytes([0x81, 0xFF, 0x00, 0x8D, 0xC3][: 1 + size % 5]) + data[pos:]
    if kind == "comma_separated":
        return data.replace(b";", b",")
    if kind == "tab_separated":
        return data.replace(b";", b"\t")
    if kind == "huge_field":
        cut = data.find(b";", pos)
        cut = pos if cut < 0 else cut
        return data[:cut] + b"x" * (200_000 * (1 + size % 5)) + data[cut:]
    if kind == "duplicate_rows":
        lines = data.split(b"\r\n")
        body = [ln for ln in lines[1:] if ln]
        return b"\r\n".join([lines[0], *body, *body[: 1 + size % max(1, len(body))]]) + b"\r\n"
    if kind == "stray_quote":
        return data[:pos] + b'"' + data[pos:]
    if kind == "blank_lines":
        return data.replace(b"\r\n", b"\r\n\r\n", 1 + size % 3)
    if kind == "only_header":
        return data.split(b"\r\n", 1)[0] + b"\r\n"
    return b""  # "empty"


HOSTILE = ["truncate", "junk_bytes", "comma_separated", "tab_separated", "huge_field", "duplicate_rows",
           "stray_quote", "blank_lines", "only_header", "empty"]


@settings(max_examples=FUZZ_EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(changes=st.lists(st.tuples(st.sampled_from(HOSTILE), st.integers(0, 10**6), st.integers(0, 20)),
                        min_size=1, max_size=3),
       n=st.integers(1, 12), encoding=st.sampled_from(["cp1252", "utf-8", "utf-8-sig"]), seed=st.integers(0, 999),
       one_line=st.booleans())
def test_fuzz_hostile_files_never_crash_and_lose_nothing(changes, n, encoding, seed, one_line):
    """Through `casework import`: any damage ends in accepted + quarantined = input (import_report.json), or
    exit 1 with an error naming the file and nothing written — never a traceback."""
    import contextlib
    import io as stdio

    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        (d / "src").mkdir()
        kunden = make_export(n, seed=seed)["kunden"]
        if one_line:  # every record on one line: the fast reader's case
            kunden["Wohnort"] = kunden["Wohnort"].str.replace("\n", " ")
        write_csv(kunden, d / "src" / "kunden.csv", encoding=encoding)
        data = (d / "src" / "kunden.csv").read_bytes()
        for kind, at, size in changes:
            data = _mutate(data, kind, at, size)
        (d / "src" / "kunden.csv").write_bytes(data)
        (d / "mapping.yaml").write_text(yaml.safe_dump(_persons_only(), allow_unicode=True), encoding="utf-8")
        err, out = stdio.StringIO(), stdio.StringIO()
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
            code = main(["import", str(d / "src"), "--mapping", str(d / "mapping.yaml"), "--out", str(d / "out")])
        if not (d / "out").exists():
            assert code == 1 and "casework import:" in err.getvalue() and "kunden.csv" in err.getvalue(), \
                (code, err.getvalue())
            return
        assert "Traceback" not in err.getvalue()
        report = json.loads((d / "out" / "import_report.json").read_text(encoding="utf-8"))
        stats = report["tables"]["persons"]
        assert stats["balanced"] and stats["input"] == stats["accepted"] + stats["quarantined"]
        q = pd.read_csv(d / "out" / "quarantine.csv", sep=";", encoding="utf-8-sig", dtype=str)
        assert q.loc[q["table"] == "persons", "row"].nunique() == stats["quarantined"]
        assert q["reason"].notna().all() and q["row"].notna().all()
        written = Dataset.open(d / "out").table("persons")
        assert len(written) == stats["accepted"] and written["person_id"].is_unique


def test_damaged_utf8_with_bom_names_file_and_line(tmp_path):
    write_csv(make_export(3, seed=1)["kunden"], tmp_path / "kunden.csv", encoding="utf-8-sig")
    lines = (tmp_path / "kunden.csv").read_bytes().split(b"\r\n")
    lines[2] = lines[2][:5] + b"\xff" + lines[2][5:]
    data = b"\r\n".join(lines)
    (tmp_path / "kunden.csv").write_bytes(data)
    bad = data.index(b"\xff")
    line = data[:bad].count(b"\n") + 1  # physical line: a quoted field may hold a line break
    with pytest.raises(ValueError, match=rf"kunden\.csv: line {line}, byte {bad}: not valid utf-8"):
        io.import_source(tmp_path, _persons_only(), tmp_path / "out", progress=False)
    assert not (tmp_path / "out").exists()


def test_old_import_paths_still_work():
    """casework.io and casework.pseudonym stay importable for one release (issue 21)."""
    import casework.io as old_io
    import casework.pseudonym as old_pseudonym

    assert old_io.import_source is io.import_source and old_io.load_mapping is io.load_mapping
    assert old_io.ImportReport is io.ImportReport and old_io.read_source is io.read_source
    assert old_pseudonym.PseudonymKey is PseudonymKey and old_pseudonym.pseudonymise is pseudonymise


def test_import_report_results_face(tmp_path):
    export = make_export(8, seed=3)
    export["kunden"].loc[2, "Geschlecht"] = "unbekannt"
    r = io.import_source(write_export(tmp_path / "s", export), MAPPING, tmp_path / "o", progress=False)
    frame = r.to_frame()
    assert frame.columns.tolist() == ["table", "file", "input", "accepted", "quarantined", "issues", "balanced"]
    assert frame.set_index("table").loc["persons", ["input", "accepted", "quarantined"]].tolist() == [8, 7, 1]
    assert frame["balanced"].all()
    html = r._repr_html_()
    assert "<table" in html and "persons" in html and "kunden.csv" in html
    assert "Import finished: " in r.summary()
