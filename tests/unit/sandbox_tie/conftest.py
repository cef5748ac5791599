"""Fixtures of the TIE emulator's unit tests: a seeded store on a temporary file with a settable
clock, and the service over it. No broker."""

from __future__ import annotations

from typing import Iterator

import pytest

from dxltieclient.sandbox.tie.seed import seed
from dxltieclient.sandbox.tie.service import TieService
from dxltieclient.sandbox.tie.store import Store

from .helpers import Clock


@pytest.fixture
def clock() -> Clock:
    """A settable clock."""
    return Clock()


@pytest.fixture
def store_file(tmp_path) -> str:
    """The path of the store's SQLite file."""
    return str(tmp_path / "tie.sqlite")


@pytest.fixture
def store(store_file: str, clock: Clock) -> Iterator[Store]:
    """A seeded store."""
    opened = Store(store_file, clock=clock)
    seed(opened)
    yield opened
    opened.close()


@pytest.fixture
def service(store: Store) -> TieService:
    """The service over :func:`store`."""
    return TieService(store)
