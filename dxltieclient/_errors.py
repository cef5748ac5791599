"""
The exceptions raised by :mod:`dxltieclient` (re-exported by the package).

The whole tree::

    Exception
     └─ TieError                        any error raised by this library
         ├─ TieInputError (ValueError)   an argument was refused before anything was sent
         │   └─ InvalidHashError (binascii.Error)
         │                               a hash has an unknown type, non-hex digits or a bad length
         ├─ TieServiceError              the fabric or the TIE service answered with an error
         │   └─ TieServiceNotFoundError  no service answered on the topic (code 0x80000001)
         └─ TieTimeoutError (dxlclient WaitTimeoutException)
                                         no response arrived within ``response_timeout``

Every class also derives from the exception type the original dxltieclient raised in the same
situation (``ValueError``, ``binascii.Error``, ``Exception``, ``WaitTimeoutException``), so existing
``except`` clauses keep working.
"""

from __future__ import annotations

import binascii

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


class TieError(Exception):
    """The root of every exception raised by :mod:`dxltieclient`."""


class TieInputError(TieError, ValueError):
    """An argument was refused before anything was sent to the fabric."""


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
    """


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
        "silently)".format(original, topic, timeout)
    )
