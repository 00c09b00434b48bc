"""Deprecated home of the pseudonyms: use :mod:`casework.ingest.pseudonym` (kept for one release)."""

from casework.ingest.pseudonym import *  # noqa: F403
from casework.ingest.pseudonym import HEX_CHARS, __all__  # noqa: F401
