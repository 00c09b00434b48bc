"""Build the notebooks from their paired percent-format sources (``*.py`` beside them).

The ``.py`` file is what gets reviewed; the ``.ipynb`` is generated from it with no
outputs. ``python notebooks/build.py`` rebuilds all; ``--check`` fails if any
notebook is out of date (run by the tests).

Cell markers: ``# %%`` code, ``# %% [markdown]`` markdown, ``# %% tags=["parameters"]``.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import nbformat

HERE = Path(__file__).resolve().parent
MARKER = re.compile(r"^# %%(?P<md> \[markdown\])?(?: tags=(?P<tags>\[.*\]))?\s*$")


def parse(source: str) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.metadata = {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
                   "language_info": {"name": "python"}}
    cells, kind, tags, buf = [], None, [], []

    def flush():
        if kind is None:
            return
        text = "\n".join(buf).strip("\n")
        if kind == "markdown":
            text = "\n".join(line[2:] if line.startswith("# ") else line.lstrip("#") for line in text.splitlines())
            cell = nbformat.v4.new_markdown_cell(text)
        else:
            cell = nbformat.v4.new_code_cell(text)
        if tags:
            cell.metadata["tags"] = tags
        cells.append(cell)

    for line in source.splitlines():
        m = MARKER.match(line)
        if m:
            flush()
            kind = "markdown" if m.group("md") else "code"
            tags = json.loads(m.group("tags")) if m.group("tags") else []
            buf = []
        elif kind is not None:
            buf.append(line)
    flush()
    for i, cell in enumerate(cells):
        cell["id"] = f"cell-{i:02d}"
    nb.cells = cells
    return nb


def render(src: Path) -> str:
    return nbformat.writes(parse(src.read_text(encoding="utf-8"))) + "\n"


def main(argv=None) -> int:
    check = "--check" in (argv or sys.argv[1:])
    stale = []
    for src in sorted(HERE.glob("[0-9]*.py")):
        target = src.with_suffix(".ipynb")
        text = render(src)
        if check:
            if not target.exists() or target.read_text(encoding="utf-8") != text:
                stale.append(target.name)
        else:
            target.write_text(text, encoding="utf-8")
    if stale:
        print("out of date (run python notebooks/build.py):", ", ".join(stale))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
