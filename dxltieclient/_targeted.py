"""
Targeted events on a broker that does not filter them.

TIE publishes a targeted reputation change event (``/mcafee/event/tie/file/repchange``,
``/mcafee/event/tie/cert/repchange``) with the requesters in the event's destination client ids
(dxlclient's ``Message.client_ids``). A real OpenDXL broker delivers such an event only to the
clients whose canonical id is listed: the lowercase hexadecimal SHA-1 fingerprint of the client
certificate (every connection with the same certificate shares it). Mosquitto, the sandbox's
broker, neither stamps nor filters these ids: every subscriber gets every event.

:class:`TargetedEventFilter` wraps a callback and does the broker's filtering in the library: an
event whose destination client ids are non-empty is passed on only when they name this client,
by its certificate fingerprint (what a real TIE server lists) or by its dxlclient instance id
(what the sandbox's emulator lists, since Mosquitto gives it no fingerprint).
"""

from __future__ import annotations

import hashlib
import logging
import ssl
from typing import Any, FrozenSet, Iterable, Optional

from dxlclient.callbacks import EventCallback

logger = logging.getLogger(__name__)


def certificate_fingerprint(cert_file: Optional[str]) -> Optional[str]:
    """
    Computes the broker's canonical id of a client: the SHA-1 fingerprint of its certificate.

    :param cert_file: the client certificate (PEM; the first certificate in the file counts)
    :return: the lowercase hexadecimal SHA-1 of the certificate's DER encoding, or ``None``
        when the file is not given or cannot be read (logged)
    """
    if not cert_file:
        return None
    try:
        with open(cert_file, "r", encoding="ascii") as handle:
            pem = handle.read()
        end = "-----END CERTIFICATE-----"
        der = ssl.PEM_cert_to_DER_cert(pem[:pem.index(end) + len(end)])
    except (OSError, ValueError, UnicodeDecodeError) as error:
        logger.warning("Cannot read the client certificate %s to compute this client's id for "
                       "targeted events: %s", cert_file, error)
        return None
    return hashlib.sha1(der).hexdigest()


def own_client_ids(dxl_client: Any) -> FrozenSet[str]:
    """
    The ids a targeted event may name this client by.

    :param dxl_client: the :class:`dxlclient.client.DxlClient`
    :return: its certificate fingerprint (see :func:`certificate_fingerprint`) and its dxlclient
        instance id (``{uuid}``), those known
    """
    config = getattr(dxl_client, "config", None)
    ids = {certificate_fingerprint(getattr(config, "cert_file", None)),
           getattr(config, "_client_id", None)}
    return frozenset(normalize(value) for value in ids if value)


def normalize(client_id: str) -> str:
    """
    :param client_id: a client id as listed in a message
    :return: the id compared: lower case, surrounding white space removed
    """
    return client_id.strip().lower()


def is_for(destination_ids: Optional[Iterable[str]], own_ids: FrozenSet[str]) -> bool:
    """
    Tells whether an event is for this client, as the broker decides.

    :param destination_ids: the event's destination client ids
    :param own_ids: this client's ids (see :func:`own_client_ids`)
    :return: ``True`` when the list is empty (a broadcast) or names one of ``own_ids``
    """
    listed = [normalize(value) for value in destination_ids or () if isinstance(value, str)]
    return not listed or any(value in own_ids for value in listed)


class TargetedEventFilter(EventCallback):
    """
    Passes an event on to ``callback`` only when it is for this client (see :func:`is_for`);
    drops the others with a debug log line.

    :param callback: the callback to pass events to
    :param own_ids: this client's ids
    """

    def __init__(self, callback: EventCallback, own_ids: FrozenSet[str]) -> None:
        super().__init__()
        self.callback = callback
        self.own_ids = own_ids

    def on_event(self, event: Any) -> None:
        """
        Passes the event on, or drops it.

        :param event: the :class:`dxlclient.message.Event` received
        """
        destination = getattr(event, "client_ids", None)
        if is_for(destination, self.own_ids):
            self.callback.on_event(event)
        else:
            logger.debug("Dropped a targeted event on %s addressed to other clients (%d ids)",
                         getattr(event, "destination_topic", None), len(destination or ()))
