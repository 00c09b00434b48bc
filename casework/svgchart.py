"""Deprecated import path: the SVG charts live in :mod:`casework.boards.charts` now.

Kept for one release; removed in casework 0.3."""

import sys
import warnings

from casework.boards.charts import *  # noqa: F403 - the re-export is the point
from casework.boards.charts import __all__  # noqa: F401

warnings.warn("casework.svgchart moved to casework.boards.charts; the old name goes in casework 0.3",
              DeprecationWarning, stacklevel=2)
sys.modules[__name__] = sys.modules["casework.boards.charts"]  # one module object: patches and private names hold
