"""The casework command line: synth, validate, info, dictionary; clear failures naming the file."""

import subprocess
import sys

import pyarrow.parquet as pq

from casework.cli import main

CLI = [sys.executable, "-m", "casework.cli"]


def test_synth_then_validate(tmp_path, capsys):
    out = tmp_path / "ge"
    assert main(["synth", "gelsenkirchen", "--seed", "1", "--out", str(out), "--persons", "1500"]) == 0
    assert main(["validate", str(out)]) == 0
    assert "Validation passed" in capsys.readouterr().out
    assert main(["info", str(out)]) == 0
    assert "persons" in capsys.readouterr().out


def test_validate_fails_on_corrupt_value(tmp_path, capsys):
    out = tmp_path / "ge"
    main(["synth", "gelsenkirchen", "--seed", "1", "--out", str(out), "--persons", "1500"])
    table = pq.read_table(out / "persons.parquet").to_pandas()
    table.loc[5, "sex"] = "unknown"
    from casework.store import Dataset

    ds = Dataset.open(out)
    tables = {t: ds.table(t) for t in ds.tables}
    tables["persons"] = table
    Dataset.from_tables(tables, ground_truth=ds.ground_truth, truth=ds.truth).save(out)
    capsys.readouterr()
    assert main(["validate", str(out)]) == 1
    assert "persons, row 5, column 'sex'" in capsys.readouterr().out


def test_validate_fails_on_corrupt_file(tmp_path, capsys):
    out = tmp_path / "ge"
    main(["synth", "gelsenkirchen", "--seed", "1", "--out", str(out), "--persons", "1500"])
    (out / "contacts.parquet").write_bytes(b"garbage")
    capsys.readouterr()
    assert main(["validate", str(out)]) == 1
    assert "contacts.parquet" in capsys.readouterr().err


def test_help_and_usage_errors():
    r = subprocess.run(CLI + ["--help"], capture_output=True, text=True)
    assert r.returncode == 0 and "synth" in r.stdout and "validate" in r.stdout and "import" in r.stdout
    r = subprocess.run(CLI + ["synth", "atlantis", "--out", "/tmp/x"], capture_output=True, text=True)
    assert r.returncode == 1 and "unknown scenario" in r.stderr


def test_dictionary(capsys):
    assert main(["dictionary"]) == 0
    assert "## persons" in capsys.readouterr().out
