"""
:class:`AsyncTieClient`: the TIE client's requests as coroutines, bulk calls on the event loop,
and event streams.

Every request is built and validated by :mod:`dxltieclient._wire`, exactly as
:class:`~dxltieclient.TieClient` does (same arguments, exceptions and payload bytes), sent with
dxlclient's asynchronous requests and awaited through :mod:`dxltieclient.aio._bridge`; no thread is
used per call.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import (
    Any,
    AsyncIterator,
    Callable,
    Dict,
    Iterable,
    List,
    Mapping,
    Optional,
    Set,
    Tuple,
)

from dxlclient.message import Message

from .. import _bulk, _errors, _wire
from .. import client as _client
from ..client import TieClient, _kwargs_builder
from . import _bridge
from ._bulk import run_requests
from ._events import DEFAULT_MAX_QUEUE, EventStream, check_kinds

_Hashes = Mapping[str, str]
_Reputations = Dict[int, Dict[str, Any]]
_Parse = Optional[Callable[[Any], Any]]


class AsyncTieClient:
    """
    The TIE client for asyncio code, over a connected :class:`dxlclient.client.DxlClient`.

    .. code-block:: python

        from dxltieclient.aio import AsyncTieClient

        async with AsyncTieClient.from_config("dxlclient.config") as tie:
            reputations = await tie.get_file_reputation(
                {HashType.MD5: "f2c7bb8acc97f92e987a2d4087d021b1"})

    Each request method is the coroutine of the :class:`~dxltieclient.TieClient` method of the
    same name: same arguments, validation, return value and exceptions, same bytes on the wire.
    Each also takes a keyword-only ``timeout`` (seconds; default :attr:`response_timeout`): when
    it expires, or when the awaiting task is cancelled, the request is dropped from dxlclient's
    pending-request tables. The coroutines may be awaited from code that reacts to an event (see
    :meth:`events`): nothing waits on dxlclient's threads.

    The client does not own ``dxl_client``: :meth:`aclose` (or leaving ``async with``) only
    closes the event streams it opened.

    :param dxl_client: the connected DXL client
    """

    def __init__(self, dxl_client: Any) -> None:
        self._dxl_client = dxl_client
        self._tie_client = TieClient(dxl_client)
        self._streams: Set[EventStream] = set()

    # -- set up ---------------------------------------------------------------------------------

    @classmethod
    @contextlib.asynccontextmanager
    async def from_config(cls, config_file: str, connect_retries: Optional[int] = None
                          ) -> AsyncIterator["AsyncTieClient"]:
        """
        An async context manager that creates a :class:`dxlclient.client.DxlClient` from a
        ``dxlclient.config`` file, connects it (in a worker thread: connecting blocks), yields an
        :class:`AsyncTieClient` over it, and on exit closes its event streams and destroys the
        DXL client.

        .. code-block:: python

            async with AsyncTieClient.from_config("dxlclient.config") as tie:
                ...

        :param config_file: the path of the DXL client configuration
        :param connect_retries: how many times to retry connecting (``None``: dxlclient's
            default, which retries forever while no broker answers)
        :return: the async context manager
        """
        dxl_client = await _connect_in_thread(config_file, connect_retries)
        try:
            tie = cls(dxl_client)
            try:
                yield tie
            finally:
                await tie.aclose()
        finally:
            await asyncio.to_thread(dxl_client.destroy)

    async def __aenter__(self) -> "AsyncTieClient":
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Closes every event stream opened by :meth:`events` (the DXL client stays connected)."""
        for stream in list(self._streams):
            await stream.aclose()

    @property
    def dxl_client(self) -> Any:
        """The :class:`dxlclient.client.DxlClient` in use."""
        return self._dxl_client

    @property
    def tie_client(self) -> TieClient:
        """A synchronous :class:`~dxltieclient.TieClient` over the same DXL client."""
        return self._tie_client

    @property
    def response_timeout(self) -> float:
        """
        The default seconds to wait for each response: the same as
        :attr:`TieClient.response_timeout <dxltieclient.TieClient.response_timeout>` (30 s by
        default; at least 30 s, as dxlbootstrap requires). A call's ``timeout`` overrides it.
        """
        return float(self._tie_client.response_timeout)

    @response_timeout.setter
    def response_timeout(self, value: float) -> None:
        self._tie_client.response_timeout = value

    # -- transport ------------------------------------------------------------------------------

    def _timeout(self, timeout: Optional[float]) -> float:
        if timeout is None:
            return self.response_timeout
        _bulk.check_bulk_options(1, timeout)
        return float(timeout)

    async def _request(self, topic: str, payload: Dict[str, Any],
                       timeout: Optional[float]) -> Any:
        data = _wire.encode_json(payload)
        seconds = self._timeout(timeout)
        response = await _bridge.request(self._dxl_client, topic, data, seconds)
        if response.message_type == Message.MESSAGE_TYPE_ERROR:
            raise _errors.service_error(response.error_message, response.error_code, topic)
        return response

    async def _bulk_requests(self, topic: str, items: Iterable[Any],
                    build: Callable[[Any], Dict[str, Any]], parse: _Parse, max_in_flight: int,
                    timeout: Optional[float],
                    progress: Optional[_bulk.ProgressCallback]) -> List[Any]:
        if timeout is None:
            timeout = self.response_timeout
        _bulk.check_bulk_options(max_in_flight, timeout)
        results, to_send = _bulk.prepare(list(items), build)
        await run_requests(self._dxl_client, topic, results, to_send, parse, max_in_flight,
                           float(timeout), progress)
        return results

    # -- files ----------------------------------------------------------------------------------

    async def get_file_reputation(self, hashes: _Hashes, *,
                                  timeout: Optional[float] = None) -> _Reputations:
        """
        Looks up the reputations of a file: see :meth:`TieClient.get_file_reputation
        <dxltieclient.TieClient.get_file_reputation>`.

        :param hashes: hash type (:class:`~dxltieclient.HashType`) to hexadecimal digest
        :param timeout: seconds to wait for the response (default: :attr:`response_timeout`)
        :return: the reputations keyed by provider id
        :raises TieInputError: when ``hashes`` is not a non-empty dict, or for a bad timeout
        :raises InvalidHashError: for an unknown hash type, non-hex digits or a wrong length
        :raises TieServiceError: when TIE answers with an error
        :raises TieTimeoutError: when no response arrives in time
        """
        response = await self._request(_client.TIE_GET_FILE_REPUTATION_TOPIC,
                                       _wire.file_reputation_request(hashes), timeout)
        return _wire.reputations_from_response(_wire.decode_json(response.payload))

    async def set_file_reputation(self, trust_level: int, hashes: _Hashes, filename: str = "",
                                  comment: str = "", *,
                                  timeout: Optional[float] = None) -> None:
        """
        Sets the enterprise reputation of a file: see :meth:`TieClient.set_file_reputation
        <dxltieclient.TieClient.set_file_reputation>`.

        :raises TieInputError: for a bad trust level, hashes, file name, comment or timeout
        :raises InvalidHashError: for a bad hash
        :raises TieServiceError: when TIE answers with an error
        :raises TieTimeoutError: when no response arrives in time
        """
        await self._request(_client.TIE_SET_FILE_REPUTATION_TOPIC,
                            _wire.set_file_reputation_request(trust_level, hashes, filename,
                                                              comment), timeout)

    async def set_external_file_reputation(self, trust_level: int, hashes: _Hashes,
                                           file_type: int = 0, filename: str = "",
                                           comment: str = "") -> None:
        """
        Reports an external reputation for a file: see
        :meth:`TieClient.set_external_file_reputation
        <dxltieclient.TieClient.set_external_file_reputation>`. The report is an event: it is
        handed to the fabric without waiting.
        """
        self._tie_client.set_external_file_reputation(trust_level, hashes, file_type, filename,
                                                      comment)

    async def get_file_first_references(self, hashes: _Hashes, query_limit: int = 500, *,
                                        timeout: Optional[float] = None
                                        ) -> List[Dict[str, Any]]:
        """
        Lists the systems that first referenced a file: see
        :meth:`TieClient.get_file_first_references
        <dxltieclient.TieClient.get_file_first_references>`.

        :return: one dict per system (``agentGuid`` and ``date``); ``[]`` when there are none
        """
        response = await self._request(_client.TIE_GET_FILE_FIRST_REFS,
                                       _wire.file_first_references_request(hashes, query_limit),
                                       timeout)
        return _wire.agents_from_response(_wire.decode_json(response.payload))

    # -- certificates ---------------------------------------------------------------------------

    async def set_certificate_reputation(self, trust_level: int, sha1: str,
                                         public_key_sha1: Optional[str] = None,
                                         comment: str = "", *,
                                         timeout: Optional[float] = None) -> None:
        """
        Sets the enterprise reputation of a certificate: see
        :meth:`TieClient.set_certificate_reputation
        <dxltieclient.TieClient.set_certificate_reputation>`.
        """
        await self._request(_client.TIE_SET_CERT_REPUTATION_TOPIC,
                            _wire.set_cert_reputation_request(trust_level, sha1, public_key_sha1,
                                                              comment), timeout)

    async def get_certificate_reputation(self, sha1: str, public_key_sha1: Optional[str] = None,
                                         *, timeout: Optional[float] = None) -> _Reputations:
        """
        Looks up the reputations of a certificate: see
        :meth:`TieClient.get_certificate_reputation
        <dxltieclient.TieClient.get_certificate_reputation>`.
        """
        response = await self._request(_client.TIE_GET_CERT_REPUTATION_TOPIC,
                                       _wire.cert_reputation_request(sha1, public_key_sha1),
                                       timeout)
        return _wire.reputations_from_response(_wire.decode_json(response.payload))

    async def get_certificate_first_references(
            self, sha1: str, public_key_sha1: Optional[str] = None, query_limit: int = 500, *,
            timeout: Optional[float] = None) -> List[Dict[str, Any]]:
        """
        Lists the systems that first referenced a certificate: see
        :meth:`TieClient.get_certificate_first_references
        <dxltieclient.TieClient.get_certificate_first_references>`.
        """
        response = await self._request(
            _client.TIE_GET_CERT_FIRST_REFS,
            _wire.cert_first_references_request(sha1, public_key_sha1, query_limit), timeout)
        return _wire.agents_from_response(_wire.decode_json(response.payload))

    # -- reputation updates and metadata ----------------------------------------------------------

    async def get_reputation_updates(self, since_time: int,
                                     query_limit: int = _wire.DEFAULT_UPDATES_QUERY_LIMIT,
                                     targeted: bool = False,
                                     file_hash_type: Optional[str] = None,
                                     cert_hash_type: Optional[str] = None, *,
                                     timeout: Optional[float] = None) -> Dict[str, Any]:
        """
        Lists the files and certificates whose reputation changed since a time (one page): see
        :meth:`TieClient.get_reputation_updates
        <dxltieclient.TieClient.get_reputation_updates>`.

        :return: ``{"fileHashes": [...], "certificateHashes": [...], "latestUpdateTime": ...,
            "serverTime": ..., "queryLimitExceeded": bool}``
        :raises TieInputError: naming the bad argument
        :raises TieServiceError: when TIE answers with an error
        :raises TieTimeoutError: when no response arrives in time
        """
        payload = _wire.reputation_updates_request(since_time, query_limit, targeted,
                                                   file_hash_type, cert_hash_type)
        response = await self._request(_client.TIE_GET_REPUTATION_UPDATES_TOPIC, payload,
                                       timeout)
        return _wire.reputation_updates_from_response(_wire.decode_json(response.payload))

    def iter_reputation_updates(self, since_time: int,
                                query_limit: int = _wire.DEFAULT_UPDATES_QUERY_LIMIT,
                                targeted: bool = False, file_hash_type: Optional[str] = None,
                                cert_hash_type: Optional[str] = None, *,
                                timeout: Optional[float] = None) -> AsyncIterator[Dict[str, Any]]:
        """
        Pages through every reputation change since a time, as an asynchronous iterator: see
        :meth:`TieClient.iter_reputation_updates
        <dxltieclient.TieClient.iter_reputation_updates>` (same pages, same paging rules).

        .. code-block:: python

            async for page in tie.iter_reputation_updates(since_time=last_sync):
                for file_hashes in page["fileHashes"]:
                    refresh(file_hashes)

        :return: an asynchronous iterator of pages
        :raises TieInputError: naming the bad argument (when the iterator is created)
        :raises TieServiceError: as :meth:`TieClient.iter_reputation_updates
            <dxltieclient.TieClient.iter_reputation_updates>` raises it
        :raises TieTimeoutError: when no response arrives in time
        """
        _wire.reputation_updates_request(since_time, query_limit, targeted, file_hash_type,
                                         cert_hash_type)
        self._timeout(timeout)
        return self._pages(since_time, (query_limit, targeted, file_hash_type, cert_hash_type),
                           timeout)

    async def _pages(self, since_time: int, options: Tuple[Any, ...],
                     timeout: Optional[float]) -> AsyncIterator[Dict[str, Any]]:
        """Follows the pages with :class:`dxltieclient._wire.UpdatesPager`, awaiting each."""
        pager = _wire.UpdatesPager(since_time, _client.TIE_GET_REPUTATION_UPDATES_TOPIC)
        while not pager.done:
            yield pager.take(await self.get_reputation_updates(pager.since, *options,
                                                               timeout=timeout))

    async def update_file_metadata(self, hashes: _Hashes, **metadata: Any) -> None:
        """
        Sends context about a file for the TIE administrator: see
        :meth:`TieClient.update_file_metadata <dxltieclient.TieClient.update_file_metadata>`.
        TIE answers nothing: the request is handed to the fabric without waiting.
        """
        self._tie_client.update_file_metadata(hashes, **metadata)

    async def update_certificate_metadata(self, sha1: str, **metadata: Any) -> None:
        """
        Sends context about a certificate for the TIE administrator: see
        :meth:`TieClient.update_certificate_metadata
        <dxltieclient.TieClient.update_certificate_metadata>` (handed over without waiting).
        """
        self._tie_client.update_certificate_metadata(sha1, **metadata)

    # -- bulk -----------------------------------------------------------------------------------

    async def get_file_reputations(
            self, hashes_list: Iterable[_Hashes],
            max_in_flight: int = _bulk.DEFAULT_MAX_IN_FLIGHT, timeout: Optional[float] = None,
            progress: Optional[_bulk.ProgressCallback] = None,
    ) -> List["_bulk.BulkResult[_Hashes]"]:
        """
        Looks up the reputations of many files with at most ``max_in_flight`` requests
        outstanding: see :meth:`TieClient.get_file_reputations
        <dxltieclient.TieClient.get_file_reputations>` (same arguments and results; ``progress``
        is called on the event loop).

        .. code-block:: python

            results = await tie.get_file_reputations(
                [{HashType.MD5: md5} for md5 in md5_list], max_in_flight=64)

        :return: one :class:`~dxltieclient.BulkResult` per item, in input order
        :raises TieInputError: for a bad ``max_in_flight`` or ``timeout``
        """
        return await self._bulk_requests(_client.TIE_GET_FILE_REPUTATION_TOPIC, hashes_list,
                                _wire.file_reputation_request, _wire.reputations_from_response,
                                max_in_flight, timeout, progress)

    async def set_file_reputations(
            self, reputations: Iterable[Mapping[str, Any]],
            max_in_flight: int = _bulk.DEFAULT_MAX_IN_FLIGHT, timeout: Optional[float] = None,
            progress: Optional[_bulk.ProgressCallback] = None,
    ) -> List["_bulk.BulkResult[Mapping[str, Any]]"]:
        """
        Sets the enterprise reputations of many files: see :meth:`TieClient.set_file_reputations
        <dxltieclient.TieClient.set_file_reputations>`.

        :return: one :class:`~dxltieclient.BulkResult` per item, in input order
        :raises TieInputError: for a bad ``max_in_flight`` or ``timeout``
        """
        return await self._bulk_requests(
            _client.TIE_SET_FILE_REPUTATION_TOPIC, reputations,
            _kwargs_builder(_wire.set_file_reputation_request,
                            ("trust_level", "hashes"), ("filename", "comment")),
            None, max_in_flight, timeout, progress)

    async def set_external_file_reputations(
            self, reputations: Iterable[Mapping[str, Any]],
            progress: Optional[_bulk.ProgressCallback] = None,
    ) -> List["_bulk.BulkResult[Mapping[str, Any]]"]:
        """
        Reports external reputations for many files: see
        :meth:`TieClient.set_external_file_reputations
        <dxltieclient.TieClient.set_external_file_reputations>` (events: nothing is awaited).
        """
        return self._tie_client.set_external_file_reputations(reputations, progress)

    # -- events ---------------------------------------------------------------------------------

    def events(self, *kinds: str, max_queue: int = DEFAULT_MAX_QUEUE) -> EventStream:
        """
        A stream of TIE events of the given kinds (:class:`~dxltieclient.aio.EventKind`),
        yielding the dicts the matching callbacks receive.

        .. code-block:: python

            async with tie.events(EventKind.FILE_REPUTATION_CHANGE) as changes:
                async for change in changes:
                    reputations = await tie.get_file_reputation(change["hashes"])

        When the consumer falls behind, at most ``max_queue`` events wait and the oldest is
        dropped (counted in :attr:`EventStream.dropped`, logged); see
        :class:`~dxltieclient.aio.EventStream`.

        :param kinds: one or more :class:`~dxltieclient.aio.EventKind` values
        :param max_queue: the most events waiting for the consumer
        :return: the stream (subscribed by ``async with`` or by the first iteration)
        :raises TieInputError: for no kind, an unknown kind or a bad ``max_queue``
        """
        checked = check_kinds(kinds)
        if not isinstance(max_queue, int) or isinstance(max_queue, bool) or max_queue < 1:
            raise _errors.TieInputError(
                "max_queue must be a positive int, got {!r}".format(max_queue))
        stream = EventStream(self._dxl_client, checked, max_queue, self._streams.discard)
        self._streams.add(stream)
        return stream


def _new_connected_client(config_file: str, connect_retries: Optional[int]) -> Any:
    from dxlclient.client import DxlClient
    from dxlclient.client_config import DxlClientConfig

    config = DxlClientConfig.create_dxl_config_from_file(config_file)
    if connect_retries is not None:
        config.connect_retries = connect_retries
    dxl_client = DxlClient(config)
    try:
        dxl_client.connect()
    except BaseException:
        dxl_client.destroy()
        raise
    return dxl_client


async def _connect_in_thread(config_file: str, connect_retries: Optional[int]) -> Any:
    """Creates and connects a DXL client in a worker thread; destroys it if the caller gives up."""
    future = asyncio.get_running_loop().run_in_executor(None, _new_connected_client, config_file,
                                                        connect_retries)
    try:
        return await asyncio.shield(future)
    except asyncio.CancelledError:
        future.add_done_callback(_destroy_connected)
        raise


def _destroy_connected(future: "asyncio.Future[Any]") -> None:
    if not future.cancelled() and future.exception() is None:
        asyncio.get_running_loop().run_in_executor(None, future.result().destroy)

