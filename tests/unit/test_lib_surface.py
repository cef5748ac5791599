"""The public surface against TIE-SPEC 1.1-1.4: names, signatures, version, topics, attributes."""

import ast
import base64
import inspect
import json
import subprocess
import sys
import time
from pathlib import Path

import dxlbootstrap.client
import pytest
from dxlclient.callbacks import EventCallback

import dxltieclient
import dxltieclient.callbacks
import dxltieclient.client
import dxltieclient.constants
from dxltieclient import (
    DetectionCallback,
    FirstInstanceCallback,
    ReputationChangeCallback,
    TieClient,
)

# TIE-SPEC 1.2: the verified complete list of public names of the package.
SPEC_PACKAGE_NAMES = {
    "AtdAttrib", "AtdTrustLevel", "CertEnterpriseAttrib", "CertGtiAttrib", "CertProvider",
    "CertRepChangeEventProp", "CertReputationOverriddenProp", "CertReputationProp",
    "DetectionCallback", "DetectionEventProp", "EnterpriseAttrib", "EpochMixin", "EventCallback",
    "FileEnterpriseAttrib", "FileGtiAttrib", "FileProvider", "FileRepChangeEventProp",
    "FileReputationProp", "FileType", "FirstInstanceCallback", "FirstInstanceEventProp",
    "FirstRefProp", "GtiAttrib", "HashType", "MessageUtils", "RANGE", "RepChangeEventProp",
    "ReputationChangeCallback", "ReputationProp", "TieClient", "TrustLevel", "absolute_import",
    "base64", "callbacks", "client", "constants", "get_version", "struct", "sys", "time",
}
# Our only allowed additions: the exception tree and the result type of the bulk calls.
EXCEPTION_NAMES = {
    "TieError", "TieInputError", "InvalidHashError", "TieServiceError",
    "TieServiceNotFoundError", "TieTimeoutError", "TieNotConnectedError", "TieBulkStoppedError",
}
ADDED_NAMES = EXCEPTION_NAMES | {"BulkResult", "FilePrevalenceCallback"}

TOPICS = {
    "TIE_SET_FILE_REPUTATION_TOPIC": "/mcafee/service/tie/file/reputation/set",
    "TIE_GET_FILE_REPUTATION_TOPIC": "/mcafee/service/tie/file/reputation",
    "TIE_SET_CERT_REPUTATION_TOPIC": "/mcafee/service/tie/cert/reputation/set",
    "TIE_GET_CERT_REPUTATION_TOPIC": "/mcafee/service/tie/cert/reputation",
    "TIE_GET_FILE_FIRST_REFS": "/mcafee/service/tie/file/agents",
    "TIE_GET_CERT_FIRST_REFS": "/mcafee/service/tie/cert/agents",
    "TIE_EVENT_FILE_REPUTATION_CHANGE_TOPIC": "/mcafee/event/tie/file/repchange/broadcast",
    "TIE_EVENT_CERT_REPUTATION_CHANGE_TOPIC": "/mcafee/event/tie/cert/repchange/broadcast",
    "TIE_EVENT_FILE_DETECTION_TOPIC": "/mcafee/event/tie/file/detection",
    "TIE_EVENT_FILE_FIRST_INSTANCE_TOPIC": "/mcafee/event/tie/file/firstinstance",
    "TIE_EVENT_FILE_PREVALENCE_CHANGE_TOPIC": "/mcafee/event/tie/file/prevalence",
    "TIE_EVENT_EXTERNAL_FILE_REPORT_TOPIC": "/mcafee/event/external/file/report",
}

# Topics of the TIE Server API that the original client does not name (our additions).
ADDED_TOPICS = {
    "TIE_EVENT_FILE_REPUTATION_CHANGE_TARGETED_TOPIC": "/mcafee/event/tie/file/repchange",
    "TIE_EVENT_CERT_REPUTATION_CHANGE_TARGETED_TOPIC": "/mcafee/event/tie/cert/repchange",
    "TIE_GET_REPUTATION_UPDATES_TOPIC": "/mcafee/service/tie/reputation/updates",
    "TIE_UPDATE_FILE_METADATA_TOPIC": "/mcafee/service/tie/file/update_metadata",
    "TIE_UPDATE_CERT_METADATA_TOPIC": "/mcafee/service/tie/cert/update_metadata",
}

# TIE-SPEC 1.2a
SPEC_CLIENT_NAMES = set(TOPICS) | {
    "TieClient", "Client", "MessageUtils", "Request", "Event", "CertProvider",
    "CertReputationOverriddenProp", "CertReputationProp", "FileProvider", "FileType",
    "ReputationProp", "TrustLevel", "base64", "binascii", "json", "absolute_import",
}
SPEC_CALLBACKS_NAMES = {
    "ReputationChangeCallback", "DetectionCallback", "FirstInstanceCallback", "EventCallback",
    "MessageUtils", "TieClient", "RepChangeEventProp", "FileRepChangeEventProp",
    "CertRepChangeEventProp", "DetectionEventProp", "FirstInstanceEventProp", "absolute_import",
}
SPEC_CONSTANTS_CLASSES = {
    "AtdAttrib", "AtdTrustLevel", "CertEnterpriseAttrib", "CertGtiAttrib", "CertProvider",
    "CertRepChangeEventProp", "CertReputationOverriddenProp", "CertReputationProp",
    "DetectionEventProp", "EnterpriseAttrib", "EpochMixin", "FileEnterpriseAttrib",
    "FileGtiAttrib", "FileProvider", "FileRepChangeEventProp", "FileReputationProp", "FileType",
    "FirstInstanceEventProp", "FirstRefProp", "GtiAttrib", "HashType", "RepChangeEventProp",
    "ReputationProp", "TrustLevel",
}
SPEC_CONSTANTS_NAMES = SPEC_CONSTANTS_CLASSES | {
    "RANGE", "base64", "struct", "sys", "time", "absolute_import",
}

_FRESH_DIR_SCRIPT = """
import json, sys
import dxltieclient
modules = {"dxltieclient": dxltieclient, "client": dxltieclient.client,
           "callbacks": dxltieclient.callbacks, "constants": dxltieclient.constants}
print(json.dumps({k: [n for n in dir(m) if not n.startswith("_")] for k, m in modules.items()}))
"""


@pytest.fixture(scope="module")
def fresh_names():
    """Public names seen by ``dir()`` right after a plain ``import dxltieclient`` (a fresh
    interpreter, so that other test modules' imports of subpackages cannot interfere)."""
    out = subprocess.run([sys.executable, "-c", _FRESH_DIR_SCRIPT], check=True,
                         capture_output=True, text=True).stdout
    return {key: set(names) for key, names in json.loads(out).items()}


def test_package_has_every_spec_name_and_only_our_additions_as_extras(fresh_names):
    names = fresh_names["dxltieclient"]
    assert SPEC_PACKAGE_NAMES - names == set()
    assert names - SPEC_PACKAGE_NAMES == ADDED_NAMES


def test_dunder_all_equals_the_public_names(fresh_names):
    assert len(dxltieclient.__all__) == len(set(dxltieclient.__all__))
    assert set(dxltieclient.__all__) == fresh_names["dxltieclient"]
    assert set(dxltieclient.__all__) == SPEC_PACKAGE_NAMES | ADDED_NAMES


@pytest.mark.parametrize("module, expected", [
    ("client", SPEC_CLIENT_NAMES | set(ADDED_TOPICS)),
    ("callbacks", SPEC_CALLBACKS_NAMES | {"FilePrevalenceCallback"}),
    ("constants", SPEC_CONSTANTS_NAMES),
])
def test_module_public_names(fresh_names, module, expected):
    assert fresh_names[module] == expected


def test_added_topics_have_the_schema_values():
    for name, value in ADDED_TOPICS.items():
        assert getattr(dxltieclient.client, name) == value


def test_star_import_of_package_provides_everything_including_base64():
    namespace = {}
    exec("from dxltieclient import *", namespace)
    assert namespace["base64"] is base64
    assert namespace["time"] is time
    assert SPEC_PACKAGE_NAMES | ADDED_NAMES <= set(namespace)
    assert namespace["TieClient"] is TieClient


def test_package_time_is_the_stdlib_module():
    assert dxltieclient.time is time
    assert isinstance(dxltieclient.time.time(), float)


def test_star_import_of_constants_provides_time():
    namespace = {}
    exec("from dxltieclient.constants import *", namespace)
    assert namespace["time"] is time
    assert SPEC_CONSTANTS_CLASSES <= set(namespace)


def test_leaked_helpers():
    from dxlbootstrap.util import MessageUtils
    assert dxltieclient.RANGE is range
    assert dxltieclient.EventCallback is EventCallback
    assert dxltieclient.MessageUtils is MessageUtils
    assert dxltieclient.struct.__name__ == "struct"
    assert dxltieclient.sys is sys
    assert dxltieclient.base64 is base64
    assert dxltieclient.client is dxltieclient.client  # submodule reachable as an attribute
    assert dxltieclient.callbacks.TieClient is TieClient
    assert dxltieclient.client.Client is dxlbootstrap.client.Client


def test_topic_constants_are_not_at_package_level():
    for name in TOPICS:
        assert not hasattr(dxltieclient, name)


@pytest.mark.parametrize("name, value", sorted(TOPICS.items()))
def test_topic_constant_values(name, value):
    assert getattr(dxltieclient.client, name) == value


def test_the_twelve_spec_topic_constants_and_only_our_additions_besides():
    names = sorted(n for n in dir(dxltieclient.client) if n.startswith("TIE_"))
    assert names == sorted(set(TOPICS) | set(ADDED_TOPICS))


def test_get_version():
    assert inspect.signature(dxltieclient.get_version).parameters == {}
    assert dxltieclient.get_version() == "0.4.0"
    assert dxltieclient.__version__ == "0.4.0"


def test_version_file_holds_only_the_version():
    source = Path(dxltieclient.__file__).with_name("_version.py").read_text()
    body = ast.parse(source).body
    assert len(body) == 1
    assert ast.unparse(body[0]) == "__version__ = '0.4.0'"


# -- signatures (TIE-SPEC 1.4) ------------------------------------------------------------------

_EMPTY = inspect.Parameter.empty

TIECLIENT_METHODS = [
    ("__init__", [("self", _EMPTY), ("dxl_client", _EMPTY)]),
    ("add_file_first_instance_callback", [("self", _EMPTY), ("first_instance_callback", _EMPTY)]),
    ("remove_file_first_instance_callback",
     [("self", _EMPTY), ("first_instance_callback", _EMPTY)]),
    ("add_file_detection_callback", [("self", _EMPTY), ("detection_callback", _EMPTY)]),
    ("remove_file_detection_callback", [("self", _EMPTY), ("detection_callback", _EMPTY)]),
    ("add_file_reputation_change_callback", [("self", _EMPTY), ("rep_change_callback", _EMPTY)]),
    ("remove_file_reputation_change_callback",
     [("self", _EMPTY), ("rep_change_callback", _EMPTY)]),
    ("add_certificate_reputation_change_callback",
     [("self", _EMPTY), ("rep_change_callback", _EMPTY)]),
    ("remove_certificate_reputation_change_callback",
     [("self", _EMPTY), ("rep_change_callback", _EMPTY)]),
    ("set_file_reputation", [("self", _EMPTY), ("trust_level", _EMPTY), ("hashes", _EMPTY),
                             ("filename", ""), ("comment", "")]),
    ("set_external_file_reputation",
     [("self", _EMPTY), ("trust_level", _EMPTY), ("hashes", _EMPTY), ("file_type", 0),
      ("filename", ""), ("comment", "")]),
    ("get_file_reputation", [("self", _EMPTY), ("hashes", _EMPTY)]),
    ("get_file_first_references", [("self", _EMPTY), ("hashes", _EMPTY), ("query_limit", 500)]),
    ("set_certificate_reputation", [("self", _EMPTY), ("trust_level", _EMPTY), ("sha1", _EMPTY),
                                    ("public_key_sha1", None), ("comment", "")]),
    ("get_certificate_reputation", [("self", _EMPTY), ("sha1", _EMPTY),
                                    ("public_key_sha1", None)]),
    ("get_certificate_first_references",
     [("self", _EMPTY), ("sha1", _EMPTY), ("public_key_sha1", None), ("query_limit", 500)]),
]

TIECLIENT_STATICMETHODS = [
    ("_base64_to_hex", [("base64_value", _EMPTY)]),
    ("_hex_to_base64", [("hex_value", _EMPTY)]),
    ("_transform_hashes", [("hashes", _EMPTY)]),
    ("_transform_reputations", [("reputations", _EMPTY)]),
    ("valid_parameter", [("constant", _EMPTY), ("value", _EMPTY)]),
]


def _params(func):
    params = inspect.signature(func).parameters.values()
    for param in params:
        assert param.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD, param
    return [(p.name, p.default) for p in params]


def _defining_attr(cls, name):
    for klass in cls.__mro__:
        if name in klass.__dict__:
            return klass.__dict__[name]
    raise AssertionError("{} has no {}".format(cls.__name__, name))


@pytest.mark.parametrize("name, expected", TIECLIENT_METHODS)
def test_tieclient_method_signature(name, expected):
    attr = _defining_attr(TieClient, name)
    assert inspect.isfunction(attr), "{} must be a plain method".format(name)
    assert _params(attr) == expected


@pytest.mark.parametrize("name, expected", TIECLIENT_STATICMETHODS)
def test_tieclient_staticmethod_signature(name, expected):
    attr = _defining_attr(TieClient, name)
    assert isinstance(attr, staticmethod), "{} must be a staticmethod".format(name)
    assert _params(getattr(TieClient, name)) == expected


def test_tieclient_subclasses_bootstrap_client():
    assert issubclass(TieClient, dxlbootstrap.client.Client)
    assert isinstance(_defining_attr(TieClient, "response_timeout"), property)


def test_instance_attributes_after_construction(fake):
    tie = TieClient(fake)
    assert tie._dxl_client is fake
    assert tie._TieClient__dxl_client is fake
    assert tie._response_timeout == 30
    assert tie.response_timeout == 30


@pytest.mark.parametrize("value", [30, 31, 45, 3600, 30.5])
def test_response_timeout_accepts_30_and_more(tie, value):
    tie.response_timeout = value
    assert tie.response_timeout == value
    assert tie._response_timeout == value


@pytest.mark.parametrize("value", [29, 29.99, 0, -1])
def test_response_timeout_floor(tie, value):
    with pytest.raises(Exception, match=r"^Response timeout must be greater than or equal to 30$"):
        tie.response_timeout = value
    assert tie.response_timeout == 30


CALLBACK_HOOKS = [
    (ReputationChangeCallback, "on_reputation_change", "rep_change_dict"),
    (DetectionCallback, "on_detection", "detection_dict"),
    (FirstInstanceCallback, "on_first_instance", "first_instance_dict"),
    (dxltieclient.callbacks.FilePrevalenceCallback, "on_prevalence", "prevalence_dict"),
]


@pytest.mark.parametrize("cls, hook, dict_name", CALLBACK_HOOKS)
def test_callback_class_signatures(cls, hook, dict_name):
    assert issubclass(cls, EventCallback)
    assert "__init__" not in cls.__dict__
    assert _params(cls.__dict__["on_event"]) == [("self", _EMPTY), ("event", _EMPTY)]
    assert _params(cls.__dict__[hook]) == [("self", _EMPTY), (dict_name, _EMPTY),
                                           ("original_event", _EMPTY)]


def test_no_other_callback_classes():
    classes = {name for name, value in vars(dxltieclient.callbacks).items()
               if inspect.isclass(value) and issubclass(value, EventCallback)
               and value is not EventCallback}
    assert classes == {"ReputationChangeCallback", "DetectionCallback", "FirstInstanceCallback",
                       "FilePrevalenceCallback"}


CONSTANT_HELPERS = [
    ("EpochMixin", "to_localtime", [("epoch_time", _EMPTY)]),
    ("EpochMixin", "to_localtime_string", [("epoch_time", _EMPTY),
                                           ("format", "%Y-%m-%d %H:%M:%S")]),
    ("EnterpriseAttrib", "to_version_tuple", [("version_attrib", _EMPTY)]),
    ("EnterpriseAttrib", "to_version_string", [("version_attrib", _EMPTY)]),
    ("FileEnterpriseAttrib", "to_aggregate_tuple", [("aggregate_attrib", _EMPTY)]),
]


@pytest.mark.parametrize("cls_name, name, expected", CONSTANT_HELPERS)
def test_constants_helper_signatures(cls_name, name, expected):
    cls = getattr(dxltieclient.constants, cls_name)
    assert isinstance(cls.__dict__[name], staticmethod)
    assert _params(getattr(cls, name)) == expected
