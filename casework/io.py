"""Deprecated home of the import: use :mod:`casework.ingest` (kept for one release).

Everything that was importable from ``casework.io`` still is, re-exported from
the modules of :mod:`casework.ingest`.
"""

from casework import schema as S  # noqa: F401 (old attribute)
from casework.ingest import *  # noqa: F403
from casework.ingest import __all__  # noqa: F401
from casework.ingest.convert import DATE_YEARS, convert_column  # noqa: F401
from casework.ingest.convert import BadValue as _Bad  # noqa: F401 - the old private names, for one release
from casework.ingest.convert import convert_value as _convert_value  # noqa: F401
from casework.ingest.convert import is_missing_value as _is_missing  # noqa: F401
from casework.ingest.convert import parse_date_cell as _date  # noqa: F401
from casework.ingest.convert import parse_number_cell as _number  # noqa: F401
from casework.ingest.convert import to_typed as _typed  # noqa: F401
from casework.ingest.importer import AGE_AT_ENTRY, MASK  # noqa: F401
from casework.ingest.importer import import_table as _import_table  # noqa: F401
from casework.ingest.read import Source as _Source  # noqa: F401
from casework.ingest.read import read_file as _read  # noqa: F401
