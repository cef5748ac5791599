# This sample looks up the reputations of two files, notepad.exe and the EICAR test file, with
# TieClient.get_file_reputation, and prints each result as JSON.
#
# The reputations come back as a dict keyed by provider id (see FileProvider): 1 is Global Threat
# Intelligence (GTI), 3 the enterprise reputation, and so on. Providers that have no reputation for
# the file are simply absent.

import logging
import os
import sys

from dxlbootstrap.util import MessageUtils
from dxlclient.client import DxlClient
from dxlclient.client_config import DxlClientConfig

from dxltieclient import HashType, TieClient

# Import the common sample settings (CONFIG_FILE and the console logger) from the parent folder
sys.path.append(os.path.dirname(os.path.abspath(__file__)) + "/..")
from common import *

# Only show errors from the libraries, so that the sample's own output stands out
logging.getLogger().setLevel(logging.ERROR)
logger = logging.getLogger(__name__)

# The hashes of the two files to look up
NOTEPAD_HASHES = {
    HashType.MD5: "f2c7bb8acc97f92e987a2d4087d021b1",
    HashType.SHA1: "7eb0139d2175739b3ccb0d1110067820be6abd29",
    HashType.SHA256: "142e1d688ef0568370c37187fd9f2351d7ddeda574f8bfa9b0fa4ef42db85aa2",
}
EICAR_HASHES = {
    HashType.MD5: "44d88612fea8a8f36de82e1278abb02f",
    HashType.SHA1: "3395856ce81f2b7382dee72602f798b642f14140",
    HashType.SHA256: "275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f",
}

# Load the DXL client configuration (the fabric's brokers and this client's certificates)
config = DxlClientConfig.create_dxl_config_from_file(CONFIG_FILE)

# Connect to the fabric; the "with" block disconnects at the end
with DxlClient(config) as client:
    client.connect()

    # The TIE client sends its requests through the connected DXL client
    tie_client = TieClient(client)

    # Look up notepad.exe and print its reputations
    reputations_dict = tie_client.get_file_reputation(NOTEPAD_HASHES)
    print("Notepad.exe reputations:")
    print(MessageUtils.dict_to_json(reputations_dict, pretty_print=True))
    print("")

    # Look up the EICAR test file and print its reputations
    reputations_dict = tie_client.get_file_reputation(EICAR_HASHES)
    print("EICAR reputations:")
    print(MessageUtils.dict_to_json(reputations_dict, pretty_print=True))
