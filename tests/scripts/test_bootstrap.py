"""
The set-up behind the README's two commands (scripts/bootstrap.sh, through tests/run_tests.sh and
sample/run_samples.sh), run in a temporary copy of the checkout with stubs on PATH: ``id`` (the
user), ``apt-get``, the system's ``python3`` and the virtual environment's python (which logs
``pip install`` instead of installing). No root, apt or network is needed; every call is logged.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
COPIED = ["scripts/bootstrap.sh", "tests/run_tests.sh", "sample/run_samples.sh", "setup.py",
          "pyproject.toml", "README.md", "dxltieclient/_version.py"]

ID_STUB = """#!/bin/sh
echo "$STUB_UID"
"""
APT_STUB = """#!/bin/sh
echo "apt-get $*" >> "$STUB_LOG"
case "$*" in
    *" install "*)
        printf '#!/bin/sh\\n' > "$STUB_SBIN/mosquitto" && chmod +x "$STUB_SBIN/mosquitto"
        touch "$STUB_DIR/venv-ok" ;;
esac
"""
SYSTEM_PYTHON_STUB = """#!/bin/sh
echo "python3 $*" >> "$STUB_LOG"
case "$1 $2" in
    "-c import venv, ensurepip") test -e "$STUB_DIR/venv-ok"; exit $? ;;
    "-c import sys; sys.exit(sys.version_info < (3, 9))") exit 0 ;;
    "-m venv")
        mkdir -p "$4/bin" && cp "$STUB_DIR/venv-python" "$4/bin/python" && exit 0 ;;
esac
exit 99
"""
# The venv's python: "pip install" records where dxltieclient now comes from (the checkout, or
# $STUB_INSTALL_FROM); imports run on the real interpreter without site-packages (-S)
VENV_PYTHON_STUB = """#!/bin/sh
echo "venv-python $*" >> "$STUB_LOG"
venv=$(dirname "$0")/..
case "$1 $2" in
    "-c ") exit 0 ;;
    "-c import pip") exit 0 ;;
    "-m pip")
        for spec; do :; done
        echo "${STUB_INSTALL_FROM:-${spec%%[*}}" > "$venv/installed-from"; exit 0 ;;
    "-m pytest") echo "PYTEST RAN: $*"; exit 0 ;;
esac
case "$1" in *run_samples.py) echo "SAMPLES RAN"; exit 0 ;; esac
PYTHONPATH="${PYTHONPATH:+$PYTHONPATH:}$(cat "$venv/installed-from" 2>/dev/null)" \\
    exec "$REAL_PYTHON" -S "$@"
"""


class Checkout:
    """A temporary copy of the checkout's set-up files, with stubs and a log of their calls."""

    def __init__(self, root: Path) -> None:
        self.dir = root / "checkout"
        for name in COPIED:
            (self.dir / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(REPO / name, self.dir / name)
        (self.dir / "dxltieclient" / "__init__.py").write_text("")
        self.stubs = root / "stubs"
        self.sbin = root / "sbin"
        self.sbin.mkdir()
        self.stubs.mkdir()
        self.log = root / "calls.log"
        self.log.write_text("")
        for name, text in [("id", ID_STUB), ("apt-get", APT_STUB),
                           ("python3", SYSTEM_PYTHON_STUB), ("venv-python", VENV_PYTHON_STUB)]:
            self._write_executable(self.stubs / name, text)
        self.ca_bundle = root / "ca.crt"
        self.ca_bundle.write_text("a certificate\n")
        self.env = {
            "PATH": "{}:/usr/bin:/bin".format(self.stubs), "HOME": str(root),
            "STUB_LOG": str(self.log), "STUB_DIR": str(self.stubs), "STUB_SBIN": str(self.sbin),
            "STUB_UID": "1000", "REAL_PYTHON": sys.executable,
            "_DXLTIE_SBIN_DIRS": str(self.sbin), "_DXLTIE_CA_BUNDLE": str(self.ca_bundle),
            "_DXLTIE_APT_LOCKS": str(root / "no-such-lock"),
        }

    @staticmethod
    def _write_executable(path: Path, text: str) -> None:
        path.write_text(text)
        path.chmod(path.stat().st_mode | stat.S_IXUSR)

    def provide(self, mosquitto: bool = True, venv: bool = True) -> None:
        """Makes the system packages present (as if installed)."""
        if mosquitto:
            self._write_executable(self.sbin / "mosquitto", "#!/bin/sh\n")
        if venv:
            (self.stubs / "venv-ok").touch()

    def run(self, script: str, *args: str, **env: str) -> subprocess.CompletedProcess:
        self.log.write_text("")
        return subprocess.run(["bash", str(self.dir / script), *args], cwd=str(self.dir),
                              env={**self.env, **env}, capture_output=True, text=True,
                              timeout=60)

    def calls(self) -> list[str]:
        return self.log.read_text().splitlines()

    def pip_calls(self) -> list[str]:
        return [call for call in self.calls() if " -m pip install " in call]


@pytest.fixture
def checkout(tmp_path: Path) -> Checkout:
    return Checkout(tmp_path)


@pytest.mark.parametrize("script", ["tests/run_tests.sh", "sample/run_samples.sh"])
def test_a_user_is_told_the_exact_command_before_anything_runs(checkout: Checkout,
                                                               script: str) -> None:
    result = checkout.run(script)
    assert result.returncode != 0
    assert "    sudo apt-get install -y mosquitto python3-venv\n" in result.stderr
    # Only the check of python3's venv module ran: no apt-get, no venv, no pip, no pytest
    assert checkout.calls() == ["python3 -c import venv, ensurepip"]
    assert not (checkout.dir / ".venv").exists()
    assert "RAN" not in result.stdout


def test_a_user_missing_only_mosquitto_is_told_only_that(checkout: Checkout) -> None:
    checkout.provide(mosquitto=False)
    result = checkout.run("tests/run_tests.sh")
    assert result.returncode != 0
    assert "    sudo apt-get install -y mosquitto\n" in result.stderr


def test_ca_certificates_are_needed_only_while_pip_has_to_download(checkout: Checkout) -> None:
    checkout.provide()
    checkout.ca_bundle.unlink()
    result = checkout.run("tests/run_tests.sh")
    assert result.returncode != 0
    assert "    sudo apt-get install -y ca-certificates\n" in result.stderr
    checkout.ca_bundle.write_text("a certificate\n")
    assert checkout.run("tests/run_tests.sh").returncode == 0
    checkout.ca_bundle.unlink()
    assert checkout.run("tests/run_tests.sh").returncode == 0     # installed already


def test_root_installs_the_missing_packages_then_sets_up_and_runs(checkout: Checkout) -> None:
    result = checkout.run("tests/run_tests.sh", "-q", STUB_UID="0")
    assert result.returncode == 0, result.stderr
    calls = checkout.calls()
    apt = [call for call in calls if call.startswith("apt-get")]
    assert len(apt) == 2 and apt[0].endswith(" update -qq")
    assert apt[1].endswith(" install -y -qq mosquitto python3-venv")
    assert "-o DPkg::Lock::Timeout=120" in apt[1]
    venv_created = calls.index("python3 -m venv --clear {}/.venv".format(checkout.dir))
    assert calls.index(apt[1]) < venv_created < calls.index(checkout.pip_calls()[0])
    assert "PYTEST RAN: -m pytest -q" in result.stdout


def test_first_run_creates_the_venv_and_installs_this_checkout(checkout: Checkout) -> None:
    checkout.provide()
    result = checkout.run("tests/run_tests.sh", "tests/unit", "-q")
    assert result.returncode == 0, result.stderr
    assert "python3 -m venv --clear {}/.venv".format(checkout.dir) in checkout.calls()
    assert checkout.pip_calls() == [
        "venv-python -m pip install -q -e {}[test]".format(checkout.dir)]
    assert "PYTEST RAN: -m pytest tests/unit -q" in result.stdout
    assert not any(call.startswith("apt-get") for call in checkout.calls())


def test_a_second_run_skips_pip(checkout: Checkout) -> None:
    checkout.provide()
    assert checkout.run("tests/run_tests.sh").returncode == 0
    result = checkout.run("tests/run_tests.sh")
    assert result.returncode == 0, result.stderr
    assert checkout.pip_calls() == []
    assert not any("-m venv" in call for call in checkout.calls())
    assert "PYTEST RAN" in result.stdout


@pytest.mark.parametrize("changed", ["setup.py", "pyproject.toml", "dxltieclient/_version.py"])
def test_a_changed_setup_installs_again(checkout: Checkout, changed: str) -> None:
    checkout.provide()
    assert checkout.run("tests/run_tests.sh").returncode == 0
    with open(checkout.dir / changed, "a") as setup_file:
        setup_file.write("\n# changed\n")
    assert checkout.run("tests/run_tests.sh").returncode == 0
    assert len(checkout.pip_calls()) == 1


def test_samples_install_the_package_and_tests_add_the_test_tools(checkout: Checkout) -> None:
    checkout.provide()
    result = checkout.run("sample/run_samples.sh")
    assert result.returncode == 0, result.stderr
    assert "SAMPLES RAN" in result.stdout
    assert checkout.pip_calls() == ["venv-python -m pip install -q -e {}".format(checkout.dir)]
    checkout.run("tests/run_tests.sh")
    assert checkout.pip_calls() == [
        "venv-python -m pip install -q -e {}[test]".format(checkout.dir)]
    assert checkout.run("sample/run_samples.sh").returncode == 0
    assert checkout.pip_calls() == []


def test_a_venv_left_without_pip_is_made_again(checkout: Checkout) -> None:
    # What `python3 -m venv` leaves behind on Debian when python3-venv is missing
    checkout.provide()
    venv_bin = checkout.dir / ".venv" / "bin"
    venv_bin.mkdir(parents=True)
    Checkout._write_executable(venv_bin / "python", '#!/bin/sh\n[ "$2" != "import pip" ]\n')
    assert checkout.run("tests/run_tests.sh").returncode == 0
    assert "python3 -m venv --clear {}/.venv".format(checkout.dir) in checkout.calls()


def foreign_copy(root: Path) -> Path:
    (root / "elsewhere" / "dxltieclient").mkdir(parents=True)
    (root / "elsewhere" / "dxltieclient" / "__init__.py").write_text("")
    return root / "elsewhere"


def test_a_venv_importing_another_copy_is_refused(checkout: Checkout, tmp_path: Path) -> None:
    checkout.provide()
    elsewhere = foreign_copy(tmp_path)
    result = checkout.run("tests/run_tests.sh", STUB_INSTALL_FROM=str(elsewhere))
    assert result.returncode != 0
    assert "imports dxltieclient from {}/dxltieclient/__init__.py, not from this checkout".format(
        elsewhere) in result.stderr
    assert "PYTEST RAN" not in result.stdout


def test_pythonpath_naming_another_copy_is_refused(checkout: Checkout, tmp_path: Path) -> None:
    checkout.provide()
    assert checkout.run("tests/run_tests.sh").returncode == 0
    result = checkout.run("tests/run_tests.sh", PYTHONPATH=str(foreign_copy(tmp_path)))
    assert result.returncode != 0
    assert "Unset PYTHONPATH" in result.stderr
    assert "PYTEST RAN" not in result.stdout


def test_a_copy_installed_elsewhere_is_replaced_by_this_checkout(checkout: Checkout,
                                                                 tmp_path: Path) -> None:
    checkout.provide()
    assert checkout.run("tests/run_tests.sh").returncode == 0
    (checkout.dir / ".venv" / "installed-from").write_text(str(foreign_copy(tmp_path)))
    result = checkout.run("tests/run_tests.sh")
    assert result.returncode == 0, result.stderr
    assert len(checkout.pip_calls()) == 1


def test_root_waits_for_a_held_dpkg_lock_then_gives_up(checkout: Checkout,
                                                       tmp_path: Path) -> None:
    lock = tmp_path / "lock-frontend"
    with open(lock, "w") as held:
        fcntl.lockf(held, fcntl.LOCK_EX | fcntl.LOCK_NB)     # as dpkg and apt-get take it
        result = checkout.run("tests/run_tests.sh", STUB_UID="0", _DXLTIE_APT_LOCKS=str(lock),
                              DXLTIE_APT_LOCK_TIMEOUT="1")
    assert result.returncode != 0
    assert "Waiting up to 1 s for another package manager to finish (process {} holds {})".format(
        os.getpid(), lock) in result.stderr
    assert "is still held by process {} after 1 s".format(os.getpid()) in result.stderr
    assert not any(call.startswith("apt-get") for call in checkout.calls())


def test_an_unheld_lock_file_does_not_delay(checkout: Checkout, tmp_path: Path) -> None:
    lock = tmp_path / "lock-frontend"
    lock.write_text("")
    result = checkout.run("tests/run_tests.sh", STUB_UID="0", _DXLTIE_APT_LOCKS=str(lock),
                          DXLTIE_APT_LOCK_TIMEOUT="0")
    assert result.returncode == 0, result.stderr
    assert "Waiting" not in result.stderr


@pytest.mark.parametrize("heading, command", [("Run the samples", "bash sample/run_samples.sh"),
                                              ("Run the tests", "bash tests/run_tests.sh")])
def test_ci_finds_the_readme_commands(heading: str, command: str) -> None:
    found = subprocess.run(
        ["bash", "-c", 'source scripts/bootstrap.sh && dxltie_readme_command "$0"', heading],
        cwd=str(REPO), capture_output=True, text=True, timeout=30, check=True)
    assert found.stdout == command + "\n"
