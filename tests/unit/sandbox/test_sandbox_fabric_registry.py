"""The fabric services' registry and answers, without a broker."""

import json

from dxlclient.message import ErrorResponse, Message, Request, Response

from dxltieclient.sandbox.fabric_services import (
    QUERY_TOPIC,
    REGISTER_TOPIC,
    UNREGISTER_TOPIC,
    FabricServices,
    ServiceRegistry,
)


def _registration(guid="{s1}", channels=("/a/b",), ttl=1):
    return {"serviceType": "/t", "serviceGuid": guid, "requestChannels": list(channels),
            "ttlMins": ttl, "metaData": {}}


def test_registration_expires_after_ttl_plus_grace():
    registry = ServiceRegistry()
    registry.register(_registration(ttl=1), now=0.0)
    assert registry.has_service("/a/b", now=60.0 + 59.0)
    assert not registry.has_service("/a/b", now=60.0 + 61.0)
    assert registry.query() == {}


def test_renewal_extends_and_unregister_removes():
    registry = ServiceRegistry()
    registry.register(_registration(), now=0.0)
    registry.register(_registration(), now=100.0)
    assert registry.has_service("/a/b", now=200.0)
    assert registry.unregister("{s1}")
    assert not registry.has_service("/a/b", now=200.0)
    assert not registry.unregister("{s1}")


def test_wildcard_registration_covers_subtopics():
    registry = ServiceRegistry()
    registry.register(_registration(channels=["/w/#"]), now=0.0)
    assert registry.has_service("/w/x/y", now=1.0)
    assert not registry.has_service("/v/x", now=1.0)


def test_two_services_on_one_topic():
    registry = ServiceRegistry()
    registry.register(_registration("{s1}"), now=0.0)
    registry.register(_registration("{s2}"), now=0.0)
    registry.unregister("{s1}")
    assert registry.has_service("/a/b", now=1.0)


class _Config:
    """Just enough of a DxlClientConfig for FabricServices.__init__ (no connection is made)."""

    class _Broker:
        ip_address, host_name, port = "127.0.0.1", "127.0.0.1", 1

    brokers = [_Broker()]
    broker_ca_bundle = cert_file = private_key = None


def _services(monkeypatch):
    import pahoproxy.client as mqtt

    monkeypatch.setattr(mqtt.Client, "tls_set", lambda self, *a, **k: None)
    monkeypatch.setattr(mqtt.Client, "tls_insecure_set", lambda self, value: None)
    return FabricServices(_Config())


def _request(topic, payload=b""):
    request = Request(topic)
    request.reply_to_topic = "/mcafee/client/{c1}"
    request.payload = payload
    return Message._from_bytes(request._to_bytes())  # as received from the wire


def test_answers_register_unregister_and_query(monkeypatch):
    services = _services(monkeypatch)
    response = services.handle(REGISTER_TOPIC, _request(
        REGISTER_TOPIC, json.dumps(_registration()).encode()))
    assert type(response) is Response and json.loads(response.payload) == {}
    assert response.destination_topic == "/mcafee/client/{c1}"
    query = services.handle(QUERY_TOPIC, _request(QUERY_TOPIC, b'{"serviceType": "/t"}'))
    assert list(json.loads(query.payload)["services"]) == ["{s1}"]
    assert services.handle("/a/b", _request("/a/b")) is None  # the service answers
    response = services.handle(UNREGISTER_TOPIC, _request(
        UNREGISTER_TOPIC, b'{"serviceGuid": "{s1}"}'))
    assert type(response) is Response
    assert isinstance(services.handle("/a/b", _request("/a/b")), ErrorResponse)


def test_no_service_error_is_read_as_the_signed_code(monkeypatch):
    services = _services(monkeypatch)
    error = services.handle("/nobody", _request("/nobody"))
    received = Message._from_bytes(error._to_bytes())
    assert isinstance(received, ErrorResponse)
    assert received.error_code == -2147483647 == 0x80000001 - (1 << 32)
    assert received.error_message == "unable to locate service for request"


def test_bad_registration_gets_an_error(monkeypatch):
    services = _services(monkeypatch)
    response = services.handle(REGISTER_TOPIC, _request(REGISTER_TOPIC, b"not json"))
    assert isinstance(response, ErrorResponse)


def test_non_requests_are_skipped_before_decoding(monkeypatch):
    services = _services(monkeypatch)
    published = []

    class _Client:
        def publish(self, *args, **kwargs):
            published.append(args)

    class _Msg:
        def __init__(self, topic, payload):
            self.topic, self.payload = topic, payload

    from dxlclient.message import Event

    event = Event("/x")
    services._on_message(_Client(), None, _Msg("/x", event._to_bytes()))
    services._on_message(_Client(), None, _Msg("/mcafee/client/{c}", b"\x02\x00garbage"))
    services._on_message(_Client(), None, _Msg("/x", b"\x02\x00garbage"))  # undecodable
    assert published == []
    services._on_message(_Client(), None, _Msg("/x", _request("/x")._to_bytes()))
    assert [topic for topic, *_ in published] == ["/mcafee/client/{c1}"]
