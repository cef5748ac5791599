"""
Issue #9 point 1: the emulator answers every request of a burst far beyond dxlclient's
10,000-slot incoming queue (it used to wedge for good), and stores every external report of a
large import. Each test runs on a sandbox of its own (the bursts would slow the shared one) and
is bounded in time.
"""

import hashlib
import sqlite3
import threading
import time

import pytest
from fabric_helpers import connected, private_sandbox

from dxltieclient import FileProvider, HashType, TieClient, TrustLevel
from dxltieclient.sandbox import Sandbox

BURST = 20000
IMPORT = 15000
#: Each test must finish within this (seconds); it took 10-30 s on a loaded 2-core machine.
TIME_LIMIT = 90.0


@pytest.fixture(scope="module")
def burst_sandbox(tmp_path_factory):
    yield from private_sandbox(tmp_path_factory, "burst-sandbox")


def hashes_of(label):
    data = label.encode("utf-8")
    return {HashType.MD5: hashlib.md5(data).hexdigest(),
            HashType.SHA1: hashlib.sha1(data).hexdigest(),
            HashType.SHA256: hashlib.sha256(data).hexdigest()}


def external_rows(store_file, md5s):
    """How many of the files ``md5s`` have an External reputation in the store."""
    conn = sqlite3.connect("file:{}?mode=ro".format(store_file), uri=True)
    try:
        conn.execute("CREATE TEMP TABLE wanted (md5 TEXT PRIMARY KEY)")
        conn.executemany("INSERT INTO wanted VALUES (?)", [(md5,) for md5 in md5s])
        (count,) = conn.execute(
            "SELECT COUNT(*) FROM file_reputations r JOIN files f ON f.id = r.file_id "
            "JOIN wanted w ON w.md5 = f.md5 WHERE r.provider_id = ?",
            (FileProvider.EXTERNAL,)).fetchone()
        return count
    finally:
        conn.close()


def test_a_lookup_of_a_new_file_is_not_held_back_by_nagle(burst_sandbox):
    """Such a lookup makes the emulator publish an event, then the reply: without TCP_NODELAY
    the reply waited for the broker's delayed ACK (about 44 ms each, 21 lookups/s)."""
    import statistics

    times = []
    with connected(burst_sandbox.config_file) as client:
        tie_client = TieClient(client)
        for n in range(40):
            start = time.monotonic()
            tie_client.get_file_reputation(hashes_of("nagle-{}".format(n)))
            times.append(time.monotonic() - start)
    median = statistics.median(times)
    print("sequential lookups of new files: median {:.1f} ms".format(median * 1000))
    assert median < 0.030


def test_a_burst_of_20000_requests_in_flight_is_answered_in_full(burst_sandbox):
    items = [hashes_of("burst-{}".format(n)) for n in range(BURST)]
    start = time.monotonic()
    with connected(burst_sandbox.config_file) as client:
        results = TieClient(client).get_file_reputations(items, max_in_flight=BURST,
                                                         timeout=TIME_LIMIT)
    elapsed = time.monotonic() - start
    failed = [result for result in results if not result.ok]
    print("burst: {} lookups in flight, {} failed, {:.1f} s".format(BURST, len(failed), elapsed))
    assert not failed, "{} of {} failed, e.g. {!r}".format(len(failed), BURST, failed[0].error)
    assert len(results) == BURST
    assert all(FileProvider.GTI in result.value for result in results)
    assert elapsed < TIME_LIMIT
    # Still serving afterwards.
    with connected(burst_sandbox.config_file) as client:
        assert TieClient(client).get_file_reputation(items[0])


def test_an_external_import_of_15000_reports_is_stored_in_full(burst_sandbox):
    items = [{"trust_level": TrustLevel.MIGHT_BE_TRUSTED, "filename": "import-{}.exe".format(n),
              "hashes": hashes_of("import-{}".format(n))} for n in range(IMPORT)]
    md5s = [item["hashes"][HashType.MD5] for item in items]
    changes = threading.Semaphore(0)
    received = []

    from dxlclient.callbacks import EventCallback

    class Changes(EventCallback):
        def on_event(self, event):
            received.append(1)
            changes.release()

    start = time.monotonic()
    with connected(burst_sandbox.config_file) as client:
        client.add_event_callback("/mcafee/event/tie/file/repchange/broadcast", Changes())
        results = TieClient(client).set_external_file_reputations(items)
        assert all(result.ok for result in results)
        deadline = start + TIME_LIMIT
        for _ in range(IMPORT):  # one reputation change event per stored report
            assert changes.acquire(timeout=max(0.0, deadline - time.monotonic())), \
                "only {} of {} reports applied in {} s".format(len(received), IMPORT, TIME_LIMIT)
    elapsed = time.monotonic() - start
    stored = external_rows(burst_sandbox.store_file, md5s)
    print("import: {} reports sent, {} stored, {:.1f} s".format(IMPORT, stored, elapsed))
    assert stored == IMPORT


def stored_trust_levels(store_file, md5s, provider_id):
    conn = sqlite3.connect("file:{}?mode=ro".format(store_file), uri=True)
    try:
        conn.execute("CREATE TEMP TABLE wanted (md5 TEXT PRIMARY KEY)")
        conn.executemany("INSERT INTO wanted VALUES (?)", [(md5,) for md5 in md5s])
        return dict(conn.execute(
            "SELECT f.md5, r.trust_level FROM file_reputations r JOIN files f "
            "ON f.id = r.file_id JOIN wanted w ON w.md5 = f.md5 WHERE r.provider_id = ?",
            (provider_id,)).fetchall())
    finally:
        conn.close()


def test_an_overloaded_emulator_answers_an_error_and_acknowledged_sets_are_stored(
        tmp_path, monkeypatch):
    """With a tiny queue, the emulator answers the overflow with the broker's "service
    overloaded" error at once: every request is answered, and exactly the acknowledged sets
    are stored."""
    from dxltieclient import TieServiceError
    from dxltieclient.sandbox.tie import emulator

    monkeypatch.setattr(emulator, "MAX_PENDING_REQUESTS", 50)
    total = 3000
    fabric = Sandbox(str(tmp_path / "fabric"))
    stop = threading.Event()
    ready = threading.Event()
    store_file = str(tmp_path / "overload.sqlite")
    try:
        fabric.up(fabric_only=True)
        config = fabric.provision("tie-overload")
        log_file = str(tmp_path / "tie-emulator.log")
        thread = threading.Thread(target=emulator.serve, name="test-overload-serve",
                                  args=(config, store_file, 0.0, stop, ready.set, log_file),
                                  daemon=True)
        thread.start()
        assert ready.wait(60)
        items = [{"trust_level": TrustLevel.MIGHT_BE_TRUSTED,
                  "hashes": hashes_of("overload-{}".format(n))} for n in range(total)]
        start = time.monotonic()
        with connected(fabric.config_file) as client:
            results = TieClient(client).set_file_reputations(items, max_in_flight=total,
                                                             timeout=TIME_LIMIT)
        elapsed = time.monotonic() - start
        stop.set()
        thread.join(30)
    finally:
        stop.set()
        fabric.down()
    ok = [result for result in results if result.ok]
    overloaded = [result for result in results if not result.ok
                  and isinstance(result.error, TieServiceError)
                  and result.error.error_code == emulator.SERVICE_OVERLOADED_CODE]
    other = [result.error for result in results if not result.ok and result not in overloaded]
    print("overload: {} sets, {} acknowledged, {} overloaded, {} other, {:.1f} s".format(
        total, len(ok), len(overloaded), len(other), elapsed))
    assert not other, other[:3]
    assert overloaded, "the queue limit was never reached"
    stored = stored_trust_levels(store_file, [item["hashes"][HashType.MD5] for item in items],
                                 FileProvider.ENTERPRISE)
    assert sorted(stored) == sorted(result.item["hashes"][HashType.MD5] for result in ok)
    assert set(stored.values()) == {TrustLevel.MIGHT_BE_TRUSTED}
    with open(log_file, encoding="utf-8") as log:  # serve(log_file=...) logged there
        text = log.read()
    assert "TIE emulator serving" in text and "TIE emulator overloaded" in text
