"""Deprecated import path: the estimator validation study lives in :mod:`casework.effects.validation` now.

Kept for one release; removed in casework 0.3. (Not to be confused with the validation of case data,
:func:`casework.schema.validate`.)"""

import sys
import warnings

from casework.effects.validation import *  # noqa: F403 - the re-export is the point
from casework.effects.validation import __all__  # noqa: F401

warnings.warn("casework.validation moved to casework.effects.validation; the old name goes in casework 0.3",
              DeprecationWarning, stacklevel=2)
sys.modules[__name__] = sys.modules["casework.effects.validation"]  # one module object: patches and private names hold
