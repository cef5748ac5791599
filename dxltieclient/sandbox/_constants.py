"""Names shared by the sandbox's processes (kept free of imports, so every module can use them)."""

#: Service registration requests.
REGISTER_TOPIC = "/mcafee/service/dxl/svcregistry/register"
#: Service unregistration requests.
UNREGISTER_TOPIC = "/mcafee/service/dxl/svcregistry/unregister"
#: Service registry queries (payload ``{"serviceType": ...}``, optional).
QUERY_TOPIC = "/mcafee/service/dxl/svcregistry/query"

#: The broker's error code for a request no service handles (``0x80000001``), as a signed 32-bit
#: number: that is how the real broker encodes it, and how dxlclient reports it.
SERVICE_NOT_FOUND_CODE = 0x80000001 - (1 << 32)
#: The broker's error message for a request no service handles.
SERVICE_NOT_FOUND_MESSAGE = "unable to locate service for request"

#: Published by the fabric services (an empty DXL event) each time they are subscribed to the
#: fabric: a service registry that just (re)started is empty, and the TIE emulator registers its
#: service again when it sees this, so that restarting the fabric services needs no restart of a
#: healthy emulator.
FABRIC_READY_TOPIC = "/dxltieclient/sandbox/fabric/ready"
