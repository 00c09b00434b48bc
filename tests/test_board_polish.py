"""Board polish: German rounding half up, charts that scale, wrap and show isolated points, the exports."""

from __future__ import annotations

import base64
import io
import re
import zipfile
from decimal import ROUND_HALF_UP, Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from casework import fmt
from casework.boards import charts


@pytest.mark.parametrize("value, decimals, text", [
    (2.5, 0, "3"), (3.5, 0, "4"), (-2.5, 0, "-3"), (0.125, 2, "0,13"), (2.675, 2, "2,68"), (1234.45, 1, "1.234,5"),
    (0.5, 0, "1"), (-0.4, 0, "0"), (1e6 + 0.5, 0, "1.000.001"),
])
def test_number_rounds_half_up_as_din_1333(value, decimals, text):
    # DIN 1333: "Ist die erste wegfallende Ziffer eine 5 ..., so wird aufgerundet" (away from zero for negatives)
    assert fmt.number(value, decimals) == text


def test_percent_rounds_the_shown_digits_half_up():
    assert fmt.percent(0.1235) == "12,4 %"  # 100 * 0.1235 is 12.349999... in binary
    assert fmt.percent(0.0005, 1) == "0,1 %" and fmt.pp(0.0125) == "1,3 Prozentpunkte"
    assert fmt.interval(0.0125, 0.0375) == "1,3 bis 3,8"
    assert fmt.round_half_up(547.5) == 548 and fmt.round_half_up(548.5) == 549 and round(548.5) == 548


@given(st.decimals(min_value=-10**6, max_value=10**6, places=3, allow_nan=False, allow_infinity=False),
       st.integers(0, 2))
def test_number_equals_decimal_half_up_of_the_written_value(d, decimals):
    expected = d.quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP)
    assert fmt.parse_number(fmt.number(float(str(d)), decimals)) == float(expected)


def test_charts_scale_with_the_page():
    svg = charts.line_chart([f"{m:02d}.2020" for m in range(1, 25)], list(range(24)), "Trend")
    assert "viewBox='0 0 900 280'" in svg and "width:100%" in svg and "max-width:900px" in svg
    assert not re.search(r"<svg[^>]* width='\d+'", svg)  # no fixed width: a 768-px tablet shows all of it


def test_long_labels_are_wrapped_not_clipped():
    label = "geförderte Beschäftigung mit Coaching"
    svg = charts.forest_chart([label, "Schuldnerberatung"], [0.02, 0.01], [0.0, -0.01], [0.04, 0.03], "Effekte")
    spans = re.findall(r"<tspan[^>]*>([^<]*)</tspan>", svg)
    assert " ".join(spans[:2]) == label or label in spans
    assert all(len(s) <= 34 for s in spans)
    bars = charts.bar_chart([label * 2], {"a": [30]}, "Zuweisungen")
    assert all(len(s) <= 30 for s in re.findall(r"<tspan[^>]*>([^<]*)</tspan>", bars))


def test_a_value_between_hidden_months_is_drawn():
    svg = charts.line_chart(["1", "2", "3", "4", "5"], [None, 2.0, None, 3.0, 4.0], "Trend")
    assert svg.count("<circle") == 1 and svg.count("<polyline") == 1


@pytest.fixture(scope="module")
def board(tmp_path_factory):
    from casework.boards.app import Board
    from casework.boards.spec import BOARDS
    from casework.produce import produce
    from tests.datasets import small

    ds = small("gelsenkirchen", 1, 2000).save(tmp_path_factory.mktemp("polish") / "gelsenkirchen")
    produce(ds, small=True, log=lambda _: None)
    return Board(BOARDS["gelsenkirchen"], ds=ds)


def _downloads(html: str) -> dict:
    return {name: base64.b64decode(data) for name, data in
            re.findall(r"download='([^']+)' href='data:[^;]+;base64,([^']+)'", html)}


def test_export_is_one_xlsx_with_a_sheet_per_table_and_a_zip_of_csv_files(board):
    import openpyxl

    files = _downloads(board._export_links())
    stem = f"gelsenkirchen_{board.filters['period'].value}"
    assert set(files) == {f"{stem}.xlsx", f"{stem}_csv.zip", f"{stem}.png"}
    book = openpyxl.load_workbook(io.BytesIO(files[f"{stem}.xlsx"]))
    assert book.sheetnames == ["Kennzahlen", "Entwicklung", "Vermittlungen"]
    with zipfile.ZipFile(io.BytesIO(files[f"{stem}_csv.zip"])) as zf:
        names = zf.namelist()
        assert names == [f"{stem}_{t}.csv" for t in ("Kennzahlen", "Entwicklung", "Vermittlungen")]
        tiles = zf.read(names[0]).decode("utf-8-sig")
    assert tiles.splitlines()[0] == "kennzahl;bezeichnung;wert;erläuterung" and "#" not in tiles
    assert [line.split(";")[2] for line in tiles.splitlines()[1:]] == board.view["tiles"]["wert"]
