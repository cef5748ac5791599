"""Error responses and timeouts (TIE-SPEC 2.1, 8.8) and the exception tree."""

import binascii
import re

import pytest
from dxlclient.exceptions import DxlException, WaitTimeoutException

import dxltieclient
from dxltieclient import (
    InvalidHashError,
    TieError,
    TieInputError,
    TieServiceError,
    TieServiceNotFoundError,
    TieTimeoutError,
)
from dxltieclient.client import (
    TIE_GET_CERT_FIRST_REFS,
    TIE_GET_CERT_REPUTATION_TOPIC,
    TIE_GET_FILE_FIRST_REFS,
    TIE_GET_FILE_REPUTATION_TOPIC,
    TIE_SET_CERT_REPUTATION_TOPIC,
    TIE_SET_FILE_REPUTATION_TOPIC,
)

MD5 = "f2c7bb8acc97f92e987a2d4087d021b1"
CERT_SHA1 = "1c26e2037c8e205b452cab3565d696512207d66d"

SYNC_METHODS = [
    ("set_file_reputation", (99, {"md5": MD5}), TIE_SET_FILE_REPUTATION_TOPIC),
    ("get_file_reputation", ({"md5": MD5},), TIE_GET_FILE_REPUTATION_TOPIC),
    ("get_file_first_references", ({"md5": MD5},), TIE_GET_FILE_FIRST_REFS),
    ("set_certificate_reputation", (99, CERT_SHA1), TIE_SET_CERT_REPUTATION_TOPIC),
    ("get_certificate_reputation", (CERT_SHA1,), TIE_GET_CERT_REPUTATION_TOPIC),
    ("get_certificate_first_references", (CERT_SHA1,), TIE_GET_CERT_FIRST_REFS),
]
IDS = [m[0] for m in SYNC_METHODS]


@pytest.mark.parametrize("method, args, topic", SYNC_METHODS, ids=IDS)
def test_error_response_raises_service_error(tie, fake, method, args, topic):
    fake.reply_error(0, "Could not find reputation")
    with pytest.raises(Exception, match=r"Error: Could not find reputation \(0\)") as info:
        getattr(tie, method)(*args)
    error = info.value
    assert type(error) is TieServiceError
    assert isinstance(error, Exception) and isinstance(error, TieError)
    assert str(error) == "Error: Could not find reputation (0)"
    assert error.error_code == 0
    assert error.error_message == "Could not find reputation"
    assert len(fake.requests) == 1


@pytest.mark.parametrize("code, message", [(1, "x"), (-5, "Bad request"), (0x80000002, ""),
                                           (404, "unable to locate service")])
def test_other_error_codes(tie, fake, code, message):
    fake.reply_error(code, message)
    with pytest.raises(TieServiceError) as info:
        tie.get_file_reputation({"md5": MD5})
    assert type(info.value) is TieServiceError
    assert str(info.value) == "Error: {} ({})".format(message, code)
    assert (info.value.error_code, info.value.error_message) == (code, message)


@pytest.mark.parametrize("code", [-2147483647, 0x80000001])
@pytest.mark.parametrize("method, args, topic", SYNC_METHODS, ids=IDS)
def test_service_not_found(tie, fake, method, args, topic, code):
    fake.reply_error(code, "unable to locate service for request")
    with pytest.raises(TieServiceNotFoundError) as info:
        getattr(tie, method)(*args)
    error = info.value
    assert isinstance(error, TieServiceError) and isinstance(error, Exception)
    text = str(error)
    assert "Error: unable to locate service for request ({})".format(code) in text
    assert re.search(r"Error: unable to locate service for request \(-?\d+\)", text)
    assert topic in text
    assert "check" in text.lower()
    assert error.error_code == code
    assert error.error_message == "unable to locate service for request"


def test_service_not_found_spec_text(tie, fake):
    fake.reply_error(-2147483647, "unable to locate service for request")
    with pytest.raises(Exception,
                       match=r"Error: unable to locate service for request \(-2147483647\)"):
        tie.get_file_reputation({"md5": MD5})


@pytest.mark.parametrize("method, args, topic", SYNC_METHODS, ids=IDS)
def test_timeout(tie, fake, method, args, topic):
    fake.reply_timeout()
    with pytest.raises(WaitTimeoutException) as info:
        getattr(tie, method)(*args)
    error = info.value
    assert isinstance(error, TieTimeoutError)
    assert isinstance(error, DxlException) and isinstance(error, TieError)
    message_id = fake.requests[0].request.message_id
    assert str(error).startswith("Timeout waiting for response to message: " + message_id)
    assert isinstance(error.__cause__, WaitTimeoutException)
    assert not isinstance(error.__cause__, TieTimeoutError)


def test_timeout_caught_as_plain_wait_timeout(tie, fake):
    fake.reply_timeout()
    try:
        tie.get_file_reputation({"md5": MD5})
    except WaitTimeoutException as error:
        assert "Timeout waiting for response to message: " in str(error)
    else:
        pytest.fail("no timeout raised")


def test_client_keeps_working_after_errors(tie, fake):
    fake.reply_error(0, "Could not find reputation").reply_timeout().reply_json(
        {"reputations": [{"providerId": 1}]})
    with pytest.raises(TieServiceError):
        tie.get_file_reputation({"md5": MD5})
    with pytest.raises(TieTimeoutError):
        tie.get_file_reputation({"md5": MD5})
    assert tie.get_file_reputation({"md5": MD5}) == {1: {"providerId": 1}}


def test_other_dxl_exceptions_pass_through(tie, fake, monkeypatch):
    def boom(request, timeout=None):
        raise DxlException("Synchronous requests may not be invoked while handling an "
                           "incoming message.")
    monkeypatch.setattr(fake, "sync_request", boom)
    with pytest.raises(DxlException, match="Synchronous requests may not be invoked"):
        tie.get_file_reputation({"md5": MD5})


# -- the exception tree ---------------------------------------------------------------------------

@pytest.mark.parametrize("cls, bases", [
    (TieError, (Exception,)),
    (TieInputError, (TieError, ValueError)),
    (InvalidHashError, (TieInputError, ValueError, binascii.Error)),
    (TieServiceError, (TieError, Exception)),
    (TieServiceNotFoundError, (TieServiceError,)),
    (TieTimeoutError, (TieError, WaitTimeoutException, DxlException)),
])
def test_exception_tree(cls, bases):
    for base in bases:
        assert issubclass(cls, base)


@pytest.mark.parametrize("cls", [TieServiceError, TieInputError, TieTimeoutError])
def test_exceptions_are_not_input_and_service_at_once(cls):
    others = {TieServiceError, TieInputError, TieTimeoutError} - {cls}
    assert not any(issubclass(cls, other) for other in others)


def test_exceptions_are_exported():
    for name in ("TieError", "TieInputError", "InvalidHashError", "TieServiceError",
                 "TieServiceNotFoundError", "TieTimeoutError"):
        assert getattr(dxltieclient, name).__name__ == name


@pytest.mark.parametrize("error", [
    dxltieclient.TieServiceError("Could not find reputation", 0,
                                 "/mcafee/service/tie/file/reputation"),
    dxltieclient.TieServiceNotFoundError("unable to locate service for request", -2147483647,
                                         "/mcafee/service/tie/file/reputation"),
])
def test_service_errors_survive_pickling_and_copying(error):
    import copy
    import pickle

    for clone in (pickle.loads(pickle.dumps(error)), copy.copy(error)):
        assert type(clone) is type(error)
        assert str(clone) == str(error)
        assert (clone.error_message, clone.error_code, clone.topic) == (
            error.error_message, error.error_code, error.topic)
