# This sample lists the files and certificates whose reputation changed in the last day, page by
# page: what a client that was disconnected for a while asks TIE to catch up.
#
# TieClient.iter_reputation_updates follows the pages (TieClient.get_reputation_updates returns one
# page). Each file is listed by one hash (its SHA-256 here, when TIE knows it); look the
# reputations up again to see what changed.

import logging
import os
import sys
import time

from dxlclient.client import DxlClient
from dxlclient.client_config import DxlClientConfig

from dxltieclient import HashType, TieClient

# Import the common sample settings (CONFIG_FILE and the console logger) from the parent folder
sys.path.append(os.path.dirname(os.path.abspath(__file__)) + "/..")
from common import *

# Only show errors from the libraries, so that the sample's own output stands out
logging.getLogger().setLevel(logging.ERROR)
logger = logging.getLogger(__name__)

# The changes since this time (epoch seconds): one day ago. A client that keeps up would use the
# serverTime of its latest lookup instead.
SINCE_TIME = int(time.time()) - 24 * 60 * 60

# Load the DXL client configuration (the fabric's brokers and this client's certificates)
config = DxlClientConfig.create_dxl_config_from_file(CONFIG_FILE)

with DxlClient(config) as client:
    client.connect()
    tie_client = TieClient(client)

    print("Reputation updates since " + time.strftime("%Y-%m-%d %H:%M:%S",
                                                      time.localtime(SINCE_TIME)) + ":")
    pages = 0
    for page in tie_client.iter_reputation_updates(SINCE_TIME, query_limit=100,
                                                   file_hash_type=HashType.SHA256):
        pages += 1
        for file_hashes in page["fileHashes"]:
            for hash_type, value in file_hashes.items():
                print("\tFile " + hash_type + ": " + value)
        for cert_hashes in page["certificateHashes"]:
            print("\tCertificate sha1: " + cert_hashes[HashType.SHA1])
    print("Pages: " + str(pages))
