"""
Where a sandbox keeps its files, and private (``0700``) directories whatever the umask.

Files in the sandbox directory:

* ``dxlclient.config``: the user's client configuration (what ``up`` returns);
* ``clients/NAME/``: each client's certificate, key (mode ``0600``) and ``dxlclient.config``;
* ``pki/``: the certificate authority, the broker's certificate and key;
* ``mosquitto.conf``, ``mosquitto.acl``: the broker's generated configuration and ACL;
* ``*.log``: the logs of the broker, the fabric services, the TIE emulator and the watchdog
  (rotated to ``*.log.1`` when they grow past :data:`~._process.LOG_MAX_BYTES`);
* ``tie.sqlite``: the TIE emulator's store;
* ``sandbox.json`` (port, broker id, options, process ids), ``clients.json`` (provisioned
  clients) and ``.lock`` (the lock that serialises operations).
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass

#: The client whose configuration ``up`` returns (``DIR/dxlclient.config``).
USER_CLIENT = "sandbox-client"
#: The identity of the fabric services process.
FABRIC_CLIENT = "dxl-fabric-services"
#: The identity of the TIE emulator.
EMULATOR_CLIENT = "tie-server"
#: The identity the sandbox uses itself (probes, emitted events).
ADMIN_CLIENT = "sandbox-admin"
#: Client names ``provision`` refuses.
RESERVED_NAMES = (USER_CLIENT, FABRIC_CLIENT, EMULATOR_CLIENT, ADMIN_CLIENT, "broker")

STATE_FILE = "sandbox.json"
CLIENTS_FILE = "clients.json"
LOCK_FILE = ".lock"


def default_directory() -> str:
    """
    :return: the sandbox directory used when none is given: ``$DXLTIE_SANDBOX_DIR``, else
        ``~/.dxltieclient/sandbox``
    """
    return os.environ.get("DXLTIE_SANDBOX_DIR") or os.path.join(
        os.path.expanduser("~"), ".dxltieclient", "sandbox"
    )


def make_private_dir(path: str) -> bool:
    """
    Creates a directory and its missing parents with mode ``0700`` whatever the umask (existing
    directories are left as they are).

    :param path: the directory
    :return: whether it was created (``False``: it existed)
    """
    path = os.path.abspath(path)
    if os.path.isdir(path):
        return False
    make_private_dir(os.path.dirname(path))
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        if os.path.isdir(path):
            return False
        raise
    os.chmod(path, stat.S_IRWXU)  # mkdir's mode went through the umask
    return True


@dataclass(frozen=True)
class SandboxPaths:
    """
    The files of a sandbox.

    :param directory: the sandbox directory (absolute)
    """

    directory: str

    def path(self, *parts: str) -> str:
        """:return: a path in the sandbox directory"""
        return os.path.join(self.directory, *parts)

    @property
    def config_file(self) -> str:
        """The user's client configuration, ``DIR/dxlclient.config``."""
        return self.path("dxlclient.config")

    @property
    def store_file(self) -> str:
        """The TIE emulator's store, ``DIR/tie.sqlite``."""
        return self.path("tie.sqlite")

    @property
    def state_file(self) -> str:
        """``DIR/sandbox.json``: its presence is what makes the directory a sandbox."""
        return self.path(STATE_FILE)

    @property
    def clients_file(self) -> str:
        """``DIR/clients.json``: the provisioned clients."""
        return self.path(CLIENTS_FILE)

    @property
    def lock_file(self) -> str:
        """``DIR/.lock``."""
        return self.path(LOCK_FILE)

    @property
    def pki_dir(self) -> str:
        """The certificate authority's directory."""
        return self.path("pki")

    def client_dir(self, name: str) -> str:
        """:return: the directory of client ``name``'s certificate, key and configuration"""
        return self.path("clients", name)

    def client_config(self, name: str) -> str:
        """:return: the ``dxlclient.config`` of client ``name``"""
        if name == USER_CLIENT:
            return self.config_file
        return os.path.join(self.client_dir(name), "dxlclient.config")

    def is_sandbox(self) -> bool:
        """:return: whether the directory holds a sandbox (its state file exists)"""
        return os.path.isfile(self.state_file)
