"""Deprecated import path: the page is :mod:`casework.boards.page`, the board specifications
:mod:`casework.boards.spec` (kept for one release, removed in 0.3)."""

import warnings

from casework.boards.page import board_page, index_page
from casework.boards.spec import BOARD_CSS, BOARDS, INDEX_TITLE, BoardSpec

__all__ = ["BoardSpec", "BOARDS", "board_page", "index_page", "BOARD_CSS", "INDEX_TITLE"]
warnings.warn("casework.boardpage moved to casework.boards.page (and .spec); the old name will be removed in "
              "casework 0.3", DeprecationWarning, stacklevel=2)
