"""
:class:`Sandbox`: a local DXL fabric (Mosquitto + the fabric services) and the TIE emulator, in a
directory, as background processes.

The work is shared out: :mod:`.paths` (where the files are), :mod:`.state` (the locked state
files), :mod:`.supervisor` (the process table; start, health, stop), :mod:`.probes` (the
sandbox's own client), :mod:`.pki` and :mod:`.broker` (certificates, broker configuration and
ACL), :mod:`.errors` (the :class:`SandboxError` tree).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import sys
import threading
import uuid
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence

from . import _process, authz
from ._constants import QUERY_TOPIC
from .broker import Broker, mosquitto_conf_text, run_as_user, write_acl
from .dxlconfig import BROKER_HOST, write_config
from .errors import (
    NotASandboxError,
    PortInUseError,
    SandboxError,
    SandboxNotRunningError,
)
from .paths import (
    ADMIN_CLIENT,
    EMULATOR_CLIENT,
    FABRIC_CLIENT,
    RESERVED_NAMES,
    USER_CLIENT,
    SandboxPaths,
    default_directory,
    make_private_dir,
)
from .pki import CertificateAuthority, validate_name, write_public_file
from .probes import Probe
from .state import StateStore
from .supervisor import (
    EMULATOR_MARKER,
    FABRIC_MODULE,
    PROCESSES,
    STOP_ORDER,
    Launch,
    Supervisor,
    broker_files,
    child_env,
    is_running,
    spec_for,
)
from .tie.store import read_counts

__all__ = [
    "Sandbox", "SandboxError", "default_directory", "USER_CLIENT", "FABRIC_CLIENT",
    "EMULATOR_CLIENT", "ADMIN_CLIENT", "RESERVED_NAMES", "STOP_ORDER", "PROCESS_MARKERS",
]

_logger = logging.getLogger(__name__)

#: What the command line of each process contains (kept for compatibility: the process table,
#: :data:`.supervisor.PROCESSES`, is the reference; the broker's marker there is its own
#: configuration file).
PROCESS_MARKERS = {"tie_emulator": EMULATOR_MARKER, "fabric_services": FABRIC_MODULE,
                   "broker": Broker.MARKER}

#: What ``emit detection`` and :meth:`Sandbox.emit_detection` use when not told otherwise.
DEFAULT_AGENT_GUID = "{00000000-0000-0000-0000-000000000001}"
DEFAULT_FILE_NAME = "sandbox.exe"
DEFAULT_LOCAL_REPUTATION = 1
DEFAULT_REMEDIATION_ACTION = 5

#: What a sandbox directory may hold (removed when a first ``up`` fails).
_SANDBOX_ENTRIES = (
    "sandbox.json", "clients.json", "dxlclient.config", "mosquitto.conf", "mosquitto.acl",
    "openssl-broker.cnf", "pki", "clients", "tie.sqlite", "tie.sqlite-wal", "tie.sqlite-shm",
    "watchdog.log",
) + tuple(name for spec in PROCESSES for name in (spec.log_name, spec.output_name) if name)


class Sandbox:
    """
    A local DXL fabric with a TIE emulator, kept in a directory.

    .. code-block:: python

        from dxltieclient.sandbox import Sandbox

        sandbox = Sandbox("/tmp/tie-sandbox")
        config_file = sandbox.up()          # dxlclient.config of a client of the sandbox
        try:
            ...                             # DxlClient + TieClient with config_file
        finally:
            sandbox.down()

    It is also a context manager (``up`` on entry, ``down`` on exit). Every method is safe to call
    from several processes at once (a lock file serialises them).

    :param directory: the sandbox directory (created, mode ``0700``, by :meth:`up`)
    :param port: the broker's TLS port on ``127.0.0.1``; ``None`` reuses the port saved in the
        directory, or picks a free one
    """

    def __init__(self, directory: str, port: Optional[int] = None) -> None:
        self._paths = SandboxPaths(os.path.abspath(os.path.expanduser(directory)))
        if port is not None and not (0 < int(port) < 65536):
            raise ValueError("Invalid port {}: use 1-65535".format(port))
        self._requested_port = int(port) if port is not None else None
        self._store = StateStore(self._paths)
        self._supervisor = Supervisor(self._paths, self._store.save, self._new_probe)
        # The sandbox's own clients being closed in the background (see Probe.close).
        self._closing: List[threading.Thread] = []

    # Properties -------------------------------------------------------------------------------

    @property
    def directory(self) -> str:
        """The sandbox directory (absolute)."""
        return self._paths.directory

    @property
    def config_file(self) -> str:
        """The user's client configuration, ``DIR/dxlclient.config``."""
        return self._paths.config_file

    @property
    def store_file(self) -> str:
        """The TIE emulator's store, ``DIR/tie.sqlite``."""
        return self._paths.store_file

    @property
    def port(self) -> int:
        """The broker's TLS port on ``127.0.0.1`` (chosen and saved on first use)."""
        with self._store.locked():
            return self._resolve_port(self._store.load())

    @property
    def admin_config_file(self) -> str:
        """The configuration of the sandbox's own client (probes, emitted events)."""
        return self._paths.client_config(ADMIN_CLIENT)

    @property
    def is_sandbox(self) -> bool:
        """Whether the directory holds a sandbox (``up`` ran there at least once)."""
        return self._paths.is_sandbox()

    def require_sandbox(self) -> None:
        """
        :raises NotASandboxError: if the directory holds no sandbox (nothing is created)
        """
        if not self.is_sandbox:
            raise NotASandboxError(
                "{} is not a sandbox (it has no {}): run 'up --dir {}' first, or give the "
                "directory of an existing sandbox".format(
                    self.directory, os.path.basename(self._paths.state_file), self.directory))

    # Preparation: port, certificates, configurations, ACL -------------------------------------

    def _resolve_port(self, state: Dict[str, Any]) -> int:
        saved = state.get("port")
        if self._requested_port is not None:
            port = self._requested_port
        elif isinstance(saved, int) and saved > 0:
            port = saved
        else:
            port = _process.free_port(BROKER_HOST)
        if port != saved:
            if is_running(self._paths, spec_for("broker"), state["pids"].get("broker")):
                raise SandboxError(
                    "The sandbox in {} already runs on port {}: run 'down' first to move it to "
                    "port {}".format(self.directory, saved, port))
            state["port"] = port
            self._store.save(state)
        return port

    def _prepare(self, state: Dict[str, Any]) -> int:
        """Creates or refreshes every file the processes need; returns the port."""
        make_private_dir(self.directory)
        port = self._resolve_port(state)
        if not state.get("broker_id"):
            state["broker_id"] = "{" + str(uuid.uuid4()) + "}"
            self._store.save(state)
        ca = CertificateAuthority(self._paths.pki_dir)
        renew = ca.ensure()
        files = broker_files(self._paths)
        ca.issue("broker", files.cert_file, files.key_file,
                 server_names=(BROKER_HOST, "localhost"), force=renew)
        clients = self._store.load_clients()
        for name in (USER_CLIENT, FABRIC_CLIENT, EMULATOR_CLIENT, ADMIN_CLIENT, *clients):
            self._issue_client(ca, name, state["broker_id"], port, renew)
        if write_acl(files.acl_file, clients, bool(state.get("open_acl", False))):
            Broker(files, port).reload(state["pids"].get("broker"))
        conf = mosquitto_conf_text(files, port, run_as_user())
        write_public_file(files.conf_file, conf.encode("utf-8"))
        return port

    def _issue_client(self, ca: CertificateAuthority, name: str, broker_id: str, port: int,
                      force: bool = False) -> str:
        client_dir = self._paths.client_dir(name)
        identity = ca.issue(name, os.path.join(client_dir, "client.crt"),
                            os.path.join(client_dir, "client.key"), force=force)
        return write_config(self._paths.client_config(name), ca.cert_file, identity.cert_file,
                            identity.key_file, broker_id, port)

    # Processes --------------------------------------------------------------------------------

    def _new_probe(self) -> Probe:
        self._closing = [thread for thread in self._closing if thread.is_alive()]
        return Probe(self.admin_config_file, self._closing.append)

    def _ensure(self, state: Dict[str, Any], fabric_only: bool, delay_ms: float,
                open_acl: bool, started: List[str], foreground: bool = False) -> None:
        # A fabric-only sandbox exists for the user's own services and topics: always open.
        state["open_acl"] = bool(open_acl or fabric_only)
        port = self._prepare(state)
        launch = Launch(self._paths, port, float(delay_ms), foreground)
        self._supervisor.ensure(state, launch, fabric_only, started)
        state["fabric_only"] = bool(fabric_only)
        state["delay_ms"] = float(delay_ms)
        self._store.save(state)

    # Public API -------------------------------------------------------------------------------

    def up(self, fabric_only: bool = False, delay_ms: float = 0.0,
           open_acl: bool = False) -> str:
        """
        Starts the sandbox (idempotent): Mosquitto, the fabric services and, unless
        ``fabric_only``, the TIE emulator, as background processes. Returns once a request
        round-trips through the fabric (and, with the emulator, once its service answers).

        On a running sandbox it probes each process and restarts only those that died or do not
        answer (an old instance is gone before its replacement starts), stops or starts the
        emulator to match ``fabric_only`` and ``delay_ms``, and returns. A first ``up`` that
        fails leaves nothing behind (no half-made sandbox).

        :param fabric_only: run no TIE emulator (a fabric for your own mock services)
        :param delay_ms: the emulated TIE server's delay before each reply, in milliseconds
        :param open_acl: let every client publish and subscribe everywhere, as earlier versions
            did (``up --open``), instead of the ACL that models DXL's topic authorization
        :return: the path of the user's ``dxlclient.config``
        :raises dxltieclient.sandbox.MosquittoNotFoundError: if Mosquitto is not installed
        :raises dxltieclient.sandbox.errors.PortInUseError: if another program has the port
        :raises SandboxError: if a process fails to start (the message quotes its log)
        """
        if delay_ms < 0:
            raise ValueError("delay_ms must be >= 0, not {}".format(delay_ms))
        fresh_dir = not os.path.isdir(self.directory)
        fresh = not self.is_sandbox
        with self._store.locked():
            state = self._store.load()
            try:
                self._up_attempts(state, fabric_only, float(delay_ms), open_acl)
            except BaseException:
                if fresh:
                    self._remove_half_made(fresh_dir)
                raise
        return self.config_file

    def _up_attempts(self, state: Dict[str, Any], fabric_only: bool, delay_ms: float,
                     open_acl: bool) -> None:
        port_was_chosen_here = self._requested_port is None and not state.get("port")
        for attempt in (1, 2):
            started: List[str] = []
            try:
                self._ensure(state, fabric_only, delay_ms, open_acl, started)
                return
            except PortInUseError:
                self._stop_started(state, started)
                # A free port picked a moment ago can be taken before Mosquitto binds it:
                # pick another one, once.
                if attempt == 1 and port_was_chosen_here:
                    _logger.warning("Port %s was taken meanwhile: trying another one",
                                    state.get("port"))
                    state["port"] = None
                    continue
                raise
            except BaseException:
                self._stop_started(state, started)
                raise

    def _stop_started(self, state: Dict[str, Any], started: List[str]) -> None:
        if started:
            _logger.error("Sandbox start failed; stopping what was started: %s",
                          ", ".join(started))
            self._supervisor.stop(state, started)

    def _remove_half_made(self, fresh_dir: bool) -> None:
        """Removes what a failed first ``up`` created (the whole directory if it made it)."""
        self._join_closing_clients()
        if fresh_dir:
            shutil.rmtree(self.directory, ignore_errors=True)
            return
        for name in _SANDBOX_ENTRIES + (".lock",):
            path = self._paths.path(name)
            if os.path.isdir(path):
                shutil.rmtree(path, ignore_errors=True)
            elif os.path.lexists(path):
                with contextlib.suppress(OSError):
                    os.unlink(path)

    def start_watchdog(self, owner_pid: Optional[int] = None) -> int:
        """
        Starts a watchdog process that stops the sandbox if ``owner_pid`` dies without calling
        :meth:`down` (the pytest plugin uses it, so that a killed test session leaves no broker
        running). The watchdog exits by itself once the sandbox is down.

        :param owner_pid: the owner (default: this process)
        :return: the watchdog's process id
        """
        owner = os.getpid() if owner_pid is None else int(owner_pid)
        return _process.start_detached(
            [sys.executable, "-m", "dxltieclient.sandbox.watchdog", "--dir", self.directory,
             "--owner", str(owner)],
            self._paths.path("watchdog.log"), env=child_env())

    def down(self) -> None:
        """
        Stops every process of the sandbox, in order: the TIE emulator (which unregisters its
        service), the fabric services, the broker. Files (certificates, store) are kept. On a
        directory that holds no sandbox it does nothing (and creates nothing).
        """
        self._join_closing_clients()
        if not self.is_sandbox:
            return
        with self._store.locked(create=False):
            self._supervisor.stop(self._store.load())

    def _join_closing_clients(self) -> None:
        """Waits (bounded) for the sandbox's own clients being closed in the background: a
        broker stopped under a closing client makes dxlclient's reconnect thread fail noisily."""
        for closing in self._closing:
            closing.join(timeout=10.0)
        self._closing = []

    def status(self, probe: bool = True) -> Dict[str, Any]:
        """
        Describes the sandbox (creates nothing).

        :param probe: run the health probes (about a second with the emulator)
        :return: ``sandbox`` (whether the directory holds one), ``running`` (every process it
            needs runs), ``healthy`` (and answers its health probe), ``directory``, ``port``,
            ``config_file``, ``store_file``, ``fabric_only``, ``delay_ms``, ``open_acl``,
            ``processes`` (name -> ``pid``, ``running``, ``healthy``, ``health``,
            ``log_file``), ``clients`` (name -> ``config_file``, ``deny``) and ``counts`` (what
            the TIE store holds: ``files``, ``certificates``, ``references``, ``agents``;
            ``None`` before the emulator first ran)
        """
        with self._store.locked(create=False):
            state = self._store.load()
            clients = self._store.load_clients()
            fabric_only = bool(state.get("fabric_only", False))
            processes = self._supervisor.describe(state, fabric_only, probe_health=probe)
        needed = [spec.key for spec in PROCESSES
                  if spec.fabric_only_runs or not fabric_only]
        return {
            "sandbox": self.is_sandbox,
            "running": all(processes[key]["running"] for key in needed),
            "healthy": all(processes[key]["healthy"] for key in needed),
            "directory": self.directory,
            "port": state.get("port"),
            "host": BROKER_HOST,
            "config_file": self.config_file,
            "store_file": self.store_file,
            "fabric_only": fabric_only,
            "delay_ms": float(state.get("delay_ms", 0.0)),
            "open_acl": bool(state.get("open_acl", False)),
            "processes": processes,
            "clients": {
                name: {"config_file": self._paths.client_config(name),
                       "deny": list(info.get("deny") or [])}
                for name, info in sorted(clients.items())
            },
            "counts": read_counts(self.store_file) if self.is_sandbox else None,
        }

    def provision(self, name: str, deny: Sequence[str] = ()) -> str:
        """
        Creates (or updates) a client: a certificate whose CN is ``name`` and its
        ``dxlclient.config``; denies it the given TIE authorization groups and reloads the
        broker's ACL if it runs.

        :param name: the client name (letters, digits, ``_``, ``.``, ``-``)
        :param deny: authorization groups the client is not a member of: full names (``TIE Server
            Set Enterprise Reputation``, ``TIE Server Set External Reputation``) or aliases
            (``enterprise``, ``external``)
        :return: the path of the client's ``dxlclient.config``
        :raises ValueError: for an invalid or reserved name, or an unknown group
        """
        validate_name(name)
        if name in RESERVED_NAMES:
            raise ValueError("The client name {!r} is reserved by the sandbox; reserved: {}".format(
                name, ", ".join(RESERVED_NAMES)))
        groups = authz.resolve_groups(deny)
        with self._store.locked():
            clients = self._store.load_clients()
            clients[name] = {"deny": groups}
            self._store.save_clients(clients)
            self._prepare(self._store.load())  # reloads a running broker if the ACL changed
        return self._paths.client_config(name)

    def restart_broker(self) -> None:
        """
        Stops and restarts only the broker, on the same port (connected clients are disconnected
        and reconnect by themselves). Returns once the fabric answers requests again (and the
        emulator, if it runs).

        :raises SandboxError: if the sandbox is not running
        """
        self._join_closing_clients()
        with self._store.locked():
            state = self._store.load()
            if not is_running(self._paths, spec_for("broker"), state["pids"].get("broker")):
                raise SandboxNotRunningError(
                    "The sandbox in {} is not running: run 'up' first".format(self.directory))
            self._supervisor.stop(state, ["broker"])
            self._ensure(state, bool(state.get("fabric_only", False)),
                         float(state.get("delay_ms", 0.0)), bool(state.get("open_acl", False)),
                         [])

    def _send_event(self, topic: str, payload: Mapping[str, Any]) -> None:
        from dxlclient.message import Event, Request

        self.require_sandbox()
        with self._store.locked(create=False):
            state = self._store.load()
            if not is_running(self._paths, spec_for("broker"), state["pids"].get("broker")):
                raise SandboxNotRunningError(
                    "The sandbox in {} is not running: run 'up' first".format(self.directory))
        event = Event(topic)
        event.payload = json.dumps(payload).encode("utf-8")
        probe = self._new_probe()
        try:
            client = probe.client()
            if client is None:
                raise SandboxNotRunningError(
                    "The sandbox's broker in {} does not let its own client in: run 'up' to "
                    "repair it".format(self.directory))
            client.send_event(event)
            # A round trip after the event: once it is back, the broker has handled the event.
            client.sync_request(Request(QUERY_TOPIC), timeout=10)
        finally:
            probe.close()

    def emit_detection(self, hashes: Mapping[str, str],
                       agent_guid: str = DEFAULT_AGENT_GUID,
                       name: str = DEFAULT_FILE_NAME,
                       local_reputation: int = DEFAULT_LOCAL_REPUTATION,
                       remediation_action: int = DEFAULT_REMEDIATION_ACTION,
                       detection_time: Optional[int] = None) -> None:
        """
        Publishes a detection event, as the TIE server does when an endpoint acts on a file.
        The defaults are those of ``emit detection``.

        :param hashes: the file's hashes, hash type -> hex (``{"md5": ..., "sha1": ...}``)
        :param agent_guid: the endpoint's agent GUID
        :param name: the file name
        :param local_reputation: the reputation the endpoint computed (a ``TrustLevel`` value;
            default 1, known malicious)
        :param remediation_action: the action taken (a ``FileReputationProp`` remediation
            value; default 5, delete)
        :param detection_time: epoch seconds (default: now)
        :raises SandboxError: if the sandbox is not running
        """
        from ..client import TIE_EVENT_FILE_DETECTION_TOPIC
        from .tie import events

        payload = events.detection_event(hashes, agent_guid, name, local_reputation,
                                         remediation_action, detection_time)
        self._send_event(TIE_EVENT_FILE_DETECTION_TOPIC, payload)

    def emit_first_instance(self, hashes: Mapping[str, str],
                            agent_guid: str = DEFAULT_AGENT_GUID,
                            name: str = DEFAULT_FILE_NAME) -> None:
        """
        Publishes a first-instance event, as the TIE server does when a file is first seen in the
        enterprise. The defaults are those of ``emit first-instance``.

        :param hashes: the file's hashes, hash type -> hex
        :param agent_guid: the endpoint's agent GUID
        :param name: the file name
        :raises SandboxError: if the sandbox is not running
        """
        from ..client import TIE_EVENT_FILE_FIRST_INSTANCE_TOPIC
        from .tie import events

        payload = events.first_instance_event(hashes, agent_guid, name)
        self._send_event(TIE_EVENT_FILE_FIRST_INSTANCE_TOPIC, payload)

    # Foreground mode --------------------------------------------------------------------------

    def run(self, fabric_only: bool = False, delay_ms: float = 0.0,
            stop_event: Optional[threading.Event] = None,
            on_ready: Optional[Callable[[str], None]] = None,
            open_acl: bool = False) -> None:
        """
        Runs the sandbox in the foreground, logs on this process's stdout/stderr, until
        ``stop_event`` is set, KeyboardInterrupt, or a process exits; then stops everything it
        started. (The command line's ``run`` also stops on SIGTERM and SIGHUP.)

        :param fabric_only: run no TIE emulator
        :param delay_ms: the emulated TIE server's delay, in milliseconds
        :param stop_event: set it to stop
        :param on_ready: called with the user's configuration path once everything is up
        :param open_acl: see :meth:`up`
        :raises SandboxError: if the sandbox already runs in the background
        """
        stop = stop_event or threading.Event()
        fresh_dir = not os.path.isdir(self.directory)
        fresh = not self.is_sandbox
        with self._store.locked():
            state = self._store.load()
            if any(is_running(self._paths, spec, state["pids"].get(spec.key))
                   for spec in PROCESSES):
                raise SandboxError("The sandbox in {} already runs: run 'down' first".format(
                    self.directory))
            try:
                self._ensure(state, fabric_only, float(delay_ms), open_acl, [], foreground=True)
            except BaseException:
                self._supervisor.stop(state)
                if fresh:
                    self._remove_half_made(fresh_dir)
                raise
        try:
            if on_ready is not None:
                on_ready(self.config_file)
            while not stop.wait(0.5):
                dead = self._supervisor.watch(state, fabric_only)
                if dead:
                    _logger.error("Sandbox process(es) exited: %s; stopping", ", ".join(dead))
                    break
        except KeyboardInterrupt:
            pass
        finally:
            self.down()

    # Context manager --------------------------------------------------------------------------

    def __enter__(self) -> "Sandbox":
        self.up()
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.down()

    def __repr__(self) -> str:
        return "Sandbox({!r})".format(self.directory)

