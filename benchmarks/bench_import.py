"""Import speed: `casework import` of a German CSV export against pandas `read_csv` of the same file.

Run: python benchmarks/bench_import.py [--rows 1000000] [--quick]
Writes a persons export as the documented mapping expects it (cp1252, ";", German header, birth dates, counts,
grades, decimal commas, one bad value per 1,000 rows), then times in the same run
  - the floor: pandas.read_csv(file, sep=";", encoding="cp1252", dtype=str) (reading only, no checks);
  - the import: casework.ingest.import_source with data/mappings/example_mapping.yaml (reading, converting,
    checking, pseudonymising, quarantining, validating and writing the dataset).
Target (issue 19): the import takes at most 5 times the floor at 1,000,000 rows.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
TARGET_RATIO = 5.0


def export_frame(n: int, seed: int = 0) -> pd.DataFrame:
    """A persons export of ``n`` rows in the layout of data/mappings/example_mapping.yaml (vectorised)."""
    rng = np.random.default_rng(seed)
    pick = lambda values: np.asarray(values, dtype=object)[rng.integers(len(values), size=n)]  # noqa: E731
    entry = pd.Timestamp("2015-01-01") + pd.to_timedelta(rng.integers(0, 3000, n), unit="D")
    born = pd.Timestamp("1960-01-01") + pd.to_timedelta(rng.integers(0, 35 * 365, n), unit="D")
    ids = pd.Series(np.arange(n)).astype(str).str.zfill(7)
    frame = pd.DataFrame({
        "Kundennummer": "123D" + ids, "BG-Nummer": "98765BG" + ids, "Name": pick(["Müller", "Öztürk", "Weiß"]),
        "Vorname": pick(["Jürgen", "Zoë", "Sören"]), "Straße": "Bahnhofstraße 1; Hinterhaus", "PLZ": "45879",
        "Wohnort": "Gelsenkirchen", "Telefon": "0209 1000", "E-Mail": "kunde@example.org",
        "Zugangsdatum": entry.strftime("%d.%m.%Y"), "Geburtsdatum": born.strftime("%d.%m.%Y"),
        "Geschlecht": pick(["weiblich", "männlich", "divers"]), "Staatsangehörigkeit": pick(["deutsch", "türkisch"]),
        "Deutschkenntnisse": pick(["Muttersprache", "gut", "keine"]), "Alleinerziehend": pick(["ja", "nein"]),
        "Kinder unter 3 (Anzahl)": pick(["0", "0", "1", "2"]),
        "Schulabschluss": pick(["ohne Abschluss", "Hauptschulabschluss", "Abitur"]),
        "Berufsabschluss": pick(["keiner", "Ausbildung", "Studium"]),
        "Bezugsdauer (Monate)": pd.Series(rng.integers(0, 200, n)).astype(str) + pick([",0", ""]),
        "Dauer Arbeitslosigkeit (Monate)": pd.Series(rng.integers(0, 100, n)).astype(str),
        "Gesundheitliche Einschränkung": pick(["ja", "nein"]), "GdB": pick(["0", "0", "30", "50", "80"]),
    })
    bad = rng.choice(n, size=max(1, n // 1000), replace=False)
    frame.loc[bad, "Geburtsdatum"] = "31.02.1980"
    return frame


def measure(n: int, folder: Path) -> dict:
    from casework.ingest import import_source

    os.environ.setdefault("CASEWORK_PSEUDONYM_KEY", "benchmark-only-key-0123456789")
    src = folder / "export"
    src.mkdir(parents=True)
    export_frame(n).to_csv(src / "kunden.csv", sep=";", index=False, encoding="cp1252", lineterminator="\r\n")
    raw = yaml.safe_load((ROOT / "data" / "mappings" / "example_mapping.yaml").read_text(encoding="utf-8"))
    mapping = {"defaults": raw["defaults"], "tables": {"persons": raw["tables"]["persons"]}}
    t0 = time.perf_counter()
    floor = pd.read_csv(src / "kunden.csv", sep=";", encoding="cp1252", dtype=str, keep_default_na=False)
    t_floor = time.perf_counter() - t0
    assert len(floor) == n
    del floor
    t0 = time.perf_counter()
    report = import_source(src, mapping, folder / "dataset", progress=False)
    t_import = time.perf_counter() - t0
    stats = report.tables["persons"]
    assert stats["input"] == n and stats["quarantined"] == n // 1000, stats
    return {"rows": n, "floor": t_floor, "import": t_import, "ratio": t_import / t_floor}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args(argv)
    n = 50_000 if args.quick else args.rows
    folder = Path(tempfile.mkdtemp())
    try:
        r = measure(n, folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    print(f"import of {n:,} persons rows: {r['import']:.1f} s; pandas read_csv of the same file {r['floor']:.2f} s "
          f"-> {r['ratio']:.1f}x (target <= {TARGET_RATIO:g}x at 1,000,000 rows)")
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from _records import record

    record("bench_import.py", f"import of {n:,} rows (cp1252 CSV, example mapping)", r["import"], "s",
           ref="pandas read_csv, same file", ref_value=r["floor"], size=n, step="import",
           target=f"<= {TARGET_RATIO:g}x read_csv", met=r["ratio"] <= TARGET_RATIO)
    return 0 if r["ratio"] <= TARGET_RATIO or args.quick else 1


if __name__ == "__main__":
    sys.exit(main())
