"""One producer per stored result: casework.produce writes what the boards read; notebooks only narrate it."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import pandas as pd
import pytest

from casework import pipeline
from casework.panel import OUTCOMES
from casework.produce import BOARD_RESULTS, board_outcomes, did_tables, evaluable_projects, produce
from casework.store import Dataset
from tests.datasets import small

ROOT = Path(__file__).resolve().parents[1]


def _without_ground_truth(ds: Dataset, path: Path) -> Dataset:
    """The same tables as an analyst's imported dataset would have them: no ground truth, no truth table."""
    return Dataset.from_tables({t: ds.table(t) for t in ds.tables}).save(path)


def _results_fingerprint(ds: Dataset) -> dict:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(ds.results_dir.glob("*.*"))}


@pytest.fixture(scope="module")
def pankow(tmp_path_factory):
    ds = small("pankow", 1, 3000).save(tmp_path_factory.mktemp("produce") / "pankow")
    notes = produce(ds, small=True, log=lambda _: None)
    return ds, notes


def test_produce_stores_every_result_the_boards_read(pankow):
    ds, notes = pankow
    assert list(notes) == [*BOARD_RESULTS, "board aggregates"] and set(notes.values()) == {"stored"}
    for name in (*BOARD_RESULTS, "board_meta", "board_kpi_cube"):
        assert ds.has_result(name), name
    effects = ds.result("effects")
    assert {"sentence", "e_value", "e_value_ci", "truth", "outcome", "outcome_label"} <= set(effects.columns)
    # issue 16: one table per outcome the data give (pankow has unemployment spells), one row per measure in each
    assert list(effects["outcome"].unique()) == board_outcomes(ds) == list(OUTCOMES)
    assert not effects.duplicated(["outcome", "measure"]).any()
    estimated = effects[effects["estimate"].notna()]
    assert estimated["sentence"][estimated["outcome"] == "receipt_end_12m"].str.contains("Leistungsbezug").all()
    assert (estimated["outcome"] == "receipt_end_12m").any()
    did = ds.result("did")
    assert len(did) == len(evaluable_projects(ds)) > 0 and did["truth"].notna().all()
    # the Profillagen of every assessment, never filtered (notebook 2.01 filtered by its jobcenter parameter)
    assert len(ds.result("profillagen")) == len(ds.table("assessments"))


def test_did_table_is_the_one_project_did_recipe(pankow):
    from casework.effects.did import project_did

    ds, _ = pankow
    table, events = did_tables(ds, n_boot=49)
    direct = project_did(ds, n_boot=49)
    pd.testing.assert_frame_equal(table.drop(columns="truth"), direct)
    assert set(events["project"]) == set(table["project"])


def test_dataset_without_project_or_ground_truth(tmp_path):
    synthetic = small("gelsenkirchen", 2, 1500)
    synthetic.save(tmp_path / "synthetic")
    ds = _without_ground_truth(Dataset.open(tmp_path / "synthetic"), tmp_path / "own")
    ds.save_result("did", pd.DataFrame({"project": ["stale"]}))  # left from an earlier run on other data
    notes = produce(ds, small=True, log=lambda _: None)
    assert notes["did"].startswith("skipped") and not ds.has_result("did")
    assert notes["effects"] == "stored" and ds.result("effects")["truth"].isna().all()
    assert list(ds.result("effects")["outcome"].unique()) == board_outcomes(ds)
    assert not ds.result("effects")["sentence"].str.contains("Annahme").any()
    assert pipeline._missing(ds, "projects") == "no model project with comparison jobcenters"
    ds.save_result("effects", ds.result("effects").assign(estimate=float("nan")))
    assert pipeline._missing(ds, "effects") == "no measure kind with enough participants for an effect estimate"


def test_exit_from_unemployment_only_where_the_data_have_unemployment_spells():
    ds = small("gelsenkirchen", 2, 1500)
    assert board_outcomes(ds) == ["integration_12m", "receipt_end_12m", "unemployment_exit_12m"]
    without = Dataset.from_tables({t: ds.table(t) for t in ds.tables if t != "unemployment"})
    assert board_outcomes(without) == ["integration_12m", "receipt_end_12m"]


def test_summary_lists_every_step_and_counts():
    steps = [("own", "board results", "ok", 12.4, "did skipped: no project"),
             ("own", "3.03-model-project-evaluation", "skipped", None, "no model project with comparison jobcenters"),
             ("own", "0.01-describe-population", "FAILED", 3.0, "ValueError: x")]
    text = pipeline.summary(steps)
    assert re.search(r"^own +3\.03-model-project-evaluation +skipped +- +no model project", text, re.M)
    assert text.strip().endswith("1 dataset(s): 1 steps ok, 1 skipped, 1 failed")


def test_notebooks_store_nothing_the_boards_read():
    for source in (ROOT / "notebooks").glob("[0-9]*.py"):
        stored = re.findall(r'save_result\("(\w+)"', source.read_text(encoding="utf-8"))
        assert not set(stored) & {*BOARD_RESULTS, "board_meta"}, (source.name, stored)
        params = source.read_text(encoding="utf-8").split('# %% tags=["parameters"]')[1].split("# %%")[0]
        assert "store_results = False" in params, source.name


@pytest.mark.notebook
def test_exploring_a_notebook_leaves_the_stored_results_alone(pankow, tmp_path):
    ds, _ = pankow
    before = _results_fingerprint(ds)
    out = pipeline.run_notebook(ROOT / "notebooks" / "3.03-model-project-evaluation.ipynb", ds.path, small=True,
                                out_dir=tmp_path, timeout=600)
    executed = json.loads(out.read_text())
    assert not [o for c in executed["cells"] for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert _results_fingerprint(ds) == before


@pytest.mark.notebook
@pytest.mark.slow
def test_pipeline_on_a_dataset_without_ground_truth(tmp_path, capsys):
    small("gelsenkirchen", 3, 1500).save(tmp_path / "synthetic")
    own = _without_ground_truth(Dataset.open(tmp_path / "synthetic"), tmp_path / "own")
    assert pipeline.run([own.path], small=True, progress=False) == 0
    out = capsys.readouterr().out
    assert "no ground truth" in out
    assert re.search(r"^own +3\.03-model-project-evaluation +skipped", out, re.M)
    assert re.search(r"^own +2\.01-profiling-and-segmentation +ok", out, re.M)
    assert "0 failed" in out
    assert own.has_result("profiling_metrics") and own.has_result("board_kpi_cube")
