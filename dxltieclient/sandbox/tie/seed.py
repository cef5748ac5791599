"""
The emulator's canned data: what a file or certificate gets when TIE first hears of it, and the
seed entries the documentation and the samples use (notepad.exe, the EICAR test file and the
example certificate of the advanced sample), so that the samples print meaningful results.

Seeding is idempotent: :func:`seed` records a marker in the store and adds each entry only when it
is missing.
"""

from __future__ import annotations

import logging
from typing import Dict, List, Mapping, Tuple

from ...constants import (
    AtdAttrib,
    AtdTrustLevel,
    CertEnterpriseAttrib,
    CertGtiAttrib,
    CertProvider,
    FileEnterpriseAttrib,
    FileGtiAttrib,
    FileProvider,
    GtiAttrib,
    TrustLevel,
)
from .store import Store

logger = logging.getLogger(__name__)

#: The TIE server version the emulator reports: major, minor, patch, build.
SERVER_VERSION: Tuple[int, int, int, int] = (3, 0, 0, 480)

#: notepad.exe, as in the samples and the documentation.
NOTEPAD_HASHES: Dict[str, str] = {
    "md5": "f2c7bb8acc97f92e987a2d4087d021b1",
    "sha1": "7eb0139d2175739b3ccb0d1110067820be6abd29",
    "sha256": "142e1d688ef0568370c37187fd9f2351d7ddeda574f8bfa9b0fa4ef42db85aa2",
}
#: The EICAR anti-malware test file.
EICAR_HASHES: Dict[str, str] = {
    "md5": "44d88612fea8a8f36de82e1278abb02f",
    "sha1": "3395856ce81f2b7382dee72602f798b642f14140",
    "sha256": "275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f",
}
#: The SHA-1 of the example certificate of the advanced sample (lower-case hex).
EXAMPLE_CERT_SHA1 = "6eae26db8c13182a7947982991b4321732cc3de2"
#: The SHA-1 of the example certificate's public key (lower-case hex).
EXAMPLE_CERT_PUBLIC_KEY_SHA1 = "3b87a2d6f39770160364b79a152fcc73bae27adf"

#: Systems that referenced notepad.exe (and its certificate), with the time of their first
#: reference, oldest first.
SEED_AGENTS: Tuple[Tuple[str, int], ...] = (
    ("{68125cd6-a5d8-11e6-348e-000c29663178}", 1475848492),
    ("{3a35dc8e-a5d8-11e6-1b4c-000c29ae5c12}", 1475934892),
    ("{9c1fb8b2-a5d9-11e6-0e4e-000c29b1f0a3}", 1476021292),
)
#: The system that referenced the EICAR file.
EICAR_AGENT: Tuple[str, int] = ("{5b4f2e7a-a5da-11e6-2c31-000c29d3a8e4}", 1476107692)

_SEED_MARKER = "seeded"
_SEED_VERSION = "1"

#: One reputation to store: provider id, trust level, create date, attributes.
ReputationRecord = Tuple[int, int, int, Dict[str, str]]


def encode_server_version(major: int, minor: int, patch: int, build: int) -> str:
    """
    Encodes a server version as TIE's ``SERVER_VERSION`` attribute (the reverse of
    :meth:`dxltieclient.constants.EnterpriseAttrib.to_version_tuple`).

    :param major: major version (8 bits)
    :param minor: minor version (8 bits)
    :param patch: patch version (16 bits)
    :param build: build number (32 bits)
    :return: the attribute value, a decimal string
    """
    return str((major << 56) | (minor << 48) | (patch << 32) | build)


#: The encoded :data:`SERVER_VERSION` attribute value.
SERVER_VERSION_ATTRIBUTE = encode_server_version(*SERVER_VERSION)


def new_file_reputations(now: int) -> List[ReputationRecord]:
    """
    The reputations of a file TIE has just heard of: an Enterprise reputation ``NOT_SET`` with
    first-contact attributes and a GTI reputation ``UNKNOWN``. Nothing definitive, so the
    "set external reputation" sample goes ahead with such a file.

    :param now: the current time (epoch seconds)
    :return: the reputations to store
    """
    return [
        (FileProvider.GTI, TrustLevel.UNKNOWN, now, {FileGtiAttrib.FIRST_CONTACT: str(now)}),
        (FileProvider.ENTERPRISE, TrustLevel.NOT_SET, now,
         new_file_enterprise_attributes(now)),
    ]


def new_file_enterprise_attributes(now: int) -> Dict[str, str]:
    """
    The stored attributes of a new file's Enterprise reputation (``PREVALENCE`` and
    ``ENTERPRISE_SIZE`` are computed when read, see :mod:`.store`).

    :param now: the current time (epoch seconds)
    :return: attribute id to value
    """
    return {FileEnterpriseAttrib.FIRST_CONTACT: str(now),
            FileEnterpriseAttrib.IS_PREVALENT: "0",
            FileEnterpriseAttrib.SERVER_VERSION: SERVER_VERSION_ATTRIBUTE}


def new_cert_reputations(now: int) -> List[ReputationRecord]:
    """
    The reputations of a certificate TIE has just heard of: Enterprise ``NOT_SET`` with
    first-contact attributes and GTI ``UNKNOWN``.

    :param now: the current time (epoch seconds)
    :return: the reputations to store
    """
    return [
        (CertProvider.GTI, TrustLevel.UNKNOWN, now, {CertGtiAttrib.FIRST_CONTACT: str(now)}),
        (CertProvider.ENTERPRISE, TrustLevel.NOT_SET, now,
         new_cert_enterprise_attributes(now)),
    ]


def new_cert_enterprise_attributes(now: int) -> Dict[str, str]:
    """
    The stored attributes of a new certificate's Enterprise reputation (``PREVALENCE`` and
    ``HAS_FILE_OVERRIDES`` are computed when read).

    :param now: the current time (epoch seconds)
    :return: attribute id to value
    """
    return {CertEnterpriseAttrib.FIRST_CONTACT: str(now),
            CertEnterpriseAttrib.IS_PREVALENT: "0",
            CertEnterpriseAttrib.SERVER_VERSION: SERVER_VERSION_ATTRIBUTE}


def _notepad_reputations() -> List[ReputationRecord]:
    return [
        (FileProvider.GTI, TrustLevel.KNOWN_TRUSTED, 1451502875,
         {GtiAttrib.ORIGINAL_RESPONSE: "2139160704",
          FileGtiAttrib.FIRST_CONTACT: "1256265475",
          FileGtiAttrib.PREVALENCE: "120661"}),
        (FileProvider.ENTERPRISE, TrustLevel.NOT_SET, 1475848492,
         {FileEnterpriseAttrib.FIRST_CONTACT: "1475848492",
          FileEnterpriseAttrib.IS_PREVALENT: "1",
          FileEnterpriseAttrib.FILE_NAME_COUNT: "1",
          FileEnterpriseAttrib.MIN_LOCAL_REP: "99",
          FileEnterpriseAttrib.MAX_LOCAL_REP: "99",
          FileEnterpriseAttrib.AVG_LOCAL_REP: "99",
          FileEnterpriseAttrib.PARENT_MIN_LOCAL_REP: "99",
          FileEnterpriseAttrib.PARENT_MAX_LOCAL_REP: "99",
          FileEnterpriseAttrib.PARENT_AVG_LOCAL_REP: "99",
          FileEnterpriseAttrib.DETECTION_COUNT: "0",
          FileEnterpriseAttrib.CHILD_FILE_REPS: "AQAAAAAAAAAAAA==",
          FileEnterpriseAttrib.PARENT_FILE_REPS: "AgBkADIAZABMHQ==",
          FileEnterpriseAttrib.SERVER_VERSION: SERVER_VERSION_ATTRIBUTE}),
    ]


def _eicar_reputations() -> List[ReputationRecord]:
    return [
        (FileProvider.GTI, TrustLevel.KNOWN_MALICIOUS, 1451502875,
         {GtiAttrib.ORIGINAL_RESPONSE: "2139285504",
          FileGtiAttrib.FIRST_CONTACT: "1199193600",
          FileGtiAttrib.PREVALENCE: "894423"}),
        (FileProvider.ENTERPRISE, TrustLevel.NOT_SET, 1476107692,
         {FileEnterpriseAttrib.FIRST_CONTACT: "1476107692",
          FileEnterpriseAttrib.IS_PREVALENT: "0",
          FileEnterpriseAttrib.FILE_NAME_COUNT: "1",
          FileEnterpriseAttrib.MIN_LOCAL_REP: "1",
          FileEnterpriseAttrib.MAX_LOCAL_REP: "1",
          FileEnterpriseAttrib.AVG_LOCAL_REP: "1",
          FileEnterpriseAttrib.DETECTION_COUNT: "1",
          FileEnterpriseAttrib.LAST_DETECTION_TIME: "1476107692",
          FileEnterpriseAttrib.SERVER_VERSION: SERVER_VERSION_ATTRIBUTE}),
        # The ATD reputation's trustLevel is on the TrustLevel scale; only its attributes use
        # the AtdTrustLevel scale (TIE-SPEC 8.23, issue #12).
        (FileProvider.ATD, TrustLevel.KNOWN_MALICIOUS, 1476107750,
         {AtdAttrib.VERDICT: str(AtdTrustLevel.KNOWN_MALICIOUS),
          AtdAttrib.SANDBOX_SCORE: str(AtdTrustLevel.KNOWN_MALICIOUS),
          AtdAttrib.GAM_SCORE: str(AtdTrustLevel.MOST_LIKELY_MALICIOUS),
          AtdAttrib.AV_ENGINE_SCORE: str(AtdTrustLevel.KNOWN_MALICIOUS),
          AtdAttrib.BEHAVIORS: "AQAAAA=="}),
    ]


def _certificate_reputations() -> List[ReputationRecord]:
    return [
        (CertProvider.GTI, TrustLevel.KNOWN_TRUSTED, 1451502875,
         {GtiAttrib.ORIGINAL_RESPONSE: "2139160704",
          CertGtiAttrib.FIRST_CONTACT: "1216310400",
          CertGtiAttrib.PREVALENCE: "1203765",
          CertGtiAttrib.REVOKED: "0",
          "2120596": "0"}),
        (CertProvider.ENTERPRISE, TrustLevel.NOT_SET, 1475848492,
         {CertEnterpriseAttrib.FIRST_CONTACT: "1475848492",
          CertEnterpriseAttrib.IS_PREVALENT: "1",
          CertEnterpriseAttrib.SERVER_VERSION: SERVER_VERSION_ATTRIBUTE}),
    ]


def _seed_file(store: Store, hashes: Mapping[str, str], name: str,
               reputations: List[ReputationRecord], agents: Tuple[Tuple[str, int], ...],
               cert_id: int) -> int:
    file_id = store.find_file(hashes)
    if file_id is None:
        file_id = store.add_file(hashes, name)
        for provider_id, trust_level, create_date, attributes in reputations:
            store.put_file_reputation(file_id, provider_id, trust_level, create_date, attributes)
    for agent_guid, date in agents:
        store.add_file_reference(file_id, agent_guid, date)
    if cert_id and store.file_certificate(file_id) is None:
        store.set_file_certificate(file_id, cert_id)
    return file_id


def seed(store: Store) -> bool:
    """
    Adds the seed entries to the store unless it was seeded before.

    * notepad.exe (:data:`NOTEPAD_HASHES`): GTI ``KNOWN_TRUSTED`` with GTI attributes, an
      Enterprise reputation (``NOT_SET``) with first contact, prevalence, enterprise size, server
      version and local reputation attributes, first references from :data:`SEED_AGENTS`, signed
      by the example certificate;
    * EICAR (:data:`EICAR_HASHES`): GTI ``KNOWN_MALICIOUS``, Enterprise, and an ATD reputation
      (``trustLevel`` ``KNOWN_MALICIOUS`` on the :class:`TrustLevel` scale, attributes on the
      :class:`AtdTrustLevel` scale);
    * the example certificate (:data:`EXAMPLE_CERT_SHA1`, public key
      :data:`EXAMPLE_CERT_PUBLIC_KEY_SHA1`): GTI ``KNOWN_TRUSTED`` with :class:`CertGtiAttrib`
      attributes and Enterprise with :class:`CertEnterpriseAttrib` attributes, referenced by the
      same systems as notepad.exe.

    :param store: the store
    :return: ``True`` when the seed entries were added now, ``False`` when the store was
        already seeded
    """
    with store.transaction():
        if store.get_meta(_SEED_MARKER) is not None:
            return False
        cert_id = store.find_certificate(EXAMPLE_CERT_SHA1)
        if cert_id is None:
            cert_id = store.add_certificate(EXAMPLE_CERT_SHA1, EXAMPLE_CERT_PUBLIC_KEY_SHA1)
            for provider_id, trust_level, create_date, attributes in _certificate_reputations():
                store.put_cert_reputation(cert_id, provider_id, trust_level, create_date,
                                          attributes)
        for agent_guid, date in SEED_AGENTS:
            store.add_cert_reference(cert_id, agent_guid, date)
        _seed_file(store, NOTEPAD_HASHES, "notepad.exe", _notepad_reputations(), SEED_AGENTS,
                   cert_id)
        _seed_file(store, EICAR_HASHES, "eicar.com", _eicar_reputations(), (EICAR_AGENT,), 0)
        store.set_meta(_SEED_MARKER, _SEED_VERSION)
    logger.info("TIE store seeded with notepad.exe, EICAR and the example certificate")
    return True
