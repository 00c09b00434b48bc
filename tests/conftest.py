"""Shared fixtures: one set of small prepared board datasets per test session (tests copy before damaging it)."""

from __future__ import annotations

import pytest

from tests.board_data import prepare


@pytest.fixture(scope="session")
def board_data(tmp_path_factory):
    return prepare(tmp_path_factory.mktemp("boards"))
