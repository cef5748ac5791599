"""
What ``dxltie`` prints: readable tables of reputations and first references, and JSON.

Tables name providers (``GTI``, ``Enterprise``, ``ATD``, ``MWG``, ``External``), trust levels
(``KNOWN_TRUSTED (99)``), dates in local time, and the key attributes of each provider. JSON output
is the library's data as returned, serialised with :func:`to_json`: provider ids are JSON object
keys, hence strings (``"1"``, ``"3"``).
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

from .._wire import constant_values
from ..constants import (
    AtdAttrib,
    AtdTrustLevel,
    CertEnterpriseAttrib,
    CertGtiAttrib,
    CertProvider,
    CertReputationOverriddenProp,
    CertReputationProp,
    FileEnterpriseAttrib,
    FileGtiAttrib,
    FileProvider,
    FileType,
    FirstRefProp,
    ReputationProp,
    TrustLevel,
)

#: Display names of the file reputation providers.
FILE_PROVIDER_NAMES: Dict[int, str] = {
    FileProvider.GTI: "GTI", FileProvider.ENTERPRISE: "Enterprise", FileProvider.ATD: "ATD",
    FileProvider.MWG: "MWG", FileProvider.EXTERNAL: "External"}
#: Display names of the certificate reputation providers.
CERT_PROVIDER_NAMES: Dict[int, str] = {CertProvider.GTI: "GTI",
                                       CertProvider.ENTERPRISE: "Enterprise"}

#: The attribute constants class of each (kind, provider id).
_ATTRIBUTE_CLASSES: Dict[Any, type] = {
    ("file", FileProvider.GTI): FileGtiAttrib, ("file", FileProvider.ENTERPRISE):
    FileEnterpriseAttrib, ("file", FileProvider.ATD): AtdAttrib,
    ("cert", CertProvider.GTI): CertGtiAttrib, ("cert", CertProvider.ENTERPRISE):
    CertEnterpriseAttrib}

_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"


def say(text: str) -> None:
    """
    Prints a line of the command's output on stdout, at once.

    :param text: the line
    """
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def warn(text: str) -> None:
    """
    Prints a message for the user on stderr, at once, prefixed with ``dxltie:``.

    :param text: the message
    """
    sys.stderr.write("dxltie: " + text + "\n")
    sys.stderr.flush()


def to_json(data: Any) -> str:
    """
    Serialises data for ``--json`` output: indented, keys in the order received; integer keys
    (provider ids) become strings, as JSON requires.

    :param data: the data
    :return: the JSON text
    """
    return json.dumps(data, indent=2, default=str)


def _member_name(constant: type, value: Any) -> Optional[str]:
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    for name, member in constant_values(constant).items():
        if member == number:
            return name
    return None


def trust_level_name(value: Any) -> str:
    """
    Names a trust level: ``KNOWN_TRUSTED (99)``; an unknown value is shown as is.

    :param value: the trust level (int or numeric string)
    :return: the display text
    """
    name = _member_name(TrustLevel, value)
    return "{} ({})".format(name, value) if name else str(value)


def atd_trust_level_name(value: Any) -> str:
    """
    Names a score on the ATD scale (:class:`~dxltieclient.AtdTrustLevel`): ``MIGHT_BE_MALICIOUS
    (3)``.

    :param value: the score (int or numeric string)
    :return: the display text
    """
    name = _member_name(AtdTrustLevel, value)
    return "{} ({})".format(name, value) if name else str(value)


def describe_file_type(value: Any) -> str:
    """
    Names a file type (:class:`~dxltieclient.FileType`): ``PEEXE (18)``.

    :param value: the file type
    :return: the display text
    """
    name = _member_name(FileType, value)
    return "{} ({})".format(name, value) if name else str(value)


def provider_name(provider_id: Any, kind: str = "file") -> str:
    """
    Names a reputation provider: ``GTI``, ``Enterprise``, ``ATD``, ``MWG``, ``External``.

    :param provider_id: the provider id
    :param kind: ``file`` or ``cert`` (the two share no ids)
    :return: the display text (``provider <id>`` when unknown)
    """
    names = CERT_PROVIDER_NAMES if kind == "cert" else FILE_PROVIDER_NAMES
    try:
        return names[int(provider_id)]
    except (KeyError, TypeError, ValueError):
        return "provider {}".format(provider_id)


def format_time(epoch: Any) -> str:
    """
    Formats an epoch time (int or numeric string) in local time; anything else is shown as is.

    :param epoch: seconds since the epoch
    :return: e.g. ``2016-10-07 13:54:52``, or ``-`` when missing
    """
    if epoch in (None, ""):
        return "-"
    try:
        return time.strftime(_TIME_FORMAT, time.localtime(float(epoch)))
    except (TypeError, ValueError, OverflowError, OSError):
        return str(epoch)


def attribute_name(provider_id: Any, attribute_id: str, kind: str = "file") -> str:
    """
    Names an attribute id after its constant, e.g. ``FileEnterpriseAttrib.PREVALENCE``.

    :param provider_id: the provider that reported it
    :param attribute_id: the attribute id
    :param kind: ``file`` or ``cert``
    :return: the constant's qualified name, or ``""`` when there is none
    """
    try:
        constant = _ATTRIBUTE_CLASSES.get((kind, int(provider_id)))
    except (TypeError, ValueError):
        constant = None
    if constant is None:
        return ""
    for name, value in constant_values(constant).items():
        if value == attribute_id:
            return "{}.{}".format(constant.__name__, name)
    return ""


def _details(parts: Iterable[Tuple[Any, ...]], attributes: Mapping[str, Any]) -> List[str]:
    """Formats ``(label, attribute id, formatter)`` triples for the attributes present."""
    shown = []
    for label, attribute_id, formatter in parts:
        if attribute_id in attributes:
            shown.append("{} {}".format(label, formatter(attributes[attribute_id])))
    return shown


def _text(value: Any) -> str:
    return str(value)


def key_attributes(provider_id: Any, reputation: Mapping[str, Any], kind: str = "file"
                   ) -> List[str]:
    """
    Describes the key attributes of a reputation: enterprise prevalence and first contact, GTI
    first contact and prevalence, ATD verdict and scores (on the ATD scale), certificate
    revocation and overrides.

    :param provider_id: the provider id
    :param reputation: the reputation dict (:class:`~dxltieclient.ReputationProp` keys)
    :param kind: ``file`` or ``cert``
    :return: short ``label value`` texts
    """
    attributes = reputation.get(ReputationProp.ATTRIBUTES) or {}
    try:
        provider = int(provider_id)
    except (TypeError, ValueError):
        provider = -1
    parts: List[Tuple[Any, ...]] = []
    if kind == "file" and provider == FileProvider.ENTERPRISE:
        parts = [("prevalence", FileEnterpriseAttrib.PREVALENCE, _text),
                 ("enterprise size", FileEnterpriseAttrib.ENTERPRISE_SIZE, _text),
                 ("first contact", FileEnterpriseAttrib.FIRST_CONTACT, format_time),
                 ("detections", FileEnterpriseAttrib.DETECTION_COUNT, _text),
                 ("last detection", FileEnterpriseAttrib.LAST_DETECTION_TIME, format_time),
                 ("avg local rep", FileEnterpriseAttrib.AVG_LOCAL_REP, trust_level_name)]
    elif kind == "file" and provider == FileProvider.GTI:
        parts = [("first contact", FileGtiAttrib.FIRST_CONTACT, format_time),
                 ("prevalence", FileGtiAttrib.PREVALENCE, _text)]
    elif kind == "file" and provider == FileProvider.ATD:
        parts = [("verdict", AtdAttrib.VERDICT, atd_trust_level_name),
                 ("sandbox", AtdAttrib.SANDBOX_SCORE, atd_trust_level_name),
                 ("GAM", AtdAttrib.GAM_SCORE, atd_trust_level_name),
                 ("AV engine", AtdAttrib.AV_ENGINE_SCORE, atd_trust_level_name)]
    elif kind == "cert" and provider == CertProvider.ENTERPRISE:
        parts = [("prevalence", CertEnterpriseAttrib.PREVALENCE, _text),
                 ("first contact", CertEnterpriseAttrib.FIRST_CONTACT, format_time),
                 ("file overrides", CertEnterpriseAttrib.HAS_FILE_OVERRIDES, _text)]
    elif kind == "cert" and provider == CertProvider.GTI:
        parts = [("first contact", CertGtiAttrib.FIRST_CONTACT, format_time),
                 ("prevalence", CertGtiAttrib.PREVALENCE, _text),
                 ("revoked", CertGtiAttrib.REVOKED, _text)]
    shown = _details(parts, attributes)
    overridden = reputation.get(CertReputationProp.OVERRIDDEN)
    if kind == "cert" and isinstance(overridden, Mapping):
        files = overridden.get(CertReputationOverriddenProp.FILES) or []
        truncated = overridden.get(CertReputationOverriddenProp.TRUNCATED)
        shown.append("overridden by {}{} file(s)".format(len(files), "+" if truncated else ""))
    return shown


def format_table(headers: Sequence[str], rows: Sequence[Sequence[str]], indent: str = "  "
                 ) -> str:
    """
    Lays out rows in left-aligned columns under a header row (the last column is not padded).

    :param headers: the column titles
    :param rows: the cells, as text
    :param indent: put before every line
    :return: the lines joined by newlines (no trailing newline)
    """
    widths = [len(header) for header in headers]
    for row in rows:
        for column, cell in enumerate(row):
            widths[column] = max(widths[column], len(cell))

    def line(cells: Sequence[str]) -> str:
        padded = [cell.ljust(widths[column]) for column, cell in enumerate(cells[:-1])]
        return (indent + "  ".join(padded + [cells[-1]])).rstrip()

    return "\n".join([line(headers)] + [line(row) for row in rows])


def _reputation_rows(reputations: Mapping[Any, Mapping[str, Any]], kind: str
                     ) -> List[List[str]]:
    rows = []
    for provider_id, reputation in sorted(reputations.items(), key=lambda item: str(item[0])):
        rows.append([provider_name(provider_id, kind),
                     trust_level_name(reputation.get(ReputationProp.TRUST_LEVEL)),
                     format_time(reputation.get(ReputationProp.CREATE_DATE)),
                     ", ".join(key_attributes(provider_id, reputation, kind))])
    return rows


def _attribute_lines(reputations: Mapping[Any, Mapping[str, Any]], kind: str) -> List[str]:
    lines = []
    for provider_id, reputation in sorted(reputations.items(), key=lambda item: str(item[0])):
        attributes = reputation.get(ReputationProp.ATTRIBUTES) or {}
        if not attributes:
            continue
        lines.append("  {} attributes:".format(provider_name(provider_id, kind)))
        rows = [[str(attribute_id), attribute_name(provider_id, str(attribute_id), kind) or "-",
                 str(value)] for attribute_id, value in attributes.items()]
        lines.append(format_table(["ID", "NAME", "VALUE"], rows, indent="    "))
    return lines


def format_reputations(title: str, hashes: Mapping[str, Any],
                       reputations: Mapping[Any, Mapping[str, Any]], kind: str = "file",
                       show_attributes: bool = False) -> str:
    """
    Formats the reputations of one file or certificate as a readable block.

    :param title: the first line (e.g. ``File: notepad.exe``)
    :param hashes: hash type to hex, listed under the title
    :param reputations: the reputations keyed by provider id, as the library returns them
    :param kind: ``file`` or ``cert``
    :param show_attributes: also list every attribute (id, constant name, value)
    :return: the block (no trailing newline)
    """
    lines = [title]
    width = max((len(hash_type) for hash_type in hashes), default=0)
    for hash_type, value in hashes.items():
        lines.append("  {}  {}".format(hash_type.ljust(width), value))
    if reputations:
        lines.append(format_table(["PROVIDER", "TRUST LEVEL", "CREATED", "DETAILS"],
                                  _reputation_rows(reputations, kind)))
        if show_attributes:
            lines.extend(_attribute_lines(reputations, kind))
    else:
        lines.append("  no reputations")
    return "\n".join(lines)


def format_references(title: str, agents: Sequence[Mapping[str, Any]]) -> str:
    """
    Formats the systems that first referenced a file.

    :param title: the first line
    :param agents: the list :meth:`~dxltieclient.TieClient.get_file_first_references` returns
    :return: the block (no trailing newline)
    """
    lines = [title]
    if agents:
        rows = [[str(agent.get(FirstRefProp.SYSTEM_GUID, "-")),
                 format_time(agent.get(FirstRefProp.DATE))] for agent in agents]
        lines.append(format_table(["SYSTEM", "FIRST REFERENCE"], rows))
    lines.append("  {} system(s)".format(len(agents)))
    return "\n".join(lines)
