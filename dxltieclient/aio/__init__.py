"""
dxltieclient for asyncio: :class:`AsyncTieClient` (every request of
:class:`~dxltieclient.TieClient` as a coroutine, bulk calls on the event loop) and TIE events as
asynchronous iterators (:class:`EventStream`, :class:`EventKind`).

.. code-block:: python

    import asyncio
    from dxltieclient import HashType
    from dxltieclient.aio import AsyncTieClient, EventKind

    async def main():
        async with AsyncTieClient.from_config("dxlclient.config") as tie:
            print(await tie.get_file_reputation({HashType.MD5: "f2c7bb8acc97f92e987a2d4087d021b1"}))
            async with tie.events(EventKind.FILE_REPUTATION_CHANGE) as changes:
                async for change in changes:
                    print(await tie.get_file_reputation(change["hashes"]))

    asyncio.run(main())
"""

from ._client import AsyncTieClient
from ._events import DEFAULT_MAX_QUEUE, EventKind, EventStream

__all__ = ["AsyncTieClient", "DEFAULT_MAX_QUEUE", "EventKind", "EventStream"]
