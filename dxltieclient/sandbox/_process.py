"""Background processes of the sandbox: start detached, check, stop by PID (all waits bounded)."""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import time
from typing import Dict, Optional, Sequence

from .errors import ProcessError

__all__ = [
    "ProcessError", "start_detached", "start_attached", "is_running", "wait_exit", "stop",
    "signal_process", "port_accepts", "free_port", "log_tail", "rotate_log",
]

_logger = logging.getLogger(__name__)

#: The umask of the sandbox's processes: what they create (stores, logs) is their owner's only.
CHILD_UMASK = 0o077
#: A process log larger than this is rotated (to ``LOG.1``) when the process starts.
LOG_MAX_BYTES = 10 * 1024 * 1024

# Children started by this Python process, so that they can be reaped (a zombie still has a PID).
_children: Dict[int, "subprocess.Popen[bytes]"] = {}


def rotate_log(log_file: str, max_bytes: int = LOG_MAX_BYTES) -> bool:
    """
    Renames ``log_file`` to ``log_file.1`` (replacing an older one) if it is larger than
    ``max_bytes``.

    :param log_file: the log file
    :param max_bytes: the size above which it is rotated
    :return: whether it was rotated
    """
    try:
        if os.path.getsize(log_file) <= max_bytes:
            return False
        os.replace(log_file, log_file + ".1")
    except OSError:
        return False
    return True


def _open_log(log_file: str) -> int:
    """Opens a log for appending, mode ``0600`` when created (whatever the umask)."""
    rotate_log(log_file)
    return os.open(log_file, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)


def start_detached(
    argv: Sequence[str], log_file: str, env: Optional[Dict[str, str]] = None
) -> int:
    """
    Starts a background process in its own session, stdin from ``/dev/null`` and stdout and
    stderr appended to ``log_file`` (rotated first if it is over :data:`LOG_MAX_BYTES`), umask
    :data:`CHILD_UMASK`.

    :param argv: the command line
    :param log_file: the log file
    :param env: the environment (default: this process's)
    :return: the process id
    """
    with os.fdopen(_open_log(log_file), "ab") as log:
        proc = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            close_fds=True,
            env=env,
            umask=CHILD_UMASK,
        )
    _children[proc.pid] = proc
    _logger.debug("Started %s (pid %d), log %s", argv[0], proc.pid, log_file)
    return proc.pid


def start_attached(argv: Sequence[str], env: Optional[Dict[str, str]] = None) -> int:
    """
    Starts a process that shares this process's stdout and stderr (foreground mode), in its own
    session so that Ctrl-C reaches only this process, which then stops it in order; umask
    :data:`CHILD_UMASK`.

    :param argv: the command line
    :param env: the environment (default: this process's)
    :return: the process id
    """
    proc = subprocess.Popen(list(argv), stdin=subprocess.DEVNULL, start_new_session=True,
                            close_fds=True, env=env, umask=CHILD_UMASK)
    _children[proc.pid] = proc
    return proc.pid


def _reap(pid: int) -> bool:
    """Reaps ``pid`` if it is a finished child of this process; returns True if it is gone."""
    proc = _children.get(pid)
    if proc is not None:
        if proc.poll() is not None:
            del _children[pid]
            return True
        return False
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
        return done == pid
    except ChildProcessError:
        return False
    except OSError:
        return False


def _command_line(pid: int) -> Optional[str]:
    try:
        with open("/proc/{}/cmdline".format(pid), "rb") as cmdline:
            return cmdline.read().replace(b"\0", b" ").decode("utf-8", "replace")
    except OSError:
        pass
    if sys.platform.startswith("linux"):
        return None
    try:
        out = subprocess.run(
            ["ps", "-p", str(pid), "-o", "command="], capture_output=True, timeout=5, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    text = out.stdout.decode("utf-8", "replace").strip()
    return text or None


def _is_zombie(pid: int) -> bool:
    try:
        with open("/proc/{}/stat".format(pid), "rb") as stat:
            fields = stat.read().rsplit(b")", 1)[-1].split()
        return bool(fields) and fields[0] == b"Z"
    except OSError:
        return False


def is_running(pid: Optional[int], marker: Optional[str] = None) -> bool:
    """
    Checks that a process runs (not a zombie) and, if ``marker`` is given, that its command line
    contains it (a saved PID may have been reused by an unrelated process).

    :param pid: the process id (``None``: not running)
    :param marker: a string the process's command line must contain
    :return: whether the process runs
    """
    if not pid or pid <= 0:
        return False
    child = _children.get(pid)
    if child is not None:
        # Our own child: poll() is exact (and reaps it), and its command line is what we started.
        # Reading /proc/PID/cmdline instead can return an empty string while it is being exec'd.
        if child.poll() is None:
            return True
        del _children[pid]
        return False
    if _reap(pid):
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return False  # another user's process: certainly not ours
    if _is_zombie(pid):
        return False
    if marker is not None:
        cmdline = _command_line(pid)
        if cmdline and marker not in cmdline:
            return False
    return True


def wait_exit(pid: int, timeout: float, marker: Optional[str] = None) -> bool:
    """
    Waits (bounded) for a process to exit.

    :param pid: the process id
    :param timeout: the longest wait, in seconds
    :param marker: see :func:`is_running`
    :return: whether the process has exited
    """
    deadline = time.monotonic() + timeout
    delay = 0.005
    while is_running(pid, marker):
        if time.monotonic() >= deadline:
            return False
        time.sleep(delay)
        delay = min(delay * 2, 0.1)
    return True


def stop(pid: Optional[int], marker: Optional[str] = None, timeout: float = 10.0) -> None:
    """
    Stops a process: SIGTERM (and SIGCONT, so that a stopped process handles it), a bounded
    wait, then SIGKILL (and another bounded wait).

    :param pid: the process id (``None`` or not running: nothing to do)
    :param marker: see :func:`is_running`
    :param timeout: how long to wait after SIGTERM before SIGKILL, in seconds
    :raises ProcessError: if the process survives SIGKILL
    """
    if not is_running(pid, marker):
        return
    assert pid is not None
    try:
        os.kill(pid, signal.SIGTERM)
        os.kill(pid, signal.SIGCONT)
    except ProcessLookupError:
        return
    if wait_exit(pid, timeout, marker):
        return
    _logger.warning("Process %d did not exit within %.0f s of SIGTERM: killing it", pid, timeout)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        return
    if not wait_exit(pid, 5.0, marker):
        raise ProcessError("Process {} survived SIGKILL".format(pid))


def signal_process(pid: Optional[int], signum: int, marker: Optional[str] = None) -> bool:
    """
    Sends a signal to a process if it runs.

    :param pid: the process id
    :param signum: the signal
    :param marker: see :func:`is_running`
    :return: whether the signal was sent
    """
    if not is_running(pid, marker):
        return False
    assert pid is not None
    try:
        os.kill(pid, signum)
    except ProcessLookupError:
        return False
    return True


def port_accepts(host: str, port: int, timeout: float = 0.5) -> bool:
    """
    :param host: the address
    :param port: the TCP port
    :param timeout: connection timeout, in seconds
    :return: whether a TCP connection to the port succeeds
    """
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def free_port(host: str = "127.0.0.1") -> int:
    """
    :param host: the address to bind
    :return: a TCP port that was free on ``host`` a moment ago
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def log_tail(path: str, lines: int = 15) -> str:
    """
    :param path: a log file
    :param lines: how many lines
    :return: the last lines of the file (empty if it cannot be read)
    """
    try:
        with open(path, "rb") as log:
            log.seek(0, os.SEEK_END)
            size = log.tell()
            log.seek(max(0, size - 8192))
            data = log.read().decode("utf-8", "replace")
    except OSError:
        return ""
    return "\n".join(data.splitlines()[-lines:])
