"""Boards of any project of a dataset (issue 20), the caseload in care (seed 004) and effects per outcome (issue 16).

* ``casework board new NAME --dataset DIR --project ID`` for a project that is not the dataset's main one shows
  that project's facts (it showed a note that the stored facts belong to another project);
* ABCaktiv's "circa 900 Personen" (seed 004, DOMAIN 0.7) is the team's caseload at one time: the board shows
  the persons in care on the data stand, labelled so, and the cumulative enrolments only labelled as such;
* the effects panel shows every stored outcome (integration, end of receipt, exit from unemployment) with a
  choice of the outcome, each from the stored results.

Without a browser here; the browser parts are at the end (marked ``browser``).
"""

from __future__ import annotations

import os
import re
import subprocess
from html import unescape
from pathlib import Path

import pandas as pd
import pytest

from casework import privacy
from casework.boards.build import board_projects, build_board, project_facts
from casework.boards.results import BoardData
from casework.boards.spec import BoardSpec
from casework.store import Dataset
from tests.datasets import small

SEED_004 = ("Das Team betreut marktferne, langzeitarbeitslose Kundinnen und Kunden (circa 900 Personen). "
            "Ungefähr 600 weitere Personen haben daneben zum Teil erhebliche gesundheitliche Einschränkungen.")


def _board(path, project, key="eigen"):
    from casework.boards.app import Board

    spec = BoardSpec(key, str(path), "Eigenes Board", "", project=project, did=True, custom=True)
    return Board(spec, ds=BoardData.open(path))


def _tiles(html: str) -> dict:
    """data-kpi -> shown value of every tile in ``html``."""
    found = re.findall(r"data-kpi='([^']+)'[^>]*><div class='cw-label'>[^<]*</div><div class='[^']*'>([^<]*)<", html)
    return {key: unescape(value) for key, value in found}


def _near(shown: str, exact: int) -> bool:
    """A shown count within the cell key perturbation of ``exact`` (or hidden exactly when it is small)."""
    if shown.startswith("<"):
        return 0 < exact < privacy.threshold()
    return abs(int(shown.replace(".", "")) - exact) <= privacy.MAX_PERTURBATION


@pytest.fixture(scope="module")
def nrw(tmp_path_factory):
    from casework.produce import did_tables

    ds = small("nrw_teilhabe", 1, 6000).save(tmp_path_factory.mktemp("nrw") / "nrw")
    build_board(ds)
    ds.save_result("did", did_tables(ds, n_boot=49)[0])
    return ds


@pytest.fixture(scope="module")
def pankow(tmp_path_factory):
    from casework.produce import did_tables

    ds = small("pankow", 1, 4000).save(tmp_path_factory.mktemp("pankow") / "pankow")
    build_board(ds)
    ds.save_result("did", did_tables(ds, n_boot=49)[0])
    return ds


def test_every_project_key_and_its_stem_is_stored(nrw, pankow):
    assert board_projects(nrw, "teilhabe_bund") == ["teilhabe_bund", "teilhabe", "teilhabe_land"]
    assert board_projects(pankow, "pankow") == ["pankow", "pankow_modell", "pankow_verstetigung"]
    assert nrw.result("board_meta")["projects"] == ["teilhabe_bund", "teilhabe", "teilhabe_land"]


def test_a_phase_of_a_project_shows_its_own_facts(pankow):
    """pankow_verstetigung (the second phase) is not the dataset's main project ("pankow")."""
    html = _board(pankow.path, "pankow_verstetigung").html()
    assert "werden deshalb nicht gezeigt" not in html and "keine Projektdaten" not in html
    facts = project_facts(pankow, "pankow_verstetigung").set_index("fact")["value"]
    tiles = _tiles(html)
    assert _near(tiles["project_participants"], int(facts["participants"]))
    assert _near(tiles["project_caseload"], int(facts["caseload"]))
    assert tiles["project_places"] == "900"  # the phase's own places, not the 600 of the model phase
    main = project_facts(pankow, "pankow").set_index("fact")["value"]
    assert facts["participants"] < main["participants"]  # a phase, not the whole project
    # its comparison with other jobcenters is the one of the whole project (phases are evaluated together)
    assert "data-did='1'" in html


def test_an_add_on_project_shows_its_facts_and_says_what_it_lacks(nrw):
    """teilhabe_land (state-funded coaching in 20 of the programme's jobcenters) has no enrolments or offers of
    its own and no comparison of its own: places and jobcenters are shown, the rest is said in German."""
    html = _board(nrw.path, "teilhabe_land").html()
    tiles = _tiles(html)
    facts = project_facts(nrw, "teilhabe_land").set_index("fact")["value"]
    assert tiles["project_jobcenters"] == "20" == str(facts["jobcenters"])
    assert tiles["project_places"].replace(".", "") == str(facts["places"])
    assert "project_participants" not in tiles and "keine Teilnahmen und keine Angebote" in html
    assert "keinen eigenen Vergleich mit anderen Jobcentern" in html
    # the jobcenter comparison marks the 20 coaching jobcenters as members
    j = nrw.result("board_jobcenters")
    own = j[j["for_project"] == "teilhabe_land"]
    assert own["project"].sum() == 20 and len(own) == nrw.table("jobcenters")["jc_id"].nunique()


def test_an_unknown_project_is_named_with_the_stored_ones(nrw):
    html = _board(nrw.path, "teilhabe_bund/JC-NW-01").html()
    assert "Für das Projekt „teilhabe_bund/JC-NW-01“ liegen keine Projektdaten vor" in html
    assert "„teilhabe_land“" in html


def test_the_main_project_board_is_unchanged(nrw):
    """The demo board (teilhabe_nrw, project teilhabe_bund) shows the same facts as before."""
    from casework.boards.app import BOARDS, Board

    html = Board(BOARDS["teilhabe_nrw"], ds=BoardData.open(nrw.path)).html()
    facts = project_facts(nrw, "teilhabe_bund").set_index("fact")["value"]
    tiles = _tiles(html)
    assert tiles["project_places"].replace(".", "") == str(facts["places"])
    assert _near(tiles["project_participants"], int(facts["participants"]))


# ---------------------------------------------------------------------------- caseload (seed 004)
def test_abcaktiv_caseload_is_the_standing_caseload_of_seed_004():
    """Seed 004: "{SEED_004}" — 900 + 600 in care at one time; the enrolments meet it on 30.09.2017."""
    ds = small("gelsenkirchen", 1, 20000)
    facts = project_facts(ds, "abcaktiv", stand="2017-09-30").set_index("fact")
    assert 1300 <= facts.loc["caseload", "value"] <= 1700
    assert facts.loc["caseload", "label"] == "Teilnehmende in Betreuung am 30.09.2017"
    assert facts.loc["participants", "value"] > facts.loc["caseload", "value"]  # turnover on top
    assert "insgesamt seit Projektbeginn" in facts.loc["participants", "label"]


def test_caseload_counts_enrolments_covering_the_day_once_per_person():
    base = small("gelsenkirchen", 1, 800)
    ids = base.table("persons")["person_id"].tolist()[:6]
    rows = [("e1", ids[0], "2017-01-01", "2017-09-30"),   # ends on the day: in care
            ("e2", ids[1], "2017-10-01", None),           # starts the day after: not yet
            ("e3", ids[2], "2016-05-01", None),           # open: in care
            ("e4", ids[3], "2016-05-01", "2017-09-29"),   # ended the day before
            ("e5", ids[4], "2016-01-01", "2016-12-31"), ("e6", ids[4], "2017-02-01", None),  # twice, once in care
            ("e7", ids[5], "2017-09-30", "2017-09-30")]   # one day, that day
    enrolments = pd.DataFrame(rows, columns=["enrolment_id", "person_id", "start", "end"]).assign(
        project_id="abcaktiv", start=lambda f: pd.to_datetime(f["start"]), end=lambda f: pd.to_datetime(f["end"]))
    ds = Dataset.from_tables({**{t: base.table(t) for t in base.tables}, "enrolments": enrolments})
    facts = project_facts(ds, "abcaktiv", stand="2017-09-30").set_index("fact")["value"]
    assert facts["caseload"] == 4 and facts["participants"] == 6


def test_caseload_cube_counts_what_the_facts_count_on_each_month_end():
    from casework.boards.build import caseload_cube

    ds = small("gelsenkirchen", 1, 3000)
    cube = caseload_cube(ds, ["abcaktiv"])
    for day in ("2016-06-30", "2017-09-30", "2018-12-31"):
        month = pd.Timestamp(day).replace(day=1)
        expected = project_facts(ds, "abcaktiv", stand=day).set_index("fact").loc["caseload", "value"]
        assert cube.loc[cube["month"] == month, "caseload"].sum() == expected > 0, day
    assert caseload_cube(ds, ["kein_projekt"]) is None


def test_caseload_tile_follows_the_period_and_the_filters(tmp_path):
    from casework.boards.app import BOARDS, Board
    from casework.cells import ALL

    ds = small("gelsenkirchen", 1, 3000).save(tmp_path / "gelsenkirchen")
    build_board(ds)
    board = Board(BOARDS["gelsenkirchen"], ds=BoardData.open(ds.path))
    e = ds.table("enrolments").merge(ds.table("persons")[["person_id", "sex"]], on="person_id")
    for year, sex in ((2016, ALL), (2017, ALL), (2018, "m")):
        board.set_filters(period=str(year), sex=sex)
        day = pd.Timestamp(f"{year}-12-31")
        care = e[(e["start"] <= day) & (e["end"].isna() | (e["end"] >= day)) & ((e["sex"] == sex) | (sex == ALL))]
        shown = dict(zip(board.view["tiles"]["kennzahl"], board.view["tiles"]["wert"]))["caseload"]
        assigned = int((~ds.table("persons")["sex"].isin(["f", "m"])).sum()) if sex != ALL else 0
        assert -privacy.MAX_PERTURBATION - assigned <= int(shown.replace(".", "")) - care["person_id"].nunique() \
            <= privacy.MAX_PERTURBATION + assigned, (year, sex, shown)
    assert f"am {day:%d.%m.%Y}" in board.html()


# ---------------------------------------------------------------------------- effects per outcome
@pytest.fixture(scope="module")
def produced(tmp_path_factory):
    from casework.produce import produce

    ds = small("gelsenkirchen", 1, 3000).save(tmp_path_factory.mktemp("outcomes") / "gelsenkirchen")
    produce(ds, small=True, log=lambda _: None)
    return ds


def test_effects_panel_offers_every_stored_outcome_and_shows_its_numbers(produced):
    from casework.boards.app import BOARDS, Board

    board = Board(BOARDS["gelsenkirchen"], ds=BoardData.open(produced.path))
    stored = produced.result("effects")
    assert [v for _, v in board.outcome.options] == list(dict.fromkeys(stored["outcome"])) == [
        "integration_12m", "receipt_end_12m", "unemployment_exit_12m"]
    assert [label for label, _ in board.outcome.options][1] == "Ende des Leistungsbezugs innerhalb von 12 Monaten"
    for outcome in ("receipt_end_12m", "unemployment_exit_12m", "integration_12m"):
        board.outcome.value = outcome
        html = board.effects.value
        assert f"data-outcome='{outcome}'" in html
        rows = stored[(stored["outcome"] == outcome) & (stored["n_treated"] >= privacy.threshold())
                      & stored["estimate"].notna()]
        shown = re.findall(r"<p class='cw-sentence' data-measure='([^']+)'>([^<]*)</p>", html)
        assert sorted(shown) == sorted(zip(rows["measure"], rows["sentence"])), outcome
        assert len(shown) > 0, outcome
        others = stored[stored["outcome"] != outcome]["sentence"]
        assert not any(s in html for s in others if s not in set(rows["sentence"]))


def test_old_effects_without_an_outcome_column_are_the_integration(produced, tmp_path):
    import shutil

    from casework.boards import panels

    copy = tmp_path / "old"
    shutil.copytree(produced.path, copy)
    old = Dataset.open(copy, verify=False)
    e = old.result("effects")
    old.save_result("effects", e[e["outcome"] == "integration_12m"].drop(columns=["outcome", "outcome_label"]))
    bd = BoardData.open(copy)
    assert panels.effect_outcomes(bd) == [("Integration innerhalb von 12 Monaten", "integration_12m")]
    assert "data-outcome='integration_12m'" in panels.effects_panel(bd)


# ---------------------------------------------------------------------------- in the browser
@pytest.mark.browser
def test_board_new_for_a_non_main_project_in_chromium(nrw, tmp_path):
    """`casework board new` for the NRW state coaching (not the dataset's main project), served and opened."""
    from playwright.sync_api import expect, sync_playwright

    from casework.serve import free_port, prepare_template, stop_server, voila_command, voila_env, wait_until_serving
    from tests.test_dashboards import _AXE_RUN, AXE, CHROME_ARGS, CHROMIUM, _open

    dash = tmp_path / "dashboards"
    # and a dataset without unemployment spells: no Langzeitarbeitslose, a German note instead (issue 16)
    base = small("gelsenkirchen", 1, 1500)
    plain = Dataset.from_tables({t: base.table(t) for t in base.tables if t != "unemployment"}).save(
        nrw.path.parent / "ohne_arbeitslosigkeit")
    build_board(plain)
    for name, path, extra in (("coaching", nrw.path, ["--project", "teilhabe_land"]),
                              ("plain", plain.path, [])):
        r = subprocess.run([str(Path(os.sys.executable)), "-m", "casework", "board", "new", name, "--dataset",
                            str(path), *extra, "--title", f"Board {name}", "--dashboards", str(dash)],
                           capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
    port = free_port()
    log = open(tmp_path / "voila.log", "w")
    proc = subprocess.Popen(voila_command(dash, port=port, preheat=False),
                            env=voila_env(prepare_template(tmp_path / "jupyter"), nrw.path.parent, dash),
                            cwd=dash, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_until_serving(f"http://127.0.0.1:{port}/", proc=proc, timeout=90, log_path=tmp_path / "voila.log")
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROME_ARGS)
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            _open(page, f"http://127.0.0.1:{port}/voila/render/coaching.ipynb")
            facts = project_facts(nrw, "teilhabe_land").set_index("fact")["value"]
            expect(page.locator("[data-kpi='project_jobcenters'] .cw-value")).to_have_text(
                str(facts["jobcenters"]), timeout=60_000)
            expect(page.locator("[data-kpi='project_places'] .cw-value")).to_have_text(
                f"{facts['places']:,}".replace(",", "."))
            body = page.locator("body").inner_text()
            assert "werden deshalb nicht gezeigt" not in body and "keine Teilnahmen und keine Angebote" in body
            if AXE.exists():
                page.add_script_tag(content=AXE.read_text(encoding="utf-8"))
                assert page.evaluate(_AXE_RUN) == []
            _open(page, f"http://127.0.0.1:{port}/voila/render/plain.ipynb")
            expect(page.locator("[data-kpi='lza'] .cw-value")).to_have_text("keine Angabe", timeout=60_000)
            assert "keine Zeiten registrierter Arbeitslosigkeit" in page.locator("[data-kpi='lza']").inner_text()
            assert "Erläuterung der Kennzahlen" in page.locator("[data-glossary='1']").inner_text()
            browser.close()
    finally:
        stop_server(proc)
        log.close()
