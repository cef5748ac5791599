"""
Re-registration on demand: a service process (the TIE emulator) re-sends its service
registrations when it gets :data:`REREGISTER_SIGNAL`.

The fabric services keep the service registry in memory, so fabric services restarted after a
crash start empty while the broker and the emulator stay up. Rather than restart a healthy
emulator (and let two emulators serve during the overlap), the supervisor sends it this signal
and it registers again, without dropping its subscriptions.
"""

from __future__ import annotations

import logging
import signal
import threading
from typing import Any, Callable

_logger = logging.getLogger(__name__)

#: The signal that asks a service process to register its services again.
REREGISTER_SIGNAL = signal.SIGUSR1


def reregister(client: Any, info: Any, timeout: float) -> None:
    """
    Sends the registration of ``info`` again (dxlclient's own renewal, started now), or, if this
    dxlclient has no such internals, unregisters and registers it.

    :param client: the connected :class:`dxlclient.client.DxlClient`
    :param info: the registered :class:`dxlclient.service.ServiceRegistrationInfo`
    :param timeout: the longest wait for the registration, in seconds
    """
    manager = getattr(client, "_service_manager", None)
    handler = getattr(manager, "services", {}).get(getattr(info, "_service_id", None))
    if handler is not None and hasattr(handler, "stop_timer") and hasattr(handler, "start_timer"):
        handler.stop_timer()
        handler.start_timer()  # dxlclient's TTL renewal: registers at once, then every TTL
        return
    client.unregister_service_sync(info, int(max(1, timeout)))
    client.register_service_sync(info, int(max(1, timeout)))


def install(client: Any, info: Any, timeout: float) -> Callable[[], None]:
    """
    Re-registers ``info`` (see :func:`reregister`) each time the process gets
    :data:`REREGISTER_SIGNAL`, from a thread of its own (never from dxlclient's threads). Does
    nothing off the main thread (signal handlers can only be set there).

    :param client: the connected client
    :param info: the registered service
    :param timeout: the longest wait for each registration, in seconds
    :return: a function that removes the handler and ends the thread
    """
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    wanted = threading.Event()
    done = threading.Event()

    def run() -> None:
        while True:
            wanted.wait()
            wanted.clear()
            if done.is_set():
                return
            try:
                reregister(client, info, timeout)
                _logger.info("Service registration sent again (on request)")
            except Exception:  # logged: a failed re-registration shows in the health probe
                _logger.exception("Could not register the service again")

    thread = threading.Thread(target=run, name="sandbox-reregister", daemon=True)
    thread.start()
    previous = signal.signal(REREGISTER_SIGNAL, lambda signum, frame: wanted.set())

    def uninstall() -> None:
        signal.signal(REREGISTER_SIGNAL, previous)
        done.set()
        wanted.set()
        thread.join(timeout)

    return uninstall
