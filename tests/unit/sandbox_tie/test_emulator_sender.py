"""The emulator's work queue: dxlclient's threads hand over work without ever blocking."""

import threading

from dxltieclient.sandbox.tie import emulator
from dxltieclient.sandbox.tie.emulator import WorkQueue


def test_actions_run_in_order_on_the_queue_thread():
    queue = WorkQueue({"request": 10, "event": 10})
    ran = []
    done = threading.Event()
    try:
        for n in range(5):
            assert queue.offer("request",
                               lambda n=n: ran.append((n, threading.current_thread().name)))
        queue.offer("event", done.set)
        assert done.wait(5)
    finally:
        queue.close()
    assert [n for n, _ in ran] == list(range(5))
    assert {name for _, name in ran} == {"tie-emulator-worker"}


def test_offer_never_blocks_and_a_full_queue_answers_the_overflow_first():
    queue = WorkQueue({"request": 2, "event": 1})
    gate = threading.Event()
    started = threading.Event()
    ran = []

    def blocker():
        started.set()
        gate.wait(10)

    try:
        assert queue.offer("request", blocker)
        assert started.wait(5)  # the worker is busy: what follows waits in the queue
        assert queue.offer("request", lambda: ran.append("a"))
        assert queue.offer("request", lambda: ran.append("b"))
        assert not queue.offer("request", lambda: ran.append("c"),
                               overflow=lambda: ran.append("overloaded c"))
        assert queue.offer("event", lambda: ran.append("e1"))
        assert not queue.offer("event", lambda: ran.append("e2"))  # dropped, counted
        assert queue.refused == {"request": 1, "event": 1}
        gate.set()
    finally:
        queue.close()
    assert ran == ["overloaded c", "a", "b", "e1"]
    assert queue.done == 5


def test_an_action_that_raises_is_logged_and_the_queue_goes_on(caplog):
    queue = WorkQueue({"request": 5})
    done = threading.Event()
    try:
        queue.offer("request", lambda: 1 / 0)
        queue.offer("request", done.set)
        assert done.wait(5)
    finally:
        queue.close()
    assert "failed to send a message" in caplog.text


def test_close_runs_what_is_queued_then_refuses():
    queue = WorkQueue({"request": 100})
    ran = []
    for n in range(50):
        queue.offer("request", lambda n=n: ran.append(n))
    queue.close()
    assert ran == list(range(50))
    assert not queue.offer("request", lambda: ran.append("late"))
    assert "late" not in ran


def test_the_overloaded_error_is_the_brokers_code():
    assert emulator.SERVICE_OVERLOADED_CODE == -2147483646  # 0x80000002 as dxlclient reads it
    assert emulator.SERVICE_OVERLOADED_MESSAGE == "service overloaded"
    assert emulator.MAX_PENDING_REQUESTS > 20000  # a 20,000 burst is served, not refused


def _write_config(tmp_path):
    from dxltieclient.sandbox.dxlconfig import write_config
    from dxltieclient.sandbox.pki import CertificateAuthority

    ca = CertificateAuthority(str(tmp_path / "pki"))
    ca.ensure()
    identity = ca.issue("tie-server", str(tmp_path / "c.crt"), str(tmp_path / "c.key"))
    return write_config(str(tmp_path / "dxlclient.config"), ca.cert_file, identity.cert_file,
                        identity.key_file, "{broker}", 1883)


def test_the_emulator_reconnects_within_seconds_of_an_outage(tmp_path):
    config = emulator.emulator_config(_write_config(tmp_path))
    assert config.reconnect_delay_max == emulator.RECONNECT_DELAY_MAX <= 5.0
    assert config.reconnect_back_off_multiplier == emulator.RECONNECT_BACK_OFF_MULTIPLIER
    assert config.reconnect_delay <= 1.0
    assert config.reconnect_when_disconnected
    assert config.incoming_message_queue_size >= emulator.MESSAGE_QUEUE_SIZE
    # dxlclient's worst wait: the cap plus its random part (reconnect_delay_random, 25 %)
    assert config.reconnect_delay_max * (1 + config.reconnect_delay_random) < 10.0


def test_the_emulator_gets_a_fresh_random_client_id_at_each_start(tmp_path):
    path = _write_config(tmp_path)
    first = emulator.emulator_config(path)._client_id
    second = emulator.emulator_config(path)._client_id
    assert first != second
    assert first.startswith("{") and len(first) == 38


def test_the_last_will_is_the_unregistration_of_the_service(tmp_path):
    import json

    from dxlclient.client import DxlClient
    from dxlclient.message import Message, Request
    from dxlclient.service import ServiceRegistrationInfo

    client = DxlClient(emulator.emulator_config(_write_config(tmp_path)))
    try:
        info = ServiceRegistrationInfo(client, "/mcafee/service/tie")
        will = emulator.set_unregister_will(client, info)
        message = Message._from_bytes(will)
        assert isinstance(message, Request)
        assert json.loads(message.payload.decode("utf-8")) == {"serviceGuid": info.service_id}
        assert message.reply_to_topic.startswith("/mcafee/client/{")
        assert client._client._will_topic in (b"/mcafee/service/dxl/svcregistry/unregister",
                                              "/mcafee/service/dxl/svcregistry/unregister")
    finally:
        client.destroy()


def test_the_log_file_is_rotated(tmp_path):
    import logging

    log_file = str(tmp_path / "tie-emulator.log")
    handler = emulator.rotating_log_handler(log_file, max_bytes=1000, backup_count=2)
    logger = logging.getLogger("test-rotation")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        for n in range(100):
            logger.info("line %d %s", n, "x" * 50)
    finally:
        logger.removeHandler(handler)
        handler.close()
    names = sorted(path.name for path in tmp_path.iterdir())
    assert names == ["tie-emulator.log", "tie-emulator.log.1", "tie-emulator.log.2"]
    assert all(path.stat().st_size <= 1000 for path in tmp_path.iterdir())
    assert "line 99" in (tmp_path / "tie-emulator.log").read_text()
    assert emulator.LOG_MAX_BYTES <= 10 * 1024 * 1024
