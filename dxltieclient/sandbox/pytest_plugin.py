"""
A pytest plugin: fixtures that run your tests against a real local DXL fabric with a TIE emulator.

Enable it in your ``conftest.py``:

.. code-block:: python

    pytest_plugins = ["dxltieclient.sandbox.pytest_plugin"]

then use the fixtures:

.. code-block:: python

    def test_lookup(tie_client):
        reputations = tie_client.get_file_reputation({"md5": "f2c7bb8acc97f92e987a2d4087d021b1"})
        assert reputations

Fixtures:

* ``tie_sandbox`` (session): a running :class:`~dxltieclient.sandbox.Sandbox` (broker, fabric
  services, TIE emulator) in a temporary directory, on a free port of ``127.0.0.1``; stopped at
  the end of the session, even when tests fail;
* ``tie_sandbox_config`` (session): the path of its ``dxlclient.config``;
* ``tie_fabric`` (session): a second sandbox with the DXL fabric only (no TIE emulator), for
  tests that register their own mock services;
* ``tie_dxl_client`` (function): a :class:`dxlclient.client.DxlClient` connected to
  ``tie_sandbox``, destroyed after the test;
* ``tie_client`` (function): a :class:`dxltieclient.TieClient` over ``tie_dxl_client``;
* ``tie_dxl_client_session`` and ``tie_client_session`` (session): the same, shared by the whole
  session, so that tests do not each pay dxlclient's disconnection (about a second). Callbacks a
  test adds to them stay until it removes them.

The plugin also hides the ``DeprecationWarning`` s that dxlclient and its bundled MQTT client
raise themselves (deprecated ``threading`` and ``ssl`` names): they are not your code's, and
nothing you can fix.

The sandbox needs the Mosquitto broker (``apt-get install mosquitto``, ``brew install
mosquitto``). Without it the fixtures fail with that message: tests are not skipped.
"""

from __future__ import annotations

from typing import Any, Iterator

import pytest

from .sandbox import Sandbox

#: Warning filters the plugin adds (pytest ``filterwarnings`` syntax): dxlclient's own
#: deprecation warnings.
WARNING_FILTERS = (
    "ignore::DeprecationWarning:dxlclient.*",
    "ignore::DeprecationWarning:pahoproxy.*",
)


def pytest_configure(config: pytest.Config) -> None:
    """Adds :data:`WARNING_FILTERS` to the session's warning filters."""
    for line in WARNING_FILTERS:
        config.addinivalue_line("filterwarnings", line)


def _running_sandbox(directory: str, fabric_only: bool) -> Iterator[Sandbox]:
    sandbox = Sandbox(directory)
    try:
        sandbox.up(fabric_only=fabric_only)
        sandbox.start_watchdog()  # stops the sandbox if this session is killed before teardown
        yield sandbox
    finally:
        sandbox.down()


@pytest.fixture(scope="session")
def tie_sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    """
    A running sandbox with the TIE emulator, shared by the whole test session.

    :return: the :class:`~dxltieclient.sandbox.Sandbox`
    """
    yield from _running_sandbox(str(tmp_path_factory.mktemp("tie-sandbox")), fabric_only=False)


@pytest.fixture(scope="session")
def tie_sandbox_config(tie_sandbox: Sandbox) -> str:
    """
    :return: the path of the ``dxlclient.config`` of a client of :func:`tie_sandbox`
    """
    return tie_sandbox.config_file


@pytest.fixture(scope="session")
def tie_fabric(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    """
    A running sandbox without the TIE emulator (the DXL fabric only), shared by the session: for
    tests that register their own services with ``register_service_sync``.

    :return: the :class:`~dxltieclient.sandbox.Sandbox`
    """
    yield from _running_sandbox(str(tmp_path_factory.mktemp("tie-fabric")), fabric_only=True)


@pytest.fixture
def tie_dxl_client(tie_sandbox: Sandbox) -> Iterator[Any]:
    """
    :return: a :class:`dxlclient.client.DxlClient` connected to :func:`tie_sandbox`
    """
    from .connect import connected_client

    with connected_client(tie_sandbox.config_file) as client:
        yield client


@pytest.fixture
def tie_client(tie_dxl_client: Any) -> Any:
    """
    :return: a :class:`dxltieclient.TieClient` over :func:`tie_dxl_client`
    """
    from dxltieclient import TieClient

    return TieClient(tie_dxl_client)


@pytest.fixture(scope="session")
def tie_dxl_client_session(tie_sandbox: Sandbox) -> Iterator[Any]:
    """
    :return: a :class:`dxlclient.client.DxlClient` connected to :func:`tie_sandbox`, shared by
        the whole session
    """
    from .connect import connected_client

    with connected_client(tie_sandbox.config_file) as client:
        yield client


@pytest.fixture(scope="session")
def tie_client_session(tie_dxl_client_session: Any) -> Any:
    """
    :return: a :class:`dxltieclient.TieClient` over :func:`tie_dxl_client_session`, shared by the
        whole session
    """
    from dxltieclient import TieClient

    return TieClient(tie_dxl_client_session)
