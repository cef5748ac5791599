"""
The fabric services: what a real OpenDXL broker answers itself, which plain Mosquitto does not.

* the service registry: registration and unregistration requests (on
  ``/mcafee/service/dxl/svcregistry/register`` and ``/unregister``) are answered with an empty
  ``{}`` response, which is what ``DxlClient.register_service_sync`` and
  ``unregister_service_sync`` wait for; registrations expire after their ``ttlMins`` (plus a grace
  period) unless renewed, as dxlclient does; ``/mcafee/service/dxl/svcregistry/query`` lists them;
* a request on a topic no registered service handles is answered with the broker's error response,
  code ``0x80000001``, message ``unable to locate service for request``.

Mosquitto delivers each request to every subscriber, so this process stays silent for requests on a
topic that has a registered service (the service answers). It runs as its own process
(``python -m dxltieclient.sandbox.fabric_services --config FILE``) and uses dxlclient's bundled MQTT
client directly: it subscribes to ``#`` and skips replies and events cheaply, before decoding.
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import socket
import ssl
import sys
import threading
import time
from typing import Any, Dict, List, Optional, Set

import pahoproxy.client as mqtt
from dxlclient.client_config import DxlClientConfig
from dxlclient.message import ErrorResponse, Message, Request, Response

from .._errors import SERVICE_NOT_FOUND_CODE, SERVICE_NOT_FOUND_MESSAGE
from ._constants import QUERY_TOPIC, REGISTER_TOPIC, UNREGISTER_TOPIC

_logger = logging.getLogger(__name__)

#: Logged each time the services are subscribed to the fabric (after each (re)connection).
READY_LOG_LINE = "Fabric services ready"

_OWN_TOPICS = (REGISTER_TOPIC, UNREGISTER_TOPIC, QUERY_TOPIC)
_SKIPPED_PREFIXES = ("/mcafee/client/", "/mcafee/event/")
_TTL_GRACE_SECONDS = 60.0


class ServiceRegistry:
    """
    The registered services, by request topic, with their expiry times.

    Thread-safe. Topics may contain MQTT wildcards (``#``, ``+``), as dxlclient allows.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._services: Dict[str, Dict[str, Any]] = {}  # service guid -> registration
        self._expiry: Dict[str, float] = {}  # service guid -> monotonic expiry time
        self._by_topic: Dict[str, Set[str]] = {}  # exact topic -> service guids
        self._wildcards: Dict[str, Set[str]] = {}  # wildcard topic -> service guids

    def register(self, registration: Dict[str, Any], now: Optional[float] = None) -> str:
        """
        Adds or renews a registration.

        :param registration: the request payload sent by dxlclient (``serviceType``,
            ``serviceGuid``, ``requestChannels``, ``ttlMins``, ``metaData``)
        :param now: the current monotonic time (tests)
        :return: the service guid
        :raises ValueError: if the payload has no ``serviceGuid``
        """
        guid = registration.get("serviceGuid")
        if not isinstance(guid, str) or not guid:
            raise ValueError("registration without serviceGuid")
        channels = [c for c in registration.get("requestChannels") or [] if isinstance(c, str)]
        try:
            ttl_minutes = float(registration.get("ttlMins") or 60)
        except (TypeError, ValueError):
            ttl_minutes = 60.0
        now = time.monotonic() if now is None else now
        with self._lock:
            self._remove(guid)
            self._services[guid] = {
                "serviceType": registration.get("serviceType", ""),
                "serviceGuid": guid,
                "requestChannels": channels,
                "metaData": registration.get("metaData") or {},
                "ttlMins": registration.get("ttlMins", 60),
            }
            self._expiry[guid] = now + ttl_minutes * 60.0 + _TTL_GRACE_SECONDS
            for channel in channels:
                index = self._wildcards if ("#" in channel or "+" in channel) else self._by_topic
                index.setdefault(channel, set()).add(guid)
        _logger.info("Registered service %s (%s) on %s", guid,
                     registration.get("serviceType", ""), ", ".join(channels))
        return guid

    def unregister(self, guid: str) -> bool:
        """
        Removes a registration.

        :param guid: the service guid
        :return: whether it was registered
        """
        with self._lock:
            found = self._remove(guid)
        if found:
            _logger.info("Unregistered service %s", guid)
        return found

    def _remove(self, guid: str) -> bool:
        service = self._services.pop(guid, None)
        self._expiry.pop(guid, None)
        if service is None:
            return False
        for channel in service["requestChannels"]:
            for index in (self._by_topic, self._wildcards):
                guids = index.get(channel)
                if guids is not None:
                    guids.discard(guid)
                    if not guids:
                        del index[channel]
        return True

    def _alive(self, guids: Set[str], now: float) -> bool:
        alive = False
        for guid in list(guids):
            if self._expiry.get(guid, 0.0) > now:
                alive = True
            else:
                _logger.info("Registration of service %s expired (TTL)", guid)
                self._remove(guid)
        return alive

    def has_service(self, topic: str, now: Optional[float] = None) -> bool:
        """
        :param topic: a request topic
        :param now: the current monotonic time (tests)
        :return: whether a live registration covers the topic
        """
        now = time.monotonic() if now is None else now
        with self._lock:
            guids = self._by_topic.get(topic)
            if guids and self._alive(guids, now):
                return True
            for pattern in list(self._wildcards):
                if mqtt.topic_matches_sub(pattern, topic):
                    guids = self._wildcards.get(pattern)
                    if guids and self._alive(guids, now):
                        return True
        return False

    def query(self, service_type: Optional[str] = None) -> Dict[str, Dict[str, Any]]:
        """
        :param service_type: only services of this type (``None``: all)
        :return: service guid -> registration, for the live registrations
        """
        now = time.monotonic()
        with self._lock:
            for guid in [g for g, expiry in self._expiry.items() if expiry <= now]:
                self._remove(guid)
            return {
                guid: dict(service)
                for guid, service in self._services.items()
                if service_type in (None, "") or service["serviceType"] == service_type
            }


def _json_payload(message: Message) -> Dict[str, Any]:
    payload = message.payload
    if isinstance(payload, bytes):
        payload = payload.decode("utf-8")
    payload = (payload or "").rstrip("\0")
    value = json.loads(payload) if payload else {}
    if not isinstance(value, dict):
        raise ValueError("payload is not a JSON object")
    return value


class FabricServices:
    """
    Answers what the broker answers itself (see the module documentation).

    :param config: the dxlclient configuration of the fabric services' own identity
    """

    def __init__(self, config: DxlClientConfig) -> None:
        self.registry = ServiceRegistry()
        broker = config.brokers[0]
        self._host = broker.ip_address or broker.host_name
        self._port = int(broker.port)
        self._connected = threading.Event()
        self._stopping = threading.Event()
        self._client = mqtt.Client(
            client_id="dxl-fabric-services-{}".format(int(time.time() * 1000)),
            clean_session=True,
            protocol=mqtt.MQTTv311,
        )
        self._client.tls_set(
            config.broker_ca_bundle,
            certfile=config.cert_file,
            keyfile=config.private_key,
            cert_reqs=ssl.CERT_REQUIRED,
            tls_version=ssl.PROTOCOL_TLSv1_2,
            ciphers="AES128-SHA256",
        )
        self._client.tls_insecure_set(True)  # like dxlclient: the broker id, not the host, matters
        self._client.reconnect_delay_set(min_delay=0.2, max_delay=2.0)
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect
        self._client.on_message = self._on_message
        self._client.on_subscribe = self._on_subscribe

    # MQTT callbacks (on the network thread) ---------------------------------------------------

    def _on_connect(self, client: Any, userdata: Any, flags: Any, rc: int) -> None:
        if rc != 0:
            _logger.error("Broker refused the connection: %s", mqtt.connack_string(rc))
            return
        sock = client.socket()
        if sock is not None:  # replies must not wait for Nagle's algorithm (40 ms on loopback)
            try:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except OSError:
                pass
        client.subscribe("#", qos=0)
        _logger.info("Connected to %s:%d, subscribing to #", self._host, self._port)
        self._connected.set()

    def _on_subscribe(self, client: Any, userdata: Any, mid: int, granted_qos: Any) -> None:
        _logger.info("%s", READY_LOG_LINE)

    def _on_disconnect(self, client: Any, userdata: Any, rc: int) -> None:
        self._connected.clear()
        if not self._stopping.is_set():
            _logger.warning("Disconnected from the broker (rc %s): reconnecting", rc)

    def _on_message(self, client: Any, userdata: Any, msg: Any) -> None:
        topic: str = msg.topic
        if topic.startswith(_SKIPPED_PREFIXES):
            return  # responses and events: the vast majority of the traffic
        payload: bytes = msg.payload
        # A DXL message starts with two msgpack positive fixints: version, then type.
        if len(payload) < 2 or payload[1] != Message.MESSAGE_TYPE_REQUEST:
            return
        if topic not in _OWN_TOPICS and self.registry.has_service(topic):
            return  # its service answers
        try:
            request = Message._from_bytes(payload)
        except Exception:  # noqa: BLE001  (garbage on the fabric must not stop the services)
            _logger.warning("Ignoring an undecodable message on %s", topic)
            return
        if not isinstance(request, Request) or not request.reply_to_topic:
            return
        response = self.handle(topic, request)
        if response is not None:
            client.publish(request.reply_to_topic, response._to_bytes(), qos=0)

    def handle(self, topic: str, request: Request) -> Optional[Response]:
        """
        Builds the fabric's answer to a request.

        :param topic: the request's topic
        :param request: the request
        :return: the response, or ``None`` if a registered service answers it
        """
        if topic == REGISTER_TOPIC or topic == UNREGISTER_TOPIC or topic == QUERY_TOPIC:
            try:
                body = _json_payload(request)
                if topic == REGISTER_TOPIC:
                    self.registry.register(body)
                    result: Dict[str, Any] = {}
                elif topic == UNREGISTER_TOPIC:
                    self.registry.unregister(str(body.get("serviceGuid", "")))
                    result = {}
                else:
                    result = {"services": self.registry.query(body.get("serviceType"))}
            except (ValueError, UnicodeDecodeError) as ex:
                _logger.warning("Invalid service registry request on %s: %s", topic, ex)
                return ErrorResponse(request, error_code=1,
                                     error_message="invalid request: {}".format(ex))
            response = Response(request)
            response.payload = json.dumps(result).encode("utf-8")
            return response
        if self.registry.has_service(topic):
            return None
        return ErrorResponse(request, error_code=SERVICE_NOT_FOUND_CODE,
                             error_message=SERVICE_NOT_FOUND_MESSAGE)

    # Life cycle -------------------------------------------------------------------------------

    def run(self, stop_event: Optional[threading.Event] = None) -> None:
        """
        Connects (retrying until the broker accepts) and serves until ``stop_event`` is set.

        :param stop_event: ends the loop when set (default: a private event, set by :meth:`stop`)
        """
        stop = stop_event or self._stopping
        self._client.loop_start()
        delay = 0.05
        while not stop.is_set():
            try:
                self._client.connect(self._host, self._port, keepalive=60)
                break
            except OSError as ex:
                _logger.info("Broker not reachable yet (%s): retrying", ex)
                stop.wait(delay)
                delay = min(delay * 2, 1.0)
        while not stop.wait(1.0):
            pass
        self._stopping.set()
        self._client.disconnect()
        self._client.loop_stop()
        _logger.info("Fabric services stopped")

    def stop(self) -> None:
        """Ends :meth:`run`."""
        self._stopping.set()

    def wait_connected(self, timeout: float) -> bool:
        """
        :param timeout: the longest wait, in seconds
        :return: whether the services are connected and subscribed
        """
        return self._connected.wait(timeout)


def main(argv: Optional[List[str]] = None) -> int:
    """
    Runs the fabric services until SIGTERM or SIGINT.

    :param argv: the command-line arguments (``--config FILE``)
    :return: the exit code
    """
    parser = argparse.ArgumentParser(
        prog="python -m dxltieclient.sandbox.fabric_services",
        description="Answers the DXL service registry and 'no service' errors on a Mosquitto "
        "fabric.",
    )
    parser.add_argument("--config", required=True, help="the dxlclient.config of this process")
    parser.add_argument("--verbose", action="store_true", help="log each registration and more")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    services = FabricServices(DxlClientConfig.create_dxl_config_from_file(args.config))
    stop = threading.Event()

    def _stop(signum: int, frame: Any) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    services.run(stop)
    return 0


if __name__ == "__main__":
    sys.exit(main())
