"""
The exit codes of the ``dxltie`` command and the exception that carries one.

======  =============================================================================
code    meaning
======  =============================================================================
0       success
1       some items failed (a lookup or an import row), or TIE answered with an error
2       usage error or bad input: bad option, bad hash, unknown trust level or file
        type, unreadable input file
3       no DXL client configuration was found, or it (or a certificate file it names) is
        unreadable
4       no DXL broker could be reached, or the TLS handshake or the MQTT connection failed
5       no TIE service answered on the fabric (:class:`~dxltieclient.TieServiceNotFoundError`)
6       TIE did not answer in time (:class:`~dxltieclient.TieTimeoutError`)
130     interrupted (Ctrl+C, or SIGTERM during ``import``); ``listen`` exits 0 instead
======  =============================================================================
"""

from __future__ import annotations

#: Success.
EXIT_OK = 0
#: Some items failed (lookups or import rows), or TIE answered with an error.
EXIT_FAILED = 1
#: Usage error or bad input (bad hash, unknown trust level, unreadable file).
EXIT_USAGE = 2
#: The DXL client configuration is missing or unreadable.
EXIT_CONFIG = 3
#: No DXL broker could be reached.
EXIT_BROKER = 4
#: No TIE service answered on the fabric.
EXIT_NO_SERVICE = 5
#: TIE did not answer in time.
EXIT_TIMEOUT = 6
#: Interrupted by the user.
EXIT_INTERRUPTED = 130

#: The exit codes table printed at the end of ``dxltie --help``.
EXIT_CODES_HELP = """\
exit codes:
  0  success
  1  some items failed (lookups or import rows), or TIE answered with an error
  2  usage error or bad input (bad hash, unknown trust level, unreadable file)
  3  no DXL client configuration found, or it is unreadable
  4  DXL broker unreachable, or TLS/MQTT connection refused (the reason is printed)
  5  no TIE service on the fabric
  6  TIE did not answer in time (see --timeout)
  130  interrupted (Ctrl+C; SIGTERM during import); listen exits 0
"""


class CliError(Exception):
    """
    An expected error: the command stops, prints the message (no traceback) and exits with
    :attr:`exit_code`.

    :param message: what went wrong, and what to do about it
    :param exit_code: the process exit code (one of the ``EXIT_*`` constants)
    """

    def __init__(self, message: str, exit_code: int = EXIT_USAGE) -> None:
        super().__init__(message)
        #: The process exit code.
        self.exit_code = exit_code
