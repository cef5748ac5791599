# This sample lists the systems that first referenced a file (what ePO shows as "Where Has File
# Run") with TieClient.get_file_first_references, with the time of each first reference.
#
# The hashes below are those of notepad.exe; replace them with the hashes of the file you are
# interested in.

import logging
import os
import sys

from dxlclient.client import DxlClient
from dxlclient.client_config import DxlClientConfig

from dxltieclient import FirstRefProp, HashType, TieClient

# Import the common sample settings (CONFIG_FILE and the console logger) from the parent folder
sys.path.append(os.path.dirname(os.path.abspath(__file__)) + "/..")
from common import *

# Only show errors from the libraries, so that the sample's own output stands out
logging.getLogger().setLevel(logging.ERROR)
logger = logging.getLogger(__name__)

# The hashes of the file to look up
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

    # Ask TIE which systems referenced the file (at most 500 by default, see query_limit)
    system_list = tie_client.get_file_first_references({
        HashType.MD5: FILE_MD5,
        HashType.SHA1: FILE_SHA1,
        HashType.SHA256: FILE_SHA256,
    })

    print("")
    print("Systems that have referenced the file:")
    print("")
    for system in system_list:
        # Each entry holds the system's agent GUID and the time (epoch seconds) of its first
        # reference, which FirstRefProp.to_localtime_string turns into a readable local time
        print("\t" + system[FirstRefProp.SYSTEM_GUID] + ": "
              + FirstRefProp.to_localtime_string(system[FirstRefProp.DATE]))
