# This sample sends TIE context about a file and about a certificate (the metadata updates): where
# the file was found, its size and product, the certificate's subject and validity. TIE keeps it
# for the administrator's threat analysis. TIE sends no response to these updates.

import logging
import os
import sys

from dxlclient.client import DxlClient
from dxlclient.client_config import DxlClientConfig

from dxltieclient import HashType, TieClient

# Import the common sample settings (CONFIG_FILE and the console logger) from the parent folder
sys.path.append(os.path.dirname(os.path.abspath(__file__)) + "/..")
from common import *

# Only show errors from the libraries, so that the sample's own output stands out
logging.getLogger().setLevel(logging.ERROR)
logger = logging.getLogger(__name__)

# notepad.exe, and the certificate of the advanced sample
FILE_HASHES = {HashType.MD5: "f2c7bb8acc97f92e987a2d4087d021b1",
               HashType.SHA1: "7eb0139d2175739b3ccb0d1110067820be6abd29",
               HashType.SHA256: "142e1d688ef0568370c37187fd9f2351d7ddeda574f8bfa9b0fa4ef42db85aa2"}
CERT_SHA1 = "6EAE26DB8C13182A7947982991B4321732CC3DE2"
CERT_PUBLIC_KEY_SHA1 = "3B87A2D6F39770160364B79A152FCC73BAE27ADF"

# Load the DXL client configuration (the fabric's brokers and this client's certificates)
config = DxlClientConfig.create_dxl_config_from_file(CONFIG_FILE)

with DxlClient(config) as client:
    client.connect()
    tie_client = TieClient(client)

    # The keyword arguments are the field names of the TIE API; every one is checked before
    # anything is sent (a wrong name or type raises a ValueError that says which)
    tie_client.update_file_metadata(
        FILE_HASHES, agentGuid="{68125cd6-a5d8-11e6-348e-000c29663178}", name="notepad.exe",
        path="C:\\Windows\\System32\\notepad.exe", size=193536, companyName="Microsoft",
        productName="Microsoft Windows Operating System", productVersion="10.0.19041.1")
    print("File metadata sent.")

    tie_client.update_certificate_metadata(
        CERT_SHA1, publicKeySha1=CERT_PUBLIC_KEY_SHA1, algorithm="sha256RSA",
        subject="CN=Microsoft Windows, O=Microsoft Corporation, C=US",
        issuer="Microsoft Windows Production PCA 2011", validFrom=1260223064,
        validTo=1299535064)
    print("Certificate metadata sent.")
