"""The analysis pipeline: run the parameterised notebooks on datasets with papermill.

Each notebook writes its results to ``<dataset>/results/`` (through
``Dataset.save_result``); dashboards only read those results. The executed
notebooks are kept under ``<dataset>/results/notebooks/`` as a record.

Which notebooks run for which dataset is declared in :data:`NOTEBOOKS`; a
notebook that does not exist yet is skipped with a message (never faked).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from casework import paths

__all__ = ["run", "run_notebook", "NOTEBOOKS", "NOTEBOOK_DIR"]

#: the notebooks run by default (casework.paths: ./notebooks or the ones shipped in the package)
NOTEBOOK_DIR = paths.notebooks_dir()

#: notebook file -> which datasets it runs on ("*" = every dataset)
NOTEBOOKS = {
    "0.01-describe-population.ipynb": "*",
    "2.01-profiling-and-segmentation.ipynb": "*",
    "3.01-effects-of-network-measures.ipynb": "*",
    "3.02-time-to-integration.ipynb": "*",
    "3.03-model-project-evaluation.ipynb": "*",
    "4.01-capacity-planning.ipynb": "*",
}


def run_notebook(notebook: Path, dataset: Path, *, small: bool = False, out_dir: Path | None = None,
                 timeout: int = 1800, extra: dict | None = None) -> Path:
    """Execute one notebook on one dataset; returns the executed copy's path."""
    import papermill as pm

    out_dir = out_dir or Path(dataset) / "results" / "notebooks"
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / Path(notebook).name
    params = {"dataset": str(Path(dataset).resolve()), "small": bool(small), **(extra or {})}
    pm.execute_notebook(str(notebook), str(target), parameters=params, kernel_name="python3",
                        cwd=str(Path(notebook).parent), progress_bar=False, execution_timeout=timeout,
                        kernel_manager_class=_kernel_manager_class())
    return target


def _kernel_manager_class():
    """Kernels with CurveZMQ-encrypted channels where pyzmq and the kernel support it (ipykernel 7 warns on
    every plain-TCP start, and the notebooks' outputs are case data); plain loopback TCP otherwise."""
    import zmq
    from jupyter_client.manager import AsyncKernelManager

    if not zmq.has("curve"):
        return AsyncKernelManager
    return type("EncryptedKernelManager", (AsyncKernelManager,), {"transport_encryption": "auto"})


def run(datasets, *, small: bool = False, notebooks: Path | None = None) -> int:
    """Run every declared notebook (from ``notebooks``, default :data:`NOTEBOOK_DIR`) on each dataset;
    returns 0 when all ran."""
    failures = 0
    for ds in map(Path, datasets):
        for name, which in NOTEBOOKS.items():
            nb = Path(notebooks or NOTEBOOK_DIR) / name
            if which != "*" and ds.name not in which:
                continue
            if not nb.exists():
                print(f"skip {name}: notebook not present yet", file=sys.stderr)
                continue
            t0 = time.perf_counter()
            try:
                run_notebook(nb, ds, small=small)
                print(f"ran {name} on {ds.name} in {time.perf_counter() - t0:.0f} s")
            except Exception as exc:  # report every failing notebook, then fail the run
                failures += 1
                print(f"FAILED {name} on {ds.name}: {type(exc).__name__}: {str(exc)[:500]}", file=sys.stderr)
        failures += _board_aggregates(ds)
    return 1 if failures else 0


def _board_aggregates(path: Path) -> int:
    """Store the dashboards' aggregates (after the notebooks, so the Profillagen exist)."""
    from casework.boards.build import build_board, stored_segments
    from casework.store import Dataset

    t0 = time.perf_counter()
    try:
        ds = Dataset.open(path, verify=False)
        build_board(ds, stored_segments(ds))
    except Exception as exc:
        print(f"FAILED board aggregates for {path.name}: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    print(f"board aggregates for {path.name} in {time.perf_counter() - t0:.0f} s")
    return 0
