"""
The exceptions raised by :mod:`dxltieclient` (re-exported by the package).

The whole tree::

    Exception
     └─ TieError                        any error raised by this library
         ├─ TieBulkStoppedError          a bulk call was stopped (its ``stop`` event set) before
         │                               this item was sent: it was not applied
         ├─ TieInputError (ValueError)   an argument was refused before anything was sent
         │   ├─ InvalidHashError (binascii.Error)
         │   │                           a hash has an unknown type, non-hex digits or a bad length
         │   └─ TieInputTypeError (TypeError)
         │                               an argument has the wrong type where the call used to
         │                               raise TypeError (a non-iterable bulk input, a
         │                               non-number response_timeout); not exported: catch it
         │                               as TieInputError or TypeError
         ├─ TieNotConnectedError (dxlclient WaitTimeoutException)
         │                               the DXL client is not connected, or lost its connection
         │                               before the response arrived
         ├─ TieServiceError              the fabric or the TIE service answered with an error
         │   └─ TieServiceNotFoundError  no service answered on the topic (code 0x80000001)
         └─ TieTimeoutError (dxlclient WaitTimeoutException)
                                         no response arrived within ``response_timeout``

Every class also derives from the exception type the original dxltieclient raised in the same
situation (``ValueError``, ``binascii.Error``, ``TypeError``, ``Exception``,
``WaitTimeoutException``), so existing ``except`` clauses keep working.

Messages quote at most a bounded prefix of a bad value (see :func:`quote`).
"""

from __future__ import annotations

import binascii
import reprlib
from typing import Any

from dxlclient.exceptions import WaitTimeoutException


def _signed32(code: int) -> int:
    """A broker error code as the real broker encodes it and dxlclient reads it (signed)."""
    return code - (1 << 32) if code >= 1 << 31 else code


#: The DXL broker's error code for a request no service handles (``0x80000001``), as the broker
#: sends it and dxlclient reads it: a signed 32-bit number.
SERVICE_NOT_FOUND_CODE = _signed32(0x80000001)
#: The DXL broker's error message for a request no service handles.
SERVICE_NOT_FOUND_MESSAGE = "unable to locate service for request"
#: The DXL broker's error code for an overloaded service (``0x80000002``), signed.
SERVICE_OVERLOADED_CODE = _signed32(0x80000002)
#: The DXL broker's error code for a service whose request limit is exceeded (``0x80000011``),
#: signed.
SERVICE_LIMIT_EXCEEDED_CODE = _signed32(0x80000011)

#: The error code the DXL broker answers with when no service is registered for a request's topic
#: (``0x80000001``, read by dxlclient as a signed 32-bit number).
SERVICE_NOT_FOUND_CODES = (0x80000001, SERVICE_NOT_FOUND_CODE)

#: The most characters of a bad value an error message quotes.
QUOTE_LIMIT = 80

_REPR = reprlib.Repr()
_REPR.maxstring = _REPR.maxother = QUOTE_LIMIT
_REPR.maxlist = _REPR.maxtuple = _REPR.maxdict = _REPR.maxset = _REPR.maxfrozenset = 8


def quote(value: Any, limit: int = QUOTE_LIMIT) -> str:
    """
    Renders a value for an error message, bounded: a string longer than ``limit`` becomes the
    ``repr`` of its first ``limit`` characters followed by ``... (N characters)`` (``bytes``:
    ``N bytes``); any other value is the :mod:`reprlib` rendering (containers shortened),
    cut to ``2 * limit`` characters.

    :param value: the bad value
    :param limit: the most characters (or bytes) of a string to quote
    :return: the text to put in the message
    """
    if isinstance(value, (str, bytes, bytearray)):
        if len(value) <= limit:
            return repr(value)
        unit = "characters" if isinstance(value, str) else "bytes"
        return "{!r}... ({} {})".format(value[:limit], len(value), unit)
    text = _REPR.repr(value)
    if len(text) > 2 * limit:
        text = "{}... ({} characters)".format(text[:2 * limit], len(text))
    return text


class TieError(Exception):
    """The root of every exception raised by :mod:`dxltieclient`."""


class TieInputError(TieError, ValueError):
    """An argument was refused before anything was sent to the fabric."""


class TieInputTypeError(TieInputError, TypeError):
    """
    An argument has the wrong type where the call used to raise a plain :class:`TypeError` (a
    bulk input that is not iterable, a ``response_timeout`` that is not a number). It is not
    exported: catch it as :class:`TieInputError` (or :class:`ValueError`) or as
    :class:`TypeError`.
    """


class InvalidHashError(TieInputError, binascii.Error):
    """
    A hash has an unknown type, is not hexadecimal or has the wrong length for its type.

    It also derives from :class:`binascii.Error`, which the original library let escape for
    non-hexadecimal input.
    """


class TieServiceError(TieError):
    """
    The fabric or the TIE service answered a request with an error response.

    The text is the same as the original library's: ``Error: <message> (<code>)``.

    :param error_message: the error message of the response
    :param error_code: the error code of the response
    :param topic: the topic of the request, when known
    """

    def __init__(self, error_message: str, error_code: int, topic: str | None = None) -> None:
        #: The error message sent by the fabric or the service.
        self.error_message = error_message
        #: The error code sent by the fabric or the service.
        self.error_code = error_code
        #: The topic of the request that failed (``None`` when unknown).
        self.topic = topic
        super().__init__(self._describe())

    def _describe(self) -> str:
        return "Error: {} ({})".format(self.error_message, self.error_code)

    def __reduce__(self) -> "tuple[type, tuple[str, int, str | None]]":
        # Rebuilt from the constructor's arguments (pickling, copying, multiprocessing).
        return (type(self), (self.error_message, self.error_code, self.topic))


class TieServiceNotFoundError(TieServiceError):
    """
    The DXL broker found no service for the request's topic (error code ``0x80000001``): no TIE
    server is registered on the fabric for that topic, or this client is not authorized to reach
    it.
    """

    def _describe(self) -> str:
        where = " on topic {}".format(self.topic) if self.topic else ""
        return (
            "{}: no TIE server answered{}. Check that a TIE server is running and connected to "
            "this DXL fabric, and that this client's certificate is authorized for the topic's "
            "authorization group in ePO.".format(super()._describe(), where)
        )


class TieTimeoutError(TieError, WaitTimeoutException):
    """
    No response arrived within the client's ``response_timeout``.

    It also derives from :class:`dxlclient.exceptions.WaitTimeoutException`, which the original
    library let escape. The most common cause is a client that is not authorized to send on the
    topic: the broker drops such requests silently.

    A request that timed out may still have been applied: a response can be late or lost after
    TIE stored a set. Re-read the reputation to know, or simply send the set again (setting the
    same reputation twice is harmless).
    """


class TieNotConnectedError(TieError, WaitTimeoutException):
    """
    The DXL client is not connected to a broker, so the request was not sent; or the connection
    was lost after the request was sent and before its response arrived, in which case the
    request may or may not have been applied (see :attr:`sent`).

    A call on a disconnected client fails at once (a bulk call fails every item at once) rather
    than waiting for its timeout; when dxlclient is reconnecting, the call first waits for the
    reconnection, at most its timeout once. It also derives from
    :class:`dxlclient.exceptions.WaitTimeoutException`, which the original library raised (after
    the whole timeout) in this situation.

    :param message: the text
    :param topic: the topic of the request
    :param sent: whether the request had been sent when the connection was found lost
    """

    def __init__(self, message: str, topic: str | None = None, sent: bool = False) -> None:
        super().__init__(message)
        #: The topic of the request (``None`` when unknown).
        self.topic = topic
        #: ``True`` when the request was sent before the connection was lost: it may have
        #: been applied.
        self.sent = sent

    def __reduce__(self) -> "tuple[type, tuple[str, str | None, bool]]":
        return (type(self), (str(self), self.topic, self.sent))


class TieBulkStoppedError(TieError):
    """
    The item of a bulk call was not sent because the call was stopped: its ``stop`` event was set
    before the item's turn came. The request was not sent, so it was not applied; send the item
    again to apply it.

    :param message: the text
    :param topic: the topic of the request
    """

    def __init__(self, message: str, topic: str | None = None) -> None:
        super().__init__(message)
        #: The topic of the request (``None`` when unknown).
        self.topic = topic

    def __reduce__(self) -> "tuple[type, tuple[str, str | None]]":
        return (type(self), (str(self), self.topic))


def stopped_error(topic: str) -> TieBulkStoppedError:
    """
    Builds the exception for a bulk item not sent because the call's ``stop`` event was set.

    :param topic: the topic of the request
    :return: the exception
    """
    return TieBulkStoppedError(
        "Not sent: the bulk call was stopped (its stop event was set) before this item's request "
        "on topic {} was sent, so it was not applied. Send the item again to apply it.".format(
            topic), topic)


def not_connected_error(topic: str, sent: bool = False) -> TieNotConnectedError:
    """
    Builds the exception for a request made on, or interrupted by, a lost connection.

    :param topic: the topic of the request
    :param sent: ``False``: the request was not sent; ``True``: it was sent, and the connection
        was lost before its response arrived
    :return: the exception
    """
    if sent:
        text = ("The connection to the DXL broker was lost before the response to the request "
                "on topic {} arrived: the request may or may not have been applied. Once the "
                "client is connected again, re-read the value, or re-send the request (setting "
                "a reputation again is harmless).".format(topic))
    else:
        text = ("The DXL client is not connected to a broker: the request on topic {} was not "
                "sent. Connect it first (DxlClient.connect()), or check the broker and the "
                "client's reconnection settings.".format(topic))
    return TieNotConnectedError(text, topic, sent)


def service_error(error_message: str, error_code: int, topic: str | None = None) -> TieServiceError:
    """
    Builds the exception for an error response.

    :param error_message: the error message of the response
    :param error_code: the error code of the response
    :param topic: the topic of the request
    :return: a :class:`TieServiceNotFoundError` for the broker's "no service" code, else a
        :class:`TieServiceError`
    """
    if error_code in SERVICE_NOT_FOUND_CODES:
        return TieServiceNotFoundError(error_message, error_code, topic)
    return TieServiceError(error_message, error_code, topic)


def timeout_error(original: Exception, topic: str, timeout: float) -> TieTimeoutError:
    """
    Builds the exception for a request that received no response in time.

    :param original: dxlclient's timeout exception
    :param topic: the topic of the request
    :param timeout: the timeout that was exceeded, in seconds
    :return: the exception, whose text starts with dxlclient's own
    """
    return TieTimeoutError(
        "{} (no response on topic {} within {} s; if the TIE server is running, check that this "
        "client is authorized to send on the topic: the broker drops unauthorized messages "
        "silently; a set request that timed out may still have been applied: re-read it, or "
        "re-send it)".format(original, topic, timeout)
    )
