"""
The sandbox's own DXL client (identity ``sandbox-admin``) and the probes it runs: whether the
broker lets it in, whether the fabric services answer, whether the TIE emulator answers. Every
probe is bounded in time; the client is closed in the background (dxlclient's disconnect waits
about a second for its network thread).
"""

from __future__ import annotations

import json
import logging
import threading
from typing import Any, Callable, Optional

from .._connection import connect_within
from ._constants import QUERY_TOPIC, SERVICE_NOT_FOUND_CODE

_logger = logging.getLogger(__name__)

#: A request on this topic has no service: the fabric services answer "no service".
FABRIC_PROBE_TOPIC = "/dxltieclient/sandbox/probe"
#: A lookup without hashes on this topic gets the TIE emulator's "invalid request" error (which
#: changes nothing in its store).
TIE_PROBE_TOPIC = "/mcafee/service/tie/file/reputation"
#: How long a health probe waits for its answer, in seconds.
HEALTH_TIMEOUT = 2.0
#: How long the probe client may take to connect, in seconds.
CONNECT_TIMEOUT = 10.0


def _destroy_quietly(client: Any) -> None:
    try:
        client.destroy()
    except Exception:  # best effort on the way out (logged)
        _logger.debug("Error while closing the sandbox's own client", exc_info=True)


class Probe:
    """
    A lazily connected client of the sandbox for probes.

    :param config_file: the ``dxlclient.config`` of the sandbox's own client
    :param closing: receives the thread that closes the client in the background
    """

    def __init__(self, config_file: str,
                 closing: Optional[Callable[[threading.Thread], None]] = None) -> None:
        self._config_file = config_file
        self._closing = closing
        self._client: Any = None
        self._failed = False

    def client(self, timeout: float = CONNECT_TIMEOUT) -> Any:
        """
        :param timeout: the longest wait for the connection, in seconds
        :return: the connected client, or ``None`` if it could not connect in time
        """
        if self._client is None and not self._failed:
            from .connect import new_client

            client = new_client(self._config_file)
            attempt = connect_within(client, timeout, "sandbox-probe-connect")
            if attempt.pending or not attempt.connected:
                _logger.info("The sandbox's probe client could not connect: %s",
                             attempt.reason(timeout))
                self._failed = True
                self._close(client)
                return None
            self._client = client
        return self._client

    def broker_answers(self, timeout: float = CONNECT_TIMEOUT) -> bool:
        """:return: whether the broker accepted the probe client's connection"""
        return self.client(timeout) is not None

    def fabric_answers(self, timeout: float = HEALTH_TIMEOUT) -> bool:
        """:return: whether a request without service got the fabric's "no service" error"""
        return self._request(FABRIC_PROBE_TOPIC, None, timeout, SERVICE_NOT_FOUND_CODE)

    def emulator_answers(self, timeout: float = HEALTH_TIMEOUT) -> bool:
        """:return: whether the TIE service is in the fabric's registry and a lookup without
            hashes got the TIE emulator's "invalid request" error"""
        from .tie.service import ERROR_INVALID_REQUEST, SERVICE_TYPE

        return self.registered(SERVICE_TYPE, timeout) and self._request(
            TIE_PROBE_TOPIC, b"{}", timeout, ERROR_INVALID_REQUEST)

    def registered(self, service_type: str, timeout: float = HEALTH_TIMEOUT) -> bool:
        """:return: whether the fabric's service registry lists a service of this type"""
        from dxlclient.exceptions import WaitTimeoutException
        from dxlclient.message import Request, Response

        client = self.client()
        if client is None:
            return False
        request = Request(QUERY_TOPIC)
        request.payload = json.dumps({"serviceType": service_type}).encode("utf-8")
        try:
            response = client.sync_request(request, timeout=timeout)
        except WaitTimeoutException:
            return False
        if type(response) is not Response:
            return False
        try:
            services = json.loads(response.payload.decode("utf-8")).get("services")
        except (ValueError, UnicodeDecodeError, AttributeError):
            return False
        return bool(services)

    def _request(self, topic: str, payload: Optional[bytes], timeout: float,
                 error_code: int) -> bool:
        from dxlclient.exceptions import WaitTimeoutException
        from dxlclient.message import ErrorResponse, Request

        client = self.client()
        if client is None:
            return False
        request = Request(topic)
        if payload is not None:
            request.payload = payload
        try:
            response = client.sync_request(request, timeout=timeout)
        except WaitTimeoutException:
            return False
        return isinstance(response, ErrorResponse) and response.error_code == error_code

    def close(self) -> None:
        """Closes the client in the background (a later probe connects again)."""
        self._failed = False
        if self._client is not None:
            self._close(self._client)
            self._client = None

    def _close(self, client: Any) -> None:
        thread = threading.Thread(target=_destroy_quietly, args=(client,), daemon=True,
                                  name="sandbox-probe-close")
        thread.start()
        if self._closing is not None:
            self._closing(thread)
