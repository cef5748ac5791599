"""
:class:`TieClient`, the client of the McAfee Threat Intelligence Exchange (TIE) DXL service, and the
DXL topics it uses.
"""

from __future__ import absolute_import

import base64  # noqa: F401  (part of the module's historical namespace)
import binascii  # noqa: F401  (part of the module's historical namespace)
import collections.abc as _abc
import json  # noqa: F401  (part of the module's historical namespace)
import logging as _logging
import numbers as _numbers
import threading as _threading
import typing as _t

from dxlbootstrap.client import Client
from dxlbootstrap.util import MessageUtils  # noqa: F401  (part of the module's historical namespace)
from dxlclient import Event, Request
from dxlclient.callbacks import EventCallback as _EventCallback
from dxlclient.exceptions import WaitTimeoutException as _WaitTimeoutException
from dxlclient.message import Message as _Message

from . import _bulk, _connection, _errors, _targeted, _wire
from .constants import (  # noqa: F401  (part of the module's historical namespace)
    CertProvider,
    CertReputationOverriddenProp,
    CertReputationProp,
    FileProvider,
    FileType,
    ReputationProp,
    TrustLevel,
)

_logger = _logging.getLogger(__name__)

#: Request topic: set the enterprise reputation of a file.
TIE_SET_FILE_REPUTATION_TOPIC = "/mcafee/service/tie/file/reputation/set"
#: Request topic: look up the reputations of a file.
TIE_GET_FILE_REPUTATION_TOPIC = "/mcafee/service/tie/file/reputation"
#: Request topic: set the enterprise reputation of a certificate.
TIE_SET_CERT_REPUTATION_TOPIC = "/mcafee/service/tie/cert/reputation/set"
#: Request topic: look up the reputations of a certificate.
TIE_GET_CERT_REPUTATION_TOPIC = "/mcafee/service/tie/cert/reputation"
#: Request topic: the systems that first referenced a file.
TIE_GET_FILE_FIRST_REFS = "/mcafee/service/tie/file/agents"
#: Request topic: the systems that first referenced a certificate.
TIE_GET_CERT_FIRST_REFS = "/mcafee/service/tie/cert/agents"
#: Event topic: a file's reputation changed.
TIE_EVENT_FILE_REPUTATION_CHANGE_TOPIC = "/mcafee/event/tie/file/repchange/broadcast"
#: Event topic: a certificate's reputation changed.
TIE_EVENT_CERT_REPUTATION_CHANGE_TOPIC = "/mcafee/event/tie/cert/repchange/broadcast"
#: Event topic: an endpoint took action on a file (a detection).
TIE_EVENT_FILE_DETECTION_TOPIC = "/mcafee/event/tie/file/detection"
#: Event topic: a file was seen for the first time in the enterprise.
TIE_EVENT_FILE_FIRST_INSTANCE_TOPIC = "/mcafee/event/tie/file/firstinstance"
#: Event topic: a file's prevalence (the number of systems that asked for it) changed.
TIE_EVENT_FILE_PREVALENCE_CHANGE_TOPIC = "/mcafee/event/tie/file/prevalence"
#: Event topic (sent by the client): an external provider's file reputation report.
TIE_EVENT_EXTERNAL_FILE_REPORT_TOPIC = "/mcafee/event/external/file/report"
#: Event topic: a file reputation that this client asked for changed (targeted at the requesters).
TIE_EVENT_FILE_REPUTATION_CHANGE_TARGETED_TOPIC = "/mcafee/event/tie/file/repchange"
#: Event topic: a certificate reputation that this client asked for changed (targeted).
TIE_EVENT_CERT_REPUTATION_CHANGE_TARGETED_TOPIC = "/mcafee/event/tie/cert/repchange"
#: Request topic: the files and certificates whose reputations changed since a time.
TIE_GET_REPUTATION_UPDATES_TOPIC = "/mcafee/service/tie/reputation/updates"
#: Request topic (no response is sent): context about a file for the TIE administrator.
TIE_UPDATE_FILE_METADATA_TOPIC = "/mcafee/service/tie/file/update_metadata"
#: Request topic (no response is sent): context about a certificate for the TIE administrator.
TIE_UPDATE_CERT_METADATA_TOPIC = "/mcafee/service/tie/cert/update_metadata"

_Hashes = _t.Mapping[str, str]
_Reputations = _t.Dict[int, _t.Dict[str, _t.Any]]


class TieClient(Client):
    """
    The client of the McAfee Threat Intelligence Exchange (TIE) DXL service.

    It looks up and sets the reputations of files and certificates, lists the systems that
    referenced them, and registers callbacks for the events TIE publishes. It wraps a connected
    :class:`dxlclient.client.DxlClient`:

    .. code-block:: python

        from dxlclient.client import DxlClient
        from dxlclient.client_config import DxlClientConfig
        from dxltieclient import TieClient, HashType

        config = DxlClientConfig.create_dxl_config_from_file("dxlclient.config")
        with DxlClient(config) as client:
            client.connect()
            tie_client = TieClient(client)
            reputations = tie_client.get_file_reputation(
                {HashType.MD5: "f2c7bb8acc97f92e987a2d4087d021b1"})

    Every argument is checked before anything is sent: a bad argument raises a
    :class:`ValueError` subclass (:class:`~dxltieclient.TieInputError`,
    :class:`~dxltieclient.InvalidHashError`). An error response raises
    :class:`~dxltieclient.TieServiceError`; no response within :attr:`response_timeout`
    raises :class:`~dxltieclient.TieTimeoutError`; a client that is not connected raises
    :class:`~dxltieclient.TieNotConnectedError` at once.

    The synchronous methods may not be called from inside an event callback (dxlclient forbids
    synchronous requests on its incoming-message threads): hand such work to another thread.

    :param dxl_client: the DXL client to use for communication with the fabric
    """

    def __init__(self, dxl_client: _t.Any) -> None:
        super(TieClient, self).__init__(dxl_client)
        self.__dxl_client = dxl_client
        self.__targeted_filters: _t.Dict[_t.Tuple[str, _t.Any], _EventCallback] = {}
        self.__own_client_ids: _t.Optional[_t.FrozenSet[str]] = None

    # -- event callbacks ------------------------------------------------------------------------

    def add_file_first_instance_callback(self, first_instance_callback: _EventCallback) -> None:
        """
        Registers a callback for first instance events: a file seen for the first time in the
        enterprise. The client subscribes to :data:`TIE_EVENT_FILE_FIRST_INSTANCE_TOPIC`.

        :param first_instance_callback: a :class:`dxltieclient.callbacks.FirstInstanceCallback`
            (any :class:`dxlclient.callbacks.EventCallback` is accepted)
        """
        self.__dxl_client.add_event_callback(TIE_EVENT_FILE_FIRST_INSTANCE_TOPIC,
                                             first_instance_callback)

    def remove_file_first_instance_callback(self, first_instance_callback: _EventCallback) -> None:
        """
        Unregisters a first instance callback. Like dxlclient, it also unsubscribes from the topic,
        even when other callbacks are still registered on it.

        :param first_instance_callback: the callback to remove
        """
        self.__dxl_client.remove_event_callback(TIE_EVENT_FILE_FIRST_INSTANCE_TOPIC,
                                                first_instance_callback)

    def add_file_detection_callback(self, detection_callback: _EventCallback) -> None:
        """
        Registers a callback for detection events: an endpoint took action on a file. The client
        subscribes to :data:`TIE_EVENT_FILE_DETECTION_TOPIC`.

        :param detection_callback: a :class:`dxltieclient.callbacks.DetectionCallback`
            (any :class:`dxlclient.callbacks.EventCallback` is accepted)
        """
        self.__dxl_client.add_event_callback(TIE_EVENT_FILE_DETECTION_TOPIC, detection_callback)

    def remove_file_detection_callback(self, detection_callback: _EventCallback) -> None:
        """
        Unregisters a detection callback, and unsubscribes from the topic.

        :param detection_callback: the callback to remove
        """
        self.__dxl_client.remove_event_callback(TIE_EVENT_FILE_DETECTION_TOPIC,
                                                detection_callback)

    def add_file_reputation_change_callback(self, rep_change_callback: _EventCallback) -> None:
        """
        Registers a callback for file reputation changes. The client subscribes to
        :data:`TIE_EVENT_FILE_REPUTATION_CHANGE_TOPIC`.

        :param rep_change_callback: a :class:`dxltieclient.callbacks.ReputationChangeCallback`
            (any :class:`dxlclient.callbacks.EventCallback` is accepted)
        """
        self.__dxl_client.add_event_callback(TIE_EVENT_FILE_REPUTATION_CHANGE_TOPIC,
                                             rep_change_callback)

    def remove_file_reputation_change_callback(self, rep_change_callback: _EventCallback) -> None:
        """
        Unregisters a file reputation change callback, and unsubscribes from the topic.

        :param rep_change_callback: the callback to remove
        """
        self.__dxl_client.remove_event_callback(TIE_EVENT_FILE_REPUTATION_CHANGE_TOPIC,
                                                rep_change_callback)

    def add_certificate_reputation_change_callback(self,
                                                   rep_change_callback: _EventCallback) -> None:
        """
        Registers a callback for certificate reputation changes. The client subscribes to
        :data:`TIE_EVENT_CERT_REPUTATION_CHANGE_TOPIC`.

        :param rep_change_callback: a :class:`dxltieclient.callbacks.ReputationChangeCallback`
            (any :class:`dxlclient.callbacks.EventCallback` is accepted)
        """
        self.__dxl_client.add_event_callback(TIE_EVENT_CERT_REPUTATION_CHANGE_TOPIC,
                                             rep_change_callback)

    def remove_certificate_reputation_change_callback(self,
                                                      rep_change_callback: _EventCallback) -> None:
        """
        Unregisters a certificate reputation change callback, and unsubscribes from the topic.

        :param rep_change_callback: the callback to remove
        """
        self.__dxl_client.remove_event_callback(TIE_EVENT_CERT_REPUTATION_CHANGE_TOPIC,
                                                rep_change_callback)

    # -- files ----------------------------------------------------------------------------------

    def set_file_reputation(self, trust_level: int, hashes: _Hashes, filename: str = "",
                            comment: str = "") -> None:
        """
        Sets the enterprise reputation (provider :attr:`FileProvider.ENTERPRISE`) of a file.

        The client must be authorized for the ePO "TIE Server Set Enterprise Reputation"
        group; otherwise the broker drops the request and the call times out. For automated
        integrations on TIE 3.0 and later, consider :meth:`set_external_file_reputation`.

        .. code-block:: python

            tie_client.set_file_reputation(
                TrustLevel.KNOWN_TRUSTED,
                {HashType.MD5: "f2c7bb8acc97f92e987a2d4087d021b1",
                 HashType.SHA1: "7eb0139d2175739b3ccb0d1110067820be6abd29"},
                filename="notepad.exe", comment="Reputation set via OpenDXL")

        :param trust_level: the new trust level (a :class:`TrustLevel` value)
        :param hashes: hash type (:class:`HashType`) to hexadecimal digest; give every hash
            you know
        :param filename: the file's name (optional)
        :param comment: a comment (optional)
        :raises TieInputError: for a trust level that is not a :class:`TrustLevel` value, or
            ``hashes`` that is not a non-empty dict
        :raises InvalidHashError: for an unknown hash type, non-hex digits or a wrong length
        :raises TieServiceError: when TIE answers with an error
        :raises TieTimeoutError: when no response arrives within :attr:`response_timeout`;
            the set may still have been applied: re-read it, or send it again
            (setting the same reputation twice is harmless)
        :raises TieNotConnectedError: when the client is not connected (nothing sent),
            or lost its connection before the response (it may have been applied)
        """
        self._tie_request(TIE_SET_FILE_REPUTATION_TOPIC,
                          _wire.set_file_reputation_request(trust_level, hashes, filename,
                                                            comment))

    def set_external_file_reputation(self, trust_level: int, hashes: _Hashes,
                                     file_type: int = 0, filename: str = "",
                                     comment: str = "") -> None:
        """
        Reports an external reputation (provider :attr:`FileProvider.EXTERNAL`, TIE 3.0 and
        later) for a file.

        The report is an event: there is no response, and success only means the event was handed
        to the fabric. TIE uses the external reputation as a fallback when no other provider has a
        definitive one, so check :meth:`get_file_reputation` first. The client must be authorized
        for the ePO "TIE Server Set External Reputation" group, and the External provider must be
        enabled in the TIE server policy. TIE servers are reported to ignore reports without a
        ``filename`` (a warning is logged) and not to store the ``comment``.

        :param trust_level: the trust level (a :class:`TrustLevel` value other than ``NOT_SET``)
        :param hashes: hash type (:class:`HashType`) to hexadecimal digest; give every hash you
            know (TIE matches files on all three)
        :param file_type: the file's type (a :class:`FileType` value, default ``FileType.NONE``)
        :param filename: the file's name
        :param comment: a comment
        :raises TieInputError: ``TrustLevel was not specified``, ``FileType was not a valid
            entry``, ``TrustLevel was not a valid entry``, ``File hashes were not specified``, or
            for ``hashes`` that is not a dict
        :raises InvalidHashError: for an unknown hash type, non-hex digits or a wrong length
        """
        payload = _wire.external_file_report_event(trust_level, hashes, file_type, filename,
                                                   comment)
        if not filename:
            _logger.warning(
                "set_external_file_reputation was called without a filename: TIE servers are "
                "reported to ignore external reports that have none; pass filename=...")
        event = Event(TIE_EVENT_EXTERNAL_FILE_REPORT_TOPIC)
        event.payload = _wire.encode_json(payload)
        self._dxl_client.send_event(event)

    def get_file_reputation(self, hashes: _Hashes) -> _Reputations:
        """
        Looks up the reputations of a file.

        .. code-block:: python

            reputations = tie_client.get_file_reputation(
                {HashType.MD5: "f2c7bb8acc97f92e987a2d4087d021b1",
                 HashType.SHA1: "7eb0139d2175739b3ccb0d1110067820be6abd29"})
            gti = reputations.get(FileProvider.GTI)
            if gti:
                print(gti[ReputationProp.TRUST_LEVEL])

        TIE counts each lookup like an endpoint's query (the request is marked as an on-demand
        scan). Providers without a reputation for the file are absent from the result.

        :param hashes: hash type (:class:`HashType`) to hexadecimal digest
        :return: the reputations keyed by provider id (an ``int``, see :class:`FileProvider`);
            each is a dict with the :class:`ReputationProp` keys. ``{}`` when TIE sent none.
        :raises TieInputError: when ``hashes`` is not a non-empty dict
        :raises InvalidHashError: for an unknown hash type, non-hex digits or a wrong length
        :raises TieServiceError: when TIE answers with an error
        :raises TieTimeoutError: when no response arrives within :attr:`response_timeout`
        """
        response = self._tie_request(TIE_GET_FILE_REPUTATION_TOPIC,
                                     _wire.file_reputation_request(hashes))
        return _wire.reputations_from_response(_wire.decode_json(response.payload))

    def get_file_first_references(self, hashes: _Hashes,
                                  query_limit: int = 500) -> _t.List[_t.Dict[str, _t.Any]]:
        """
        Lists the systems that first referenced a file (ePO's "Where Has File Run").

        :param hashes: hash type (:class:`HashType`) to hexadecimal digest
        :param query_limit: the most systems to return (TIE accepts 1 to 5000)
        :return: one dict per system with the :class:`FirstRefProp` keys (``agentGuid`` and
            ``date``); ``[]`` when there are none
        :raises TieInputError: for a query limit that is not a positive int, or ``hashes`` that
            is not a non-empty dict
        :raises InvalidHashError: for an unknown hash type, non-hex digits or a wrong length
        :raises TieServiceError: when TIE answers with an error
        :raises TieTimeoutError: when no response arrives within :attr:`response_timeout`
        """
        response = self._tie_request(TIE_GET_FILE_FIRST_REFS,
                                     _wire.file_first_references_request(hashes, query_limit))
        return _wire.agents_from_response(_wire.decode_json(response.payload))

    # -- certificates ---------------------------------------------------------------------------

    def set_certificate_reputation(self, trust_level: int, sha1: str,
                                   public_key_sha1: _t.Optional[str] = None,
                                   comment: str = "") -> None:
        """
        Sets the enterprise reputation (provider :attr:`CertProvider.ENTERPRISE`) of a
        certificate. Needs the ePO "TIE Server Set Enterprise Reputation" group.

        :param trust_level: the new trust level (a :class:`TrustLevel` value)
        :param sha1: the hexadecimal SHA-1 of the certificate
        :param public_key_sha1: the hexadecimal SHA-1 of the certificate's public key (optional)
        :param comment: a comment (optional)
        :raises TieInputError: for a bad trust level or comment
        :raises InvalidHashError: for a SHA-1 that is not 40 hexadecimal digits
        :raises TieServiceError: when TIE answers with an error
        :raises TieTimeoutError: when no response arrives within :attr:`response_timeout`;
            the set may still have been applied: re-read it, or send it again
            (setting the same reputation twice is harmless)
        :raises TieNotConnectedError: when the client is not connected (nothing sent),
            or lost its connection before the response (it may have been applied)
        """
        self._tie_request(TIE_SET_CERT_REPUTATION_TOPIC,
                          _wire.set_cert_reputation_request(trust_level, sha1, public_key_sha1,
                                                            comment))

    def get_certificate_reputation(self, sha1: str,
                                   public_key_sha1: _t.Optional[str] = None) -> _Reputations:
        """
        Looks up the reputations of a certificate.

        :param sha1: the hexadecimal SHA-1 of the certificate
        :param public_key_sha1: the hexadecimal SHA-1 of the certificate's public key (optional)
        :return: the reputations keyed by provider id (an ``int``, see :class:`CertProvider`);
            an enterprise reputation may carry an ``overridden`` object
            (:class:`CertReputationOverriddenProp`) whose files' hashes are ``{type: hex}``
            dicts. ``{}`` when TIE sent none.
        :raises InvalidHashError: for a SHA-1 that is not 40 hexadecimal digits
        :raises TieServiceError: when TIE answers with an error
        :raises TieTimeoutError: when no response arrives within :attr:`response_timeout`
        """
        response = self._tie_request(TIE_GET_CERT_REPUTATION_TOPIC,
                                     _wire.cert_reputation_request(sha1, public_key_sha1))
        return _wire.reputations_from_response(_wire.decode_json(response.payload))

    def get_certificate_first_references(
            self, sha1: str, public_key_sha1: _t.Optional[str] = None,
            query_limit: int = 500) -> _t.List[_t.Dict[str, _t.Any]]:
        """
        Lists the systems that first referenced a certificate.

        :param sha1: the hexadecimal SHA-1 of the certificate
        :param public_key_sha1: the hexadecimal SHA-1 of the certificate's public key (optional)
        :param query_limit: the most systems to return (TIE accepts 1 to 5000)
        :return: one dict per system with the :class:`FirstRefProp` keys; ``[]`` when there
            are none
        :raises TieInputError: for a query limit that is not a positive int
        :raises InvalidHashError: for a SHA-1 that is not 40 hexadecimal digits
        :raises TieServiceError: when TIE answers with an error
        :raises TieTimeoutError: when no response arrives within :attr:`response_timeout`
        """
        response = self._tie_request(
            TIE_GET_CERT_FIRST_REFS,
            _wire.cert_first_references_request(sha1, public_key_sha1, query_limit))
        return _wire.agents_from_response(_wire.decode_json(response.payload))

    # -- bulk operations (not in the original API) -----------------------------------------------

    def get_file_reputations(
            self, hashes_list: _t.Iterable[_Hashes],
            max_in_flight: int = _bulk.DEFAULT_MAX_IN_FLIGHT, timeout: _t.Optional[float] = None,
            progress: _t.Optional[_bulk.ProgressCallback] = None, *,
            stop: _t.Optional[_threading.Event] = None,
    ) -> _t.List["_bulk.BulkResult[_Hashes]"]:
        """
        Looks up the reputations of many files, with up to ``max_in_flight`` requests
        outstanding at once.

        Every item is validated before anything is sent, and each request carries exactly the
        payload :meth:`get_file_reputation` would send. A failed item does not stop the others.

        .. code-block:: python

            results = tie_client.get_file_reputations(
                [{HashType.MD5: md5} for md5 in md5_list], max_in_flight=64)
            for result in results:
                if result.ok:
                    print(result.item, result.value.get(FileProvider.GTI))
                else:
                    print(result.item, "failed:", result.error)

        :param hashes_list: one hashes dict (as for :meth:`get_file_reputation`) per file
        :param max_in_flight: the most requests outstanding at once
        :param timeout: seconds to wait for each response (default: :attr:`response_timeout`)
        :param progress: called on the calling thread as ``progress(done, total)`` after each
            item completes; an exception it raises aborts the call and propagates
        :param stop: a :class:`threading.Event`; once it is set (from any thread, e.g. a signal
            handler), no request is sent any more, the outstanding ones are waited for (each at
            most ``timeout``) and every item not sent fails with
            :class:`~dxltieclient.TieBulkStoppedError` (it was not applied)
        :return: one :class:`~dxltieclient.BulkResult` per item, in input order; ``value`` is
            the reputations dict :meth:`get_file_reputation` would return; ``error`` the
            exception it would raise (input errors, :class:`~dxltieclient.TieServiceError`,
            :class:`~dxltieclient.TieTimeoutError`, :class:`~dxltieclient.TieBulkStoppedError`)
        :raises TieInputError: for a bad ``max_in_flight``, ``timeout``, ``progress`` or
            ``stop``, or an
            input that is not an iterable of items (also a :class:`TypeError` then), before
            anything is sent
        """
        return self._bulk_requests(TIE_GET_FILE_REPUTATION_TOPIC, hashes_list,
                                   _wire.file_reputation_request,
                                   _wire.reputations_from_response,
                                   max_in_flight, timeout, progress, stop,
                                   items_name="hashes_list")

    def set_file_reputations(
            self, reputations: _t.Iterable[_t.Mapping[str, _t.Any]],
            max_in_flight: int = _bulk.DEFAULT_MAX_IN_FLIGHT, timeout: _t.Optional[float] = None,
            progress: _t.Optional[_bulk.ProgressCallback] = None, *,
            stop: _t.Optional[_threading.Event] = None,
    ) -> _t.List["_bulk.BulkResult[_t.Mapping[str, _t.Any]]"]:
        """
        Sets the enterprise reputations of many files, with up to ``max_in_flight`` requests
        outstanding at once.

        Each item is a dict of :meth:`set_file_reputation`'s arguments: ``trust_level`` and
        ``hashes`` (required), ``filename`` and ``comment`` (optional). Every item is validated
        before anything is sent, and each request carries exactly the payload
        :meth:`set_file_reputation` would send.

        .. code-block:: python

            results = tie_client.set_file_reputations([
                {"trust_level": TrustLevel.KNOWN_MALICIOUS, "hashes": {HashType.SHA256: sha256},
                 "filename": "dropper.exe", "comment": "feed X"},
                ...
            ])
            failed = [result for result in results if not result.ok]

        :param reputations: one dict of arguments per file
        :param max_in_flight: the most requests outstanding at once
        :param timeout: seconds to wait for each response (default: :attr:`response_timeout`)
        :param progress: called on the calling thread as ``progress(done, total)``; an
            exception it raises aborts the call and propagates
        :param stop: a :class:`threading.Event`; once it is set (from any thread, e.g. a signal
            handler), no request is sent any more, the outstanding ones are waited for (each at
            most ``timeout``) and every item not sent fails with
            :class:`~dxltieclient.TieBulkStoppedError` (it was not applied)
        :return: one :class:`~dxltieclient.BulkResult` per item, in input order (``value`` is
            ``None``; ``error`` is set for a failed item). An item that failed with
            :class:`~dxltieclient.TieTimeoutError` (or a
            :class:`~dxltieclient.TieNotConnectedError` whose ``sent`` is true) may still have
            been applied: re-read it, or send it again; one that failed with
            :class:`~dxltieclient.TieBulkStoppedError` was not sent
        :raises TieInputError: for a bad ``max_in_flight``, ``timeout``, ``progress`` or
            ``stop``, or an
            input that is not an iterable of items (also a :class:`TypeError` then), before
            anything is sent
        """
        return self._bulk_requests(
            TIE_SET_FILE_REPUTATION_TOPIC, reputations,
            _kwargs_builder(_wire.set_file_reputation_request,
                            ("trust_level", "hashes"), ("filename", "comment")),
            None, max_in_flight, timeout, progress, stop, items_name="reputations")

    def set_external_file_reputations(
            self, reputations: _t.Iterable[_t.Mapping[str, _t.Any]],
            progress: _t.Optional[_bulk.ProgressCallback] = None, *,
            stop: _t.Optional[_threading.Event] = None,
    ) -> _t.List["_bulk.BulkResult[_t.Mapping[str, _t.Any]]"]:
        """
        Reports external reputations for many files (one event each, as
        :meth:`set_external_file_reputation` sends).

        Each item is a dict of :meth:`set_external_file_reputation`'s arguments:
        ``trust_level`` and ``hashes`` (required), ``file_type``, ``filename`` and ``comment``
        (optional). Every item is validated before anything is sent. Events get no response, so an
        item succeeds once its event is handed to the fabric.

        :param reputations: one dict of arguments per file
        :param progress: called as ``progress(done, total)`` after each item
        :param stop: a :class:`threading.Event`; once it is set (from any thread, e.g. a signal
            handler), no event is sent any more and every item not sent fails with
            :class:`~dxltieclient.TieBulkStoppedError`
        :return: one :class:`~dxltieclient.BulkResult` per item, in input order (an item not
            sent because the client is not connected fails with
            :class:`~dxltieclient.TieNotConnectedError`)
        :raises TieInputError: for a bad ``progress`` or ``stop``, or an input that is not an
            iterable of items (also a :class:`TypeError` then), before anything is sent
        """
        _bulk.check_progress(progress)
        _bulk.check_stop(stop)
        items = _bulk.item_list(reputations, "reputations")
        results, to_send = _bulk.prepare(
            items, _kwargs_builder(_wire.external_file_report_event, ("trust_level", "hashes"),
                                   ("file_type", "filename", "comment")))
        unnamed = sum(1 for index, _ in to_send if not items[index].get("filename"))
        if unnamed:
            _logger.warning(
                "%d external reports have no filename: TIE servers are reported to ignore "
                "external reports that have none", unnamed)
        done = len(results) - len(to_send)
        for index, payload in to_send:
            event = Event(TIE_EVENT_EXTERNAL_FILE_REPORT_TOPIC)
            event.payload = payload
            try:
                if stop is not None and stop.is_set():
                    raise _errors.stopped_error(TIE_EVENT_EXTERNAL_FILE_REPORT_TOPIC)
                if not _connection.is_connected(self._dxl_client):
                    raise _errors.not_connected_error(TIE_EVENT_EXTERNAL_FILE_REPORT_TOPIC)
                self._dxl_client.send_event(event)
            except Exception as error:  # noqa: BLE001  (recorded as this item's failure)
                results[index].error = error
            done += 1
            if progress is not None:
                progress(done, len(results))
        return results

    def _bulk_requests(self, topic: str, items: _t.Iterable[_t.Any],
                       build: _t.Callable[[_t.Any], _t.Dict[str, _t.Any]],
                       parse: _t.Optional[_t.Callable[[_t.Any], _t.Any]], max_in_flight: int,
                       timeout: _t.Optional[float],
                       progress: _t.Optional[_bulk.ProgressCallback],
                       stop: _t.Optional[_threading.Event] = None,
                       items_name: str = "items") -> _t.List[_t.Any]:
        if timeout is None:
            timeout = self._response_timeout
        _bulk.check_bulk_options(max_in_flight, timeout, progress, stop)
        results, to_send = _bulk.prepare(_bulk.item_list(items, items_name), build)
        _bulk.run_requests(self._dxl_client, topic, results, to_send, parse, max_in_flight,
                           timeout, progress, stop)
        return results

    # -- transport ------------------------------------------------------------------------------

    @property
    def response_timeout(self) -> _t.Any:
        """
        The most seconds to wait for a response from TIE (30 by default, and at least 30).

        Setting a value below 30 raises a plain :class:`Exception` (the original's); setting
        ``nan``, ``inf`` or a non-number raises :class:`~dxltieclient.TieInputError` (a
        :class:`TypeError` too for a non-number).
        """
        return self._response_timeout

    @response_timeout.setter
    def response_timeout(self, response_timeout: _t.Any) -> None:
        if not (isinstance(response_timeout, _numbers.Real)
                and response_timeout < self._MIN_RESPONSE_TIMEOUT):  # else the original's error
            _wire.check_timeout(response_timeout, "response_timeout", allow_infinite=False)
        Client.response_timeout.fset(self, response_timeout)

    def _tie_request(self, topic: str, payload: _t.Dict[str, _t.Any]) -> _t.Any:
        request = Request(topic)
        request.payload = _wire.encode_json(payload)
        return self._dxl_sync_request(request)

    def _dxl_sync_request(self, request: Request) -> _t.Any:
        """
        Sends a request and waits up to :attr:`response_timeout` seconds for its response, as
        :class:`dxlbootstrap.client.Client` does, with more precise exceptions.

        :param request: the request to send
        :return: the response message
        :raises TieNotConnectedError: when the client is not connected (and dxlclient does not
            reconnect it within :attr:`response_timeout`), or lost its connection before the
            response arrived
        :raises TieServiceError: for an error response (text ``Error: <message> (<code>)``)
        :raises TieTimeoutError: when no response arrives in time
        """
        topic = request.destination_topic
        if not _connection.wait_until_connected(self._dxl_client, self._response_timeout):
            raise _errors.not_connected_error(topic)
        try:
            response = self._dxl_client.sync_request(request, timeout=self._response_timeout)
        except _WaitTimeoutException as error:
            if not _connection.is_connected(self._dxl_client):
                raise _errors.not_connected_error(topic, sent=True) from error
            raise _errors.timeout_error(error, topic, self._response_timeout) from error
        if response.message_type == _Message.MESSAGE_TYPE_ERROR:
            raise _errors.service_error(response.error_message, response.error_code,
                                        request.destination_topic)
        return response

    # -- helpers kept from the original API -----------------------------------------------------

    @staticmethod
    def _base64_to_hex(base64_value: _t.Union[str, bytes]) -> str:
        """
        Converts a base64 value (``str`` or ``bytes``) to lower-case hex.

        :param base64_value: the base64 value
        :return: the hexadecimal string
        """
        return _wire.base64_to_hex(base64_value)

    @staticmethod
    def _hex_to_base64(hex_value: _t.Union[str, bytes]) -> str:
        """
        Converts a hexadecimal string (either case) to base64.

        :param hex_value: the hexadecimal string
        :return: the base64 string
        """
        return _wire.hex_to_base64(hex_value)

    @staticmethod
    def _transform_hashes(hashes: _t.Iterable[_t.Mapping[str, _t.Any]]) -> _t.Dict[str, str]:
        """
        Converts a list of ``{"type": ..., "value": <base64>}`` objects to ``{type: hex}``.

        :param hashes: the hash list
        :return: the hashes dict
        """
        return _wire.hashes_from_wire(hashes)

    @staticmethod
    def _transform_reputations(
            reputations: _t.Iterable[_t.Dict[str, _t.Any]]) -> _t.Dict[_t.Any, _t.Any]:
        """
        Keys a list of reputations by provider id (see
        :func:`dxltieclient._wire.reputations_from_wire`).

        :param reputations: the reputation list
        :return: the reputations keyed by ``providerId``
        """
        return _wire.reputations_from_wire(reputations)

    @staticmethod
    def valid_parameter(constant: type, value: _t.Any) -> bool:
        """
        Tells whether ``value`` equals one of the values of the constants class ``constant``
        (e.g. :class:`TrustLevel` or :class:`FileType`).

        :param constant: the constants class
        :param value: the value to look for
        :return: ``True`` when ``value`` equals one of the class's values
        """
        return _wire.valid_parameter(constant, value)


    # -- the rest of the TIE Server API (issue #10) ------------------------------------------------

    def add_file_targeted_reputation_change_callback(self,
                                                     rep_change_callback: _EventCallback) -> None:
        """
        Registers a callback for targeted file reputation changes: TIE sends them to the clients
        that looked the file up (:meth:`get_file_reputation`), so that they need not poll. The
        client subscribes to :data:`TIE_EVENT_FILE_REPUTATION_CHANGE_TARGETED_TOPIC`; the callback
        gets the same converted dict as a broadcast change callback.

        A real OpenDXL broker delivers a targeted event only to the clients whose certificate
        fingerprint is among the event's destination client ids. The sandbox's broker
        (Mosquitto) does not filter, so the library does it: an event whose destination client
        ids are non-empty and name neither this client's certificate fingerprint (the SHA-1 of
        the certificate in ``dxl_client.config.cert_file``) nor its dxlclient instance id is
        dropped before the callback sees it. See :doc:`advancedtargetedcallbackexample` for what
        differs on the sandbox.

        :param rep_change_callback: a :class:`dxltieclient.callbacks.ReputationChangeCallback`
            (any :class:`dxlclient.callbacks.EventCallback` is accepted)
        """
        self._add_targeted(TIE_EVENT_FILE_REPUTATION_CHANGE_TARGETED_TOPIC, rep_change_callback)

    def remove_file_targeted_reputation_change_callback(
            self, rep_change_callback: _EventCallback) -> None:
        """
        Unregisters a targeted file reputation change callback, and unsubscribes from the topic.

        :param rep_change_callback: the callback given to
            :meth:`add_file_targeted_reputation_change_callback`
        """
        self._remove_targeted(TIE_EVENT_FILE_REPUTATION_CHANGE_TARGETED_TOPIC,
                              rep_change_callback)

    def add_certificate_targeted_reputation_change_callback(
            self, rep_change_callback: _EventCallback) -> None:
        """
        Registers a callback for targeted certificate reputation changes (certificates this client
        looked up). The client subscribes to
        :data:`TIE_EVENT_CERT_REPUTATION_CHANGE_TARGETED_TOPIC`; events addressed to other
        clients are dropped as for :meth:`add_file_targeted_reputation_change_callback`.

        :param rep_change_callback: a :class:`dxltieclient.callbacks.ReputationChangeCallback`
            (any :class:`dxlclient.callbacks.EventCallback` is accepted)
        """
        self._add_targeted(TIE_EVENT_CERT_REPUTATION_CHANGE_TARGETED_TOPIC, rep_change_callback)

    def remove_certificate_targeted_reputation_change_callback(
            self, rep_change_callback: _EventCallback) -> None:
        """
        Unregisters a targeted certificate reputation change callback, and unsubscribes from the
        topic.

        :param rep_change_callback: the callback given to
            :meth:`add_certificate_targeted_reputation_change_callback`
        """
        self._remove_targeted(TIE_EVENT_CERT_REPUTATION_CHANGE_TARGETED_TOPIC,
                              rep_change_callback)

    def _add_targeted(self, topic: str, callback: _EventCallback) -> None:
        if not isinstance(callback, _EventCallback):
            # dxlclient's own check and message, before anything is registered.
            self.__dxl_client.add_event_callback(topic, callback)
            return
        if self.__own_client_ids is None:
            self.__own_client_ids = _targeted.own_client_ids(self.__dxl_client)
        wrapper = _targeted.TargetedEventFilter(callback, self.__own_client_ids)
        self.__dxl_client.add_event_callback(topic, wrapper)
        self.__targeted_filters[(topic, callback)] = wrapper

    def _remove_targeted(self, topic: str, callback: _EventCallback) -> None:
        wrapper = self.__targeted_filters.pop((topic, callback), callback)
        self.__dxl_client.remove_event_callback(topic, wrapper)

    def add_file_prevalence_callback(self, prevalence_callback: _EventCallback) -> None:
        """
        Registers a callback for file prevalence events: the number of systems that asked for a
        file's reputation grew (TIE stops once the file is prevalent). The client subscribes to
        :data:`TIE_EVENT_FILE_PREVALENCE_CHANGE_TOPIC`.

        :param prevalence_callback: a :class:`dxltieclient.callbacks.FilePrevalenceCallback`
            (any :class:`dxlclient.callbacks.EventCallback` is accepted)
        """
        self.__dxl_client.add_event_callback(TIE_EVENT_FILE_PREVALENCE_CHANGE_TOPIC,
                                             prevalence_callback)

    def remove_file_prevalence_callback(self, prevalence_callback: _EventCallback) -> None:
        """
        Unregisters a file prevalence callback, and unsubscribes from the topic.

        :param prevalence_callback: the callback to remove
        """
        self.__dxl_client.remove_event_callback(TIE_EVENT_FILE_PREVALENCE_CHANGE_TOPIC,
                                                prevalence_callback)

    def get_reputation_updates(self, since_time: int,
                               query_limit: int = _wire.DEFAULT_UPDATES_QUERY_LIMIT,
                               targeted: bool = False, file_hash_type: _t.Optional[str] = None,
                               cert_hash_type: _t.Optional[str] = None) -> _t.Dict[str, _t.Any]:
        """
        Lists the files and certificates whose reputation changed since a time: one page of at
        most ``query_limit`` hashes. To catch up with every change, use
        :meth:`iter_reputation_updates`, which follows the pages.

        .. code-block:: python

            updates = tie_client.get_reputation_updates(since_time=1700000000, query_limit=500)
            for file_hashes in updates["fileHashes"]:
                print(tie_client.get_file_reputation(file_hashes))

        :param since_time: epoch seconds: the changes since then. TIE recommends the
            ``serverTime`` of your latest lookup (or of this call's previous answer)
        :param query_limit: the most hashes to return, files and certificates together
            (1 to 5000)
        :param targeted: only the files and certificates this client looked up, and prevalent
            ones
        :param file_hash_type: ``"md5"``, ``"sha1"`` or ``"sha256"``: the hash to list each file
            by. Giving only one of ``file_hash_type`` and ``cert_hash_type`` restricts the answer
            to that kind of subject; giving neither lists both, files by SHA-1 (else MD5, else
            SHA-256)
        :param cert_hash_type: ``"sha1"``, the only hash certificates are listed by
        :return: ``{"fileHashes": [{type: hex}, ...], "certificateHashes": [{"sha1": hex}, ...],
            "latestUpdateTime": int or None, "serverTime": int or None,
            "queryLimitExceeded": bool}``; both lists are always present
        :raises TieInputError: naming the bad argument
        :raises TieServiceError: when TIE answers with an error
        :raises TieTimeoutError: when no response arrives within :attr:`response_timeout`
        """
        payload = _wire.reputation_updates_request(since_time, query_limit, targeted,
                                                   file_hash_type, cert_hash_type)
        response = self._tie_request(TIE_GET_REPUTATION_UPDATES_TOPIC, payload)
        return _wire.reputation_updates_from_response(_wire.decode_json(response.payload))

    def iter_reputation_updates(
            self, since_time: int, query_limit: int = _wire.DEFAULT_UPDATES_QUERY_LIMIT,
            targeted: bool = False, file_hash_type: _t.Optional[str] = None,
            cert_hash_type: _t.Optional[str] = None) -> _t.Iterator[_t.Dict[str, _t.Any]]:
        """
        Pages through every reputation change since a time: yields each page (the shape
        :meth:`get_reputation_updates` returns) while TIE says the limit was exceeded.

        Each next page asks from the previous page's ``latestUpdateTime``, inclusive, so that
        changes made in the same second as the page's last one are not lost; the hashes already
        yielded at that time are left out of the next page. The arguments are checked before
        anything is sent.

        .. code-block:: python

            for page in tie_client.iter_reputation_updates(since_time=last_sync):
                for file_hashes in page["fileHashes"]:
                    refresh(file_hashes)

        :param since_time: epoch seconds: the changes since then
        :param query_limit: the page size (1 to 5000); it must exceed the number of changes TIE
            records in any one second, or paging cannot move past that second
        :param targeted: as for :meth:`get_reputation_updates`
        :param file_hash_type: as for :meth:`get_reputation_updates`
        :param cert_hash_type: as for :meth:`get_reputation_updates`
        :return: an iterator of pages
        :raises TieInputError: naming the bad argument (when the iterator is created)
        :raises TieServiceError: when TIE answers with an error, or repeats a page without
            progress (more than ``query_limit`` changes in one second), or says the limit was
            exceeded without a usable ``latestUpdateTime``
        :raises TieTimeoutError: when no response arrives within :attr:`response_timeout`
        """
        _wire.reputation_updates_request(since_time, query_limit, targeted, file_hash_type,
                                         cert_hash_type)
        return _iter_pages(
            lambda since: self.get_reputation_updates(since, query_limit, targeted,
                                                      file_hash_type, cert_hash_type),
            since_time)

    def update_file_metadata(self, hashes: _Hashes, **metadata: _t.Any) -> None:
        """
        Sends context about a file for the TIE administrator (the file's name, path, size, the
        detection an endpoint made, ...). TIE answers nothing.

        .. code-block:: python

            tie_client.update_file_metadata(
                {HashType.SHA256: sha256, HashType.MD5: md5},
                agentGuid="{68125cd6-a5d8-11e6-348e-000c29663178}", name="tool.exe",
                path="C:\\tools\\tool.exe", size=107008, localRep=TrustLevel.MIGHT_BE_TRUSTED)

        The keyword arguments are the schema's field names (see
        :data:`dxltieclient._wire.FILE_METADATA_FIELDS`): texts (``agentGuid``, ``name``,
        ``path``, ``companyName``, ``productName``, ``detectionName``, ...), ints (``size``,
        ``fileType``, ``localRep``, ``remediation``, ...), booleans (``productEnforcing``,
        ``ruleEnforcing``, ``userPrompted``, ``vseSuppressed``; 0 and 1 accepted) and SHA-1
        values given in hex (``certSha1``, ``certPublicKeySha1``, ``actorSha1``,
        ``parentSha1``: sent in base64). ``None`` values are left out.

        The update is a DXL **request sent without waiting** (dxlclient ``async_request`` with no
        response callback): the schema lists the topic among the TIE service's requests, so the
        broker routes it to one TIE server as it routes lookups (an event would reach every
        subscriber, and TIE servers are not documented to subscribe to it). TIE sends no
        response; should the broker answer with an error (no TIE server on the fabric), dxlclient
        drops it. So success means the request was handed to the fabric.

        :param hashes: hash type (:class:`HashType`) to hexadecimal digest
        :param metadata: the fields to send
        :raises TieInputError: for hashes that are not a non-empty dict, an unknown field, or a
            value of the wrong type
        :raises InvalidHashError: for a bad hash
        """
        self._send_no_response(TIE_UPDATE_FILE_METADATA_TOPIC,
                               _wire.file_metadata_request(hashes, metadata))

    def update_certificate_metadata(self, sha1: str, **metadata: _t.Any) -> None:
        """
        Sends context about a certificate for the TIE administrator. TIE answers nothing; the
        update is sent as :meth:`update_file_metadata` sends its own.

        .. code-block:: python

            tie_client.update_certificate_metadata(
                cert_sha1, publicKeySha1=public_key_sha1, subject="CN=Example, O=Example",
                issuer="Example CA", validFrom=1260223064, validTo=1299535064)

        The keyword arguments are the schema's field names (see
        :data:`dxltieclient._wire.CERT_METADATA_FIELDS`): texts (``algorithm``, ``issuerDN``,
        ``serialNumber``, ``subjectName``, ``contentVersion``, ``subject``, ``issuer``), ints
        (``validFrom``, ``validTo``), booleans (``productEnforcing``, ``ruleEnforcing``) and
        SHA-1 values in hex (``publicKeySha1``, ``issuerPublicKeySha1``, ``issuerSha1``: sent in
        base64). ``None`` values are left out.

        :param sha1: the hexadecimal SHA-1 of the certificate
        :param metadata: the fields to send
        :raises TieInputError: for an unknown field or a value of the wrong type
        :raises InvalidHashError: for a bad SHA-1
        """
        self._send_no_response(TIE_UPDATE_CERT_METADATA_TOPIC,
                               _wire.cert_metadata_request(sha1, metadata))

    def _send_no_response(self, topic: str, payload: _t.Dict[str, _t.Any]) -> None:
        request = Request(topic)
        request.payload = _wire.encode_json(payload)
        self._dxl_client.async_request(request)

def _kwargs_builder(build: _t.Callable[..., _t.Dict[str, _t.Any]], required: _t.Sequence[str],
                    optional: _t.Sequence[str]) -> _t.Callable[[_t.Any], _t.Dict[str, _t.Any]]:
    """Turns a payload builder taking keyword arguments into one taking a bulk item (a dict)."""
    allowed = tuple(required) + tuple(optional)

    def build_item(item: _t.Any) -> _t.Dict[str, _t.Any]:
        if not isinstance(item, _abc.Mapping):
            raise _errors.TieInputError(
                "each item must be a dict of arguments ({}), got {} {}".format(
                    ", ".join(allowed), type(item).__name__, _errors.quote(item)))
        problems = []
        unknown = sorted(set(item) - set(allowed), key=repr)
        if unknown:
            problems.append("unknown {}".format(", ".join(map(_errors.quote, unknown[:8]))))
        missing = [name for name in required if name not in item]
        if missing:
            problems.append("missing {}".format(", ".join(map(repr, missing))))
        if problems:
            raise _errors.TieInputError("item {}: {}; the arguments are {}".format(
                _errors.quote(item), "; ".join(problems), ", ".join(allowed)))
        return build(**item)

    return build_item


def _iter_pages(fetch: _t.Callable[[int], _t.Dict[str, _t.Any]],
                since_time: int) -> _t.Iterator[_t.Dict[str, _t.Any]]:
    """Follows reputation-updates pages with :class:`dxltieclient._wire.UpdatesPager`."""
    pager = _wire.UpdatesPager(since_time, TIE_GET_REPUTATION_UPDATES_TOPIC)
    while not pager.done:
        yield pager.take(fetch(pager.since))
