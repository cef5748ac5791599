"""dxlclient configuration files, the ACL of the authorization groups, mosquitto.conf."""

import os

import pytest
from dxlclient.client_config import DxlClientConfig

from dxltieclient.sandbox import authz, broker
from dxltieclient.sandbox.dxlconfig import config_text, write_config


def test_config_loads_with_dxlclient(tmp_path):
    path = write_config(str(tmp_path / "dxlclient.config"), "ca.crt", "c.crt", "c.key",
                        "{broker-1}", 18883)
    config = DxlClientConfig.create_dxl_config_from_file(path)
    assert config.broker_ca_bundle == os.path.abspath("ca.crt")
    assert config.cert_file == os.path.abspath("c.crt")
    assert config.private_key == os.path.abspath("c.key")
    assert config.use_websockets is False
    [only] = config.brokers
    assert (only.unique_id, only.port, only.host_name, only.ip_address) == \
        ("{broker-1}", 18883, "127.0.0.1", "127.0.0.1")


def test_config_has_the_provisionconfig_sections():
    text = config_text("/p/ca.crt", "/p/c.crt", "/p/c.key", "b1", 8883)
    assert text.startswith("[Certs]\nBrokerCertChain=/p/ca.crt\nCertFile=/p/c.crt\n"
                           "PrivateKey=/p/c.key\n")
    assert "[Brokers]\nb1=b1;8883;127.0.0.1;127.0.0.1\n" in text
    assert "[General]\nUseWebSockets=false\n" in text


def test_unchanged_config_is_not_rewritten(tmp_path):
    path = str(tmp_path / "dxlclient.config")
    write_config(path, "ca", "c", "k", "b", 1)
    os.utime(path, (0, 0))
    write_config(path, "ca", "c", "k", "b", 1)
    assert os.stat(path).st_mtime == 0
    write_config(path, "ca", "c", "k", "b", 2)
    assert os.stat(path).st_mtime != 0


@pytest.mark.parametrize("alias, group", [
    ("enterprise", "TIE Server Set Enterprise Reputation"),
    ("EXTERNAL", "TIE Server Set External Reputation"),
    ("tie server set enterprise reputation", "TIE Server Set Enterprise Reputation"),
    ("TIE Server Set External Reputation", "TIE Server Set External Reputation"),
])
def test_group_names_and_aliases(alias, group):
    assert authz.resolve_group(alias) == group


def test_unknown_group_lists_the_valid_ones():
    with pytest.raises(ValueError) as raised:
        authz.resolve_group("admins")
    text = str(raised.value)
    assert "Unknown authorization group 'admins'" in text
    for valid in ("TIE Server Set Enterprise Reputation", "TIE Server Set External Reputation",
                  "enterprise", "external"):
        assert repr(valid) in text


def test_group_topics():
    assert authz.denied_topics(["enterprise"]) == [
        "/mcafee/service/tie/file/reputation/set", "/mcafee/service/tie/cert/reputation/set"]
    assert authz.denied_topics(["external", "external"]) == [
        "/mcafee/event/external/file/report"]


def test_acl_allows_everything_and_denies_per_user():
    text = authz.acl_text({"bob": ["external", "enterprise"], "alice": [], "carol": ["external"]})
    lines = [line for line in text.splitlines() if line and not line.startswith("#")]
    assert lines == [
        "pattern readwrite #",
        "user bob",
        "topic deny /mcafee/service/tie/file/reputation/set",
        "topic deny /mcafee/service/tie/cert/reputation/set",
        "topic deny /mcafee/event/external/file/report",
        "user carol",
        "topic deny /mcafee/event/external/file/report",
    ]


def _files(tmp_path):
    return broker.BrokerFiles(*(str(tmp_path / name) for name in (
        "mosquitto.conf", "acl", "log", "ca.crt", "b.crt", "b.key")))


def test_mosquitto_conf_listens_on_loopback_with_tls_client_certificates(tmp_path):
    text = broker.mosquitto_conf_text(_files(tmp_path), 18883, user=None)
    lines = text.splitlines()
    assert [line for line in lines if line.startswith(("listener", "port", "bind"))] == \
        ["listener 18883 127.0.0.1"]
    for expected in ("tls_version tlsv1.2", "require_certificate true",
                     "use_identity_as_username true", "persistence false", "log_dest stderr",
                     "allow_anonymous false", "acl_file {}".format(tmp_path / "acl")):
        assert expected in lines
    assert any(line.startswith("ciphers ") and "AES128-SHA256" in line for line in lines)
    assert not any(line.startswith("user ") for line in lines)


def test_mosquitto_conf_names_the_user_when_given(tmp_path):
    assert "user root" in broker.mosquitto_conf_text(_files(tmp_path), 1, user="root").splitlines()


def test_run_as_user_is_the_invoking_user_under_root():
    expected = "root" if os.geteuid() == 0 else None
    assert broker.run_as_user() == expected


def test_missing_mosquitto_says_how_to_install_it(monkeypatch):
    monkeypatch.setattr(broker.shutil, "which", lambda name: None)
    monkeypatch.setattr(broker, "MOSQUITTO_FALLBACK_PATHS", ("/nonexistent/mosquitto",))
    monkeypatch.setattr(broker.platform, "system", lambda: "Linux")
    with pytest.raises(broker.MosquittoNotFoundError, match="apt-get install mosquitto"):
        broker.find_mosquitto()
    monkeypatch.setattr(broker.platform, "system", lambda: "Darwin")
    with pytest.raises(broker.MosquittoNotFoundError, match="brew install mosquitto"):
        broker.find_mosquitto()
