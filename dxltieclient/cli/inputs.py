"""
Expands the targets of the lookup commands: each ``-`` argument stands for the lines of standard
input (one target per line; blank lines and lines starting with ``#`` are skipped).
"""

from __future__ import annotations

import sys
from typing import List, Optional, Sequence, TextIO, Tuple

from .errors import EXIT_USAGE, CliError

#: The argument that stands for standard input.
STDIN = "-"


def read_lines(stream: TextIO, name: str = "stdin") -> List[Tuple[str, str]]:
    """
    Reads targets, one per line.

    :param stream: the text stream
    :param name: how to name the stream in the labels
    :return: ``(label, target)`` pairs, the label naming the line (``stdin:3``)
    """
    targets = []
    for number, line in enumerate(stream, start=1):
        text = line.strip()
        if text and not text.startswith("#"):
            targets.append(("{}:{}".format(name, number), text))
    return targets


def expand(arguments: Sequence[str], stdin: Optional[TextIO] = None) -> List[Tuple[str, str]]:
    """
    Expands ``-`` (at most once) into the lines of standard input.

    :param arguments: the command's target arguments
    :param stdin: the stream read for ``-`` (default: :data:`sys.stdin`)
    :return: ``(label, target)`` pairs in order; a label is the argument itself, or
        ``stdin:LINE``
    :raises CliError: (exit code 2) when ``-`` is given twice, or standard input holds no target
    """
    if list(arguments).count(STDIN) > 1:
        raise CliError("give - (standard input) at most once", EXIT_USAGE)
    targets: List[Tuple[str, str]] = []
    for argument in arguments:
        if argument != STDIN:
            targets.append((argument, argument))
            continue
        lines = read_lines(stdin if stdin is not None else sys.stdin)
        if not lines:
            raise CliError("no target on standard input (one per line expected)", EXIT_USAGE)
        targets.extend(lines)
    return targets
