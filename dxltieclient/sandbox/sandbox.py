"""
:class:`Sandbox`: a local DXL fabric (Mosquitto + the fabric services) and the TIE emulator, in a
directory, as background processes.

Files in the sandbox directory:

* ``dxlclient.config``: the user's client configuration (what :meth:`Sandbox.up` returns);
* ``clients/NAME/``: each client's certificate, key (mode ``0600``) and ``dxlclient.config``;
* ``pki/``: the certificate authority, the broker's certificate and key;
* ``mosquitto.conf``, ``mosquitto.acl``: the broker's generated configuration and ACL;
* ``*.log``: the logs of the broker, the fabric services, the TIE emulator and the watchdog;
* ``tie.sqlite``: the TIE emulator's store;
* ``sandbox.json`` (port, broker id, process ids) and ``clients.json`` (provisioned clients).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import logging
import os
import sys
import threading
import time
import uuid
from typing import Any, Callable, Dict, Iterator, List, Mapping, Optional, Sequence

from . import _process, authz
from ._constants import QUERY_TOPIC, SERVICE_NOT_FOUND_CODE
from .broker import (
    Broker,
    BrokerError,
    BrokerFiles,
    find_mosquitto,
    mosquitto_conf_text,
    run_as_user,
)
from .dxlconfig import BROKER_HOST, write_config
from .pki import CertificateAuthority, validate_name, write_public_file
from .tie.store import read_counts

_logger = logging.getLogger(__name__)

#: The client whose configuration :meth:`Sandbox.up` returns (``DIR/dxlclient.config``).
USER_CLIENT = "sandbox-client"
#: The identity of the fabric services process.
FABRIC_CLIENT = "dxl-fabric-services"
#: The identity of the TIE emulator.
EMULATOR_CLIENT = "tie-server"
#: The identity the sandbox uses itself (probes, emitted events).
ADMIN_CLIENT = "sandbox-admin"
#: Client names :meth:`Sandbox.provision` refuses.
RESERVED_NAMES = (USER_CLIENT, FABRIC_CLIENT, EMULATOR_CLIENT, ADMIN_CLIENT, "broker")

#: The TIE service type the emulator registers.
_TIE_PROBE_TOPIC = "/mcafee/service/tie/file/reputation"
_PROBE_TOPIC = "/dxltieclient/sandbox/probe"

_STATE_FILE = "sandbox.json"
_CLIENTS_FILE = "clients.json"
_LOCK_FILE = ".lock"
_BROKER_LOG = "mosquitto.log"
_FABRIC_LOG = "fabric-services.log"
_EMULATOR_LOG = "tie-emulator.log"
_FABRIC_MARKER = "dxltieclient.sandbox.fabric_services"
_EMULATOR_MARKER = "dxltieclient.sandbox serve"

#: The sandbox's processes, in the order they are stopped (the emulator unregisters first).
STOP_ORDER = ("tie_emulator", "fabric_services", "broker")
#: What the command line of each process contains (a saved PID may have been reused).
PROCESS_MARKERS = {"tie_emulator": _EMULATOR_MARKER, "fabric_services": _FABRIC_MARKER,
                   "broker": Broker.MARKER}

_START_TIMEOUT = 30.0
_EMULATOR_STOP_TIMEOUT = 15.0
_STOP_TIMEOUT = 10.0
_LOCK_TIMEOUT = 120.0


class SandboxError(RuntimeError):
    """The sandbox could not do what was asked; the message says why and what to do."""


def default_directory() -> str:
    """
    :return: the sandbox directory used when none is given: ``$DXLTIE_SANDBOX_DIR``, else
        ``~/.dxltieclient/sandbox``
    """
    return os.environ.get("DXLTIE_SANDBOX_DIR") or os.path.join(
        os.path.expanduser("~"), ".dxltieclient", "sandbox"
    )


def _package_root() -> str:
    return os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _child_env() -> Dict[str, str]:
    """The environment of the sandbox's Python processes: this package importable, unbuffered."""
    env = dict(os.environ)
    root = _package_root()
    paths = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    if root not in paths:
        env["PYTHONPATH"] = os.pathsep.join([root] + paths)
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _destroy_quietly(client: Any) -> None:
    try:
        client.destroy()
    except Exception:  # noqa: BLE001  (best effort on the way out)
        _logger.debug("Error while closing the sandbox's own client", exc_info=True)


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

    :param directory: the sandbox directory (created if needed)
    :param port: the broker's TLS port on ``127.0.0.1``; ``None`` reuses the port saved in the
        directory, or picks a free one
    """

    def __init__(self, directory: str, port: Optional[int] = None) -> None:
        self._directory = os.path.abspath(os.path.expanduser(directory))
        if port is not None and not (0 < int(port) < 65536):
            raise ValueError("Invalid port {}: use 1-65535".format(port))
        self._requested_port = int(port) if port is not None else None
        self._lock_depth = 0
        self._lock_fd: Optional[int] = None
        self._thread_lock = threading.RLock()
        # The sandbox's own clients being closed in the background (see _admin_client).
        self._closing: List[threading.Thread] = []

    # Properties -------------------------------------------------------------------------------

    @property
    def directory(self) -> str:
        """The sandbox directory (absolute)."""
        return self._directory

    @property
    def config_file(self) -> str:
        """The user's client configuration, ``DIR/dxlclient.config``."""
        return os.path.join(self._directory, "dxlclient.config")

    @property
    def store_file(self) -> str:
        """The TIE emulator's store, ``DIR/tie.sqlite``."""
        return os.path.join(self._directory, "tie.sqlite")

    @property
    def port(self) -> int:
        """The broker's TLS port on ``127.0.0.1`` (chosen and saved on first use)."""
        with self._locked():
            return self._resolve_port(self._load_state())

    @property
    def admin_config_file(self) -> str:
        """The configuration of the sandbox's own client (probes, emitted events)."""
        return self._client_config_path(ADMIN_CLIENT)

    # Paths ------------------------------------------------------------------------------------

    def _path(self, *parts: str) -> str:
        return os.path.join(self._directory, *parts)

    def _client_dir(self, name: str) -> str:
        return self._path("clients", name)

    def _client_config_path(self, name: str) -> str:
        if name == USER_CLIENT:
            return self.config_file
        return os.path.join(self._client_dir(name), "dxlclient.config")

    def _broker_files(self) -> BrokerFiles:
        return BrokerFiles(
            conf_file=self._path("mosquitto.conf"),
            acl_file=self._path("mosquitto.acl"),
            log_file=self._path(_BROKER_LOG),
            ca_file=self._path("pki", "ca.crt"),
            cert_file=self._path("pki", "broker.crt"),
            key_file=self._path("pki", "broker.key"),
        )

    # State ------------------------------------------------------------------------------------

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """Serialises the sandbox's operations across threads and processes (bounded wait)."""
        with self._thread_lock:
            if self._lock_depth == 0:
                os.makedirs(self._directory, mode=0o700, exist_ok=True)
                fd = os.open(self._path(_LOCK_FILE), os.O_RDWR | os.O_CREAT, 0o600)
                deadline = time.monotonic() + _LOCK_TIMEOUT
                while True:
                    try:
                        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                        break
                    except OSError as ex:
                        if ex.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                            os.close(fd)
                            raise
                        if time.monotonic() >= deadline:
                            os.close(fd)
                            raise SandboxError(
                                "Another process has held the sandbox lock {} for {:.0f} s: "
                                "wait for it to finish".format(self._path(_LOCK_FILE),
                                                                _LOCK_TIMEOUT)
                            )
                        time.sleep(0.05)
                self._lock_fd = fd
            self._lock_depth += 1
            try:
                yield
            finally:
                self._lock_depth -= 1
                if self._lock_depth == 0 and self._lock_fd is not None:
                    fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
                    os.close(self._lock_fd)
                    self._lock_fd = None

    def _read_json(self, name: str) -> Dict[str, Any]:
        try:
            with open(self._path(name), encoding="utf-8") as state_file:
                value = json.load(state_file)
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as ex:
            raise SandboxError(
                "Cannot read {}: {}. Delete the file (or the whole sandbox directory) and run "
                "'up' again".format(self._path(name), ex)
            )
        return value if isinstance(value, dict) else {}

    def _write_json(self, name: str, value: Mapping[str, Any]) -> None:
        text = json.dumps(value, indent=2, sort_keys=True) + "\n"
        write_public_file(self._path(name), text.encode("utf-8"))

    def _load_state(self) -> Dict[str, Any]:
        state = self._read_json(_STATE_FILE)
        state.setdefault("pids", {})
        return state

    def _save_state(self, state: Mapping[str, Any]) -> None:
        self._write_json(_STATE_FILE, state)

    def _load_clients(self) -> Dict[str, Dict[str, Any]]:
        clients = self._read_json(_CLIENTS_FILE)
        return {k: v for k, v in clients.items() if isinstance(v, dict)}

    def _resolve_port(self, state: Dict[str, Any]) -> int:
        saved = state.get("port")
        if self._requested_port is not None:
            port = self._requested_port
        elif isinstance(saved, int) and saved > 0:
            port = saved
        else:
            port = _process.free_port(BROKER_HOST)
        if port != saved:
            if _process.is_running(state["pids"].get("broker"), self._broker_files().conf_file):
                raise SandboxError(
                    "The sandbox in {} already runs on port {}: run 'down' first to move it to "
                    "port {}".format(self._directory, saved, port)
                )
            state["port"] = port
            self._save_state(state)
        return port

    # Preparation: certificates, configurations, ACL -------------------------------------------

    def _prepare(self, state: Dict[str, Any]) -> int:
        """Creates or refreshes every file the processes need; returns the port."""
        port = self._resolve_port(state)
        if not state.get("broker_id"):
            state["broker_id"] = "{" + str(uuid.uuid4()) + "}"
            self._save_state(state)
        ca = CertificateAuthority(self._path("pki"))
        renew = ca.ensure()
        files = self._broker_files()
        ca.issue("broker", files.cert_file, files.key_file,
                 server_names=(BROKER_HOST, "localhost"), force=renew)
        clients = self._load_clients()
        for name in (USER_CLIENT, FABRIC_CLIENT, EMULATOR_CLIENT, ADMIN_CLIENT, *clients):
            self._issue_client(ca, name, state["broker_id"], port, renew)
        self._write_acl(clients)
        conf = mosquitto_conf_text(files, port, run_as_user())
        write_public_file(files.conf_file, conf.encode("utf-8"))
        return port

    def _issue_client(self, ca: CertificateAuthority, name: str, broker_id: str, port: int,
                      force: bool = False) -> str:
        client_dir = self._client_dir(name)
        identity = ca.issue(name, os.path.join(client_dir, "client.crt"),
                            os.path.join(client_dir, "client.key"), force=force)
        return write_config(self._client_config_path(name), ca.cert_file, identity.cert_file,
                            identity.key_file, broker_id, port)

    def _write_acl(self, clients: Mapping[str, Mapping[str, Any]]) -> None:
        denials = {name: list(info.get("deny") or []) for name, info in clients.items()}
        write_public_file(self._broker_files().acl_file,
                          authz.acl_text(denials).encode("utf-8"))

    # Processes --------------------------------------------------------------------------------

    def _broker(self, port: int) -> Broker:
        return Broker(self._broker_files(), port)

    def _fabric_command(self) -> List[str]:
        return [sys.executable, "-m", _FABRIC_MARKER, "--config",
                self._client_config_path(FABRIC_CLIENT)]

    def _emulator_command(self, delay_ms: float) -> List[str]:
        return [sys.executable, "-m", "dxltieclient.sandbox", "serve",
                "--config", self._client_config_path(EMULATOR_CLIENT),
                "--store", self.store_file, "--delay-ms", repr(float(delay_ms))]

    def _start(self, argv: List[str], log_name: str, foreground: bool) -> int:
        if foreground:
            return _process.start_attached(argv, env=_child_env())
        return _process.start_detached(argv, self._path(log_name), env=_child_env())

    def _ensure_processes(self, state: Dict[str, Any], fabric_only: bool, delay_ms: float,
                          started: List[str], foreground: bool = False) -> None:
        """Starts what is not running; lists what it started in ``started``."""
        pids = state["pids"]
        port = self._prepare(state)
        broker = self._broker(port)
        if not _process.is_running(pids.get("broker"), self._broker_files().conf_file):
            find_mosquitto()
            pids["broker"] = None
            self._save_state(state)
            pids["broker"] = broker.start(attached=foreground)
            started.append("broker")
            self._save_state(state)
        fabric_restarted = False
        if not _process.is_running(pids.get("fabric_services"), _FABRIC_MARKER):
            pids["fabric_services"] = self._start(self._fabric_command(), _FABRIC_LOG, foreground)
            started.append("fabric_services")
            fabric_restarted = True
            self._save_state(state)
        self._wait_fabric(state)
        emulator_pid = pids.get("tie_emulator")
        emulator_running = _process.is_running(emulator_pid, _EMULATOR_MARKER)
        # New fabric services start with an empty registry, and a running emulator would not
        # register again: restart it too.
        if emulator_running and (fabric_only or fabric_restarted
                                 or float(state.get("delay_ms", 0.0)) != delay_ms):
            _process.stop(emulator_pid, _EMULATOR_MARKER, _EMULATOR_STOP_TIMEOUT)
            emulator_running = False
            pids["tie_emulator"] = None
        state["fabric_only"] = bool(fabric_only)
        state["delay_ms"] = float(delay_ms)
        if not fabric_only:
            if not emulator_running:
                pids["tie_emulator"] = self._start(self._emulator_command(delay_ms),
                                                   _EMULATOR_LOG, foreground)
                started.append("tie_emulator")
                self._save_state(state)
            self._wait_emulator(state)
        self._save_state(state)

    @contextlib.contextmanager
    def _admin_client(self) -> Iterator[Any]:
        from .connect import new_client

        client = new_client(self.admin_config_file)
        try:
            client.connect()
            yield client
        finally:
            # dxlclient's disconnect waits a second for its network loop: do it in the background
            # (see _join_closing_clients).
            closing = threading.Thread(target=_destroy_quietly, args=(client,), daemon=True,
                                       name="sandbox-admin-close")
            closing.start()
            self._closing = [thread for thread in self._closing if thread.is_alive()]
            self._closing.append(closing)

    def _check_alive(self, state: Mapping[str, Any], key: str, marker: str, log_name: str,
                     what: str) -> None:
        if not _process.is_running(state["pids"].get(key), marker):
            raise SandboxError(
                "The {} exited (log {}):\n{}".format(
                    what, self._path(log_name), _process.log_tail(self._path(log_name))
                )
            )

    def _wait_until(self, state: Mapping[str, Any], probe: Callable[[Any, float], bool],
                    checks: Sequence[Any], what: str, timeout: float = _START_TIMEOUT) -> None:
        """
        Runs ``probe(client, request_timeout)`` with the admin client until it returns True
        (bounded). A request sent before the fabric services subscribed is lost, so the request
        timeout starts short and grows.
        """
        from dxlclient.exceptions import WaitTimeoutException

        deadline = time.monotonic() + timeout
        request_timeout = 0.25
        with self._admin_client() as client:
            while True:
                for check in checks:
                    self._check_alive(state, *check)
                try:
                    if probe(client, request_timeout):
                        return
                except WaitTimeoutException:
                    request_timeout = min(request_timeout * 2, 2.0)
                if time.monotonic() >= deadline:
                    raise SandboxError(
                        "The {} did not answer within {:.0f} s; see the logs in {}".format(
                            what, timeout, self._directory
                        )
                    )
                time.sleep(0.05)

    def _fabric_checks(self) -> List[Any]:
        return [("broker", self._broker_files().conf_file, _BROKER_LOG, "broker (Mosquitto)"),
                ("fabric_services", _FABRIC_MARKER, _FABRIC_LOG, "fabric services process")]

    def _wait_fabric(self, state: Mapping[str, Any]) -> None:
        """Waits until a request to a topic without service gets the broker's error back."""
        from dxlclient.message import ErrorResponse, Request

        def probe(client: Any, request_timeout: float) -> bool:
            response = client.sync_request(Request(_PROBE_TOPIC), timeout=request_timeout)
            return isinstance(response, ErrorResponse) and (
                response.error_code == SERVICE_NOT_FOUND_CODE
            )

        self._wait_until(state, probe, self._fabric_checks(), "fabric services")

    def _wait_emulator(self, state: Mapping[str, Any]) -> None:
        """
        Waits until the TIE emulator answers: a lookup without hashes gets its "invalid request"
        error back (which changes nothing in its store). A registration alone would not do: one
        left by an emulator that died stays in the registry until its TTL runs out.
        """
        from dxlclient.message import ErrorResponse, Request

        from .tie.service import ERROR_INVALID_REQUEST

        def probe(client: Any, request_timeout: float) -> bool:
            request = Request(_TIE_PROBE_TOPIC)
            request.payload = b"{}"
            response = client.sync_request(request, timeout=request_timeout)
            return isinstance(response, ErrorResponse) and (
                response.error_code == ERROR_INVALID_REQUEST)

        checks = self._fabric_checks() + [
            ("tie_emulator", _EMULATOR_MARKER, _EMULATOR_LOG, "TIE emulator")
        ]
        self._wait_until(state, probe, checks, "TIE emulator", timeout=60.0)

    # Public API -------------------------------------------------------------------------------

    def up(self, fabric_only: bool = False, delay_ms: float = 0.0) -> str:
        """
        Starts the sandbox (idempotent): Mosquitto, the fabric services and, unless
        ``fabric_only``, the TIE emulator, as background processes. Returns once a request
        round-trips through the fabric (and, with the emulator, once its service is registered).

        On a running sandbox it checks the processes, restarts any that died, stops or starts the
        emulator to match ``fabric_only`` and ``delay_ms``, and returns.

        :param fabric_only: run no TIE emulator (a fabric for your own mock services)
        :param delay_ms: the emulated TIE server's delay before each reply, in milliseconds
        :return: the path of the user's ``dxlclient.config``
        :raises dxltieclient.sandbox.broker.MosquittoNotFoundError: if Mosquitto is not
            installed
        :raises SandboxError: if a process fails to start (the message quotes its log)
        """
        if delay_ms < 0:
            raise ValueError("delay_ms must be >= 0, not {}".format(delay_ms))
        with self._locked():
            state = self._load_state()
            port_was_chosen_here = self._requested_port is None and not state.get("port")
            for attempt in (1, 2):
                started: List[str] = []
                try:
                    self._ensure_processes(state, fabric_only, float(delay_ms), started)
                    break
                except BrokerError as error:
                    # A free port picked a moment ago can be taken before Mosquitto binds it:
                    # pick another one, once.
                    if attempt == 1 and port_was_chosen_here and "in use" in str(error):
                        _logger.warning("Port %s was taken meanwhile: trying another one",
                                        state.get("port"))
                        state["port"] = None
                        self._stop_all(state, started)
                        continue
                    self._stop_started(state, started)
                    raise
                except BaseException:
                    self._stop_started(state, started)
                    raise
        return self.config_file

    def _stop_started(self, state: Dict[str, Any], started: List[str]) -> None:
        if started:
            _logger.error("Sandbox start failed; stopping what was started: %s",
                          ", ".join(started))
            self._stop_all(state, started)

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
            [sys.executable, "-m", "dxltieclient.sandbox.watchdog", "--dir", self._directory,
             "--owner", str(owner)],
            self._path("watchdog.log"), env=_child_env())

    def down(self) -> None:
        """
        Stops every process of the sandbox, in order: the TIE emulator (which unregisters its
        service), the fabric services, the broker. Files (certificates, store) are kept.
        """
        self._join_closing_clients()
        with self._locked():
            self._stop_all(self._load_state())

    def _join_closing_clients(self) -> None:
        """Waits (bounded) for the sandbox's own clients being closed in the background: a
        broker stopped under a closing client makes dxlclient's reconnect thread fail noisily."""
        for closing in self._closing:
            closing.join(timeout=_STOP_TIMEOUT)
        self._closing = []

    def _stop_all(self, state: Dict[str, Any], only: Optional[Sequence[str]] = None) -> None:
        """Stops the processes (``only`` those keys, if given), emulator first, broker last."""
        pids = state.setdefault("pids", {})
        for key, marker, timeout in (
            ("tie_emulator", _EMULATOR_MARKER, _EMULATOR_STOP_TIMEOUT),
            ("fabric_services", _FABRIC_MARKER, _STOP_TIMEOUT),
            ("broker", self._broker_files().conf_file, _STOP_TIMEOUT),
        ):
            if only is not None and key not in only:
                continue
            _process.stop(pids.get(key), marker, timeout)
            pids[key] = None
            self._save_state(state)

    def status(self) -> Dict[str, Any]:
        """
        Describes the sandbox.

        :return: ``running`` (every process it needs runs), ``directory``, ``port``,
            ``config_file``, ``store_file``, ``fabric_only``, ``delay_ms``, ``processes`` (name ->
            ``pid``, ``running``, ``log_file``), ``clients`` (name -> ``config_file``,
            ``deny``) and ``counts`` (what the TIE store holds: ``files``, ``certificates``,
            ``references``, ``agents``; ``None`` before the emulator first ran)
        """
        with self._locked():
            state = self._load_state()
            clients = self._load_clients()
        pids = state["pids"]
        fabric_only = bool(state.get("fabric_only", False))
        processes: Dict[str, Dict[str, Any]] = {}
        for key, marker, log_name in (
            ("broker", self._broker_files().conf_file, _BROKER_LOG),
            ("fabric_services", _FABRIC_MARKER, _FABRIC_LOG),
            ("tie_emulator", _EMULATOR_MARKER, _EMULATOR_LOG),
        ):
            pid = pids.get(key)
            running = _process.is_running(pid, marker)
            processes[key] = {"pid": pid if running else None, "running": running,
                              "log_file": self._path(log_name)}
        needed = ["broker", "fabric_services"] + ([] if fabric_only else ["tie_emulator"])
        return {
            "running": all(processes[key]["running"] for key in needed),
            "directory": self._directory,
            "port": state.get("port"),
            "host": BROKER_HOST,
            "config_file": self.config_file,
            "store_file": self.store_file,
            "fabric_only": fabric_only,
            "delay_ms": float(state.get("delay_ms", 0.0)),
            "processes": processes,
            "clients": {
                name: {"config_file": self._client_config_path(name),
                       "deny": list(info.get("deny") or [])}
                for name, info in sorted(clients.items())
            },
            "counts": read_counts(self.store_file),
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
        with self._locked():
            clients = self._load_clients()
            clients[name] = {"deny": groups}
            self._write_json(_CLIENTS_FILE, clients)
            state = self._load_state()
            self._prepare(state)
            if self._broker(int(state["port"])).reload(state["pids"].get("broker")):
                _logger.info("Broker reloaded its ACL")
        return self._client_config_path(name)

    def restart_broker(self) -> None:
        """
        Stops and restarts only the broker, on the same port (connected clients are disconnected
        and reconnect by themselves). Returns once the fabric answers requests again.

        :raises SandboxError: if the sandbox is not running
        """
        with self._locked():
            state = self._load_state()
            pids = state["pids"]
            if not _process.is_running(pids.get("broker"), self._broker_files().conf_file):
                raise SandboxError("The sandbox in {} is not running: run 'up' first".format(
                    self._directory))
            broker = self._broker(self._prepare(state))
            self._join_closing_clients()
            broker.stop(pids.get("broker"))
            pids["broker"] = None
            self._save_state(state)
            pids["broker"] = broker.start()
            self._save_state(state)
            self._wait_fabric(state)
            if _process.is_running(pids.get("tie_emulator"), _EMULATOR_MARKER):
                self._wait_emulator(state)  # it reconnects and registers again by itself

    def _send_event(self, topic: str, payload: Mapping[str, Any]) -> None:
        from dxlclient.message import Event, Request

        with self._locked():
            state = self._load_state()
            if not _process.is_running(state["pids"].get("broker"), self._broker_files().conf_file):
                raise SandboxError("The sandbox in {} is not running: run 'up' first".format(
                    self._directory))
        event = Event(topic)
        event.payload = json.dumps(payload).encode("utf-8")
        with self._admin_client() as client:
            client.send_event(event)
            # A round trip after the event: once it is back, the broker has handled the event.
            client.sync_request(Request(QUERY_TOPIC), timeout=10)

    def emit_detection(self, hashes: Mapping[str, str], agent_guid: str, name: str,
                       local_reputation: int, remediation_action: int,
                       detection_time: Optional[int] = None) -> None:
        """
        Publishes a detection event, as the TIE server does when an endpoint acts on a file.

        :param hashes: the file's hashes, hash type -> hex (``{"md5": ..., "sha1": ...}``)
        :param agent_guid: the endpoint's agent GUID
        :param name: the file name
        :param local_reputation: the reputation the endpoint computed (a ``TrustLevel`` value)
        :param remediation_action: the action taken (a ``FileReputationProp`` remediation value)
        :param detection_time: epoch seconds (default: now)
        :raises SandboxError: if the sandbox is not running
        """
        from ..client import TIE_EVENT_FILE_DETECTION_TOPIC
        from .tie import events

        payload = events.detection_event(hashes, agent_guid, name, local_reputation,
                                         remediation_action, detection_time)
        self._send_event(TIE_EVENT_FILE_DETECTION_TOPIC, payload)

    def emit_first_instance(self, hashes: Mapping[str, str], agent_guid: str, name: str) -> None:
        """
        Publishes a first-instance event, as the TIE server does when a file is first seen in the
        enterprise.

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
            on_ready: Optional[Callable[[str], None]] = None) -> None:
        """
        Runs the sandbox in the foreground, logs on this process's stdout/stderr, until
        ``stop_event`` is set or KeyboardInterrupt; then stops everything.

        :param fabric_only: run no TIE emulator
        :param delay_ms: the emulated TIE server's delay, in milliseconds
        :param stop_event: set it to stop
        :param on_ready: called with the user's configuration path once everything is up
        :raises SandboxError: if the sandbox already runs in the background
        """
        stop = stop_event or threading.Event()
        with self._locked():
            state = self._load_state()
            if any(_process.is_running(state["pids"].get(key), marker) for key, marker in (
                    ("broker", self._broker_files().conf_file), ("fabric_services", _FABRIC_MARKER),
                    ("tie_emulator", _EMULATOR_MARKER))):
                raise SandboxError("The sandbox in {} already runs: run 'down' first".format(
                    self._directory))
            try:
                self._ensure_processes(state, fabric_only, float(delay_ms), [], foreground=True)
            except BaseException:
                self._stop_all(state)
                raise
        try:
            if on_ready is not None:
                on_ready(self.config_file)
            keys = ["broker", "fabric_services"] + ([] if fabric_only else ["tie_emulator"])
            markers = {"broker": Broker.MARKER, "fabric_services": _FABRIC_MARKER,
                       "tie_emulator": _EMULATOR_MARKER}
            while not stop.wait(0.5):
                dead = [k for k in keys if not _process.is_running(state["pids"].get(k),
                                                                    markers[k])]
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
        return "Sandbox({!r})".format(self._directory)
