"""A generated example export, as a jobcenter's systems would write it, with the mapping that imports it.

``casework example-export OUT`` writes one CSV file per table of the case data model into ``OUT``
(German conventions: ``;`` as separator, decimal comma, dates as dd.mm.yyyy, cp1252, ``ja``/``nein``),
customer numbers instead of pseudonyms, names and addresses in the customer file, and ``mapping.yaml``
beside them. The tables come from a synthetic scenario, but the export carries no ground truth: after
``casework import`` the dataset is what an analyst's own data would be (docs/own-data.md walks through it).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["write_example_export", "mapping_for"]

CUSTOMER_NUMBER = "Kundennummer"
#: direct identifiers written into the customer file; the mapping drops them at import
IDENTIFIERS = ("Name", "Vorname", "Straße", "Telefon")
_LAST = ("Müller", "Schröder", "Yılmaz", "Weiß", "Öztürk", "Nowak", "Groß", "Bäcker")
_FIRST = ("Jürgen", "Özlem", "Sören", "Anna-Lena", "Zoë", "Björn")


def _source_name(column: str) -> str:
    return CUSTOMER_NUMBER if column == "person_id" else column


def mapping_for(tables: dict[str, pd.DataFrame], *, jc_constant: str | None = None) -> dict:
    """The import mapping (as a dict for YAML) of an export written by :func:`write_example_export`."""
    from casework import schema as S

    out = {"version": 1, "defaults": {"encoding": "auto", "sep": ";", "decimal": ",", "date_format": "dd.mm.yyyy"},
           "tables": {}}
    for name in tables:
        columns = {}
        for f in S.TABLES[name].fields:
            if f.name == "person_id":
                columns[f.name] = {"source": CUSTOMER_NUMBER, "pseudonym": "person"}
            else:
                columns[f.name] = f.name
        entry = {"file": f"{name}.csv", "columns": columns}
        if name == "persons":
            entry["drop"] = list(IDENTIFIERS)
        out["tables"][name] = entry
    return out


def _text(series: pd.Series, kind: str) -> pd.Series:
    """One column as the export's text."""
    missing = series.isna()
    if kind == "date":
        text = pd.to_datetime(series).dt.strftime("%d.%m.%Y")
    elif kind == "bool":
        text = series.astype("boolean").map({True: "ja", False: "nein"}).astype(object)
    elif kind == "float":
        text = series.map(lambda v: f"{v:.6f}".rstrip("0").rstrip(".").replace(".", ","))
    elif kind == "int":
        text = series.map(lambda v: str(int(v)))
    else:
        text = series.astype(str)
    return text.where(~missing, "")


def _export_frame(name: str, table: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    from casework import schema as S

    frame = pd.DataFrame({_source_name(f.name): _text(table[f.name], f.kind) for f in S.TABLES[name].fields
                          if f.name in table})
    if name == "persons":
        n = len(frame)
        frame["Name"] = [_LAST[i % len(_LAST)] for i in range(n)]
        frame["Vorname"] = [_FIRST[i % len(_FIRST)] for i in range(n)]
        frame["Straße"] = [f"Bahnhofstraße {int(i)}; Hinterhaus" for i in rng.integers(1, 200, n)]
        frame["Telefon"] = [f"0209 {int(i)}" for i in rng.integers(1000, 9999, n)]
    return frame


def write_example_export(out, *, scenario: str = "gelsenkirchen", persons: int = 3000, seed: int = 7) -> Path:
    """Write the example export and its ``mapping.yaml`` into the folder ``out``; returns ``out``."""
    import yaml

    from casework import synth
    from casework.store import Dataset

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        synth.generate(scenario, seed=seed, persons=persons, out=Path(tmp) / "ds")
        ds = Dataset.open(Path(tmp) / "ds")
        tables = {t: ds.table(t) for t in ds.tables}
    rng = np.random.default_rng(seed)
    for name, table in tables.items():
        frame = _export_frame(name, table, rng)
        frame.to_csv(out / f"{name}.csv", sep=";", index=False, encoding="cp1252", lineterminator="\r\n",
                     errors="replace")
    text = yaml.safe_dump(mapping_for(tables), allow_unicode=True, sort_keys=False)
    (out / "mapping.yaml").write_text("# Mapping of the example export (casework example-export); docs/import.md\n"
                                      + text, encoding="utf-8")
    return out
