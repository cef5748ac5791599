"""
The sandbox's TIE service emulator: a DXL service that answers the TIE request topics and the
external report event over a SQLite store, in TIE's wire format.

* :mod:`.store`: the SQLite store (files, certificates, reputations, first references);
* :mod:`.service`: the request topics and the external report, as functions of payload bytes;
* :mod:`.events`: event payloads (reputation change, detection, first instance);
* :mod:`.seed`: the seed data (notepad.exe, EICAR, the example certificate);
* :mod:`.emulator`: the process entry, :func:`~.emulator.serve`.
"""

from __future__ import annotations

from .events import detection_event, first_instance_event
from .service import ERROR_INTERNAL, ERROR_INVALID_REQUEST, TieService
from .store import Store

__all__ = ["ERROR_INTERNAL", "ERROR_INVALID_REQUEST", "Store", "TieService", "detection_event",
           "first_instance_event"]
