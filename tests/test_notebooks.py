"""Every analyst notebook executes (papermill) on small synthetic data and is stored without outputs."""

import json
import subprocess
import sys
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


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_has_no_outputs_and_matches_its_source(name):
    nb = json.loads((ROOT / "notebooks" / name).read_text())
    assert all(not c.get("outputs") and not c.get("execution_count") for c in nb["cells"] if c["cell_type"] == "code")
    assert any("parameters" in c.get("metadata", {}).get("tags", []) for c in nb["cells"])
    assert (ROOT / "notebooks" / name).with_suffix(".py").exists()


def test_notebooks_are_built_from_their_sources():
    r = subprocess.run([sys.executable, str(ROOT / "notebooks" / "build.py"), "--check"], capture_output=True,
                       text=True)
    assert r.returncode == 0, r.stdout + r.stderr


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
