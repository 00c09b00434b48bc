"""Every analyst notebook executes (papermill) on small synthetic data and is stored without outputs."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from casework import pipeline
from tests.datasets import small

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted(p.name for p in (ROOT / "notebooks").glob("[0-9]*.ipynb"))
#: which small dataset each notebook is executed on in the tests (make run executes all on all)
SCENARIO_FOR = {"3.03-model-project-evaluation.ipynb": "pankow"}


@pytest.fixture(scope="session")
def small_datasets(tmp_path_factory):
    root = tmp_path_factory.mktemp("nbdata")
    return {s: small(s, 1, 4000).save(root / s).path for s in ("gelsenkirchen", "pankow")}


def test_notebooks_exist_and_are_declared():
    assert NOTEBOOKS, "no notebooks found"
    for name in NOTEBOOKS:
        assert name in pipeline.NOTEBOOKS, f"{name} is not run by the pipeline"


def _cells(nb) -> list[tuple]:
    return [(c.cell_type, c.source, c.metadata.get("tags", [])) for c in nb.cells]


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_has_no_outputs_and_matches_its_source(name):
    import jupytext
    import nbformat

    path = ROOT / "notebooks" / name
    nb = nbformat.read(path, as_version=4)
    assert all(not c.get("outputs") and not c.get("execution_count") for c in nb.cells if c.cell_type == "code"), \
        f"{name} has outputs: run make notebooks"
    assert any("parameters" in c.metadata.get("tags", []) for c in nb.cells)
    source = jupytext.read(path.with_suffix(".py"))
    assert _cells(nb) == _cells(source), f"{name} differs from its .py source: run make notebooks"


def test_notebooks_are_paired_with_jupytext():
    from jupytext.config import load_jupytext_configuration_file

    config = load_jupytext_configuration_file(str(ROOT / "notebooks" / "jupytext.toml"))
    assert config.default_formats(str(ROOT / "notebooks" / NOTEBOOKS[0])) == "ipynb,py:percent"


def test_make_notebooks_syncs_both_ways_and_strips_outputs(tmp_path):
    """An analyst's edit in JupyterLab (the .ipynb) reaches the .py source; an edit of the .py reaches the .ipynb."""
    import shutil

    import nbformat

    for name in ("jupytext.toml", "0.01-describe-population.py", "0.01-describe-population.ipynb",
                 "4.01-capacity-planning.py", "4.01-capacity-planning.ipynb"):
        shutil.copy(ROOT / "notebooks" / name, tmp_path / name)
    edited = nbformat.read(tmp_path / "0.01-describe-population.ipynb", as_version=4)
    edited.cells.append(nbformat.v4.new_code_cell("edited_in_lab = 1", outputs=[nbformat.v4.new_output(
        "stream", text="some output")], execution_count=3))
    nbformat.write(edited, tmp_path / "0.01-describe-population.ipynb")
    text = (tmp_path / "4.01-capacity-planning.py").read_text() + "\n# %%\nedited_as_text = 2\n"
    (tmp_path / "4.01-capacity-planning.py").write_text(text)
    os.utime(tmp_path / "4.01-capacity-planning.py", (time.time() + 5, time.time() + 5))
    r = subprocess.run(["make", "-s", "-C", str(ROOT), "-o", ".venv/.installed", "notebooks",
                        f"NOTEBOOKS_DIR={tmp_path}", f"VENV={Path(sys.executable).parents[1]}"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "edited_in_lab = 1" in (tmp_path / "0.01-describe-population.py").read_text()
    back = nbformat.read(tmp_path / "0.01-describe-population.ipynb", as_version=4)
    assert back.cells[-1].source == "edited_in_lab = 1" and not back.cells[-1].outputs
    assert nbformat.read(tmp_path / "4.01-capacity-planning.ipynb", as_version=4).cells[-1].source == \
        "edited_as_text = 2"


@pytest.mark.notebook
@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_executes(name, small_datasets, tmp_path):
    dataset = small_datasets[SCENARIO_FOR.get(name, "gelsenkirchen")]
    out = pipeline.run_notebook(ROOT / "notebooks" / name, dataset, small=True, out_dir=tmp_path, timeout=600)
    executed = json.loads(out.read_text())
    errors = [o for c in executed["cells"] for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors


def test_pipeline_kernels_talk_over_encrypted_channels(tmp_path, capfd):
    import nbformat
    import zmq

    nb = nbformat.v4.new_notebook(metadata={"kernelspec": {"name": "python3", "language": "python",
                                                           "display_name": "Python 3"}})
    nb.cells = [nbformat.v4.new_code_cell("print('ran on', dataset)")]
    nbformat.write(nb, tmp_path / "probe.ipynb")
    out = pipeline.run_notebook(tmp_path / "probe.ipynb", tmp_path / "ds", out_dir=tmp_path / "out", timeout=120)
    text = nbformat.read(out, as_version=4).cells[-1].outputs[0]["text"]
    assert text.startswith("ran on ") and text.strip().endswith("ds")
    if zmq.has("curve"):  # ipykernel warns on every kernel started over plain TCP
        assert "without encryption" not in capfd.readouterr().err
