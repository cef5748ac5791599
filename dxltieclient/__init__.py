"""
dxltieclient: the client library of the McAfee Threat Intelligence Exchange (TIE) service on the
OpenDXL fabric.

The package exposes :class:`~dxltieclient.client.TieClient`, the callback base classes of
:mod:`dxltieclient.callbacks`, every constants class of :mod:`dxltieclient.constants`, the
exceptions (:class:`TieError` and its subclasses) and :func:`get_version`.
"""

from __future__ import absolute_import

from ._version import __version__
from .client import TieClient
from .constants import *  # noqa: F403  (the original exposes every constants name here)
from .callbacks import *  # noqa: F403  (the original exposes every callbacks name here)
from ._bulk import BulkResult
from ._errors import (
    InvalidHashError,
    TieBulkStoppedError,
    TieError,
    TieInputError,
    TieNotConnectedError,
    TieServiceError,
    TieServiceNotFoundError,
    TieTimeoutError,
)


def get_version() -> str:
    """
    Returns the version of the package.

    :return: the version string, e.g. ``0.4.0``
    """
    return __version__


#: Every public name of the package: the original's (its helper modules included, which scripts
#: written for it reach through ``from dxltieclient import *``) plus the exceptions.
__all__ = [
    "AtdAttrib", "AtdTrustLevel", "CertEnterpriseAttrib", "CertGtiAttrib", "CertProvider",
    "CertRepChangeEventProp", "CertReputationOverriddenProp", "CertReputationProp",
    "DetectionCallback", "DetectionEventProp", "EnterpriseAttrib", "EpochMixin", "EventCallback",
    "FilePrevalenceCallback",  # added with the rest of the TIE Server API
    "FileEnterpriseAttrib", "FileGtiAttrib", "FileProvider", "FileRepChangeEventProp",
    "FileReputationProp", "FileType", "FirstInstanceCallback", "FirstInstanceEventProp",
    "FirstRefProp", "GtiAttrib", "HashType", "MessageUtils", "RANGE", "RepChangeEventProp",
    "ReputationChangeCallback", "ReputationProp", "TieClient", "TrustLevel", "absolute_import",
    "base64", "callbacks", "client", "constants", "get_version", "struct", "sys", "time",
    "BulkResult", "InvalidHashError", "TieError", "TieInputError", "TieNotConnectedError",
    "TieServiceError", "TieServiceNotFoundError", "TieTimeoutError", "TieBulkStoppedError",
]
