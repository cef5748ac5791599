"""
The sandbox's DXL fabric against real dxlclient clients: TLS with client certificates, the service
registry, the broker's "no service" error, authorization groups, broker restarts, loopback only.
"""

import os
import socket
import ssl
import stat
import threading

import pytest
from dxlclient.exceptions import WaitTimeoutException
from dxlclient.message import ErrorResponse, Event, Request, Response
from fabric_helpers import (
    RecordingEvents,
    connected,
    registered_service,
    registry,
    wait_for,
)

import dxltieclient
from dxltieclient import TieClient
from dxltieclient.client import (
    TIE_EVENT_EXTERNAL_FILE_REPORT_TOPIC,
    TIE_GET_FILE_REPUTATION_TOPIC,
    TIE_SET_FILE_REPUTATION_TOPIC,
)
from dxltieclient.sandbox.pki import certificate_common_name

MD5 = "f2c7bb8acc97f92e987a2d4087d021b1"
NO_SERVICE_TEXT = "Error: unable to locate service for request (-2147483647)"


@pytest.fixture(scope="module")
def fabric_client(tie_fabric):
    """A client of the fabric-only sandbox, shared by the module's tests."""
    with connected(tie_fabric.config_file) as client:
        yield client


@pytest.fixture(scope="module")
def service_client(tie_fabric):
    """A second client of the fabric-only sandbox, which hosts the mock services."""
    with connected(tie_fabric.provision("mock-service")) as client:
        yield client


# TLS ------------------------------------------------------------------------------------------

def test_provisioned_client_connects_over_tls_with_its_name_as_cn(tie_fabric):
    config_file = tie_fabric.provision("tls-check")
    assert os.path.dirname(config_file).endswith(os.path.join("clients", "tls-check"))
    with connected(config_file) as client:
        assert client.connected
        cert_file = client.config.cert_file
        assert certificate_common_name(cert_file) == "tls-check"


def test_broker_refuses_a_client_without_certificate(tie_fabric):
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.load_verify_locations(os.path.join(tie_fabric.directory, "pki", "ca.crt"))
    context.check_hostname = False
    with socket.create_connection(("127.0.0.1", tie_fabric.port), timeout=5) as raw:
        # TLS 1.2 (the broker's maximum) refuses a client without certificate in the handshake
        with pytest.raises(ssl.SSLError):
            context.wrap_socket(raw)


def test_broker_caps_tls_at_1_2_like_the_opendxl_broker(tie_fabric):
    client_dir = os.path.join(tie_fabric.directory, "clients", "sandbox-client")
    context = ssl.create_default_context(cafile=os.path.join(tie_fabric.directory, "pki",
                                                             "ca.crt"))
    context.load_cert_chain(os.path.join(client_dir, "client.crt"),
                            os.path.join(client_dir, "client.key"))
    assert context.maximum_version != ssl.TLSVersion.TLSv1_2  # the client would take TLS 1.3
    with socket.create_connection(("127.0.0.1", tie_fabric.port), timeout=5) as raw:
        with context.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
            assert tls.version() == "TLSv1.2"


def test_broker_speaks_tls_1_2_with_dxlclient_cipher(tie_fabric):
    client_dir = os.path.join(tie_fabric.directory, "clients", "sandbox-client")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.load_verify_locations(os.path.join(tie_fabric.directory, "pki", "ca.crt"))
    context.load_cert_chain(os.path.join(client_dir, "client.crt"),
                            os.path.join(client_dir, "client.key"))
    context.set_ciphers("AES128-SHA256")
    context.maximum_version = ssl.TLSVersion.TLSv1_2
    # the broker certificate names 127.0.0.1 (hostname checking stays on)
    with socket.create_connection(("127.0.0.1", tie_fabric.port), timeout=5) as raw:
        with context.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
            assert tls.version() == "TLSv1.2"
            assert tls.cipher()[0] == "AES128-SHA256"


# Service registry and the broker's error -------------------------------------------------------

def test_register_and_unregister_service_sync(fabric_client, service_client):
    topic = "/test/registry/echo"
    with registered_service(service_client, [topic], payload=b"pong", service_type="/test/echo"):
        services = registry(fabric_client, "/test/echo")
        assert [s["requestChannels"] for s in services.values()] == [[topic]]
        response = fabric_client.sync_request(Request(topic), timeout=5)
        assert type(response) is Response
        assert response.payload == b"pong"
    assert registry(fabric_client, "/test/echo") == {}
    response = fabric_client.sync_request(Request(topic), timeout=5)
    assert isinstance(response, ErrorResponse)
    assert response.error_code == -2147483647


def test_request_without_service_gets_the_broker_error(fabric_client):
    response = fabric_client.sync_request(Request("/test/nobody/home"), timeout=5)
    assert isinstance(response, ErrorResponse)
    assert response.error_code == -2147483647
    assert response.error_message == "unable to locate service for request"


def test_tie_client_without_service_raises_service_not_found(fabric_client):
    with pytest.raises(dxltieclient.TieServiceNotFoundError) as raised:
        TieClient(fabric_client).get_file_reputation({"md5": MD5})
    assert NO_SERVICE_TEXT in str(raised.value)


def test_mock_service_answers_tie_client(fabric_client, service_client):
    payload = (b'{"props": {"serverTime": 1, "submitMetaData": 1}, "reputations": '
               b'[{"providerId": 3, "trustLevel": 99, "createDate": 5, "attributes": {}}]}')
    with registered_service(service_client, [TIE_GET_FILE_REPUTATION_TOPIC],
                            payload=payload, service_type="/mcafee/service/tie") as service:
        reputations = TieClient(fabric_client).get_file_reputation({"md5": MD5})
    assert reputations == {3: {"providerId": 3, "trustLevel": 99, "createDate": 5,
                               "attributes": {}}}
    assert len(service.requests) == 1  # the fabric services stayed silent: one answer only
    assert b"8se7isyX+S6Yei1Ah9AhsQ==" in service.requests[0].payload


# Authorization groups --------------------------------------------------------------------------

def test_denied_enterprise_set_is_dropped_and_allowed_one_passes(tie_fabric, service_client):
    denied_config = tie_fabric.provision("no-enterprise", deny=["enterprise"])
    allowed_config = tie_fabric.provision("enterprise-ok")
    with registered_service(service_client, [TIE_SET_FILE_REPUTATION_TOPIC]) as service, \
            connected(denied_config) as denied, connected(allowed_config) as allowed:
        request = Request(TIE_SET_FILE_REPUTATION_TOPIC)
        request.payload = b'{"trustLevel": 99}'
        with pytest.raises(WaitTimeoutException):
            denied.sync_request(request, timeout=2)
        assert service.requests == []
        # the denied client may still do everything else
        assert isinstance(denied.sync_request(Request("/test/nobody"), timeout=5), ErrorResponse)

        request = Request(TIE_SET_FILE_REPUTATION_TOPIC)
        request.payload = b'{"trustLevel": 99}'
        response = allowed.sync_request(request, timeout=5)
        assert type(response) is Response
        assert len(service.requests) == 1


def test_denied_external_report_is_dropped(tie_fabric, fabric_client):
    denied_config = tie_fabric.provision("no-external", deny=["TIE Server Set External Reputation"])
    events = RecordingEvents()
    fabric_client.add_event_callback(TIE_EVENT_EXTERNAL_FILE_REPORT_TOPIC, events)
    try:
        with connected(denied_config) as denied:
            event = Event(TIE_EVENT_EXTERNAL_FILE_REPORT_TOPIC)
            event.payload = b"denied"
            denied.send_event(event)
            # a round trip of the same client after the event: the broker has handled the event
            denied.sync_request(Request("/test/nobody"), timeout=5)
        event = Event(TIE_EVENT_EXTERNAL_FILE_REPORT_TOPIC)
        event.payload = b"allowed"
        fabric_client.send_event(event)
        assert events.received.wait(10)
        fabric_client.sync_request(Request("/test/nobody"), timeout=5)
        assert [e.payload for e in events.events] == [b"allowed"]
    finally:
        fabric_client.remove_event_callback(TIE_EVENT_EXTERNAL_FILE_REPORT_TOPIC, events)


def test_unknown_group_is_refused_with_the_valid_names(tie_fabric):
    with pytest.raises(ValueError) as raised:
        tie_fabric.provision("bad-group", deny=["admins"])
    assert "TIE Server Set Enterprise Reputation" in str(raised.value)
    assert "'enterprise'" in str(raised.value)


# Files and sockets ----------------------------------------------------------------------------

def test_private_keys_are_mode_0600(tie_fabric):
    keys = []
    for folder, _, files in os.walk(tie_fabric.directory):
        keys += [os.path.join(folder, f) for f in files if f.endswith(".key")]
    assert len(keys) >= 5  # CA, broker, and the sandbox's own clients
    for key in keys:
        assert stat.S_IMODE(os.stat(key).st_mode) == 0o600, key


def _listening_sockets(pid):
    """(address, port) of the TCP sockets process ``pid`` listens on (Linux /proc)."""
    inodes = set()
    fd_dir = "/proc/{}/fd".format(pid)
    for fd in os.listdir(fd_dir):
        try:
            target = os.readlink(os.path.join(fd_dir, fd))
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as lines:
            next(lines)
            for line in lines:
                fields = line.split()
                local, state, inode = fields[1], fields[3], fields[9]
                if state == "0A" and inode in inodes:  # LISTEN
                    address, port = local.split(":")
                    found.append((address, int(port, 16)))
    return found


def test_nothing_listens_beyond_loopback(tie_sandbox):
    status = tie_sandbox.status()
    pids = [p["pid"] for p in status["processes"].values()]
    assert all(pids), status
    listening = {pid: _listening_sockets(pid) for pid in pids}
    broker_pid = status["processes"]["broker"]["pid"]
    assert listening[broker_pid] == [("0100007F", status["port"])]  # 127.0.0.1 only
    assert all(not sockets for pid, sockets in listening.items() if pid != broker_pid)


# Broker restart -------------------------------------------------------------------------------

def test_client_reconnects_and_receives_events_after_broker_restart(tie_fabric):
    topic = "/test/restart/event"
    events = RecordingEvents()
    with connected(tie_fabric.config_file) as listener, \
            connected(tie_fabric.provision("restart-sender")) as sender:
        listener.add_event_callback(topic, events)
        tie_fabric.restart_broker()
        assert wait_for(lambda: listener.connected and sender.connected, timeout=30)

        # events sent before the listener re-subscribed are lost: resend until one arrives
        def delivered():
            event = Event(topic)
            event.payload = b"after restart"
            sender.send_event(event)
            return events.received.wait(0.5)

        assert wait_for(delivered, timeout=30, interval=0)
        assert events.events[-1].payload == b"after restart"
        # and the fabric services answer again
        response = sender.sync_request(Request("/test/nobody"), timeout=5)
        assert isinstance(response, ErrorResponse)
        assert response.error_code == -2147483647


def test_registered_service_survives_broker_restart(tie_fabric, fabric_client):
    done = threading.Event()
    with connected(tie_fabric.provision("restart-service")) as host:
        with registered_service(host, ["/test/restart/service"], payload=b"still here"):
            tie_fabric.restart_broker()
            assert wait_for(lambda: host.connected and fabric_client.connected, timeout=30)

            def answered():
                try:
                    response = fabric_client.sync_request(Request("/test/restart/service"),
                                                          timeout=1)
                except WaitTimeoutException:
                    return False
                return type(response) is Response and response.payload == b"still here"

            assert wait_for(answered, timeout=30, interval=0.1)
            done.set()
    assert done.is_set()
