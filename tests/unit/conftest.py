"""Fixtures of the library's unit tests (no broker): a fake DXL client and a TieClient over it."""

import pytest
from tie_fakes import FakeDxlClient

from dxltieclient import TieClient


@pytest.fixture
def fake() -> FakeDxlClient:
    """A recording fake DXL client; it answers requests with ``{}`` unless told otherwise."""
    return FakeDxlClient()


@pytest.fixture
def tie(fake: FakeDxlClient) -> TieClient:
    """A TieClient over :func:`fake`."""
    return TieClient(fake)
