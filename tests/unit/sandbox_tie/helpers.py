"""Helpers of the TIE emulator's unit tests."""

from __future__ import annotations

import json
import sqlite3
from typing import Any, Dict, List, Optional, Tuple

from dxltieclient import _wire
from dxltieclient.sandbox.tie.service import Outcome, TieService

#: The fake clock's starting time (epoch seconds).
START = 1700000000
#: The requester used by the tests.
AGENT = "{11111111-2222-3333-4444-555555555555}"


class Clock:
    """A settable clock: calling it returns :attr:`now`."""

    def __init__(self, now: int = START) -> None:
        self.now = now

    def __call__(self) -> float:
        return float(self.now)

    def tick(self, seconds: int = 1) -> int:
        self.now += seconds
        return self.now


def dump(path: str) -> Dict[str, List[Tuple[Any, ...]]]:
    """Every row of every table of the SQLite file, read through a second connection."""
    conn = sqlite3.connect(path)
    try:
        tables = [row[0] for row in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
        return {table: sorted(conn.execute("SELECT * FROM {}".format(table)).fetchall(),
                              key=repr)
                for table in tables}
    finally:
        conn.close()


def call(service: TieService, topic: str, payload: Any,
         requester: Optional[str] = AGENT) -> Outcome:
    """Sends a request payload (a dict is encoded as the client would) to the service."""
    data = _wire.encode_json(payload) if isinstance(payload, (dict, list)) else payload
    return service.handle_request(topic, data, requester)


def reply(outcome: Outcome) -> Any:
    """The decoded response of a successful outcome."""
    assert outcome.error is None, outcome.error
    assert outcome.response is not None
    return json.loads(outcome.response)


def events(outcome_events: List[Tuple[str, bytes]]) -> List[Tuple[str, Any]]:
    """The decoded events of an outcome."""
    return [(topic, json.loads(payload)) for topic, payload in outcome_events]
