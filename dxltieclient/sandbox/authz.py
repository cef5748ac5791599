"""
Authorization of the sandbox fabric, modelled on TIE's ePO authorization groups.

On a real fabric, ePO restricts who may *send* on some TIE topics to the members of an
authorization group; a message from a client outside the group is dropped silently by the broker
(the caller times out). The sandbox reproduces this with Mosquitto's ACL file, keyed on the client
certificate's common name (CN): every client may do everything, except what the groups it is
*denied* cover.

* ``TIE Server Set Enterprise Reputation`` (alias ``enterprise``): may send on
  ``/mcafee/service/tie/file/reputation/set`` and ``/mcafee/service/tie/cert/reputation/set``;
* ``TIE Server Set External Reputation`` (alias ``external``): may send on
  ``/mcafee/event/external/file/report``.

On top of the groups, :func:`acl_text` writes one of two modes.

**Strict** (``open_acl=False``), modelled on DXL topic authorization; it is an allow-list
(Mosquitto denies what no rule allows):

* only the TIE emulator's certificate (CN :data:`EMULATOR_IDENTITY`) may receive TIE's requests
  (``/mcafee/service/tie/#``: it alone can answer them, so no one else can act as TIE) and
  send TIE's events (``/mcafee/event/tie/#``: repchange broadcast and targeted, detection,
  first instance, prevalence);
* only the fabric services (:data:`FABRIC_IDENTITY`) may receive the service registry's
  requests (``/mcafee/service/dxl/#``), and so answer them; the registry requests are also the
  only messages that carry the emulator's client id, so no one else learns it;
* only the fabric services send, and only the emulator receives, the sandbox's own
  announcement that the fabric services (re)started (:data:`SANDBOX_EVENTS`);
* the sandbox's own identity (:data:`ADMIN_IDENTITY`: readiness probes, ``emit``) may do
  anything;
* every other client may receive only on its own reply topic (``/mcafee/client/<its MQTT
  client id>``, Mosquitto's ``%c``) and events (``/mcafee/event/#``), and send requests
  (``/mcafee/service/#``: TIE's, the registry's), replies (``/mcafee/client/#``) and external
  reports (``/mcafee/event/external/#``). It cannot subscribe to TIE's requests, to the registry
  or to someone else's replies, nor publish a TIE event.

What the strict mode cannot rule out, because Mosquitto neither stamps a sender's identity on
its messages nor ties a client id to a certificate: a client may still send registry requests
(so it could unregister TIE's service by its guid: clients then get "no service" errors until
the emulator registers again; a "registration" of TIE's topics by anyone else gets it no
requests), publish a reply on someone else's reply topic (it would need the request's message
id, which it cannot read), and put any reply-to topic in its requests: the emulator takes the
requester of a lookup (the agent recorded as a first reference) from the reply-to topic, so a
client can record a reference under another client id, although it then never receives the
answer. Custom (non-DXL-convention) topics such as ``/test/echo`` are denied: a fabric for one's
own mock services (``fabric_only``, mock TIE services, the ``serve`` command under another CN)
needs the open mode.

**Open** (``open_acl=True``, the sandbox's original behaviour): every client may send and
receive on every topic, except what its authorization groups deny.
"""

from __future__ import annotations

from typing import Dict, Iterable, List, Mapping, Sequence, Tuple

from ..client import (
    TIE_EVENT_EXTERNAL_FILE_REPORT_TOPIC,
    TIE_SET_CERT_REPUTATION_TOPIC,
    TIE_SET_FILE_REPUTATION_TOPIC,
)

#: The certificate CN of the TIE emulator (the only one that may act as TIE in strict mode).
EMULATOR_IDENTITY = "tie-server"
#: The certificate CN of the fabric services (the only one that may answer the registry).
FABRIC_IDENTITY = "dxl-fabric-services"
#: The certificate CN the sandbox uses itself (probes, emitted events): may do anything.
ADMIN_IDENTITY = "sandbox-admin"
#: The certificate CN of the sandbox's default user client.
USER_IDENTITY = "sandbox-client"

#: TIE's request topics (the TIE service), as an MQTT topic filter.
TIE_REQUESTS = "/mcafee/service/tie/#"
#: TIE's event topics, as an MQTT topic filter.
TIE_EVENTS = "/mcafee/event/tie/#"
#: The DXL service registry's request topics, as an MQTT topic filter.
REGISTRY_REQUESTS = "/mcafee/service/dxl/#"
#: The sandbox's own events (the fabric services' "ready" announcement), as an MQTT topic filter.
SANDBOX_EVENTS = "/dxltieclient/sandbox/fabric/#"

#: Strict mode: what the privileged identities may do, beyond what everyone may.
PRIVILEGED_RULES: Dict[str, Tuple[str, ...]] = {
    EMULATOR_IDENTITY: (
        "topic read " + TIE_REQUESTS,
        "topic write " + TIE_EVENTS,
        "topic read /mcafee/event/external/#",
        "topic read " + SANDBOX_EVENTS,
    ),
    FABRIC_IDENTITY: (
        "topic read #",
        "topic write /mcafee/client/#",
        "topic write " + SANDBOX_EVENTS,
    ),
    ADMIN_IDENTITY: (
        "topic readwrite #",
    ),
}

#: Strict mode: what every client may do (``%c`` is the client's MQTT client id).
COMMON_RULES: Tuple[str, ...] = (
    "pattern read /mcafee/client/%c",
    "pattern write /mcafee/client/#",
    "pattern write /mcafee/service/#",
    "pattern read /mcafee/event/#",
    "pattern write /mcafee/event/external/#",
)

#: The authorization groups and the topics a member may send on.
AUTHORIZATION_GROUPS: Dict[str, Tuple[str, ...]] = {
    "TIE Server Set Enterprise Reputation": (
        TIE_SET_FILE_REPUTATION_TOPIC,
        TIE_SET_CERT_REPUTATION_TOPIC,
    ),
    "TIE Server Set External Reputation": (TIE_EVENT_EXTERNAL_FILE_REPORT_TOPIC,),
    # TIE documents no group for the reputation-updates query and the metadata updates.
}

#: Short names accepted for the authorization groups (case-insensitive).
GROUP_ALIASES: Dict[str, str] = {
    "enterprise": "TIE Server Set Enterprise Reputation",
    "external": "TIE Server Set External Reputation",
}


def valid_group_names() -> List[str]:
    """
    :return: every accepted spelling of a group: the full names, then the aliases
    """
    return list(AUTHORIZATION_GROUPS) + list(GROUP_ALIASES)


def resolve_group(name: str) -> str:
    """
    Resolves a group name or alias (case-insensitive) to the group's full name.

    :param name: a full group name (``TIE Server Set Enterprise Reputation``) or an alias
        (``enterprise``)
    :return: the full group name
    :raises ValueError: if the name is not a known group, listing the valid names
    """
    wanted = name.strip().lower()
    for group in AUTHORIZATION_GROUPS:
        if group.lower() == wanted:
            return group
    if wanted in GROUP_ALIASES:
        return GROUP_ALIASES[wanted]
    raise ValueError(
        "Unknown authorization group {!r}. Valid groups: {}".format(
            name, ", ".join(repr(valid) for valid in valid_group_names())
        )
    )


def resolve_groups(names: Iterable[str]) -> List[str]:
    """
    Resolves several group names or aliases, without duplicates, in the order
    :data:`AUTHORIZATION_GROUPS` lists them.

    :param names: group names or aliases
    :return: the full group names
    :raises ValueError: if one of them is not a known group
    """
    resolved = {resolve_group(name) for name in names}
    return [group for group in AUTHORIZATION_GROUPS if group in resolved]


def denied_topics(groups: Sequence[str]) -> List[str]:
    """
    :param groups: authorization groups (full names or aliases) a client is denied
    :return: the topics the client may not send on
    """
    topics: List[str] = []
    for group in resolve_groups(groups):
        topics.extend(AUTHORIZATION_GROUPS[group])
    return topics


def acl_text(denials: Mapping[str, Sequence[str]], open_acl: bool = True) -> str:
    """
    Generates a Mosquitto 2.0 ACL file, in the strict or the open mode (see the module
    documentation).

    Mosquitto checks a client's ``user`` section first (its ``topic deny`` rules, then its
    allow rules), then the ``pattern`` rules (denials first) that apply to all clients; what no
    rule allows is denied. The denied groups of a client are ``topic deny`` rules in its
    ``user`` section, so they win over everything else in both modes.

    :param denials: client name (certificate CN) -> authorization groups it is denied
    :param open_acl: the open mode (everyone may do everything but their denied groups)
        instead of the strict one
    :return: the content of the ACL file
    """
    lines = ["# Generated by the dxltieclient sandbox: do not edit (regenerated by 'provision')."]
    if open_acl:
        lines += [
            "# Open mode: everyone may send and receive on every topic...",
            "pattern readwrite #",
        ]
    else:
        lines += [
            "# Strict mode: only what is listed here is allowed. Every client may:",
            *COMMON_RULES,
        ]
    lines += ["", "# ...except the topics of the TIE authorization groups a client is not in."]
    for name in sorted(denials):
        groups = resolve_groups(denials[name])
        if not groups or name in PRIVILEGED_RULES:
            continue
        lines.append("user {}".format(name))
        for group in groups:
            lines.append("# not in: {}".format(group))
            for topic in AUTHORIZATION_GROUPS[group]:
                lines.append("topic deny {}".format(topic))
        lines.append("")
    if not open_acl:
        lines.append("# What the sandbox's own processes may do on top.")
        for name, rules in PRIVILEGED_RULES.items():
            lines.append("user {}".format(name))
            lines.extend(rules)
            lines.append("")
    return "\n".join(lines) + "\n"
