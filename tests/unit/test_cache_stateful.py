"""
Hypothesis stateful test of CachingTieClient against the faithful fake TIE: lookups (by any subset
of a file's hashes, and of certificates), sets by another client (events delivered), changes while
a lookup is in flight, disconnections with changes missed, reconnections with catch-up, unreadable
events. Invariant: a lookup never returns anything but what TIE would answer at that moment.
"""

from __future__ import annotations

import hashlib
from typing import Dict, List

import pytest
from cache_fakes import FabricClient, FakeTie
from dxlclient.exceptions import DxlException
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule
from tie_fakes import make_event

from dxltieclient import TieClient, TrustLevel
from dxltieclient.caching import CachingTieClient
from dxltieclient.client import TIE_EVENT_CERT_REPUTATION_CHANGE_TOPIC

FILES = 6
CERTS = 3
LEVELS = (TrustLevel.KNOWN_MALICIOUS, TrustLevel.UNKNOWN, TrustLevel.KNOWN_TRUSTED,
          TrustLevel.MIGHT_BE_TRUSTED)
SUBSETS = (("md5",), ("sha1",), ("sha256",), ("md5", "sha256"), ("md5", "sha1", "sha256"),
           ("sha256", "sha1"))


def _file(number: int) -> Dict[str, str]:
    seed = "file{}".format(number).encode()
    return {"md5": hashlib.md5(seed).hexdigest(), "sha1": hashlib.sha1(seed).hexdigest(),
            "sha256": hashlib.sha256(seed).hexdigest()}


def _cert(number: int) -> str:
    return hashlib.sha1("cert{}".format(number).encode()).hexdigest()


class CacheMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.tie = FakeTie()
        self.tie.targeted = True
        for number in range(FILES):
            self.tie.file(_file(number))  # TIE knows each file by all its hashes (see docs)
        self.client: FabricClient = self.tie.client()
        self.cache = CachingTieClient(self.client, max_entries=4, check_interval=0.05)
        self.other = TieClient(self.tie.client())
        self.connected = True
        self.wrong: List[str] = []

    def teardown(self) -> None:
        self.cache.close()

    @rule(number=st.integers(0, FILES - 1), subset=st.sampled_from(SUBSETS))
    def lookup(self, number: int, subset: tuple) -> None:
        hashes = {hash_type: _file(number)[hash_type] for hash_type in subset}
        if not self.connected:
            with pytest.raises(DxlException):
                self.cache.get_file_reputation(hashes)
            return
        got = self.cache.get_file_reputation(hashes)
        truth = self.tie.file_answer(hashes)
        if got != truth:
            self.wrong.append("file {} by {}: got {} instead of {}".format(
                number, subset, got, truth))

    @precondition(lambda self: self.connected)
    @rule(number=st.integers(0, CERTS - 1))
    def lookup_cert(self, number: int) -> None:
        got = self.cache.get_certificate_reputation(_cert(number))
        with self.tie.lock:
            truth = {rep["providerId"]: rep for rep in self.tie.cert(_cert(number))
                     .reputations(2, 4)}
        if got != truth:
            self.wrong.append("cert {}: got {} instead of {}".format(number, got, truth))

    @rule(number=st.integers(0, FILES - 1), level=st.sampled_from(LEVELS),
          subset=st.sampled_from(SUBSETS))
    def set_by_another_client(self, number: int, level: int, subset: tuple) -> None:
        self.other.set_file_reputation(level, {t: _file(number)[t] for t in subset})

    @rule(number=st.integers(0, CERTS - 1), level=st.sampled_from(LEVELS))
    def set_cert_by_another_client(self, number: int, level: int) -> None:
        self.other.set_certificate_reputation(level, _cert(number))

    @precondition(lambda self: self.connected)
    @rule(number=st.integers(0, FILES - 1), level=st.sampled_from(LEVELS))
    def change_while_in_flight(self, number: int, level: int) -> None:
        hashes = _file(number)

        def change() -> None:
            self.tie.before_reply = None
            self.other.set_file_reputation(level, hashes)

        self.tie.before_reply = change
        self.cache.get_file_reputation(hashes)  # may be the old answer: it was, when sent
        self.tie.before_reply = None
        self.lookup(number, ("md5", "sha1", "sha256"))  # the change's event was delivered

    @rule()
    def tick(self) -> None:
        self.tie.tick()

    @precondition(lambda self: self.connected)
    @rule()
    def disconnect(self) -> None:
        self.client.drop()
        self.connected = False

    @precondition(lambda self: not self.connected)
    @rule()
    def reconnect(self) -> None:
        self.client.restore()
        self.connected = True
        assert self.cache.wait_synced(10.0), "no catch-up within 10 s"

    @precondition(lambda self: self.connected)
    @rule()
    def unreadable_event(self) -> None:
        self.client.deliver(make_event(b"{", TIE_EVENT_CERT_REPUTATION_CHANGE_TOPIC))
        assert self.cache.wait_synced(10.0), "no catch-up within 10 s"

    @invariant()
    def never_a_stale_answer(self) -> None:
        assert not self.wrong, self.wrong[0]

    @invariant()
    def bounded(self) -> None:
        assert self.cache.stats.entries <= 4


CacheMachine.TestCase.settings = settings(
    max_examples=40, stateful_step_count=30, deadline=None,
    suppress_health_check=[HealthCheck.too_slow])
TestCacheMachine = CacheMachine.TestCase
