"""
The event publisher of the event-dispatch benchmark, run as its own process:

    python bench/_publisher.py CONFIG_FILE TOPIC

It connects, prints ``ready``, then obeys commands read from stdin, one a line:

* ``send N``: publishes N file reputation change events (TIE's wire format, 100 different files in
  turn, payloads encoded beforehand) as fast as it can, then prints ``sent N SECONDS``;
* ``quit`` (or end of input): disconnects and exits.

Waiting for ``quit`` before disconnecting lets the queued events leave the MQTT client.
"""

from __future__ import annotations

import os
import sys
import time
from typing import Any, Dict, List

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from dxlclient.message import Event

from bench._common import connect, destroy_quietly, make_hashes
from dxltieclient import _wire
from dxltieclient.sandbox.tie.events import file_reputation_change_event

#: Different files cycled through by the events.
DISTINCT_FILES = 100


def _reputation(provider_id: int, trust_level: int, created: int,
                attributes: Dict[str, str]) -> Dict[str, Any]:
    return {"attributes": attributes, "createDate": created, "providerId": provider_id,
            "trustLevel": trust_level}


def event_payloads(count: int = DISTINCT_FILES) -> List[bytes]:
    """
    Realistic file reputation change events (TIE-SPEC 4.1): every hash in base64, a GTI and an
    enterprise reputation before and after (enterprise goes from unknown to known trusted), and
    the signing certificate's hashes.

    :param count: how many different files
    :return: the encoded payloads
    """
    now = int(time.time())
    day = 86400
    payloads = []
    certificates = make_hashes(count, seed=77)
    for index, hashes in enumerate(make_hashes(count, seed=42)):
        gti = _reputation(1, 99, now - 30 * day, {"2120340": "2139160704"})
        enterprise_attributes = {"2101652": "52", "2102165": str(now - 30 * day),
                                 "2111893": "21", "2114965": "0", "2139285": "73183493944770750"}
        old = [gti, _reputation(3, 0, now - 30 * day, enterprise_attributes)]
        new = [gti, _reputation(3, 99, now, enterprise_attributes)]
        event = file_reputation_change_event(
            hashes, old, new, update_time=now,
            certificate_sha1=certificates[index]["sha1"],
            certificate_public_key_sha1=certificates[(index + 1) % count]["sha1"])
        payloads.append(_wire.encode_json(event))
    return payloads


def main(argv: List[str]) -> int:
    """Runs the publisher (see the module's docstring)."""
    if len(argv) != 2:
        print("usage: _publisher.py CONFIG_FILE TOPIC", file=sys.stderr)
        return 2
    config_file, topic = argv
    payloads = event_payloads()
    client = connect(config_file)
    try:
        print("ready", flush=True)
        for line in sys.stdin:
            words = line.split()
            if not words or words[0] == "quit":
                break
            if words[0] == "send" and len(words) == 2:
                count = int(words[1])
                start = time.perf_counter()
                for number in range(count):
                    event = Event(topic)
                    event.payload = payloads[number % len(payloads)]
                    client.send_event(event)
                print("sent {} {:.6f}".format(count, time.perf_counter() - start), flush=True)
            else:
                print("error unknown command {!r}".format(line.strip()), flush=True)
    finally:
        destroy_quietly(client)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
