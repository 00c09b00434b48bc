"""Where an import may write, and writing its whole output at once.

An import never deletes what it did not write: ``out`` must be a new or empty
folder, or a casework dataset that the caller explicitly replaces
(``replace=True``, ``casework import --replace``); it can never be the current
folder, the folder holding the export, or a folder containing the export.
Everything (Parquet tables, ``manifest.json``, ``quarantine.csv``,
``import_report.json``) is written into a hidden sibling folder first and
renamed into place in one step: the output appears as a whole or not at all.
The stored results of a replaced dataset (``results/``) are computed from the
old data, so they are removed with it and listed in the report.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

from casework.store import MANIFEST

__all__ = ["check_out", "is_dataset", "Staging"]


def is_dataset(folder: Path) -> bool:
    """True when ``folder`` holds a casework dataset (a readable ``manifest.json`` with its tables)."""
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(manifest, dict) and "tables" in manifest


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def check_out(out, sources, replace: bool = False) -> Path:
    """Refuse an output folder the import must not write to; return it resolved.

    Raises
    ------
    ValueError
        When ``out`` is the current folder or contains it, is or contains one
        of ``sources`` (export files or the SOURCE folder), is a file, or is a
        non-empty folder that is not a casework dataset, or a dataset while
        ``replace`` is False. The message says what to do instead.
    """
    given = Path(out)
    out = given.resolve()
    cwd = Path.cwd().resolve()
    if _inside(cwd, out):
        raise ValueError(f"--out {given} is the current folder{'' if out == cwd else ' or contains it'}; give the "
                         f"dataset a folder of its own, e.g. --out data/jc_2024")
    for src in sources:
        src = Path(src).resolve()
        if _inside(src, out):
            raise ValueError(f"--out {given} is {'the source' if src == out else 'a folder containing the source'} "
                             f"{src}; the import never writes where its export lies: give a new folder")
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {given} is a file, not a folder")
    if out.is_dir() and any(out.iterdir()):
        if not is_dataset(out):
            raise ValueError(f"--out {given} exists, is not empty and is not a casework dataset; the import writes "
                             f"only into a new or empty folder (nothing was written)")
        if not replace:
            raise ValueError(f"--out {given} holds a casework dataset; pass --replace (replace=True) to replace it "
                             f"(its stored analysis results are removed with it; nothing was written)")
    return out


class Staging:
    """A hidden sibling folder the output is written into, renamed into place by :meth:`commit`."""

    def __init__(self, out: Path):
        self.out = out
        out.parent.mkdir(parents=True, exist_ok=True)
        self.folder = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.import.")) / out.name

    def commit(self) -> None:
        """Put the staged output in place of ``out`` (a replaced dataset goes, its results with it)."""
        trash = self.folder.parent / "replaced"
        if self.out.exists():
            os.replace(self.out, trash)
        os.replace(self.folder, self.out)
        self.discard()

    def discard(self) -> None:
        shutil.rmtree(self.folder.parent, ignore_errors=True)
