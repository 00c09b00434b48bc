"""Deprecated import path: the results reader is :mod:`casework.boards.results`, the cube arithmetic,
months and age bands are :mod:`casework.cells` (kept for one release, removed in 0.3)."""

import warnings

from casework.boards.results import *  # noqa: F403
from casework.boards.results import __all__ as _reader
from casework.boards.spec import MANIFEST, RESULTS  # noqa: F401
from casework.cells import *  # noqa: F403
from casework.cells import __all__ as _cells

__all__ = [*_reader, *_cells]
warnings.warn("casework.boarddata moved to casework.boards.results and casework.cells; the old name will be "
              "removed in casework 0.3", DeprecationWarning, stacklevel=2)
