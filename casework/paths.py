"""Where casework finds its notebooks, dashboards, data and working files.

The same rules hold in a source checkout, an editable install and an installed
wheel (ground floor: imports nothing of casework):

* the *home* folder is ``$CASEWORK_HOME`` or the current directory; the make
  targets run in the checkout, so there it is the checkout;
* notebooks and dashboards are ``notebooks/`` and ``dashboards/`` in the home
  folder when they exist there, else the copies shipped inside the package
  (``casework.notebooks`` and ``casework.dashboards``, mapped onto the
  checkout's folders by ``setup.py``): an installed wheel runs ``casework
  pipeline`` and ``casework serve`` from any folder;
* ``$CASEWORK_NOTEBOOKS`` and ``$CASEWORK_DASHBOARDS`` override both;
* the data folder is ``$CASEWORK_DATA`` or ``data/`` in the home folder;
  generated files (the Voila template) go to ``artifacts/`` in the home folder.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

__all__ = ["home", "notebooks_dir", "dashboards_dir", "data_dir", "artifacts_dir", "packaged"]


def home() -> Path:
    """``$CASEWORK_HOME`` or the current directory."""
    return Path(os.environ.get("CASEWORK_HOME") or Path.cwd()).resolve()


def packaged(kind: str) -> Path:
    """The folder shipped inside the package: ``packaged("notebooks")`` or ``packaged("dashboards")``."""
    if kind not in ("notebooks", "dashboards"):
        raise ValueError(f"no packaged folder {kind!r} (notebooks or dashboards)")
    spec = importlib.util.find_spec(f"casework.{kind}")  # setup.py maps the folder onto this sub-package
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(f"casework.{kind} is not installed with the package")
    return Path(list(spec.submodule_search_locations)[0]).resolve()


def _folder(kind: str, env: str) -> Path:
    if os.environ.get(env):
        return Path(os.environ[env]).resolve()
    local = home() / kind
    return local if local.is_dir() else packaged(kind)


def notebooks_dir() -> Path:
    """The analysis notebooks the pipeline runs."""
    return _folder("notebooks", "CASEWORK_NOTEBOOKS")


def dashboards_dir() -> Path:
    """The dashboards ``casework serve`` serves and ``casework board new`` writes to."""
    return _folder("dashboards", "CASEWORK_DASHBOARDS")


def data_dir() -> Path:
    """The folder of the datasets the boards read."""
    return Path(os.environ.get("CASEWORK_DATA") or home() / "data").resolve()


def artifacts_dir() -> Path:
    """Generated working files (never inside the installed package)."""
    return home() / "artifacts"
