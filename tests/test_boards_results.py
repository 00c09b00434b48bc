"""The boards' pandas-free data layer: same figures as pandas, same suppression, no pandas in a board's kernel."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from casework import privacy
from casework.boards.results import BoardData, BoardDataError, read_columns
from casework.cells import Cube, cube_figures, month_end
from casework.serve import ROOT

JCS, SEXES, SEGMENTS = ["JC-A", "JC-B", "JC-C"], ["f", "m", "d"], ["markt", "foerder", "unbekannt"]
MONTHS = pd.date_range("2019-01-01", "2021-12-01", freq="MS")


@st.composite
def cubes(draw):
    n = draw(st.integers(1, 60))
    pick = lambda values: draw(st.lists(st.sampled_from(values), min_size=n, max_size=n))  # noqa: E731
    counts = lambda: draw(st.lists(st.integers(0, 500), min_size=n, max_size=n))  # noqa: E731
    return pd.DataFrame({"jc_id": pick(JCS), "month": pick(list(MONTHS)), "sex": pick(SEXES),
                         "age_group": pick(["unter 25", "50 und älter"]), "segment": pick(SEGMENTS),
                         "stock": counts(), "ltr_stock": counts(), "integrations": counts(),
                         "ltr_integrations": counts(), "need_ending": counts()})


def _pandas_figures(frame, start, end, **filters):
    m = (frame["month"] >= start) & (frame["month"] <= end)
    for k, v in filters.items():
        if v != "alle":
            m &= frame[k] == v
    c, months = frame[m], (end.year - start.year) * 12 + end.month - start.month + 1
    return int(c["integrations"].sum()), c["stock"].sum() / months, int(c["need_ending"].sum())


@settings(max_examples=60, deadline=None)
@given(cubes(), st.sampled_from([*JCS, "alle", "JC-unknown"]), st.sampled_from([*SEXES, "alle"]),
       st.integers(0, 35), st.integers(0, 35))
def test_cube_figures_equal_a_plain_pandas_filter(frame, jc, sex, a, b):
    start, end = MONTHS[min(a, b)], MONTHS[max(a, b)]
    got = cube_figures(Cube.from_frame(frame), start, end, jc_id=jc, sex=sex)
    ints, avg, ending = _pandas_figures(frame, start, end, jc_id=jc, sex=sex)
    assert (got["integrations"], got["need_ending"]) == (ints, ending)
    assert got["avg_stock"] == pytest.approx(avg)
    again = cube_figures(frame, start, end, jc_id=jc, sex=sex)  # the DataFrame route gives the same
    assert {k: v for k, v in got.items() if v == v} == {k: v for k, v in again.items() if v == v}


@settings(max_examples=60, deadline=None)
@given(cubes(), st.sampled_from([*SEGMENTS, "alle"]))
def test_sums_by_month_and_level_equal_pandas_groupby(frame, segment):
    cube = Cube.from_frame(frame)
    mask = cube.mask(segment=segment)
    sel = frame if segment == "alle" else frame[frame["segment"] == segment]
    months, sums = cube.by_month(["stock"], mask)
    expected = sel.groupby("month")["stock"].sum()
    got = dict(zip(months, sums["stock"]))
    assert len(months) == frame["month"].nunique()  # every month of the cube, also those the selection lacks
    for month, value in expected.items():
        assert got[(month.year - 1970) * 12 + month.month - 1] == value
    assert sum(sums["stock"]) == sel["stock"].sum()
    levels, by_sex = cube.by_level("sex", ["integrations"], mask)
    assert dict(zip(levels, by_sex["integrations"].tolist())) == sel.groupby("sex")["integrations"].sum().to_dict()


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(0, 80), min_size=1, max_size=12), st.integers(1, 30), st.booleans())
def test_plain_column_suppression_protects_totals(values, threshold, total):
    cols = {"partner": [f"P{i}" for i in range(len(values))], "n": values}
    hidden = privacy.hide_cells(cols, ["n"], threshold, secondary=total)["n"]
    assert all(h for v, h in zip(values, hidden) if 0 < v < threshold)  # every small cell is hidden
    if total:
        visible_positive = [v for v, h in zip(values, hidden) if not h and v > 0]
        assert sum(hidden) != 1 or not visible_positive  # one hidden cell alone could be recovered from the total
    shown = privacy.suppress_columns(cols, ["n"], total=total, min_cell=threshold)
    frame = privacy.suppress(pd.DataFrame(cols), ["n"], total=total, min_cell=threshold)
    assert frame["n"].tolist() == shown["n"] and len(shown["n"]) == len(values) + total


def test_read_columns_keeps_values_and_gaps(tmp_path):
    frame = pd.DataFrame({"name": ["a", None, "c"], "flag": [True, False, True], "n": [1, 2, 3],
                          "x": [0.5, np.nan, 2.0], "day": pd.to_datetime(["2020-01-31", None, "2021-02-01"]),
                          "full_day": pd.to_datetime(["2020-01-31", "2020-02-01", "2021-02-01"])})
    frame.to_parquet(tmp_path / "t.parquet", index=False)
    cols = read_columns(tmp_path / "t.parquet")
    assert cols["name"] == ["a", None, "c"] and cols["flag"] == [True, False, True]
    assert cols["n"].tolist() == [1, 2, 3] and np.isnan(cols["x"][1]) and cols["x"][2] == 2.0
    assert cols["day"][1] is None and str(cols["day"][0])[:10] == "2020-01-31"
    assert [str(d)[:10] for d in cols["full_day"]] == ["2020-01-31", "2020-02-01", "2021-02-01"]
    assert str(month_end(cols["full_day"][1])) == "2020-02-29"


def test_damaged_files_are_named_and_remembered(tmp_path):
    (tmp_path / "manifest.json").write_text("{ broken", encoding="utf-8")
    with pytest.raises(BoardDataError, match="manifest.json"):
        BoardData.open(tmp_path)
    (tmp_path / "manifest.json").write_text(json.dumps({"tables": {}}), encoding="utf-8")
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "effects.parquet").write_bytes(b"not parquet")
    ds = BoardData.open(tmp_path)
    assert not ds.has_result("effects") and ds.problems["effects"]
    with pytest.raises(BoardDataError, match="effects.parquet"):
        ds.result("effects")
    assert BoardData.open(tmp_path / "nothing") is None


def test_a_board_kernel_never_imports_pandas(board_data):
    """What a cold board page costs is mostly imports: building and filtering every board stays pandas-free."""
    code = ("import sys\n"
            "from casework.boards.app import BOARDS, Board, index_board\n"
            "index_board()\n"
            "for key in BOARDS:\n"
            "    b = Board(BOARDS[key])\n"
            "    assert 'Daten nicht verfügbar' not in b.html() and 'noch keine Ergebnisse' not in b.html(), key\n"
            "    b.set_filters(sex='f', period='alle')\n"
            "print(sorted({'pandas', 'matplotlib', 'sklearn', 'statsmodels'} & set(sys.modules)))\n")
    env = {**os.environ, "CASEWORK_DATA": str(board_data)}
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.strip() == "[]", out.stdout


def test_an_analysts_dataset_opens_as_a_board(board_data):
    from casework.boards.app import BOARDS, Board
    from casework.store import Dataset

    board = Board(BOARDS["gelsenkirchen"], ds=Dataset.open(board_data / "gelsenkirchen", verify=False))
    assert "data-kpi='k2'" in board.html() and "Daten nicht verfügbar" not in board.html()
    with pytest.raises(ValueError, match="in memory"):
        Board(BOARDS["gelsenkirchen"], ds=Dataset.from_tables({}))
