"""
The sandbox's state on disk: ``sandbox.json`` and ``clients.json``, read and written under an
exclusive lock (``fcntl.flock`` on ``DIR/.lock``, bounded wait), each write atomic (a temporary
file renamed over the old one), so that several processes can drive one sandbox.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import threading
import time
from typing import Any, Dict, Iterator, Mapping, Optional

from .errors import SandboxLockError, SandboxStateError
from .paths import SandboxPaths, make_private_dir

#: How long to wait for another process's operation on the sandbox, in seconds.
LOCK_TIMEOUT = 120.0


def write_json_atomically(path: str, value: Mapping[str, Any]) -> None:
    """
    Writes JSON to ``path`` atomically (mode ``0644``): a complete temporary file in the same
    directory, flushed to disk, then renamed over ``path``.

    :param path: the file
    :param value: what to write
    """
    data = (json.dumps(value, indent=2, sort_keys=True) + "\n").encode("utf-8")
    tmp_path = "{}.{}.{}.tmp".format(path, os.getpid(), threading.get_ident())
    fd = os.open(tmp_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        with os.fdopen(fd, "wb") as tmp:
            tmp.write(data)
            tmp.flush()
            os.fsync(tmp.fileno())
        os.replace(tmp_path, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp_path)
        raise


def read_json(path: str) -> Dict[str, Any]:
    """
    :param path: a JSON file
    :return: its object (empty if the file does not exist)
    :raises SandboxStateError: if it cannot be read or is not JSON
    """
    try:
        with open(path, encoding="utf-8") as state_file:
            value = json.load(state_file)
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as ex:
        raise SandboxStateError(
            "Cannot read {}: {}. Delete the file (or the whole sandbox directory) and run "
            "'up' again".format(path, str(ex)[:200])
        )
    return value if isinstance(value, dict) else {}


class StateStore:
    """
    The locked state files of one sandbox.

    The lock is re-entrant within a process (a thread lock plus a depth count) and exclusive
    across processes.

    :param paths: the sandbox's paths
    """

    def __init__(self, paths: SandboxPaths) -> None:
        self._paths = paths
        self._thread_lock = threading.RLock()
        self._depth = 0
        self._fd: Optional[int] = None

    @contextlib.contextmanager
    def locked(self, create: bool = True) -> Iterator[None]:
        """
        Holds the sandbox's lock (bounded wait).

        :param create: create the sandbox directory (``0700``) if it is missing; with ``False``
            and no sandbox in the directory, nothing is locked or created (there is nothing to
            protect)
        :raises SandboxLockError: if another process holds it longer than :data:`LOCK_TIMEOUT`
        """
        with self._thread_lock:
            if self._depth == 0:
                if not create and not self._paths.is_sandbox():
                    yield
                    return
                make_private_dir(self._paths.directory)
                self._fd = _acquire(self._paths.lock_file)
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
                if self._depth == 0 and self._fd is not None:
                    fcntl.flock(self._fd, fcntl.LOCK_UN)
                    os.close(self._fd)
                    self._fd = None

    def load(self) -> Dict[str, Any]:
        """:return: ``sandbox.json`` (with a ``pids`` mapping)"""
        state = read_json(self._paths.state_file)
        if not isinstance(state.get("pids"), dict):
            state["pids"] = {}
        return state

    def save(self, state: Mapping[str, Any]) -> None:
        """Writes ``sandbox.json`` atomically (call it under :meth:`locked`)."""
        write_json_atomically(self._paths.state_file, state)

    def load_clients(self) -> Dict[str, Dict[str, Any]]:
        """:return: ``clients.json``: client name -> ``{"deny": [...]}``"""
        clients = read_json(self._paths.clients_file)
        return {k: v for k, v in clients.items() if isinstance(v, dict)}

    def save_clients(self, clients: Mapping[str, Any]) -> None:
        """Writes ``clients.json`` atomically (call it under :meth:`locked`)."""
        write_json_atomically(self._paths.clients_file, clients)


def _acquire(lock_file: str) -> int:
    fd = os.open(lock_file, os.O_RDWR | os.O_CREAT, 0o600)
    deadline = time.monotonic() + LOCK_TIMEOUT
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return fd
        except OSError as ex:
            if ex.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                os.close(fd)
                raise
        if time.monotonic() >= deadline:
            os.close(fd)
            raise SandboxLockError(
                "Another process has held the sandbox lock {} for {:.0f} s: wait for it to "
                "finish".format(lock_file, LOCK_TIMEOUT))
        time.sleep(0.05)
