# This sample sets the enterprise reputation of a file (notepad.exe) to "known trusted" with
# TieClient.set_file_reputation, and prints "Succeeded." once TIE has accepted it.
#
# The client must be authorized to send on the topic of the ePO "TIE Server Set Enterprise
# Reputation" authorization group; otherwise the broker drops the request and the call times out.
#
# On TIE 3.0 and later, automated integrations should rather report an external reputation (see
# basic_set_external_file_reputation.py): it stays apart from the reputations that administrators
# set by hand, and TIE uses it only as a fallback.

import logging
import os
import sys

from dxlclient.client import DxlClient
from dxlclient.client_config import DxlClientConfig

from dxltieclient import HashType, TieClient, TrustLevel

# Import the common sample settings (CONFIG_FILE and the console logger) from the parent folder
sys.path.append(os.path.dirname(os.path.abspath(__file__)) + "/..")
from common import *

# Only show errors from the libraries, so that the sample's own output stands out
logging.getLogger().setLevel(logging.ERROR)
logger = logging.getLogger(__name__)

# The hashes of the file whose reputation is set (give every hash you know)
FILE_MD5 = "f2c7bb8acc97f92e987a2d4087d021b1"
FILE_SHA1 = "7eb0139d2175739b3ccb0d1110067820be6abd29"
FILE_SHA256 = "142e1d688ef0568370c37187fd9f2351d7ddeda574f8bfa9b0fa4ef42db85aa2"

# Load the DXL client configuration (the fabric's brokers and this client's certificates)
config = DxlClientConfig.create_dxl_config_from_file(CONFIG_FILE)

# Connect to the fabric; the "with" block disconnects at the end
with DxlClient(config) as client:
    client.connect()

    # The TIE client sends its requests through the connected DXL client
    tie_client = TieClient(client)

    # Set the enterprise reputation; the call returns once TIE has answered, and raises an
    # exception if TIE refused the request or did not answer in time
    tie_client.set_file_reputation(
        TrustLevel.KNOWN_TRUSTED,
        {
            HashType.MD5: FILE_MD5,
            HashType.SHA1: FILE_SHA1,
            HashType.SHA256: FILE_SHA256,
        },
        filename="notepad.exe",
        comment="Reputation set via OpenDXL")

    print("Succeeded.")
