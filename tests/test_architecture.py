"""The package's floors (docs/architecture.md): nothing imports upwards, one deliberate cycle, short modules.

The import graph is read from the source (every ``import casework...`` statement, also those inside
functions, because a lazy import is still a dependency).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "casework"
MAX_LINES = 600

# floor of each module: the longest matching prefix wins (docs/architecture.md draws the same table)
FLOORS = {
    # 0 ground floor: vocabularies, cells, formats, protection, paths, board names; imports only the ground floor
    "casework": 0, "casework.cells": 0, "casework.fmt": 0, "casework.summary": 0, "casework.paths": 0,
    "casework.privacy": 0,
    "casework.schema": 0, "casework._dictionary": 0, "casework._validation": 0, "casework.datarules": 0,
    "casework.boards": 0, "casework.boards.spec": 0, "casework.boards.charts": 0, "casework.boards.catalog": 0,
    # 1 data: reading, importing, storing, splitting into pieces; the boards' pandas-free reader
    "casework.ingest": 1, "casework.store": 1, "casework.engine": 1, "casework.boards.results": 1,
    # 2 case model: panel and cohorts, descriptions, key figures, network, profiling
    "casework.panel": 2, "casework.describe": 2, "casework.kpi": 2, "casework.network": 2, "casework.profiling": 2,
    "casework._kpi_sql": 2, "casework.kpi_defs": 0,
    # 3 analysis and simulation: effects, planning, the synthetic population (records profiling truth)
    "casework.effects": 3, "casework.planning": 3, "casework.synth": 3, "casework.example_export": 3,
    # 4 boards: the pipeline-side build and the page (app, page)
    "casework.boards.build": 4, "casework.boards.app": 4, "casework.boards.page": 4, "casework.boards.new": 4,
    "casework.boards.landing": 4, "casework.boards.panels": 4, "casework.boards.parts": 4,
    "casework.produce": 4,
    # 5 entry points and the estimator validation study; deprecated import paths (re-exports)
    "casework.pipeline": 5, "casework.serve": 5, "casework.cli": 5, "casework.__main__": 5,
    "casework.validation": 5, "casework.io": 5, "casework.pseudonym": 5, "casework.board": 5,
    "casework.boarddata": 5, "casework.boardpage": 5, "casework.dashboard": 5, "casework.svgchart": 5,
}
# the schema module re-exports validation and the data dictionary, which are written against its vocabularies
FACADE_CYCLES = [{"casework.schema", "casework._validation", "casework._dictionary", "casework.datarules"}]


def _modules() -> dict[str, Path]:
    out = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = path
    return out


def _imports(path: Path, modules: dict) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names = []
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("casework") and not node.level:
            # "from package import module" depends on the module; "from module import name" on the module
            names = [f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in modules else node.module
                     for a in node.names]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names if a.name.startswith("casework")]
        for name in names:
            while name not in modules and "." in name:
                name = name.rsplit(".", 1)[0]
            if name in modules:
                found.add(name)
    return found


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: _imports(path, modules) - {name} for name, path in modules.items()}


def floor(module: str) -> int:
    prefix = module
    while prefix not in FLOORS:
        if "." not in prefix:
            raise KeyError(module)
        prefix = prefix.rsplit(".", 1)[0]
    return FLOORS[prefix]


def _cycles(graph: dict) -> list[set[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = set()
            while True:
                w = stack.pop()
                on.discard(w)
                comp.add(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(comp)

    for v in graph:
        if v not in index:
            visit(v)
    return out


def test_every_module_has_a_floor():
    missing = [m for m in _modules() if not _has_floor(m)]
    assert not missing, f"add these modules to FLOORS and docs/architecture.md: {missing}"


def _has_floor(module: str) -> bool:
    try:
        floor(module)
    except KeyError:
        return False
    return True


def test_nothing_imports_a_higher_floor():
    upward = [f"{m} (floor {floor(m)}) -> {t} (floor {floor(t)})"
              for m, targets in _graph().items() for t in sorted(targets) if floor(t) > floor(m)]
    assert not upward, "imports run up the floors:\n" + "\n".join(upward)


def test_only_the_schema_facade_is_a_cycle():
    extra = [c for c in _cycles(_graph()) if not any(c <= allowed for allowed in FACADE_CYCLES)]
    assert not extra, f"import cycles: {extra}"


def test_the_ground_floor_of_the_boards_imports_nothing_of_casework():
    graph = _graph()
    assert graph["casework.cells"] == set() and graph["casework.boards.spec"] == set()


@pytest.mark.parametrize("limit", [MAX_LINES])
def test_no_module_is_longer_than_the_limit(limit):
    long = {name: n for name, path in _modules().items()
            if (n := len(path.read_text(encoding="utf-8").splitlines())) > limit}
    assert not long, f"modules over {limit} lines: {long}"


def _private_imports(path: Path, modules: dict) -> list[str]:
    """Names starting with "_" that a module takes from another module (a private module itself may be imported)."""
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("casework"):
            names = [a.name for a in node.names if a.name.startswith("_") and not a.name.startswith("__")]
            out += [f"{node.module}.{n}" for n in names if f"{node.module}.{n}" not in modules]
    return out


def test_no_module_takes_another_modules_private_names():
    modules = _modules()
    taken = {name: found for name, path in modules.items() if (found := _private_imports(path, modules))}
    assert not taken, f"private names used across modules (make them public or move them): {taken}"


def test_the_checker_sees_an_upward_and_a_cyclic_import():
    """The checks can fail: a ground-floor module importing the boards, and a two-module cycle."""
    graph = {"casework.cells": {"casework.boards.app"}, "casework.kpi": {"casework.panel"},
             "casework.panel": {"casework.kpi"}}
    assert floor("casework.boards.app") > floor("casework.cells")
    assert _cycles(graph) == [{"casework.kpi", "casework.panel"}]


def test_the_checker_sees_a_private_import(tmp_path):
    module = tmp_path / "m.py"
    module.write_text("from casework.panel import _month_start\nfrom casework.effects import _fits\n")
    assert _private_imports(module, {"casework.effects._fits": module}) == ["casework.panel._month_start"]
