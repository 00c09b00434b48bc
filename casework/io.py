"""Deprecated home of the import: use :mod:`casework.ingest` (kept for one release).

Everything that was importable from ``casework.io`` still is, re-exported from
the modules of :mod:`casework.ingest`.
"""

from casework import schema as S  # noqa: F401 (old attribute)
from casework.ingest import *  # noqa: F403
from casework.ingest import __all__  # noqa: F401
from casework.ingest.convert import (  # noqa: F401
    DATE_YEARS,
    _Bad,
    _convert_value,
    _date,
    _is_missing,
    _number,
    _typed,
    convert_column,
)
from casework.ingest.importer import AGE_AT_ENTRY, MASK, _import_table  # noqa: F401
from casework.ingest.read import _read, _Source  # noqa: F401
