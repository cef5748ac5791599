"""
Bulk requests on the event loop: at most ``max_in_flight`` requests outstanding, results in input
order, one :class:`~dxltieclient.BulkResult` per item (the threaded bulk calls' own class and
per-item semantics, see :mod:`dxltieclient._bulk`).
"""

from __future__ import annotations

import asyncio
from typing import Any, Callable, Iterator, List, Optional, Tuple

from .. import _bulk
from ._bridge import request


async def run_requests(dxl_client: Any, topic: str, results: List[_bulk.BulkResult[Any]],
                       to_send: List[Tuple[int, bytes]], parse: Optional[Callable[[Any], Any]],
                       max_in_flight: int, timeout: float,
                       progress: Optional[_bulk.ProgressCallback]) -> None:
    """
    Sends the encoded requests with at most ``max_in_flight`` outstanding and fills ``results``.

    ``min(max_in_flight, len(to_send))`` worker coroutines take the items in input order. An
    exception raised by ``progress`` (called on the loop) cancels the others, whose outstanding
    requests are dropped from dxlclient's tables, and propagates; so does a cancellation.

    :param dxl_client: the connected DXL client
    :param topic: the request topic
    :param results: one result per input item, filled in place
    :param to_send: ``(index, payload)`` of the items to send, in input order
    :param parse: turns a parsed response into the item's value (``None``: the value stays
        ``None``)
    :param max_in_flight: the most requests outstanding at once
    :param timeout: seconds to wait for each response, from its sending
    :param progress: called with ``(done, total)`` after each item completes
    """
    total = len(results)
    done_count = total - len(to_send)
    items: Iterator[Tuple[int, bytes]] = iter(to_send)

    def finish(index: int, value: Any = None, error: Optional[BaseException] = None) -> None:
        nonlocal done_count
        results[index].value = value
        results[index].error = error
        done_count += 1
        if progress is not None:
            progress(done_count, total)

    async def worker() -> None:
        for index, payload in items:  # one shared iterator: each item is taken once
            try:
                response = await request(dxl_client, topic, payload, timeout)
            except Exception as error:  # noqa: BLE001  (recorded as this item's failure)
                finish(index, error=error)
                continue
            _bulk._complete(finish, index, response, topic, parse)

    if progress is not None and done_count:
        progress(done_count, total)
    workers = [asyncio.ensure_future(worker()) for _ in range(min(max_in_flight, len(to_send)))]
    if not workers:
        return
    try:
        await asyncio.gather(*workers)
    finally:
        for task in workers:
            task.cancel()
        await asyncio.wait(workers)
