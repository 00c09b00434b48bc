"""Deprecated import path: the board object lives in :mod:`casework.boards.app` now.

Kept for one release; removed in casework 0.3."""

import sys
import warnings

from casework.boards.app import *  # noqa: F403 - the re-export is the point
from casework.boards.app import __all__  # noqa: F401

warnings.warn("casework.dashboard moved to casework.boards.app; the old name goes in casework 0.3",
              DeprecationWarning, stacklevel=2)
sys.modules[__name__] = sys.modules["casework.boards.app"]  # one module object: patches and private names hold
