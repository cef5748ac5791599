"""dxltie fails fast, with the TLS reason and exit code 4, when the TLS handshake with the broker
fails: unknown CA either way, expired certificates. A small TLS server on 127.0.0.1 plays the
broker with dxlclient's TLS settings (TLS 1.2, AES128-SHA256, client certificate required)."""

from __future__ import annotations

import socket
import ssl
import threading
import time
from typing import Any, Dict, Iterator, List, Tuple

import pytest

from dxltieclient.cli import main

from .tls_pki import Pki

# dxlclient's own disconnect thread may fail after the client is destroyed (its race, harmless).
pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")

MD5 = "f2c7bb8acc97f92e987a2d4087d021b1"


class TlsBroker:
    """A TLS server that completes handshakes (or fails them) and records the failures."""

    def __init__(self, ca_file: str, cert_file: str, key_file: str) -> None:
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.minimum_version = ssl.TLSVersion.TLSv1_2
        self.context.maximum_version = ssl.TLSVersion.TLSv1_2
        self.context.set_ciphers("AES128-SHA256")
        self.context.verify_mode = ssl.CERT_REQUIRED
        self.context.load_verify_locations(ca_file)
        self.context.load_cert_chain(cert_file, key_file)
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(8)
        self.port = int(self.listener.getsockname()[1])
        self.errors: List[str] = []
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                connection, _ = self.listener.accept()
            except OSError:
                return
            connection.settimeout(5)
            try:
                with self.context.wrap_socket(connection, server_side=True):
                    pass
            except (ssl.SSLError, OSError) as error:
                self.errors.append(str(error))
            finally:
                connection.close()

    def close(self) -> None:
        try:
            self.listener.shutdown(socket.SHUT_RDWR)  # wakes the accept() of the thread
        except OSError:
            pass
        self.listener.close()
        self._thread.join(5)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Dict[str, Any]:
    tmp_path = tmp_path_factory.mktemp("pki")
    authority = Pki(tmp_path)
    ca_file, _, ca_cert, ca_key = authority.issue("ca", ca=True)
    other_ca_file, _, other_cert, other_key = authority.issue("other-ca", ca=True)
    files: Dict[str, Any] = {"ca": ca_file, "other_ca": other_ca_file, "dir": tmp_path}
    for name, issuer, expired in (("broker", (ca_cert, ca_key), False),
                                  ("broker-expired", (ca_cert, ca_key), True),
                                  ("client", (ca_cert, ca_key), False),
                                  ("client-expired", (ca_cert, ca_key), True),
                                  ("client-foreign", (other_cert, other_key), False)):
        cert_file, key_file, _, _ = authority.issue(name, issuer, expired=expired)
        files[name] = (cert_file, key_file)
    return files


@pytest.fixture
def broker_factory() -> Iterator[Any]:
    brokers: List[TlsBroker] = []

    def make(ca_file: str, identity: Tuple[str, str]) -> TlsBroker:
        broker = TlsBroker(ca_file, *identity)
        brokers.append(broker)
        return broker
    yield make
    for broker in brokers:
        broker.close()


def _config(directory: Any, port: int, ca_file: str, identity: Tuple[str, str]) -> str:
    path = directory / "dxlclient.config"
    path.write_text(
        "[Certs]\nBrokerCertChain={}\nCertFile={}\nPrivateKey={}\n\n[Brokers]\n"
        "b1=b1;{};127.0.0.1;127.0.0.1\n\n[General]\nUseWebSockets=false\n".format(
            ca_file, identity[0], identity[1], port))
    return str(path)


def _run(config: str, capsys: pytest.CaptureFixture) -> Tuple[int, str, float]:
    started = time.monotonic()
    code = main(["reputation", MD5, "--config", config, "--connect-timeout", "10"])
    return code, capsys.readouterr().err, time.monotonic() - started


@pytest.mark.parametrize("case, expected", [
    ("unknown broker CA", "the broker's certificate is not trusted"),
    ("expired broker certificate", "certificate has expired"),
    ("client certificate of a foreign CA", "the broker refused the TLS connection"),
    ("expired client certificate", "the broker refused the TLS connection")])
def test_tls_failures_exit_4_at_once_with_the_reason(
        pki: Dict[str, Any], broker_factory: Any, capsys: pytest.CaptureFixture, case: str,
        tmp_path: Any,
        expected: str) -> None:
    broker_identity = pki["broker-expired"] if "expired broker" in case else pki["broker"]
    broker = broker_factory(pki["ca"], broker_identity)
    client_ca = pki["other_ca"] if case == "unknown broker CA" else pki["ca"]
    client = {"client certificate of a foreign CA": pki["client-foreign"],
              "expired client certificate": pki["client-expired"]}.get(case, pki["client"])
    code, err, elapsed = _run(_config(tmp_path, broker.port, client_ca, client), capsys)
    assert code == 4, err
    assert elapsed < 5, "took {:.1f} s: not failing fast".format(elapsed)
    assert "TLS connection to the DXL broker failed: 127.0.0.1:{}".format(broker.port) in err
    assert expected in err and "Traceback" not in err
    assert "PRIVATE KEY" not in err
    if case == "expired client certificate":
        assert "expired" in err
    if case == "client certificate of a foreign CA":
        assert "unknown ca" in err


def test_unloadable_certificate_files_exit_3(pki: Dict[str, Any], broker_factory: Any,
                                             tmp_path: Any,
                                             capsys: pytest.CaptureFixture) -> None:
    broker = broker_factory(pki["ca"], pki["broker"])
    cert_file, _ = pki["client"]
    _, other_key = pki["client-foreign"]
    code, err, _ = _run(_config(tmp_path, broker.port, pki["ca"], (cert_file, other_key)),
                        capsys)
    assert code == 3, err
    assert "cannot load CertFile/PrivateKey" in err and "key values mismatch" in err


def test_a_good_handshake_goes_on_to_dxlclient_and_names_the_mqtt_step(
        pki: Dict[str, Any], broker_factory: Any, tmp_path: Any,
        capsys: pytest.CaptureFixture) -> None:
    broker = broker_factory(pki["ca"], pki["broker"])  # completes TLS, speaks no MQTT
    config = _config(tmp_path, broker.port, pki["ca"], pki["client"])
    assert main(["reputation", MD5, "--config", config, "--connect-timeout", "2"]) == 4
    for thread in threading.enumerate():  # let dxlclient's disconnect threads end in this test
        if thread.name.endswith("(_on_disconnect_run)") or thread.name == "dxltie-connect":
            thread.join(10)
    err = capsys.readouterr().err
    assert "TLS connection to the DXL broker failed" not in err
    assert "completed the TLS handshake but not the MQTT connection" in err
