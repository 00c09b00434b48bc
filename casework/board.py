"""Deprecated import path: the board build lives in :mod:`casework.boards.build` now.

Kept for one release; removed in casework 0.3."""

import sys
import warnings

from casework.boards.build import *  # noqa: F403 - the re-export is the point
from casework.boards.build import __all__  # noqa: F401

warnings.warn("casework.board moved to casework.boards.build; the old name goes in casework 0.3",
              DeprecationWarning, stacklevel=2)
sys.modules[__name__] = sys.modules["casework.boards.build"]  # one module object: patches and private names hold
