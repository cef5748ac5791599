"""dxltie exit codes without a broker: configuration, unreachable broker, bad input, and the
mapping of the library's errors (a fake TIE client stands in for the fabric)."""

from __future__ import annotations

import contextlib
import socket
import time
from typing import Any, Iterator

import pytest
from dxlclient.exceptions import WaitTimeoutException

from dxltieclient import (
    TieServiceError,
    TieServiceNotFoundError,
    TieTimeoutError,
)
from dxltieclient.cli import main
from dxltieclient.cli.commands import items_exit_code

MD5 = "f2c7bb8acc97f92e987a2d4087d021b1"
SHA1 = "7eb0139d2175739b3ccb0d1110067820be6abd29"


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def write_config(directory: Any, port: int) -> str:
    """Writes a dxlclient.config naming a broker on 127.0.0.1:``port`` (dummy certificates)."""
    for name in ("ca.crt", "client.crt", "client.key"):
        (directory / name).write_text("dummy\n")
    path = directory / "dxlclient.config"
    path.write_text(
        "[Certs]\nBrokerCertChain={d}/ca.crt\nCertFile={d}/client.crt\n"
        "PrivateKey={d}/client.key\n\n[Brokers]\nb1=b1;{port};127.0.0.1;127.0.0.1\n\n"
        "[General]\nUseWebSockets=false\n".format(d=directory, port=port))
    return str(path)


@pytest.fixture(autouse=True)
def _no_ambient_config(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DXLTIE_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)


def test_missing_config_exits_3_and_says_how_to_create_one(
        capsys: pytest.CaptureFixture) -> None:
    assert main(["reputation", MD5]) == 3
    err = capsys.readouterr().err
    assert "no DXL client configuration" in err
    assert "python -m dxlclient provisionconfig" in err
    assert "python -m dxltieclient.sandbox up" in err
    assert "Traceback" not in err


def test_config_named_by_option_or_environment_must_exist(
        tmp_path: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    missing = str(tmp_path / "nope.config")
    assert main(["--config", missing, "references", MD5]) == 3
    assert missing in capsys.readouterr().err
    monkeypatch.setenv("DXLTIE_CONFIG", missing)
    assert main(["cert-reputation", SHA1]) == 3
    assert "$DXLTIE_CONFIG" in capsys.readouterr().err


def test_unreadable_config_exits_3(tmp_path: Any, capsys: pytest.CaptureFixture) -> None:
    bad = tmp_path / "bad.config"
    bad.write_text("this is not an ini file\n")
    assert main(["--config", str(bad), "reputation", MD5]) == 3
    assert "cannot read the DXL client configuration" in capsys.readouterr().err
    config = write_config(tmp_path, 1)
    (tmp_path / "client.key").unlink()
    assert main(["--config", config, "reputation", MD5]) == 3
    assert "PrivateKey file" in capsys.readouterr().err


def test_closed_broker_port_exits_4_within_seconds(tmp_path: Any,
                                                   capsys: pytest.CaptureFixture) -> None:
    config = write_config(tmp_path, _closed_port())
    started = time.monotonic()
    assert main(["--config", config, "--connect-timeout", "3", "reputation", MD5]) == 4
    assert time.monotonic() - started < 5
    err = capsys.readouterr().err
    assert "cannot reach any DXL broker: 127.0.0.1:" in err and "Traceback" not in err


def test_bad_input_exits_2_before_connecting(tmp_path: Any,
                                             capsys: pytest.CaptureFixture) -> None:
    config = write_config(tmp_path, _closed_port())  # would exit 4 if it connected
    assert main(["--config", config, "reputation", MD5, MD5[:31]]) == 2
    assert "31 hexadecimal digits" in capsys.readouterr().err
    assert main(["--config", config, "cert-reputation", SHA1 + "0"]) == 2
    assert main(["--config", config, "cert-reputation", SHA1, "--public-key-sha1", "x"]) == 2
    assert "--public-key-sha1" in capsys.readouterr().err
    assert main(["--config", config, "set-reputation", "--trust", "1", "--file-type", "exe",
                 MD5]) == 2
    assert "--external" in capsys.readouterr().err


class FakeTie:
    """Stands in for a connected TieClient: raises ``error`` from every call."""

    def __init__(self, error: BaseException) -> None:
        self.error = error

    def __getattr__(self, name: str) -> Any:
        def call(*_args: Any, **_kwargs: Any) -> Any:
            raise self.error
        return call


@pytest.mark.parametrize("error, code", [
    (TieServiceNotFoundError("unable to locate service for request", -2147483647, "/t"), 5),
    (TieTimeoutError(WaitTimeoutException("Timeout waiting for response to message: 1")), 6),
    (TieServiceError("Could not find reputation", 0, "/t"), 1)])
@pytest.mark.parametrize("argv", [["cert-reputation", SHA1], ["references", MD5],
                                  ["set-reputation", "--trust", "1", MD5],
                                  ["reputation", MD5]])
def test_library_errors_map_to_exit_codes(monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture, error: BaseException,
                                          code: int, argv: list) -> None:
    @contextlib.contextmanager
    def session(*_args: Any) -> Iterator[FakeTie]:
        yield FakeTie(error)

    monkeypatch.setattr("dxltieclient.cli.commands.tie_session", session)
    assert main(argv) == code
    err = capsys.readouterr().err
    assert "Traceback" not in err and str(error).split(" (")[0] in err


def test_items_exit_code() -> None:
    not_found = TieServiceNotFoundError("m", -2147483647)
    timeout = TieTimeoutError("t")
    assert items_exit_code([None, None]) == 0
    assert items_exit_code([]) == 0
    assert items_exit_code([not_found, not_found]) == 5
    assert items_exit_code([timeout]) == 6
    assert items_exit_code([None, timeout]) == 1
    assert items_exit_code([not_found, timeout]) == 1
    assert items_exit_code([ValueError("x")]) == 1
