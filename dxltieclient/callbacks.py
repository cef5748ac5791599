"""
Base classes for the callbacks that receive TIE events.

Subclass one, implement its hook, and register an instance with the matching
:class:`~dxltieclient.client.TieClient` method:

.. code-block:: python

    class MyDetectionCallback(DetectionCallback):
        def on_detection(self, detection_dict, original_event):
            print(detection_dict[DetectionEventProp.NAME])

    tie_client.add_file_detection_callback(MyDetectionCallback())

Each class's :meth:`on_event` parses the event's JSON payload, converts it (base64 hashes become
``{type: hex}`` dicts, reputation lists become dicts keyed by provider id) and calls the hook with
the converted dict and the original :class:`dxlclient.message.Event`.

Hooks run on dxlclient's incoming-message threads: do not call the synchronous
:class:`~dxltieclient.client.TieClient` methods from them, and hand long work to another thread
(with the default configuration one slow hook delays every later message). A malformed event (not
JSON, or with the wrong shapes) is logged with its topic on the ``dxltieclient.callbacks`` logger
and dropped; later events are still delivered. An exception raised by a hook is not caught:
dxlclient logs it and goes on with the next message.
"""

from __future__ import absolute_import

import logging as _logging
import typing as _t

from dxlbootstrap.util import MessageUtils  # noqa: F401  (part of the module's historical namespace)
from dxlclient.callbacks import EventCallback

from . import _wire
from .client import TieClient  # noqa: F401  (part of the module's historical namespace)
from .constants import (  # noqa: F401  (part of the module's historical namespace)
    CertRepChangeEventProp,
    DetectionEventProp,
    FileRepChangeEventProp,
    FirstInstanceEventProp,
    RepChangeEventProp,
)

_logger = _logging.getLogger(__name__)

_EventDict = _t.Dict[str, _t.Any]


def _decode_event(event: _t.Any,
                  transform: _t.Callable[[_t.Any], _EventDict]) -> _t.Optional[_EventDict]:
    """Parses and transforms an event's payload; logs and returns ``None`` when it is malformed."""
    topic = getattr(event, "destination_topic", None)
    try:
        return transform(_wire.decode_json(event.payload))
    except Exception as error:  # noqa: BLE001  (a malformed event must never break dispatch)
        _logger.error("Dropped a malformed TIE event on topic %s: %s: %s", topic,
                      type(error).__name__, error)
        return None


class ReputationChangeCallback(EventCallback):
    """
    Receives file and certificate reputation change events. Register it with
    :meth:`~dxltieclient.client.TieClient.add_file_reputation_change_callback` and/or
    :meth:`~dxltieclient.client.TieClient.add_certificate_reputation_change_callback`, and
    implement :meth:`on_reputation_change`.
    """

    def on_event(self, event: _t.Any) -> None:
        """
        Converts a reputation change event and passes it to :meth:`on_reputation_change`.

        :param event: the :class:`dxlclient.message.Event` received
        """
        rep_change_dict = _decode_event(event, _wire.transform_reputation_change_event)
        if rep_change_dict is not None:
            self.on_reputation_change(rep_change_dict, event)

    def on_reputation_change(self, rep_change_dict: _EventDict, original_event: _t.Any) -> None:
        """
        Called for each reputation change event. Implement it in a subclass.

        The dict has the :class:`RepChangeEventProp` keys: ``hashes`` (``{type: hex}``),
        ``newReputations`` and ``oldReputations`` (reputations keyed by provider id) and
        ``updateTime``; file events may carry ``relationships`` (:class:`FileRepChangeEventProp`,
        the signing certificate's ``hashes`` and ``publicKeySha1`` in hex), certificate events
        ``publicKeySha1`` in hex (:class:`CertRepChangeEventProp`).

        :param rep_change_dict: the converted event
        :param original_event: the :class:`dxlclient.message.Event` received (its
            ``destination_topic`` tells a file change from a certificate change)
        :raises NotImplementedError: unless a subclass implements it
        """
        raise NotImplementedError("Must be implemented in a child class.")


class DetectionCallback(EventCallback):
    """
    Receives detection events: an endpoint took action on a file. Register it with
    :meth:`~dxltieclient.client.TieClient.add_file_detection_callback`, and implement
    :meth:`on_detection`.
    """

    def on_event(self, event: _t.Any) -> None:
        """
        Converts a detection event and passes it to :meth:`on_detection`.

        :param event: the :class:`dxlclient.message.Event` received
        """
        detection_dict = _decode_event(event, _wire.transform_hashes_event)
        if detection_dict is not None:
            self.on_detection(detection_dict, event)

    def on_detection(self, detection_dict: _EventDict, original_event: _t.Any) -> None:
        """
        Called for each detection event. Implement it in a subclass.

        The dict has the :class:`DetectionEventProp` keys: ``agentGuid``, ``detectionTime``,
        ``hashes`` (``{type: hex}``), ``localReputation``, ``name`` and ``remediationAction``.

        :param detection_dict: the converted event
        :param original_event: the :class:`dxlclient.message.Event` received
        :raises NotImplementedError: unless a subclass implements it
        """
        raise NotImplementedError("Must be implemented in a child class.")


class FirstInstanceCallback(EventCallback):
    """
    Receives first instance events: a file seen for the first time in the enterprise. Register it
    with :meth:`~dxltieclient.client.TieClient.add_file_first_instance_callback`, and implement
    :meth:`on_first_instance`.
    """

    def on_event(self, event: _t.Any) -> None:
        """
        Converts a first instance event and passes it to :meth:`on_first_instance`.

        :param event: the :class:`dxlclient.message.Event` received
        """
        first_instance_dict = _decode_event(event, _wire.transform_hashes_event)
        if first_instance_dict is not None:
            self.on_first_instance(first_instance_dict, event)

    def on_first_instance(self, first_instance_dict: _EventDict, original_event: _t.Any) -> None:
        """
        Called for each first instance event. Implement it in a subclass.

        The dict has the :class:`FirstInstanceEventProp` keys: ``agentGuid``, ``hashes``
        (``{type: hex}``) and ``name``.

        :param first_instance_dict: the converted event
        :param original_event: the :class:`dxlclient.message.Event` received
        :raises NotImplementedError: unless a subclass implements it
        """
        raise NotImplementedError("Must be implemented in a child class.")


class FilePrevalenceCallback(EventCallback):
    """
    Receives file prevalence events: the number of systems that asked for a file's reputation
    grew. Register it with :meth:`~dxltieclient.client.TieClient.add_file_prevalence_callback`,
    and implement :meth:`on_prevalence`. TIE stops sending them for a file once it is prevalent.
    """

    def on_event(self, event: _t.Any) -> None:
        """
        Converts a file prevalence event and passes it to :meth:`on_prevalence`.

        :param event: the :class:`dxlclient.message.Event` received
        """
        prevalence_dict = _decode_event(event, _wire.transform_prevalence_event)
        if prevalence_dict is not None:
            self.on_prevalence(prevalence_dict, event)

    def on_prevalence(self, prevalence_dict: _EventDict, original_event: _t.Any) -> None:
        """
        Called for each file prevalence event. Implement it in a subclass.

        The dict has the keys ``hashes`` (``{type: hex}``), ``agentGuid`` (the system whose first
        request changed the prevalence), ``agentFirstReference`` (the epoch time of that
        request), ``enterpriseCount`` (the number of systems that asked for the file, at least
        1) and ``prevalent`` (``True`` on the last event TIE sends for the file).

        :param prevalence_dict: the converted event
        :param original_event: the :class:`dxlclient.message.Event` received
        :raises NotImplementedError: unless a subclass implements it
        """
        raise NotImplementedError("Must be implemented in a child class.")
