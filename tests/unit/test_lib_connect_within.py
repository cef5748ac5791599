"""connect_within: dxlclient's blocking connect() on a thread of its own, bounded."""

import threading

from dxltieclient._connection import connect_within


class _Client:
    def __init__(self, error=None, block=None):
        self.connected = False
        self._error = error
        self._block = block

    def connect(self):
        if self._block is not None:
            self._block.wait(10)
        if self._error is not None:
            raise self._error
        self.connected = True


def test_a_client_that_connects_is_connected():
    attempt = connect_within(_Client(), 5.0)
    assert attempt.connected and attempt.error is None and not attempt.pending


def test_what_connect_raised_is_the_reason():
    attempt = connect_within(_Client(error=OSError("refused")), 5.0)
    assert not attempt.connected and not attempt.pending
    assert isinstance(attempt.error, OSError)
    assert attempt.reason(5.0) == "refused"


def test_a_connect_still_running_is_pending_and_the_wait_ends_at_the_timeout():
    release = threading.Event()
    try:
        attempt = connect_within(_Client(block=release), 0.05)
        assert not attempt.connected and attempt.pending and attempt.error is None
        assert attempt.reason(0.05) == "no connection within 0.05 s"
    finally:
        release.set()
