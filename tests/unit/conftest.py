"""Fixtures of the library's unit tests (no broker): a fake DXL client and a TieClient over it."""

from typing import AsyncIterator

import pytest
from aio_fakes import AsyncFakeDxlClient
from tie_fakes import FakeDxlClient

from dxltieclient import TieClient
from dxltieclient.aio import AsyncTieClient


@pytest.fixture
def fake() -> FakeDxlClient:
    """A recording fake DXL client; it answers requests with ``{}`` unless told otherwise."""
    return FakeDxlClient()


@pytest.fixture
def tie(fake: FakeDxlClient) -> TieClient:
    """A TieClient over :func:`fake`."""
    return TieClient(fake)


@pytest.fixture
async def afake() -> AsyncIterator[AsyncFakeDxlClient]:
    """A fake DXL client with dxlclient's own request manager, for the asyncio client."""
    fake = AsyncFakeDxlClient()
    yield fake
    fake.close()


@pytest.fixture
def atie(afake: AsyncFakeDxlClient) -> AsyncTieClient:
    """An AsyncTieClient over :func:`afake`."""
    return AsyncTieClient(afake)
