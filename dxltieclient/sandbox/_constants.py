"""Names shared by the sandbox's processes (the broker's error code and message are the library's,
:mod:`dxltieclient._errors`: written once)."""

from .._errors import SERVICE_NOT_FOUND_CODE, SERVICE_NOT_FOUND_MESSAGE

__all__ = ["REGISTER_TOPIC", "UNREGISTER_TOPIC", "QUERY_TOPIC", "SERVICE_NOT_FOUND_CODE",
           "SERVICE_NOT_FOUND_MESSAGE"]

#: Service registration requests.
REGISTER_TOPIC = "/mcafee/service/dxl/svcregistry/register"
#: Service unregistration requests.
UNREGISTER_TOPIC = "/mcafee/service/dxl/svcregistry/unregister"
#: Service registry queries (payload ``{"serviceType": ...}``, optional).
QUERY_TOPIC = "/mcafee/service/dxl/svcregistry/query"

