"""
Helpers of the fabric integration tests, which run against real Mosquitto brokers on 127.0.0.1
started by the sandbox plugin's fixtures (``tie_sandbox``, ``tie_fabric``; see tests/conftest.py).
"""

import contextlib
import json
import threading
import time

from dxlclient.callbacks import EventCallback, RequestCallback
from dxlclient.message import Request, Response
from dxlclient.service import ServiceRegistrationInfo

from dxltieclient.sandbox import Sandbox, connected_client

#: A DxlClient connected with a config file, destroyed on exit.
connected = connected_client


def private_sandbox(tmp_path_factory, name, up=True, **up_options):
    """
    A sandbox of a test module's own (for tests that restart, kill or flood it), in a new
    temporary folder; brought down at the end, whatever happens. Use with ``yield from``.

    :param name: the temporary folder's name
    :param up: start it (with ``up_options``) before yielding it
    """
    sandbox = Sandbox(str(tmp_path_factory.mktemp(name)))
    try:
        if up:
            sandbox.up(**up_options)
        yield sandbox
    finally:
        sandbox.down()


class RecordingService(RequestCallback):
    """A mock service: answers every request with ``payload`` and records what it received."""

    def __init__(self, client, payload=b"{}"):
        super().__init__()
        self.client = client
        self.payload = payload
        self.requests = []
        self.received = threading.Event()

    def on_request(self, request):
        self.requests.append(request)
        response = Response(request)
        response.payload = self.payload
        self.client.send_response(response)
        self.received.set()


class RecordingEvents(EventCallback):
    """Records events and signals each one."""

    def __init__(self):
        super().__init__()
        self.events = []
        self.received = threading.Event()

    def on_event(self, event):
        self.events.append(event)
        self.received.set()


@contextlib.contextmanager
def registered_service(client, topics, payload=b"{}", service_type="/test/mock"):
    """Registers a :class:`RecordingService` on ``topics`` (register_service_sync) for the block."""
    service = RecordingService(client, payload)
    info = ServiceRegistrationInfo(client, service_type)
    for topic in topics:
        info.add_topic(topic, service)
    client.register_service_sync(info, 10)
    try:
        yield service
    finally:
        client.unregister_service_sync(info, 10)


def registry(client, service_type=None):
    """The fabric's service registry (the fabric services' query topic)."""
    request = Request("/mcafee/service/dxl/svcregistry/query")
    request.payload = json.dumps({"serviceType": service_type} if service_type else {})
    response = client.sync_request(request, timeout=5)
    assert type(response) is Response, response
    return json.loads(response.payload.decode("utf-8"))["services"]


def wait_for(predicate, timeout=20.0, interval=0.05):
    """Waits (bounded) until ``predicate()`` is true; returns its last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(interval)
