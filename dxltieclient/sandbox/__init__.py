"""
The dxltieclient sandbox: a real local DXL fabric (Mosquitto with TLS client certificates, plus the
services a DXL broker answers itself) and a TIE service emulator, so that code using
:class:`dxltieclient.TieClient` runs and is tested without a TIE server or ePO.

From Python:

.. code-block:: python

    from dxltieclient.sandbox import Sandbox

    with Sandbox("/tmp/tie-sandbox") as sandbox:
        config_file = sandbox.config_file   # a dxlclient.config for DxlClientConfig

From a shell: ``python -m dxltieclient.sandbox up`` or ``dxltie-sandbox up`` (prints the
configuration path), ``status``, ``provision``, ``emit``, ``down``. In pytest, enable the plugin
with ``pytest_plugins = ["dxltieclient.sandbox.pytest_plugin"]`` for the ``tie_sandbox`` fixture.

Every error the sandbox raises on purpose is a :class:`SandboxError` (see
:mod:`dxltieclient.sandbox.errors` for the tree).
"""

from .connect import connected_client, new_client
from .errors import (
    BrokerError,
    MosquittoNotFoundError,
    NotASandboxError,
    PortInUseError,
    ProcessError,
    SandboxError,
    SandboxLockError,
    SandboxNotRunningError,
    SandboxStartError,
    SandboxStateError,
)
from .paths import default_directory
from .sandbox import Sandbox

__all__ = [
    "Sandbox", "SandboxError", "MosquittoNotFoundError", "default_directory", "connected_client",
    "new_client", "NotASandboxError", "SandboxNotRunningError", "SandboxStartError",
    "SandboxLockError", "SandboxStateError", "PortInUseError", "BrokerError", "ProcessError",
]
