"""
The cache's own listener of file and certificate reputation change events (broadcast and
targeted). It runs on dxlclient's incoming-message threads, so it only parses the event, takes the
cache's lock briefly and never sends anything.
"""

from __future__ import annotations

import logging
from typing import Any, Callable, List

from dxlclient.callbacks import EventCallback

from .. import _wire
from . import _keys
from ._store import Key, ReputationStore

_logger = logging.getLogger(__name__)


class ChangeListener(EventCallback):
    """
    Drops the cache entries a reputation change event concerns.

    :param store: the cache's entries
    :param extract: the event's keys from its parsed payload (files or certificates)
    :param on_unreadable: called with a reason when an event cannot be read (the cache then cannot
        know which entries changed)
    """

    def __init__(self, store: ReputationStore, extract: Callable[[Any], List[Key]],
                 on_unreadable: Callable[[str], None]) -> None:
        super().__init__()
        self._store = store
        self._extract = extract
        self._on_unreadable = on_unreadable

    def on_event(self, event: Any) -> None:
        """
        Handles one event (called by dxlclient).

        :param event: the :class:`dxlclient.message.Event`
        """
        try:
            payload = _wire.decode_json(event.payload)
            keys = self._extract(payload)
            when = _keys.update_time(payload)
        except Exception as error:  # noqa: BLE001  (logged; the cache resynchronises)
            topic = getattr(event, "destination_topic", None)
            _logger.error("TIE cache: unreadable reputation change event on %s: %s: %s", topic,
                          type(error).__name__, str(error)[:200])
            self._on_unreadable("an unreadable reputation change event on {}".format(topic))
            return
        self._store.invalidate(keys, when, event=True)
