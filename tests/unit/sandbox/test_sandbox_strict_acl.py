"""The strict sandbox ACL (issue #9 point 6): who may do what, rule by rule."""

import pahoproxy.client as mqtt
import pytest

from dxltieclient import client as tie
from dxltieclient.sandbox import authz

REQUEST_TOPICS = [value for name, value in vars(tie).items()
                  if name.startswith("TIE_") and name.endswith("_TOPIC") and "/service/" in value]
EVENT_TOPICS = [value for name, value in vars(tie).items()
                if name.startswith("TIE_EVENT_") and name.endswith("_TOPIC")
                and "/external/" not in value]


def rules(text):
    return [line for line in text.splitlines() if line and not line.startswith("#")]


def test_open_mode_is_the_original_acl():
    text = authz.acl_text({"bob": ["external"]}, open_acl=True)
    assert rules(text) == ["pattern readwrite #", "user bob",
                           "topic deny /mcafee/event/external/file/report"]
    assert authz.acl_text({"bob": ["external"]}) == text  # the default keeps the original


def test_strict_mode_is_an_allow_list_with_privileged_sections():
    lines = rules(authz.acl_text({"bob": ["enterprise"], "alice": []}, open_acl=False))
    assert "pattern readwrite #" not in lines
    assert lines[:5] == list(authz.COMMON_RULES)
    assert "pattern read /mcafee/client/%c" in lines
    sections = {}
    current = None
    for line in lines[5:]:
        if line.startswith("user "):
            current = line[5:]
            sections[current] = []
        else:
            sections[current].append(line)
    assert sections["bob"] == ["topic deny /mcafee/service/tie/file/reputation/set",
                               "topic deny /mcafee/service/tie/cert/reputation/set"]
    assert "alice" not in sections
    assert sections["tie-server"] == list(authz.PRIVILEGED_RULES["tie-server"])
    assert sections["sandbox-admin"] == ["topic readwrite #"]
    assert sections["dxl-fabric-services"] == list(authz.PRIVILEGED_RULES["dxl-fabric-services"])
    assert "topic read #" in sections["dxl-fabric-services"]


def _allowed(text, user, access, topic, client_id="me"):
    """A small model of Mosquitto 2.0's ACL check (verified against the broker in
    tests/integration/test_sandbox_acl.py): user denials, user allows, pattern denials,
    pattern allows; nothing matching means denied."""
    section, patterns, current = [], [], None
    for line in rules(text):
        if line.startswith("user "):
            current = line[5:]
            continue
        kind, rest = line.split(" ", 1)
        rule_access, rule_topic = rest.split(" ", 1) if " " in rest else ("readwrite", rest)
        if kind == "pattern":
            patterns.append((rule_access, rule_topic.replace("%c", client_id)
                             .replace("%u", user)))
        elif current == user:
            section.append((rule_access, rule_topic))
    for group in (section, patterns):
        for rule_access, rule_topic in group:
            if rule_access == "deny" and mqtt.topic_matches_sub(rule_topic, topic):
                return False
        for rule_access, rule_topic in group:
            if rule_access != "deny" and access in rule_access and \
                    mqtt.topic_matches_sub(rule_topic, topic):
                return True
    return False


STRICT = authz.acl_text({"no-external": ["external"]}, open_acl=False)


@pytest.mark.parametrize("topic", REQUEST_TOPICS)
def test_only_the_emulator_receives_tie_requests_and_everyone_sends_them(topic):
    assert _allowed(STRICT, "tie-server", "read", topic)
    assert _allowed(STRICT, "sandbox-client", "write", topic)
    for user in ("sandbox-client", "rogue"):
        assert not _allowed(STRICT, user, "read", topic)


@pytest.mark.parametrize("topic", EVENT_TOPICS)
def test_only_the_emulator_and_the_sandbox_publish_tie_events_and_everyone_receives_them(topic):
    assert _allowed(STRICT, "tie-server", "write", topic)
    assert _allowed(STRICT, "sandbox-admin", "write", topic)
    assert not _allowed(STRICT, "sandbox-client", "write", topic)
    assert not _allowed(STRICT, "rogue", "write", topic)
    assert _allowed(STRICT, "rogue", "read", topic)


def test_only_the_fabric_services_announce_a_restart_and_only_the_emulator_hears_it():
    from dxltieclient.sandbox._constants import FABRIC_READY_TOPIC

    assert _allowed(STRICT, "dxl-fabric-services", "write", FABRIC_READY_TOPIC)
    assert _allowed(STRICT, "tie-server", "read", FABRIC_READY_TOPIC)
    assert not _allowed(STRICT, "rogue", "write", FABRIC_READY_TOPIC)
    assert not _allowed(STRICT, "rogue", "read", FABRIC_READY_TOPIC)


def test_reply_topics_registry_and_external_reports():
    assert _allowed(STRICT, "rogue", "read", "/mcafee/client/me", client_id="me")
    assert not _allowed(STRICT, "rogue", "read", "/mcafee/client/other", client_id="me")
    assert _allowed(STRICT, "rogue", "write", "/mcafee/client/other")
    registry = "/mcafee/service/dxl/svcregistry/register"
    assert _allowed(STRICT, "rogue", "write", registry)
    assert not _allowed(STRICT, "rogue", "read", registry)
    assert not _allowed(STRICT, "tie-server", "read", registry)
    assert _allowed(STRICT, "dxl-fabric-services", "read", registry)
    external = tie.TIE_EVENT_EXTERNAL_FILE_REPORT_TOPIC
    assert _allowed(STRICT, "rogue", "write", external)
    assert _allowed(STRICT, "tie-server", "read", external)
    assert not _allowed(STRICT, "no-external", "write", external)
