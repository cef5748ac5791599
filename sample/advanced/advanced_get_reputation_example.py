# This sample looks up the reputations of a file (notepad.exe) and of a certificate, and picks
# single values out of the answers with the constants classes of dxltieclient: the Global Threat
# Intelligence (GTI) trust level, and the enterprise prevalence and first contact time.
#
# Reputations are dicts keyed by provider id (FileProvider for files, CertProvider for
# certificates). Each reputation holds the ReputationProp keys; its "attributes" map attribute ids
# (FileEnterpriseAttrib, CertEnterpriseAttrib, ...) to string values.

import logging
import os
import sys

from dxlbootstrap.util import MessageUtils
from dxlclient.client import DxlClient
from dxlclient.client_config import DxlClientConfig

from dxltieclient import (
    CertEnterpriseAttrib,
    CertProvider,
    FileEnterpriseAttrib,
    FileProvider,
    HashType,
    ReputationProp,
    TieClient,
)

# Import the common sample settings (CONFIG_FILE and the console logger) from the parent folder
sys.path.append(os.path.dirname(os.path.abspath(__file__)) + "/..")
from common import *

# Only show errors from the libraries, so that the sample's own output stands out
logging.getLogger().setLevel(logging.ERROR)
logger = logging.getLogger(__name__)

# The hashes of the file to look up (notepad.exe)
FILE_MD5 = "f2c7bb8acc97f92e987a2d4087d021b1"
FILE_SHA1 = "7eb0139d2175739b3ccb0d1110067820be6abd29"
FILE_SHA256 = "142e1d688ef0568370c37187fd9f2351d7ddeda574f8bfa9b0fa4ef42db85aa2"

# The SHA-1 of the certificate to look up, and the SHA-1 of its public key (hex, either case)
CERTIFICATE_BODY_SHA1 = "6EAE26DB8C13182A7947982991B4321732CC3DE2"
CERTIFICATE_PUBLIC_KEY_SHA1 = "3B87A2D6F39770160364B79A152FCC73BAE27ADF"

# Load the DXL client configuration (the fabric's brokers and this client's certificates)
config = DxlClientConfig.create_dxl_config_from_file(CONFIG_FILE)

# Connect to the fabric; the "with" block disconnects at the end
with DxlClient(config) as client:
    client.connect()

    # The TIE client sends its requests through the connected DXL client
    tie_client = TieClient(client)

    #
    # The file
    #
    reputations_dict = tie_client.get_file_reputation({
        HashType.MD5: FILE_MD5,
        HashType.SHA1: FILE_SHA1,
        HashType.SHA256: FILE_SHA256,
    })

    print("File reputation response:")

    # The Global Threat Intelligence (GTI) trust level (see TrustLevel)
    if FileProvider.GTI in reputations_dict:
        gti_rep = reputations_dict[FileProvider.GTI]
        print("\tGlobal Threat Intelligence (GTI) trust level: "
              + str(gti_rep[ReputationProp.TRUST_LEVEL]))

    # The enterprise reputation's attributes: how many systems ran the file, and when it was
    # first seen in the enterprise (an epoch time, shown as local time)
    if FileProvider.ENTERPRISE in reputations_dict:
        ent_rep = reputations_dict[FileProvider.ENTERPRISE]
        attributes = ent_rep.get(ReputationProp.ATTRIBUTES, {})
        if FileEnterpriseAttrib.PREVALENCE in attributes:
            print("\tEnterprise prevalence: "
                  + str(attributes[FileEnterpriseAttrib.PREVALENCE]))
        if FileEnterpriseAttrib.FIRST_CONTACT in attributes:
            print("\tFirst contact: " + FileEnterpriseAttrib.to_localtime_string(
                attributes[FileEnterpriseAttrib.FIRST_CONTACT]))

    print("")
    print("Full file reputation response:")
    print(MessageUtils.dict_to_json(reputations_dict, pretty_print=True))

    #
    # The certificate
    #
    reputations_dict = tie_client.get_certificate_reputation(
        CERTIFICATE_BODY_SHA1, CERTIFICATE_PUBLIC_KEY_SHA1)

    print("")
    print("Certificate reputation response:")

    # The Global Threat Intelligence (GTI) trust level
    if CertProvider.GTI in reputations_dict:
        gti_rep = reputations_dict[CertProvider.GTI]
        print("\tGlobal Threat Intelligence (GTI) trust level: "
              + str(gti_rep[ReputationProp.TRUST_LEVEL]))

    # The enterprise prevalence (systems that ran a file signed with the certificate) and the
    # time the certificate was first seen in the enterprise
    if CertProvider.ENTERPRISE in reputations_dict:
        ent_rep = reputations_dict[CertProvider.ENTERPRISE]
        attributes = ent_rep.get(ReputationProp.ATTRIBUTES, {})
        if CertEnterpriseAttrib.PREVALENCE in attributes:
            print("\tEnterprise prevalence: "
                  + str(attributes[CertEnterpriseAttrib.PREVALENCE]))
        if CertEnterpriseAttrib.FIRST_CONTACT in attributes:
            print("\tFirst contact: " + CertEnterpriseAttrib.to_localtime_string(
                attributes[CertEnterpriseAttrib.FIRST_CONTACT]))

    print("")
    print("Full certificate reputation response:")
    print(MessageUtils.dict_to_json(reputations_dict, pretty_print=True))
