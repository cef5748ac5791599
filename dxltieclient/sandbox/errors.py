"""
The sandbox's errors: one root, :class:`SandboxError` (a :class:`RuntimeError`), and its
subclasses. Every message says what went wrong and what to do.

.. code-block:: text

    SandboxError
    ├── NotASandboxError          the directory holds no sandbox (run 'up' first)
    ├── SandboxNotRunningError    the sandbox is stopped (run 'up' first)
    ├── SandboxLockError          another process held the sandbox's lock too long
    ├── SandboxStateError         a state file cannot be read
    ├── ProcessError              a process could not be stopped (or started)
    └── SandboxStartError         a process failed to start or to become ready
        ├── MosquittoNotFoundError  Mosquitto is not installed
        └── BrokerError           the broker failed to start or to stop
            └── PortInUseError    the broker's port is taken by another program

:class:`MosquittoNotFoundError`, :class:`BrokerError` and :class:`ProcessError` keep their
historical homes too (:mod:`.broker`, :mod:`._process`).
"""

from __future__ import annotations

__all__ = [
    "SandboxError", "NotASandboxError", "SandboxNotRunningError", "SandboxLockError",
    "SandboxStateError", "ProcessError", "SandboxStartError", "MosquittoNotFoundError",
    "BrokerError", "PortInUseError",
]


class SandboxError(RuntimeError):
    """The sandbox could not do what was asked; the message says why and what to do."""


class NotASandboxError(SandboxError):
    """The directory is not a sandbox (it has no ``sandbox.json``): run ``up`` first."""


class SandboxNotRunningError(SandboxError):
    """The sandbox is not running: run ``up`` first."""


class SandboxLockError(SandboxError):
    """Another process held the sandbox's lock for too long."""


class SandboxStateError(SandboxError):
    """A state file of the sandbox cannot be read (delete it, or the whole directory)."""


class ProcessError(SandboxError):
    """A sandbox process failed to start, did not become ready in time, or would not stop."""


class SandboxStartError(SandboxError):
    """A sandbox process failed to start or to become ready (the message quotes its log)."""


class MosquittoNotFoundError(SandboxStartError):
    """Mosquitto, the MQTT broker the sandbox runs, is not installed."""


class BrokerError(SandboxStartError):
    """The broker failed to start or to stop."""


class PortInUseError(BrokerError):
    """The broker's port on ``127.0.0.1`` is already taken by another program."""
