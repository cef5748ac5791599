"""
The samples run the way the original project's sample tests ran them (TIE-SPEC 10.2): copied to a
temporary file in the same folder, with the hash assignment lines rewritten, executed in-process
by ``exec`` with globals holding only ``__file__``, and the builtin ``print`` patched.

This holds the samples to that contract: they find everything from ``__file__``, print through
the builtin ``print`` (one call per line), never print ``Error`` on success, and finish.
"""

import hashlib
import logging
import os
import sys
import tempfile
import uuid
from unittest import mock

import pytest

from dxltieclient import FileProvider, ReputationProp, TrustLevel

#: The assignment lines the original tests rewrite (TIE-SPEC 6.2).
ASSIGNMENT_PREFIXES = ("FILE_MD5 = ", "FILE_SHA1 = ", "FILE_SHA256 = ", "fileMD5 = ",
                       "fileSHA1 = ", "fileSHA256 = ", "CERTIFICATE_BODY_SHA1 = ",
                       "CERTIFICATE_PUBLIC_KEY_SHA1 = ")

NOTEPAD = {"md5": "f2c7bb8acc97f92e987a2d4087d021b1",
           "sha1": "7eb0139d2175739b3ccb0d1110067820be6abd29",
           "sha256": "142e1d688ef0568370c37187fd9f2351d7ddeda574f8bfa9b0fa4ef42db85aa2"}
CERTIFICATE = {"CERTIFICATE_BODY_SHA1 = ": "6EAE26DB8C13182A7947982991B4321732CC3DE2",
               "CERTIFICATE_PUBLIC_KEY_SHA1 = ": "3B87A2D6F39770160364B79A152FCC73BAE27ADF"}


def assignments(hashes):
    """The rewritten assignment lines' values: the given file hashes, the example certificate."""
    values = dict(CERTIFICATE)
    for prefix_md5, prefix_sha1, prefix_sha256 in (("FILE_MD5 = ", "FILE_SHA1 = ",
                                                    "FILE_SHA256 = "),
                                                   ("fileMD5 = ", "fileSHA1 = ",
                                                    "fileSHA256 = ")):
        values[prefix_md5] = hashes["md5"]
        values[prefix_sha1] = hashes["sha1"]
        values[prefix_sha256] = hashes["sha256"]
    assert sorted(values) == sorted(ASSIGNMENT_PREFIXES)
    return values


def new_file_hashes():
    """The hashes of a file the sandbox has never seen."""
    content = uuid.uuid4().bytes
    return {"md5": hashlib.md5(content).hexdigest(), "sha1": hashlib.sha1(content).hexdigest(),
            "sha256": hashlib.sha256(content).hexdigest()}


@pytest.fixture
def exec_sample(sample_tree):
    """
    Runs a sample of ``sample_tree`` in-process, the original way; returns the printed lines.

    Python's global state the samples touch (``sys.path``, the ``common`` module, the root
    logger) is restored afterwards.
    """
    saved_path = list(sys.path)
    saved_common = sys.modules.pop("common", None)
    root = logging.getLogger()
    saved_handlers, saved_level = list(root.handlers), root.level

    def run(relative_path, values):
        path = os.path.join(str(sample_tree), relative_path)
        with open(path) as sample_file:
            source_lines = sample_file.read().splitlines(True)
        rewritten = []
        for line in source_lines:
            for prefix, value in values.items():
                if line.startswith(prefix):
                    line = "{}{!r}\n".format(prefix, value)
            rewritten.append(line)
        handle, temp_path = tempfile.mkstemp(suffix=".py", dir=os.path.dirname(path))
        try:
            with os.fdopen(handle, "w") as temp_file:
                temp_file.write("".join(rewritten))
            with open(temp_path) as temp_file:
                code = compile(temp_file.read(), temp_path, "exec")
            with mock.patch("builtins.print") as mock_print:
                exec(code, {"__file__": temp_path})
        finally:
            os.remove(temp_path)
        printed = []
        for call in mock_print.call_args_list:
            assert len(call.args) == 1, "one argument per print call: {}".format(call)
            printed.append(str(call.args[0]))
        assert not any("Error" in text for text in printed), printed
        return printed

    yield run

    sys.path[:] = saved_path
    sys.modules.pop("common", None)
    if saved_common is not None:
        sys.modules["common"] = saved_common
    root.handlers[:] = saved_handlers
    root.setLevel(saved_level)


def test_get_reputation(exec_sample):
    printed = exec_sample("basic/basic_get_reputation_example.py", assignments(NOTEPAD))

    assert printed[0] == "Notepad.exe reputations:"
    assert '"trustLevel": 99' in printed[1]
    assert "EICAR reputations:" in printed


def test_set_reputation_uses_the_rewritten_hashes(exec_sample, tie_client):
    hashes = new_file_hashes()

    printed = exec_sample("basic/basic_set_reputation_example.py", assignments(hashes))

    assert printed == ["Succeeded."]
    reputations = tie_client.get_file_reputation(hashes)
    assert reputations[FileProvider.ENTERPRISE][ReputationProp.TRUST_LEVEL] == \
        TrustLevel.KNOWN_TRUSTED


def test_set_external_reputation_aborts_for_a_known_file(exec_sample):
    printed = exec_sample("basic/basic_set_external_file_reputation.py", assignments(NOTEPAD))

    assert printed == ["Abort: There is a reputation from another provider for the file, "
                       "External Reputation is not necessary."]


def test_set_external_reputation_sends_for_a_new_file(exec_sample):
    printed = exec_sample("basic/basic_set_external_file_reputation.py",
                          assignments(new_file_hashes()))

    assert printed == ["Event Sent"]


def test_first_references(exec_sample):
    printed = exec_sample("basic/basic_first_ref_example.py", assignments(NOTEPAD))

    assert printed[:3] == ["", "Systems that have referenced the file:", ""]
    assert printed[3:] and all(line.startswith("\t{") for line in printed[3:])


def test_advanced_get_reputation(exec_sample):
    printed = exec_sample("advanced/advanced_get_reputation_example.py", assignments(NOTEPAD))

    assert printed[:2] == ["File reputation response:",
                           "\tGlobal Threat Intelligence (GTI) trust level: 99"]
    assert "Certificate reputation response:" in printed
