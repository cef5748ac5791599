"""
Issue #9 point 6: the strict sandbox ACL (modelled on DXL topic authorization) stops a rogue
client from acting as TIE, forging TIE events, reading others' requests and replies, and
learning the emulator's client id; the open mode (the original behaviour) lets it do all that,
which shows each test can fail. One sandbox of its own; each test sets the mode it needs.
"""

import contextlib
import json
import os
import signal
import ssl
import threading
import time
import uuid

import pahoproxy.client as mqtt
import pytest
from dxlclient.message import Event, Message, Request
from fabric_helpers import RecordingEvents, connected, registered_service, registry, wait_for

from dxltieclient import FileProvider, ReputationProp, TieClient, TrustLevel
from dxltieclient.client import (
    TIE_EVENT_EXTERNAL_FILE_REPORT_TOPIC,
    TIE_EVENT_FILE_REPUTATION_CHANGE_TOPIC,
    TIE_GET_FILE_REPUTATION_TOPIC,
)
from dxltieclient.sandbox import Sandbox, authz
from dxltieclient.sandbox.tie.seed import EICAR_HASHES

ROGUE = "rogue"


@pytest.fixture(scope="module")
def acl_sandbox(tmp_path_factory):
    sandbox = Sandbox(str(tmp_path_factory.mktemp("acl-sandbox")))
    try:
        sandbox.up()
        sandbox.rogue_config = sandbox.provision(ROGUE)  # rewrites the ACL: before use_acl
        yield sandbox
    finally:
        sandbox.down()


def use_acl(sandbox, open_acl):
    """Writes the sandbox's ACL in the given mode and waits until the broker has reloaded it."""
    status = sandbox.status()
    denials = {name: info["deny"] for name, info in status["clients"].items()}
    path = os.path.join(sandbox.directory, "mosquitto.acl")
    with open(path, "w") as acl:
        acl.write(authz.acl_text(denials, open_acl=open_acl))
    log_file = status["processes"]["broker"]["log_file"]

    def reloads():
        with open(log_file, "rb") as log:
            return log.read().count(b"Reloading config")

    before = reloads()
    os.kill(status["processes"]["broker"]["pid"], signal.SIGHUP)
    assert wait_for(lambda: reloads() > before, timeout=10)


@contextlib.contextmanager
def raw_client(sandbox, name, client_id=None, subscribe="#"):
    """A bare MQTT connection with ``name``'s certificate, recording (topic, payload)."""
    folder = os.path.join(sandbox.directory, "clients", name)
    client = mqtt.Client(client_id=client_id or "raw-" + str(uuid.uuid4()), clean_session=True,
                         protocol=mqtt.MQTTv311)
    client.tls_set(os.path.join(sandbox.directory, "pki", "ca.crt"),
                   certfile=os.path.join(folder, "client.crt"),
                   keyfile=os.path.join(folder, "client.key"),
                   tls_version=ssl.PROTOCOL_TLSv1_2, ciphers="AES128-SHA256")
    client.tls_insecure_set(True)
    received = []
    subscribed = threading.Event()
    client.on_message = lambda c, u, msg: received.append((msg.topic, bytes(msg.payload)))
    client.on_subscribe = lambda c, u, mid, qos: subscribed.set()
    client.on_connect = lambda c, u, flags, rc: c.subscribe(subscribe) if rc == 0 else None
    client.connect("127.0.0.1", sandbox.port)
    client.loop_start()
    try:
        assert subscribed.wait(10)
        client.received = received
        yield client
    finally:
        client.disconnect()
        client.loop_stop()


def marker_seen(rogue_raw, marker):
    """The rogue publishes ``marker`` (an external report, allowed in both modes) and waits for
    it: whatever the broker delivers to it before is then in."""
    rogue_raw.publish(TIE_EVENT_EXTERNAL_FILE_REPORT_TOPIC, marker)
    assert wait_for(lambda: any(payload == marker for _, payload in rogue_raw.received),
                    timeout=10)


@pytest.mark.parametrize("open_acl", [False, True], ids=["strict", "open"])
def test_a_rogue_tie_service_gets_no_requests(acl_sandbox, open_acl):
    use_acl(acl_sandbox, open_acl)
    forged = {"props": {"serverTime": 1}, "reputations": [
        {"providerId": FileProvider.GTI, "trustLevel": TrustLevel.KNOWN_TRUSTED,
         "createDate": 1, "attributes": {}}]}
    with connected(acl_sandbox.rogue_config) as rogue, \
            connected(acl_sandbox.config_file) as victim:
        with registered_service(rogue, [TIE_GET_FILE_REPUTATION_TOPIC],
                                payload=json.dumps(forged).encode("utf-8"),
                                service_type="/mcafee/service/tie") as service:
            tie_client = TieClient(victim)
            answers = [tie_client.get_file_reputation(EICAR_HASHES) for _ in range(20)]
    trusted = sum(1 for reputations in answers
                  if reputations[FileProvider.GTI][ReputationProp.TRUST_LEVEL]
                  == TrustLevel.KNOWN_TRUSTED)
    if open_acl:
        assert service.requests, "in open mode the rogue service receives the requests"
    else:
        assert not service.requests and trusted == 0


@pytest.mark.parametrize("open_acl", [False, True], ids=["strict", "open"])
def test_a_rogue_cannot_forge_tie_events(acl_sandbox, open_acl):
    use_acl(acl_sandbox, open_acl)
    events = RecordingEvents()
    markers = RecordingEvents()
    with connected(acl_sandbox.config_file) as victim, \
            connected(acl_sandbox.rogue_config) as rogue:
        victim.add_event_callback(TIE_EVENT_FILE_REPUTATION_CHANGE_TOPIC, events)
        victim.add_event_callback(TIE_EVENT_EXTERNAL_FILE_REPORT_TOPIC, markers)
        forged = Event(TIE_EVENT_FILE_REPUTATION_CHANGE_TOPIC)
        forged.payload = json.dumps({"hashes": [], "newReputations": {}}).encode("utf-8")
        rogue.send_event(forged)
        marker = Event(TIE_EVENT_EXTERNAL_FILE_REPORT_TOPIC)
        marker.payload = b'{"marker": true}'
        rogue.send_event(marker)  # same publisher, same subscriber: delivered after the forgery
        assert markers.received.wait(10)
    assert bool(events.events) == open_acl


@pytest.mark.parametrize("open_acl", [False, True], ids=["strict", "open"])
def test_a_rogue_cannot_read_requests_and_replies_of_others(acl_sandbox, open_acl):
    use_acl(acl_sandbox, open_acl)
    with raw_client(acl_sandbox, ROGUE) as spy:
        with connected(acl_sandbox.config_file) as victim:
            assert TieClient(victim).get_file_reputation(EICAR_HASHES)
        marker_seen(spy, b'{"marker": "replies"}')
    seen = {topic.split("/")[2] for topic, _ in spy.received if topic.startswith("/mcafee/")}
    if open_acl:
        assert {"client", "service"} <= seen
    else:
        assert "client" not in seen and "service" not in seen, seen


@pytest.mark.parametrize("open_acl", [False, True], ids=["strict", "open"])
def test_a_rogue_cannot_learn_the_emulators_client_id(acl_sandbox, open_acl):
    """The emulator's client id appears only in its registry requests (sent at each start):
    with it, a client could take over the emulator's MQTT session."""
    use_acl(acl_sandbox, open_acl)
    with raw_client(acl_sandbox, ROGUE) as spy, connected(acl_sandbox.config_file) as client:
        os.kill(acl_sandbox.status()["processes"]["tie_emulator"]["pid"], signal.SIGKILL)
        # its last will (the unregistration) passes the ACL in both modes
        assert wait_for(lambda: not registry(client, "/mcafee/service/tie"), timeout=5)
        acl_sandbox.up()  # a new emulator: a new client id, registered while the rogue listens
        marker_seen(spy, b'{"marker": "registry"}')
    learned = set()
    for topic, payload in spy.received:
        if not topic.startswith("/mcafee/service/dxl/svcregistry/"):
            continue
        message = Message._from_bytes(payload)
        if isinstance(message, Request) and message.reply_to_topic:
            learned.add(message.reply_to_topic)
    assert bool(learned) == open_acl, learned
    with connected(acl_sandbox.config_file) as client:  # and the new emulator serves
        assert TieClient(client).get_file_reputation(EICAR_HASHES)


def test_clients_keep_what_they_need_in_strict_mode(acl_sandbox):
    """Lookups, sets, events, external reports and the sandbox's emit helper still work."""
    use_acl(acl_sandbox, open_acl=False)
    detections = RecordingEvents()
    changes = RecordingEvents()
    with connected(acl_sandbox.config_file) as client:
        client.add_event_callback("/mcafee/event/tie/file/detection", detections)
        client.add_event_callback(TIE_EVENT_FILE_REPUTATION_CHANGE_TOPIC, changes)
        tie_client = TieClient(client)
        assert tie_client.get_file_reputation(EICAR_HASHES)
        tie_client.set_file_reputation(TrustLevel.MIGHT_BE_TRUSTED, EICAR_HASHES,
                                       filename="eicar.com")
        assert changes.received.wait(10)
        acl_sandbox.emit_detection(EICAR_HASHES, "{00000000-0000-0000-0000-000000000009}",
                                   "eicar.com", 1, 5)
        assert detections.received.wait(10)
        started = time.monotonic()
        assert tie_client.get_file_reputation(EICAR_HASHES)
        assert time.monotonic() - started < 5
