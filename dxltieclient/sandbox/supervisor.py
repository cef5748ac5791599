"""
The sandbox as a small supervisor: one declarative table of its processes (:data:`PROCESSES`)
and the operations that read it: start what is missing or unhealthy (:meth:`Supervisor.ensure`),
describe (:meth:`Supervisor.describe`) and stop (:meth:`Supervisor.stop`). ``up``, ``down``,
``status``, ``run`` and the watchdog all go through the table; none re-states it.

Rules:

* processes start in table order (broker, fabric services, TIE emulator) and stop in reverse;
* a process is *healthy* only when its health probe answers within
  :data:`~.probes.HEALTH_TIMEOUT` (twice, so that a busy machine is not mistaken for a wedged
  process); a running but unhealthy process is restarted;
* restarting one process never restarts a healthy one: fabric services restarted under a
  running emulator announce themselves (``FABRIC_READY_TOPIC``), and the emulator registers
  again by itself;
* an old instance is stopped, and gone, before its replacement starts: two never serve at once.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from dataclasses import dataclass
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Sequence, Set

from . import _process
from .broker import Broker, BrokerFiles, find_mosquitto
from .errors import SandboxStartError
from .fabric_services import READY_LOG_LINE
from .paths import EMULATOR_CLIENT, FABRIC_CLIENT, SandboxPaths
from .probes import HEALTH_TIMEOUT, Probe

_logger = logging.getLogger(__name__)

FABRIC_MODULE = "dxltieclient.sandbox.fabric_services"
EMULATOR_MARKER = "dxltieclient.sandbox serve"
#: How long an unhealthy process gets to stop after SIGTERM before SIGKILL, in seconds.
UNHEALTHY_STOP_TIMEOUT = 3.0
#: How long a running service process may take to register again with restarted fabric
#: services before it is restarted, in seconds.
REREGISTER_TIMEOUT = 15.0
#: How many health probes must fail in a row before a running process is called unhealthy.
HEALTH_ATTEMPTS = 2


@dataclass(frozen=True)
class Launch:
    """
    What a process needs to start: the sandbox's paths, the broker's port, the options.

    :param paths: the sandbox's paths
    :param port: the broker's TLS port
    :param delay_ms: the emulated TIE server delay
    :param foreground: log on this process's terminal (``run``) rather than in the log file
    """

    paths: SandboxPaths
    port: int
    delay_ms: float = 0.0
    foreground: bool = False


@dataclass(frozen=True)
class ProcessSpec:
    """
    One process of the sandbox.

    :param key: its name in ``sandbox.json`` and in ``status()``
    :param title: its name in messages
    :param log_name: its log file, in the sandbox directory
    :param stop_timeout: how long it gets to stop after SIGTERM before SIGKILL, in seconds
    :param ready_timeout: how long it may take to answer after it started, in seconds
    :param marker: what its command line contains (a saved PID may have been reused)
    :param start: starts it and returns its PID (the broker's start also waits until it listens)
    :param health: its health probe, ``health(probe, timeout)``
    :param settings: the options that, when changed, require a restart
    :param fabric_only_runs: whether it runs in a fabric-only sandbox
    :param output_name: where its stdout and stderr go, if not to its log file
    :param ready_line: a line its log has once it is ready (found sooner than by probing)
    :param role: ``transport`` (the broker: every client connects through it; its ``start``
        returns once it listens), ``registry`` (the fabric services: services register with
        it) or ``service`` (the TIE emulator: it registers a service, and again by itself when
        a restarted registry announces itself)
    """

    key: str
    title: str
    log_name: str
    stop_timeout: float
    ready_timeout: float
    marker: Callable[[SandboxPaths], str]
    start: Callable[[Launch], int]
    health: Callable[[Probe, float], bool]
    settings: Callable[[Launch], Dict[str, Any]]
    fabric_only_runs: bool = True
    output_name: Optional[str] = None
    ready_line: Optional[str] = None
    role: str = "service"

    def log_tail(self, paths: SandboxPaths) -> str:
        """:return: the end of its log (and of its output file, if it has one)"""
        tail = _process.log_tail(paths.path(self.log_name))
        if self.output_name:
            output = _process.log_tail(paths.path(self.output_name))
            if output:
                tail += "\n{}:\n{}".format(paths.path(self.output_name), output)
        return tail


def broker_files(paths: SandboxPaths) -> BrokerFiles:
    """:return: the broker's files in the sandbox"""
    return BrokerFiles(
        conf_file=paths.path("mosquitto.conf"),
        acl_file=paths.path("mosquitto.acl"),
        log_file=paths.path("mosquitto.log"),
        ca_file=paths.path("pki", "ca.crt"),
        cert_file=paths.path("pki", "broker.crt"),
        key_file=paths.path("pki", "broker.key"),
    )


def _package_root() -> str:
    return os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def child_env() -> Dict[str, str]:
    """:return: the environment of the sandbox's Python processes: this package importable,
        output unbuffered"""
    env = dict(os.environ)
    root = _package_root()
    paths = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    if root not in paths:
        env["PYTHONPATH"] = os.pathsep.join([root] + paths)
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _start_python(argv: List[str], launch: Launch, output_name: str) -> int:
    if launch.foreground:
        return _process.start_attached(argv, env=child_env())
    return _process.start_detached(argv, launch.paths.path(output_name), env=child_env())


def _start_broker(launch: Launch) -> int:
    find_mosquitto()
    return Broker(broker_files(launch.paths), launch.port).start(attached=launch.foreground)


def _start_fabric(launch: Launch) -> int:
    argv = [sys.executable, "-m", FABRIC_MODULE, "--config",
            launch.paths.client_config(FABRIC_CLIENT)]
    return _start_python(argv, launch, "fabric-services.log")


def _start_emulator(launch: Launch) -> int:
    argv = [sys.executable, "-m", "dxltieclient.sandbox", "serve",
            "--config", launch.paths.client_config(EMULATOR_CLIENT),
            "--store", launch.paths.store_file, "--delay-ms", repr(float(launch.delay_ms))]
    if not launch.foreground:
        # Its log rotates while it runs; its stdout and stderr (a crash's traceback) go beside.
        argv += ["--log-file", launch.paths.path("tie-emulator.log")]
    return _start_python(argv, launch, "tie-emulator.out")


#: The sandbox's processes, in start order (they stop in reverse order: the emulator first, so
#: that it unregisters its service, the broker last).
PROCESSES: Sequence[ProcessSpec] = (
    ProcessSpec(
        key="broker", title="broker (Mosquitto)", log_name="mosquitto.log",
        stop_timeout=10.0, ready_timeout=30.0,
        marker=lambda paths: broker_files(paths).conf_file,
        start=_start_broker,
        health=lambda probe, timeout: probe.broker_answers(max(timeout, 5.0)),
        settings=lambda launch: {"port": launch.port},
        role="transport",
    ),
    ProcessSpec(
        key="fabric_services", title="fabric services", log_name="fabric-services.log",
        stop_timeout=10.0, ready_timeout=30.0,
        marker=lambda paths: FABRIC_MODULE,
        start=_start_fabric,
        health=lambda probe, timeout: probe.fabric_answers(timeout),
        settings=lambda launch: {},
        ready_line=READY_LOG_LINE, role="registry",
    ),
    ProcessSpec(
        key="tie_emulator", title="TIE emulator", log_name="tie-emulator.log",
        stop_timeout=15.0, ready_timeout=60.0,
        marker=lambda paths: EMULATOR_MARKER,
        start=_start_emulator,
        health=lambda probe, timeout: probe.emulator_answers(timeout),
        settings=lambda launch: {"delay_ms": float(launch.delay_ms)},
        fabric_only_runs=False, output_name="tie-emulator.out",
    ),
)

#: The process keys, in start order.
PROCESS_KEYS = tuple(spec.key for spec in PROCESSES)
#: The process keys, in stop order.
STOP_ORDER = tuple(reversed(PROCESS_KEYS))


def spec_for(key: str) -> ProcessSpec:
    """:return: the process called ``key``"""
    for spec in PROCESSES:
        if spec.key == key:
            return spec
    raise KeyError(key)


def wanted(fabric_only: bool) -> List[ProcessSpec]:
    """:return: the processes a sandbox runs (``fabric_only``: without the TIE emulator)"""
    return [spec for spec in PROCESSES if spec.fabric_only_runs or not fabric_only]


def is_running(paths: SandboxPaths, spec: ProcessSpec, pid: Optional[int]) -> bool:
    """:return: whether ``pid`` is a running instance of ``spec``"""
    return _process.is_running(pid, spec.marker(paths))


def stop_pids(paths: SandboxPaths, pids: Mapping[str, Any],
              keys: Optional[Iterable[str]] = None,
              saved: Optional[Callable[[str], None]] = None) -> None:
    """
    Stops processes in stop order (SIGTERM, the table's stop timeout, SIGKILL).

    :param paths: the sandbox's paths
    :param pids: process key -> PID
    :param keys: only these processes (default: all)
    :param saved: called with each key once its process is gone
    """
    only = set(keys) if keys is not None else None
    for key in STOP_ORDER:
        if only is not None and key not in only:
            continue
        spec = spec_for(key)
        _process.stop(pids.get(key), spec.marker(paths), spec.stop_timeout)
        if saved is not None:
            saved(key)


class Supervisor:
    """
    Starts, checks and stops the processes of one sandbox over its state (``sandbox.json``,
    passed in and saved through ``save``; the caller holds the lock).

    :param paths: the sandbox's paths
    :param save: saves the state
    :param new_probe: makes a :class:`~.probes.Probe` (the sandbox's own client)
    """

    def __init__(self, paths: SandboxPaths, save: Callable[[Dict[str, Any]], None],
                 new_probe: Callable[[], Probe]) -> None:
        self._paths = paths
        self._save = save
        self._new_probe = new_probe

    # Health -----------------------------------------------------------------------------------

    def healthy(self, spec: ProcessSpec, probe: Probe) -> bool:
        """:return: whether ``spec``'s health probe answers (within :data:`HEALTH_ATTEMPTS`
            tries of :data:`~.probes.HEALTH_TIMEOUT` each)"""
        return any(spec.health(probe, HEALTH_TIMEOUT) for _ in range(HEALTH_ATTEMPTS))

    def describe(self, state: Mapping[str, Any], fabric_only: bool,
                 probe_health: bool = True) -> Dict[str, Dict[str, Any]]:
        """
        :param state: the sandbox's state
        :param fabric_only: whether the emulator is expected
        :param probe_health: run the health probes (else ``healthy`` is ``None``)
        :return: process key -> ``pid``, ``running``, ``healthy`` (``None``: unknown, because
            a process it depends on is unhealthy), ``health`` (``healthy``, ``unhealthy``,
            ``unknown``, ``stopped``), ``log_file``
        """
        pids = state.get("pids", {})
        processes: Dict[str, Dict[str, Any]] = {}
        probe = self._new_probe() if probe_health else None
        dependencies_ok = True
        try:
            for spec in PROCESSES:
                pid = pids.get(spec.key)
                running = is_running(self._paths, spec, pid)
                healthy: Optional[bool] = None
                if running and probe is not None and dependencies_ok:
                    healthy = self.healthy(spec, probe)
                if spec in wanted(fabric_only):
                    dependencies_ok = dependencies_ok and bool(healthy)
                health = ("stopped" if not running else "unknown" if healthy is None
                          else "healthy" if healthy else "unhealthy")
                processes[spec.key] = {
                    "pid": pid if running else None, "running": running, "healthy": healthy,
                    "health": health, "log_file": self._paths.path(spec.log_name),
                }
        finally:
            if probe is not None:
                probe.close()
        return processes

    # Start ------------------------------------------------------------------------------------

    def ensure(self, state: Dict[str, Any], launch: Launch, fabric_only: bool,
               started: List[str]) -> None:
        """
        Brings the sandbox to the wanted shape: starts what is not running, restarts what is
        unhealthy or runs with other settings, stops what is not wanted; leaves healthy
        processes alone. Returns once every wanted process answers its probe.

        :param state: the sandbox's state (its ``pids`` are updated and saved)
        :param launch: how to start processes
        :param fabric_only: run no TIE emulator
        :param started: receives the keys of the processes started
        :raises SandboxStartError: if a process exits or does not answer in time
        """
        pids = state.setdefault("pids", {})
        settings = state.setdefault("settings", {})
        keep = wanted(fabric_only)
        probe = self._new_probe()
        restarted: Set[str] = set()
        try:
            for spec in PROCESSES:
                if spec not in keep:
                    self._stop(state, spec, spec.stop_timeout)
                    continue
                if self._keep_running(spec, state, launch, probe, restarted):
                    continue
                log_offset = None if launch.foreground else self._log_size(spec)
                pids[spec.key] = spec.start(launch)
                settings[spec.key] = spec.settings(launch)
                started.append(spec.key)
                restarted.add(spec.key)
                self._save(state)
                if spec.role == "transport":
                    probe.close()  # connect again, through the new broker
                else:
                    self._wait_ready(spec, state, probe, keep, log_offset)
        finally:
            probe.close()

    def _keep_running(self, spec: ProcessSpec, state: Dict[str, Any], launch: Launch,
                      probe: Probe, restarted: Set[str]) -> bool:
        """Whether ``spec`` runs healthy with the right settings; if not, stops it."""
        pid = state["pids"].get(spec.key)
        if not is_running(self._paths, spec, pid):
            self._stop(state, spec, 0.0)
            return False
        if state["settings"].get(spec.key, spec.settings(launch)) != spec.settings(launch):
            _logger.info("Restarting the %s with new settings", spec.title)
            self._stop(state, spec, spec.stop_timeout)
            return False
        if restarted:
            healthy = self._recovered(spec, state, probe, restarted)
        else:
            healthy = self.healthy(spec, probe)
        if healthy:
            return True
        _logger.warning("The %s (pid %s) does not answer: restarting it", spec.title, pid)
        self._stop(state, spec, UNHEALTHY_STOP_TIMEOUT)
        return False

    def _recovered(self, spec: ProcessSpec, state: Dict[str, Any], probe: Probe,
                   restarted: Set[str]) -> bool:
        """
        After a process it depends on restarted: waits (bounded) for ``spec`` to answer again.
        New fabric services start with an empty registry and announce themselves; a service
        process then registers again by itself.
        """
        pid = state["pids"].get(spec.key)
        roles = {spec_for(key).role for key in restarted}
        # After a broker restart it must reconnect first (with its own back-off): wait longer.
        timeout = spec.ready_timeout if "transport" in roles else REREGISTER_TIMEOUT
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not is_running(self._paths, spec, pid):
                return False
            if spec.health(probe, HEALTH_TIMEOUT):
                return True
            time.sleep(0.05)
        return False

    def _log_size(self, spec: ProcessSpec) -> int:
        """Where the next run's lines start in ``spec``'s log (rotated first, as at start)."""
        log = self._paths.path(spec.output_name or spec.log_name)
        _process.rotate_log(log)
        try:
            return os.path.getsize(log)
        except OSError:
            return 0

    def _log_says_ready(self, spec: ProcessSpec, log_offset: Optional[int]) -> bool:
        if spec.ready_line is None or log_offset is None:
            return False
        try:
            with open(self._paths.path(spec.output_name or spec.log_name), "rb") as log:
                log.seek(log_offset)
                return spec.ready_line.encode("utf-8") in log.read()
        except OSError:
            return False

    def _wait_ready(self, spec: ProcessSpec, state: Mapping[str, Any], probe: Probe,
                    needed: Sequence[ProcessSpec], log_offset: Optional[int] = None) -> None:
        """
        Waits (bounded by the table's ready timeout) until ``spec``'s log says it is ready or its
        probe answers, checking that it and the processes before it still run. A request sent
        before a process subscribed is lost, so the probe's own timeout starts short and grows.
        """
        timeout = spec.ready_timeout
        deadline = time.monotonic() + timeout
        request_timeout = 0.1 if spec.ready_line else 0.25
        before = [other for other in needed if PROCESSES.index(other) <= PROCESSES.index(spec)]
        while True:
            for other in before:
                self._check_alive(other, state)
            if self._log_says_ready(spec, log_offset) or spec.health(probe, request_timeout):
                return
            request_timeout = min(request_timeout * 2, 1.0)
            if time.monotonic() >= deadline:
                raise SandboxStartError(
                    "The {} did not answer within {:.0f} s; see its log {}:\n{}".format(
                        spec.title, timeout, self._paths.path(spec.log_name),
                        spec.log_tail(self._paths)))
            time.sleep(0.05)

    def _check_alive(self, spec: ProcessSpec, state: Mapping[str, Any]) -> None:
        if not is_running(self._paths, spec, state["pids"].get(spec.key)):
            log = self._paths.path(spec.log_name)
            raise SandboxStartError("The {} exited (log {}):\n{}".format(
                spec.title, log, spec.log_tail(self._paths)))

    # Stop -------------------------------------------------------------------------------------

    def _stop(self, state: Dict[str, Any], spec: ProcessSpec, timeout: float) -> None:
        pids = state["pids"]
        if pids.get(spec.key) is None:
            return
        _process.stop(pids.get(spec.key), spec.marker(self._paths), timeout)
        pids[spec.key] = None
        self._save(state)

    def stop(self, state: Dict[str, Any], keys: Optional[Iterable[str]] = None) -> None:
        """
        Stops processes in stop order, each within its stop timeout; saves the state after each.

        :param state: the sandbox's state
        :param keys: only these processes (default: all)
        """
        pids = state.setdefault("pids", {})

        def saved(key: str) -> None:
            pids[key] = None
            self._save(state)

        stop_pids(self._paths, pids, keys, saved)

    def watch(self, state: Mapping[str, Any], fabric_only: bool) -> List[str]:
        """:return: the wanted processes that are not running (for ``run``'s loop)"""
        return [spec.key for spec in wanted(fabric_only)
                if not is_running(self._paths, spec, state["pids"].get(spec.key))]
