"""``casework board new``: a board for any dataset, checked against the dataset before it is written.

The notebook itself is :func:`casework.boards.catalog.board_notebook`; this module checks what it
points to: the dataset opens, the project key exists in its ``projects`` table, and it says when the
pipeline has not stored the board's results yet (the board would then say so itself, in German).
"""

from __future__ import annotations

import shutil
from pathlib import Path

from casework import paths
from casework.boards.catalog import new_board

__all__ = ["new_board_for_dataset", "dataset_reference", "project_keys"]


def dataset_reference(dataset: Path) -> str:
    """How a board notebook names ``dataset``: its path inside the data folder, else its absolute path."""
    dataset = Path(dataset).resolve()
    try:
        return dataset.relative_to(paths.data_dir()).as_posix()
    except ValueError:
        return str(dataset)


def project_keys(ds) -> list[str]:
    """The project keys a board can name: project_id up to '/' (phases of one project share it)."""
    if "projects" not in ds.tables:
        return []
    ids = [str(p) for p in ds.table("projects")["project_id"].dropna()]
    return sorted({p.split("/")[0] for p in ids})


def _dashboards_folder(folder: Path | None) -> Path:
    """The given folder, else ./dashboards (created with the landing page when it is new)."""
    if folder is not None:
        return Path(folder)
    target = Path(paths.dashboards_dir())
    if target == paths.packaged("dashboards"):  # never write into the installed package
        target = paths.home() / "dashboards"
    if not (target / "index.ipynb").exists():
        target.mkdir(parents=True, exist_ok=True)
        shutil.copy(paths.packaged("dashboards") / "index.ipynb", target / "index.ipynb")
    return target


def new_board_for_dataset(name: str, dataset, *, project: str | None = None, title: str | None = None,
                          subtitle: str = "", folder=None, force: bool = False) -> Path:
    """Check the dataset and project, then write the board notebook; returns its path."""
    from casework.boards.spec import BOARD_KPI_CUBE
    from casework.store import Dataset, DatasetError

    try:
        ds = Dataset.open(dataset, verify=False)
    except (DatasetError, FileNotFoundError) as exc:
        raise ValueError(f"{dataset}: not a dataset folder ({exc})") from None
    if project is not None:
        keys = project_keys(ds)
        if not any(k == project or k.startswith(project) for k in keys):
            raise ValueError(f"{dataset}: no project {project!r} in the projects table "
                             f"(project keys: {', '.join(keys) or 'none'})")
    if not ds.has_result(BOARD_KPI_CUBE):
        print(f"note: {dataset} has no board results yet: run `casework pipeline {dataset}` before serving")
    return new_board(name, dataset=dataset_reference(ds.path), folder=_dashboards_folder(folder), title=title,
                     subtitle=subtitle, project=project, force=force)
