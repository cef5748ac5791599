"""Fixtures shared by every test directory: the sandbox's pytest plugin (``tie_sandbox`` & co.)."""

pytest_plugins = ["dxltieclient.sandbox.pytest_plugin"]
