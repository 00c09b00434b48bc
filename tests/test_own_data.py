"""docs/own-data.md end to end: example export -> mapping -> import -> validate -> pipeline -> board new -> serve.

The dataset has no ground truth (as an analyst's own data); the board is opened in Chromium and its KPI
tiles must equal casework.kpi on the imported dataset up to the cell key perturbation of casework.privacy.
Without a browser, the same board's HTML is
checked in the fast tests (board parameters, German notes for panels without data, the landing page).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from casework import paths
from casework.boards.catalog import dashboard_specs, new_board, spec_from_notebook
from casework.cli import main
from casework.store import Dataset

ROOT = Path(__file__).resolve().parents[1]
KEY = "own-data-test-key-0123456789abcdef"


@pytest.fixture(scope="module")
def own(tmp_path_factory):
    """The walk-through's first steps: export, import (pseudonymised), validate; data folder and dashboards."""
    from casework.produce import produce

    root = tmp_path_factory.mktemp("own")
    assert main(["example-export", str(root / "raw"), "--persons", "2500"]) == 0
    export = (root / "raw" / "persons.csv").read_text(encoding="cp1252")
    assert "Kundennummer" in export and "Bahnhofstraße" in export
    old = os.environ.get("CASEWORK_PSEUDONYM_KEY")
    os.environ["CASEWORK_PSEUDONYM_KEY"] = KEY
    try:
        assert main(["import", str(root / "raw"), "--mapping", str(root / "raw" / "mapping.yaml"),
                     "--out", str(root / "data" / "example")]) == 0
    finally:
        os.environ.pop("CASEWORK_PSEUDONYM_KEY") if old is None else os.environ.update(CASEWORK_PSEUDONYM_KEY=old)
    assert main(["validate", str(root / "data" / "example")]) == 0
    ds = Dataset.open(root / "data" / "example")
    assert ds.ground_truth is None and ds.truth is None
    persons = ds.table("persons")
    assert persons["person_id"].str.startswith("p_").all()  # customer numbers became pseudonyms
    assert not {"Name", "Vorname", "Straße"} & set(persons.columns)
    produce(ds, small=True, log=lambda _: None)  # the browser test runs the whole pipeline instead
    dash = root / "dashboards"
    dash.mkdir()
    shutil.copy(paths.packaged("dashboards") / "index.ipynb", dash / "index.ipynb")
    return root


def test_board_new_writes_a_thin_notebook_with_visible_parameters(own, monkeypatch, capsys):
    monkeypatch.setenv("CASEWORK_DATA", str(own / "data"))
    assert main(["board", "new", "example", "--dataset", str(own / "data" / "example"), "--title",
                 "Unser Netzwerk: Kennzahlen", "--dashboards", str(own / "dashboards")]) == 0
    nb = json.loads((own / "dashboards" / "example.ipynb").read_text())
    params = "".join(nb["cells"][0]["source"])
    assert nb["cells"][0]["metadata"]["tags"] == ["parameters"]
    assert "dataset = 'example'" in params and "project = None" in params and "panels = [" in params
    spec = spec_from_notebook(own / "dashboards" / "example.ipynb")
    assert (spec.key, spec.dataset, spec.title, spec.custom) == ("example", "example", "Unser Netzwerk: Kennzahlen",
                                                                   True)
    # a second board of the same name is refused; an unknown project is refused with the keys there are
    assert main(["board", "new", "example", "--dataset", str(own / "data" / "example"),
                 "--dashboards", str(own / "dashboards")]) == 1
    assert main(["board", "new", "other", "--dataset", str(own / "data" / "example"), "--project", "nope",
                 "--dashboards", str(own / "dashboards")]) == 1
    err = capsys.readouterr().err
    assert "exists" in err and "no project 'nope'" in err and "abcaktiv" in err
    with pytest.raises(ValueError, match="board name"):
        new_board("../evil", dataset="example", folder=own / "dashboards")


def test_board_and_landing_page_without_a_browser(own, monkeypatch):
    from casework.boards.app import Board, index_board

    monkeypatch.setenv("CASEWORK_DATA", str(own / "data"))
    if not (own / "dashboards" / "example.ipynb").exists():
        new_board("example", dataset="example", folder=own / "dashboards", title="Unser Netzwerk: Kennzahlen")
    board = Board(spec_from_notebook(own / "dashboards" / "example.ipynb"))
    html = board.html()
    assert "Für dieses Board ist kein Modellprojekt angegeben" in html  # no project given: said in German
    assert "Kein Projekt mit Vergleichsjobcentern" in html or "noch keine Ergebnisse" in html
    assert "Datenstand:" in html and board.view["tiles"]["wert"]
    page = index_board(own / "dashboards").children[0].value
    assert "data-board='example'" in page and "Unser Netzwerk: Kennzahlen" in page and "importierte Daten" in page
    assert [s.key for s, _ in dashboard_specs(own / "dashboards")] == ["example"]


def test_unreadable_board_notebook_is_named_on_the_landing_page(tmp_path):
    from casework.boards.app import index_board

    (tmp_path / "index.ipynb").write_text("{}")
    nb = json.loads(json.dumps(
        {"cells": [{"cell_type": "code", "metadata": {"tags": ["parameters"]}, "source": "dataset = open('x')\n"}]}))
    (tmp_path / "broken.ipynb").write_text(json.dumps(nb))
    page = index_board(tmp_path).children[0].value
    assert "broken.ipynb, line 1: dataset must be a literal" in page


def _expected_tiles(ds, notebook: Path, year: int) -> dict:
    """The tiles the board must show for ``year``: its data layer's protected figures, each within the cell
    key perturbation's maximum of what casework.kpi computes on the dataset (or hidden exactly when that is
    under the threshold)."""
    from casework import kpi, privacy
    from casework.boards.app import Board
    from casework.boards.results import BoardData

    board = Board(spec_from_notebook(notebook), ds=BoardData.open(ds.path))
    board.set_filters(period=str(year))
    tiles = dict(zip(board.view["tiles"]["kennzahl"], board.view["tiles"]["wert"]))
    exact = kpi.key_figures(ds, f"{year}-01-01", f"{year}-12-01", {}).set_index("kpi")["value"]
    # the example export has unemployment spells: Langzeitarbeitslose on the period's last day (issue 16)
    for key, value in (("integrations", exact["integrations"]), ("avg_stock", exact["avg_stock"]),
                       ("lza", exact["lza"])):
        if tiles[key].startswith("<"):
            assert 0 < value < privacy.threshold(), (key, tiles[key], value)
        else:
            assert abs(int(tiles[key].replace(".", "")) - value) <= privacy.MAX_PERTURBATION + 0.5, (key, value)
    return {k: tiles[k] for k in ("k2", "integrations", "avg_stock", "k3", "lza")}


@pytest.mark.browser
@pytest.mark.notebook
@pytest.mark.slow
def test_walk_through_end_to_end_in_chromium(own, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    from casework import pipeline
    from casework.serve import free_port, prepare_template, stop_server, voila_command, voila_env, wait_until_serving
    from tests.test_dashboards import CHROME_ARGS, CHROMIUM, _open, _select

    data = own / "data"
    assert pipeline.run([data / "example"], small=True, progress=False) == 0
    env_data = {**os.environ, "CASEWORK_DATA": str(data)}
    r = subprocess.run([str(Path(os.sys.executable)), "-m", "casework", "board", "new", "walk", "--dataset",
                        str(data / "example"), "--title", "Unser Netzwerk im Browser", "--dashboards",
                        str(own / "dashboards")], env=env_data, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    port = free_port()
    log = open(tmp_path / "voila.log", "w")
    proc = subprocess.Popen(voila_command(own / "dashboards", port=port, preheat=False),
                            env=voila_env(prepare_template(tmp_path / "jupyter"), data, own / "dashboards"),
                            cwd=own / "dashboards", stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_until_serving(f"http://127.0.0.1:{port}/", proc=proc, timeout=90, log_path=tmp_path / "voila.log")
        base = f"http://127.0.0.1:{port}/voila/render/"
        ds = Dataset.open(data / "example", verify=False)
        year = int(ds.result("board_meta")["data_stand"][:4]) - 1
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROME_ARGS)
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            _open(page, base + "index.ipynb")
            expect(page.locator("[data-board='walk'] h3")).to_have_text("Unser Netzwerk im Browser", timeout=60_000)
            assert "Datenstand:" in page.locator("[data-stand='walk']").inner_text()
            _open(page, base + "walk.ipynb")
            _select(page, "Zeitraum", f"Jahr {year}")
            for key, value in _expected_tiles(ds, own / "dashboards" / "walk.ipynb", year).items():
                expect(page.locator(f"[data-kpi='{key}'] .cw-value")).to_have_text(value, timeout=30_000)
            assert "kein Modellprojekt angegeben" in page.locator("body").inner_text()
            browser.close()
    finally:
        stop_server(proc)
        log.close()


def _notebook_with_output(path: Path, output: dict) -> Path:
    nb = {"cells": [{"cell_type": "code", "metadata": {}, "source": "x", "outputs": [output]}], "metadata": {},
          "nbformat": 4, "nbformat_minor": 5}
    path.write_text(json.dumps(nb))
    return path


@pytest.mark.parametrize("output, found", [
    ({"output_type": "stream", "name": "stdout", "text": "p_4978ed7afb400e7a 3\n"}, "pseudonym"),
    ({"output_type": "execute_result", "data": {"text/html": ["<th>person_id</th>"]}}, "person key column"),
    ({"output_type": "display_data", "data": {"text/plain": "0  P0000001  f"}}, "a person id"),
    ({"output_type": "execute_result", "data": {"text/html": "<td>Integrationen</td><td>1.234</td>"}}, None),
])
def test_board_check_refuses_notebooks_that_show_person_keys(tmp_path, capsys, output, found):
    nb = _notebook_with_output(tmp_path / "analysis.ipynb", output)
    assert main(["board", "check", str(nb)]) == (1 if found else 0)
    out = capsys.readouterr().out
    assert ("refused: cell 1:" in out and found in out) if found else "no person keys" in out
