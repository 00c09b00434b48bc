"""Every board in a dashboards folder, and new boards for any dataset (``casework board new``).

A board notebook is either one of the demo boards (``board_page("pankow")``, specified in
:data:`casework.boards.spec.BOARDS`) or a board written by :func:`new_board`: a thin notebook whose
first cell (tagged ``parameters``) holds the board's parameters as plain literals::

    dataset = "example"      # a folder in the data folder, or an absolute path
    project = None           # a project key of the dataset's projects table, or None
    title = "Unser Netzwerk"
    subtitle = ""
    panels = ["projekt", "wirkung", "vergleich", "bedarfsdeckung"]

and whose second cell shows it (:func:`casework.boards.page.custom_board_page`). The landing page
lists every board of the folder by reading these notebooks (nothing is executed: the parameters are
read with :func:`ast.literal_eval`). Imports nothing of casework but the board specifications.
"""

from __future__ import annotations

import ast
import json
import re
from dataclasses import replace
from pathlib import Path

from casework.boards.spec import BOARDS, PANELS, BoardSpec

__all__ = ["dashboard_specs", "spec_from_notebook", "new_board", "board_notebook", "NAME_PATTERN",
           "person_key_findings", "PERSON_KEY_PATTERNS"]

NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
_DEMO_CALL = re.compile(r"""\bboard_page\(\s*["']([\w-]+)["']\s*\)""")
_PARAMETERS = ("dataset", "project", "title", "subtitle", "panels")


def _cells(path: Path) -> list[dict]:
    nb = json.loads(Path(path).read_text(encoding="utf-8"))
    return [c for c in nb.get("cells", []) if c.get("cell_type") == "code"]


def _source(cell: dict) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def _parameters(source: str, where: str) -> dict:
    """The literal assignments of a parameters cell (anything else in it is an error naming the line)."""
    values = {}
    for node in ast.parse(source, filename=where).body:
        if not (isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)):
            raise ValueError(f"{where}, line {node.lineno}: the parameters cell holds assignments of literals only")
        try:
            values[node.targets[0].id] = ast.literal_eval(node.value)
        except ValueError:
            raise ValueError(f"{where}, line {node.lineno}: {node.targets[0].id} must be a literal "
                             "(text in quotes, None or a list)") from None
    return values


def spec_from_notebook(path) -> BoardSpec | None:
    """The specification of the board notebook at ``path`` (None for a notebook that is not a board)."""
    path = Path(path)
    cells = _cells(path)
    for cell in cells:
        if "parameters" in cell.get("metadata", {}).get("tags", []):
            p = _parameters(_source(cell), str(path))
            if not {"dataset", "title"} <= set(p):
                raise ValueError(f"{path}: the parameters cell needs at least dataset and title")
            panels = tuple(p.get("panels") or PANELS)
            unknown = sorted(set(panels) - set(PANELS))
            if unknown:
                raise ValueError(f"{path}: unknown panels {unknown} (known: {', '.join(PANELS)})")
            return BoardSpec(path.stem, str(p["dataset"]), str(p["title"]), str(p.get("subtitle") or ""),
                             project=p.get("project") or None, did="vergleich" in panels, panels=panels,
                             custom=True)
    for cell in cells:
        m = _DEMO_CALL.search(_source(cell))
        if m and m.group(1) in BOARDS:
            return replace(BOARDS[m.group(1)], key=path.stem)
    return None


def dashboard_specs(folder) -> list[tuple[BoardSpec | None, str]]:
    """Every board notebook of ``folder`` except the landing page, by file name: (spec, problem); a notebook
    that cannot be read gives (None, the problem) so the landing page can name it instead of failing."""
    out = []
    for path in sorted(Path(folder).glob("*.ipynb")):
        if path.stem == "index":
            continue
        try:
            spec = spec_from_notebook(path)
        except (ValueError, SyntaxError, json.JSONDecodeError, OSError) as exc:
            out.append((None, f"{path.name}: {exc}"))
            continue
        if spec is not None:
            out.append((spec, ""))
    return out


def board_notebook(name: str, *, dataset: str, title: str, subtitle: str = "", project: str | None = None,
                   panels=PANELS) -> dict:
    """The thin board notebook (nbformat 4 as a dict): parameters cell, then the page."""
    params = (f"# Board parameters (written by casework board new; change them here)\n"
              f"dataset = {dataset!r}  # a folder in the data folder ($CASEWORK_DATA), or an absolute path\n"
              f"project = {project!r}  # a project key (projects.project_id up to '/') or None\n"
              f"title = {title!r}\n"
              f"subtitle = {subtitle!r}\n"
              f"panels = {list(panels)!r}  # any of {', '.join(PANELS)}\n")
    show = ("from casework.boards.page import custom_board_page\n\n"
            f"custom_board_page({name!r}, dataset=dataset, title=title, subtitle=subtitle, project=project, "
            "panels=panels)")

    def cell(cid: str, source: str, tags=()) -> dict:
        return {"cell_type": "code", "execution_count": None, "id": cid,
                "metadata": {"tags": list(tags)} if tags else {}, "outputs": [],
                "source": source.splitlines(keepends=True)}

    return {"cells": [cell("parameters", params, ["parameters"]), cell("board", show)],
            "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
                         "language_info": {"name": "python"}},
            "nbformat": 4, "nbformat_minor": 5}


def new_board(name: str, *, dataset: str, folder, title: str | None = None, subtitle: str = "",
              project: str | None = None, force: bool = False) -> Path:
    """Write ``folder/NAME.ipynb`` for a board of ``dataset``; returns its path. ``dataset`` is stored as given
    (a name in the data folder or an absolute path); the caller checks that it opens."""
    if not NAME_PATTERN.match(name) or name == "index":
        raise ValueError(f"board name {name!r}: use lower-case letters, digits, '-' and '_' (not 'index')")
    target = Path(folder) / f"{name}.ipynb"
    if target.exists() and not force:
        raise FileExistsError(f"{target} exists (use --force to replace it)")
    nb = board_notebook(name, dataset=dataset, title=title or f"Projektboard {name}", subtitle=subtitle,
                        project=project)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return target


#: what a person key looks like in a notebook's outputs: keyed pseudonyms (casework.ingest.pseudonym:
#: ``p_``/``bg_`` + 16 hex characters), the synthetic scenarios' person ids, and columns named for them
PERSON_KEY_PATTERNS = (
    (re.compile(r"\b(?:p|bg)_[0-9a-f]{16}\b"), "a person or household pseudonym"),
    (re.compile(r"\bP\d{7}\b"), "a person id"),
    (re.compile(r"\b(?:person_id|Kundennummer|BG-Nummer|household_id)\b"), "a person key column"),
)


def _output_texts(output: dict) -> list[str]:
    texts = [output.get("text", "")] if output.get("output_type") == "stream" else []
    for value in (output.get("data") or {}).values():
        texts.append(value if isinstance(value, str) else "".join(value) if isinstance(value, list)
                     else json.dumps(value, ensure_ascii=False))
    return ["".join(t) if isinstance(t, list) else t for t in texts]


def person_key_findings(path) -> list[str]:
    """Where the stored outputs of the notebook at ``path`` show a person key: ``cell N: what ('excerpt')``.

    Empty for a notebook a board may serve. Nothing is executed; outputs only exist where the notebook
    was saved with them, and Voila shows what the cells print when it runs them, so serve a notebook only
    after it was run and saved and this check found nothing.
    """
    findings = []
    for number, cell in enumerate(_cells(path), start=1):
        for output in cell.get("outputs", []):
            for text in _output_texts(output):
                for pattern, what in PERSON_KEY_PATTERNS:
                    m = pattern.search(text)
                    if m:
                        findings.append(f"cell {number}: {what} ({m.group(0)!r})")
    return sorted(set(findings), key=findings.index)
