"""
Event payloads in TIE's wire format, as the TIE server publishes them (TIE-SPEC 4.1-4.3 and the
TIE schema, ``tie-server.yaml``).

Every builder takes hexadecimal hashes (either case, as a ``{type: hex}`` mapping) and returns the
payload as a ``dict`` whose ``hashes`` members are TIE's ``[{"type": ..., "value": <base64>}]``
lists; serialise it with :func:`dxltieclient._wire.encode_json`.

Differences between the spec and the schema, and what is built here:

* the first-instance event carries ``name`` (TIE-SPEC 4.3, the original documentation's example
  output) although the schema only lists ``hashes`` and ``agentGuid``: included;
* the schema's file reputation change event lists only ``hashes`` under
  ``relationships.certificate``; TIE-SPEC 4.1 adds ``publicKeySha1``: included when known.
"""

from __future__ import annotations

import time
from typing import Any, Dict, List, Mapping, Optional, Sequence

from ..._wire import check_hash, check_hashes, hashes_to_wire, hex_to_base64
from ...constants import HashType

#: A JSON object.
Payload = Dict[str, Any]


def _wire_hashes(hashes: Mapping[str, str]) -> List[Payload]:
    check_hashes(hashes, allow_bytes=False)
    return hashes_to_wire(hashes)


def _now() -> int:
    return int(time.time())


def detection_event(hashes: Mapping[str, str], agent_guid: str, name: str,
                    local_reputation: int, remediation_action: int,
                    detection_time: Optional[int] = None) -> Payload:
    """
    Builds a file detection event (topic ``/mcafee/event/tie/file/detection``).

    :param hashes: hash type to hexadecimal digest of the detected file
    :param agent_guid: the GUID of the system that detected it, e.g.
        ``{68125cd6-a5d8-11e6-348e-000c29663178}``
    :param name: the file name
    :param local_reputation: the local reputation (a :class:`~dxltieclient.constants.TrustLevel`)
    :param remediation_action: the remediation action taken (e.g. ``5``)
    :param detection_time: when it was detected (epoch seconds); now when ``None``
    :return: ``{"agentGuid", "detectionTime", "hashes", "localReputation", "name",
        "remediationAction"}``
    :raises dxltieclient.TieInputError: when ``hashes`` is not a non-empty dict of valid hex
    """
    return {"agentGuid": agent_guid,
            "detectionTime": _now() if detection_time is None else detection_time,
            "hashes": _wire_hashes(hashes),
            "localReputation": local_reputation,
            "name": name,
            "remediationAction": remediation_action}


def first_instance_event(hashes: Mapping[str, str], agent_guid: str, name: str) -> Payload:
    """
    Builds a file first-instance event (topic ``/mcafee/event/tie/file/firstinstance``).

    :param hashes: hash type to hexadecimal digest of the file
    :param agent_guid: the GUID of the system where the file was first seen
    :param name: the file name (``""`` when unknown)
    :return: ``{"agentGuid", "hashes", "name"}``
    :raises dxltieclient.TieInputError: when ``hashes`` is not a non-empty dict of valid hex
    """
    return {"agentGuid": agent_guid, "hashes": _wire_hashes(hashes), "name": name}


def reputations_object(reputations: Sequence[Mapping[str, Any]], server_time: int) -> Payload:
    """
    Builds the ``oldReputations`` / ``newReputations`` member of a reputation change event: the
    reputations exactly as a lookup answers them, with the server time.

    :param reputations: the reputations in wire shape
    :param server_time: the server time (epoch seconds)
    :return: ``{"reputations": [...], "props": {"serverTime": server_time}}``
    """
    return {"reputations": [dict(reputation) for reputation in reputations],
            "props": {"serverTime": server_time}}


def file_reputation_change_event(hashes: Mapping[str, str],
                                 old_reputations: Sequence[Mapping[str, Any]],
                                 new_reputations: Sequence[Mapping[str, Any]],
                                 update_time: Optional[int] = None,
                                 certificate_sha1: Optional[str] = None,
                                 certificate_public_key_sha1: Optional[str] = None) -> Payload:
    """
    Builds a file reputation change event (topic ``/mcafee/event/tie/file/repchange/broadcast``).

    :param hashes: every known hash of the file (type to hexadecimal digest)
    :param old_reputations: the file's reputations before the change (wire shape)
    :param new_reputations: the file's reputations after the change (wire shape)
    :param update_time: when the change happened (epoch seconds); now when ``None``
    :param certificate_sha1: the SHA-1 (hex) of the certificate that signs the file, if known:
        adds ``relationships.certificate``
    :param certificate_public_key_sha1: that certificate's public key SHA-1 (hex), if known
    :return: ``{"hashes", "oldReputations", "newReputations", "updateTime"[, "relationships"]}``
    :raises dxltieclient.TieInputError: when a hash is not valid
    """
    when = _now() if update_time is None else update_time
    event: Payload = {"hashes": _wire_hashes(hashes),
                      "oldReputations": reputations_object(old_reputations, when),
                      "newReputations": reputations_object(new_reputations, when),
                      "updateTime": when}
    if certificate_sha1:
        check_hash(HashType.SHA1, certificate_sha1, allow_bytes=False)
        certificate: Payload = {"hashes": hashes_to_wire({HashType.SHA1: certificate_sha1})}
        if certificate_public_key_sha1:
            check_hash(HashType.SHA1, certificate_public_key_sha1, allow_bytes=False)
            certificate["publicKeySha1"] = hex_to_base64(certificate_public_key_sha1)
        event["relationships"] = {"certificate": certificate}
    return event


def cert_reputation_change_event(sha1: str, public_key_sha1: Optional[str],
                                 old_reputations: Sequence[Mapping[str, Any]],
                                 new_reputations: Sequence[Mapping[str, Any]],
                                 update_time: Optional[int] = None) -> Payload:
    """
    Builds a certificate reputation change event (topic
    ``/mcafee/event/tie/cert/repchange/broadcast``).

    :param sha1: the SHA-1 (hex) of the certificate body
    :param public_key_sha1: the SHA-1 (hex) of its public key; the top-level ``publicKeySha1`` is
        present only when it is known
    :param old_reputations: the certificate's reputations before the change (wire shape)
    :param new_reputations: the certificate's reputations after the change (wire shape)
    :param update_time: when the change happened (epoch seconds); now when ``None``
    :return: ``{"hashes"[, "publicKeySha1"], "oldReputations", "newReputations", "updateTime"}``
    :raises dxltieclient.TieInputError: when a hash is not valid
    """
    when = _now() if update_time is None else update_time
    event: Payload = {"hashes": _wire_hashes({HashType.SHA1: sha1})}
    if public_key_sha1:
        check_hash(HashType.SHA1, public_key_sha1, allow_bytes=False)
        event["publicKeySha1"] = hex_to_base64(public_key_sha1)
    event["oldReputations"] = reputations_object(old_reputations, when)
    event["newReputations"] = reputations_object(new_reputations, when)
    event["updateTime"] = when
    return event


def prevalence_event(hashes: Mapping[str, str], agent_guid: str, agent_first_reference: int,
                     enterprise_count: int, prevalent: bool) -> Payload:
    """
    Builds a file prevalence event (topic ``/mcafee/event/tie/file/prevalence``).

    :param hashes: every known hash of the file (type to hexadecimal digest)
    :param agent_guid: the system whose first request changed the prevalence
    :param agent_first_reference: the time of that request (epoch seconds)
    :param enterprise_count: the number of systems that asked for the file (at least 1)
    :param prevalent: whether the file is now prevalent (the last event for the file)
    :return: ``{"hashes", "agentGuid", "agentFirstReference", "enterpriseCount",
        "prevalent"}``
    :raises dxltieclient.TieInputError: when a hash is not valid
    """
    return {"hashes": _wire_hashes(hashes), "agentGuid": agent_guid,
            "agentFirstReference": agent_first_reference, "enterpriseCount": enterprise_count,
            "prevalent": prevalent}
