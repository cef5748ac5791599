"""
The pytest plugin as a user's test session sees it (an inner pytest run in a temporary
directory): the session-scoped TIE client fixture, and no DeprecationWarning from dxlclient.
"""

from __future__ import annotations

import subprocess
import sys
from typing import Any

MD5 = "f2c7bb8acc97f92e987a2d4087d021b1"

USER_TESTS = '''
SEEN = []


def test_one(tie_client_session):
    SEEN.append(tie_client_session)
    assert tie_client_session.get_file_reputation({{"md5": "{md5}"}})


def test_two(tie_client_session, tie_client):
    assert SEEN == [tie_client_session]  # one client for the whole session
    assert tie_client.get_file_reputation({{"md5": "{md5}"}})
'''.format(md5=MD5)


def test_session_client_and_no_dxlclient_deprecation_warnings(tmp_path: Any) -> None:
    (tmp_path / "conftest.py").write_text(
        'pytest_plugins = ["dxltieclient.sandbox.pytest_plugin"]\n')
    (tmp_path / "test_user.py").write_text(USER_TESTS)
    (tmp_path / "pytest.ini").write_text("[pytest]\n")  # not this project's filters
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-c",
         str(tmp_path / "pytest.ini"), "--rootdir", str(tmp_path), str(tmp_path)],
        capture_output=True, text=True, timeout=240, check=False, cwd=str(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 passed" in result.stdout
    assert "DeprecationWarning" not in result.stdout, result.stdout
