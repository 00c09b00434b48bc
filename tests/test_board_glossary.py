"""Issue 16 on the boards: the Langzeitarbeitslose tile and the glossary of the key figures (without a browser).

§ 18 Abs. 1 SGB III: "Langzeitarbeitslose sind Arbeitslose, die ein Jahr und länger arbeitslos sind."
The board's cube (:func:`casework.boards.build.lza_cube`) must count, in every month and cell, exactly what
:func:`casework.kpi.key_figures` counts as ``lza`` for that Bezugsmonat; the tile shows that count through
:mod:`casework.privacy`; a dataset without unemployment spells gets a German note instead of a number.
The browser side is in tests/test_dashboards.py and tests/test_own_data.py.
"""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from casework import kpi, privacy
from casework.boards.build import lza_cube
from casework.cells import ALL
from casework.kpi_defs import KPI_DEFINITIONS
from casework.store import Dataset
from tests.datasets import small

MONTHS = ("2015-06-01", "2016-12-01", "2018-03-01")


def _with_unemployment(ds, spells: pd.DataFrame) -> Dataset:
    tables = {name: ds.table(name) for name in ds.tables}
    tables["unemployment"] = spells
    return Dataset.from_tables(tables)


def _cube_count(cube: pd.DataFrame, month: str, **filters) -> int:
    rows = cube[cube["month"] == pd.Timestamp(month)]
    for dim, value in filters.items():
        rows = rows[rows[dim] == value]
    return int(rows["lza"].sum())


_SPELL_IDS = iter(range(10**9))


def _spell(pid, start, end=None):
    return {"unemployment_id": f"u{next(_SPELL_IDS)}", "person_id": pid, "start": pd.Timestamp(start),
            "end": pd.NaT if end is None else pd.Timestamp(end)}


def test_cube_counts_what_kpi_counts_in_every_sampled_month_and_filter():
    ds = small("gelsenkirchen", 1, 3000)
    cube = lza_cube(ds)
    assert cube is not None and cube["lza"].sum() > 0
    for month in MONTHS:
        exact = kpi.key_figures(ds, month, month).set_index("kpi")["value"]
        assert _cube_count(cube, month) == exact["lza"] > 0, month
    women_50 = kpi.key_figures(ds, MONTHS[1], MONTHS[1], {"sex": "f", "age_group": "50 und älter"})
    assert _cube_count(cube, MONTHS[1], sex="f", age_group="50 und älter") == \
        women_50.set_index("kpi").loc["lza", "value"]


def test_hand_made_edges_of_one_year():
    """364 days (the BA's "ein Jahr") reached on the month's last day or one day later; a gap of 43 days breaks
    the run (§ 18 Abs. 1 Satz 2 SGB III: up to six weeks do not, kpi.LZA_BRIDGE_DAYS), spells meeting without a
    day between do not; an open spell runs on."""
    base = small("gelsenkirchen", 1, 800)
    ids = base.table("persons")["person_id"].tolist()[:6]
    spells = pd.DataFrame([
        _spell(ids[0], "2016-01-03", "2017-02-10"),        # 364 days on 01.01.2017: counts at 31.01.2017
        _spell(ids[1], "2016-02-02", "2017-02-10"),        # 31.01.2017 is exactly 364 days later (leap year)
        _spell(ids[2], "2016-02-03", "2017-02-10"),        # 363 days on 31.01.2017: not yet
        _spell(ids[3], "2015-06-01", "2016-05-31"), _spell(ids[3], "2016-06-01", "2017-01-31"),  # no day between
        _spell(ids[4], "2015-06-01", "2016-04-18"), _spell(ids[4], "2016-06-01"),                # 43 days missing
        _spell(ids[5], "2015-01-01"),                                                              # open
    ])
    ds = _with_unemployment(base, spells)
    cube = lza_cube(ds)
    exact = kpi.key_figures(ds, "2017-01-01", "2017-01-01").set_index("kpi").loc["lza", "value"]
    assert _cube_count(cube, "2017-01-01") == exact == 4  # ids 0, 1, 3, 5
    assert _cube_count(cube, "2017-02-01") == kpi.key_figures(ds, "2017-02-01", "2017-02-01").set_index(
        "kpi").loc["lza", "value"] == 1  # only the open spell reaches 28.02.2017


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.integers(0, 5), st.integers(0, 1500), st.one_of(st.none(), st.integers(0, 700))),
                min_size=1, max_size=14),
       st.sampled_from(MONTHS))
def test_cube_equals_kpi_on_arbitrary_spells(spells, month):
    base = small("gelsenkirchen", 1, 800)
    ids = base.table("persons")["person_id"].tolist()[:6]
    day0 = pd.Timestamp("2014-06-01")
    rows = [_spell(ids[p], day0 + pd.Timedelta(days=s), None if d is None else day0 + pd.Timedelta(days=s + d))
            for p, s, d in spells]
    ds = _with_unemployment(base, pd.DataFrame(rows))
    exact = kpi.key_figures(ds, month, month).set_index("kpi").loc["lza", "value"]
    assert _cube_count(lza_cube(ds), month) == exact


def test_no_unemployment_table_no_cube():
    base = small("gelsenkirchen", 1, 800)
    ds = Dataset.from_tables({name: base.table(name) for name in base.tables if name != "unemployment"})
    assert lza_cube(ds) is None
    assert pd.isna(kpi.key_figures(ds, MONTHS[0], MONTHS[0]).set_index("kpi").loc["lza", "value"])


@pytest.fixture(scope="module")
def boards(tmp_path_factory):
    """A produced small dataset with unemployment spells, and the same without them."""
    from casework.produce import produce

    root = tmp_path_factory.mktemp("lza")
    ds = small("gelsenkirchen", 1, 3000)
    produce(ds.save(root / "with"), small=True, log=lambda _: None)
    without = Dataset.from_tables({name: ds.table(name) for name in ds.tables if name != "unemployment"})
    produce(without.save(root / "without"), small=True, log=lambda _: None)
    return root


def _board(path):
    from casework.boards.app import BOARDS, Board
    from casework.boards.results import BoardData

    return Board(BOARDS["gelsenkirchen"], ds=BoardData.open(path))


def test_tile_shows_the_protected_count_of_kpi(boards):
    board = _board(boards / "with")
    ds = Dataset.open(boards / "with", verify=False)
    for period, filters in (("2017", {}), ("2016", {"sex": "f"}), ("2018", {"age_group": "35 bis 49"})):
        board.set_filters(period=period, **{"sex": ALL, "age_group": ALL, **filters})
        shown = dict(zip(board.view["tiles"]["kennzahl"], board.view["tiles"]["wert"]))["lza"]
        exact = kpi.key_figures(ds, f"{period}-12-01", f"{period}-12-01", filters).set_index("kpi").loc["lza",
                                                                                                      "value"]
        assigned = int((~ds.table("persons")["sex"].isin(["f", "m"])).sum()) if "sex" in filters else 0
        if shown.startswith("<"):
            assert 0 < exact < privacy.threshold()
        else:
            assert -privacy.MAX_PERTURBATION <= int(shown.replace(".", "")) - exact <= \
                privacy.MAX_PERTURBATION + assigned, (period, filters, shown, exact)
    assert "31.12.2018" in board.html()  # the tile names its day


def test_without_unemployment_spells_the_tile_says_so_in_german(boards):
    board = _board(boards / "without")
    board.set_filters(period="2017")
    tiles = dict(zip(board.view["tiles"]["kennzahl"], board.view["tiles"]["wert"]))
    assert tiles["lza"] == "keine Angabe"
    assert "keine Zeiten registrierter Arbeitslosigkeit" in board.html()
    assert not (boards / "without" / "results" / "board_lza_cube.parquet").exists()


def test_glossary_lists_each_figure_with_code_name_and_definition(boards):
    html = _board(boards / "with").html()
    glossary = html[html.index("data-glossary"):]
    for code in ("K2", "K3E1", "K3", "K1E2"):
        assert f"<td>{code}</td>" in glossary, code
    for key in ("k2", "k3e1", "k3", "k1e2", "need_ending", "lza", "integrations", "avg_stock"):
        name, text = KPI_DEFINITIONS[key]
        assert name.split(" (K")[0] in glossary and text.split(";")[0] in glossary, key
    assert "eigene Berechnung" in glossary
