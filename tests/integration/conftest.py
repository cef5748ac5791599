"""
The integration tests run against real Mosquitto brokers on 127.0.0.1, started by the sandbox
plugin's session fixtures (``tie_sandbox``, ``tie_fabric``), enabled in tests/conftest.py.
Helpers for the fabric tests are in ``fabric_helpers.py``.
"""

import pytest


def pytest_collection_modifyitems(items):
    """Marks every test of this directory ``integration``."""
    for item in items:
        if "/integration/" in str(item.fspath).replace("\\", "/"):
            item.add_marker(pytest.mark.integration)
