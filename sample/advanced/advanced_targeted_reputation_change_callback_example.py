# This sample asks TIE for the reputations of a file and of a certificate, then waits for the
# *targeted* reputation change events TIE sends about them: TIE remembers which clients looked a
# file or certificate up and tells them, and only them, when its reputation changes, so they need
# not poll. It prints each event as JSON and runs until it is stopped (Ctrl+C).
#
# Change the reputation of notepad.exe or of the certificate (in ePO, or with
# basic_set_reputation_example.py) to see an event.

import logging
import os
import sys
import time

from dxlbootstrap.util import MessageUtils
from dxlclient.client import DxlClient
from dxlclient.client_config import DxlClientConfig

from dxltieclient import HashType, ReputationChangeCallback, TieClient

# Import the common sample settings (CONFIG_FILE and the console logger) from the parent folder
sys.path.append(os.path.dirname(os.path.abspath(__file__)) + "/..")
from common import *

# Only show errors from the libraries, so that the sample's own output stands out
logging.getLogger().setLevel(logging.ERROR)
logger = logging.getLogger(__name__)

# notepad.exe, and the certificate of the advanced sample
FILE_HASHES = {HashType.MD5: "f2c7bb8acc97f92e987a2d4087d021b1",
               HashType.SHA1: "7eb0139d2175739b3ccb0d1110067820be6abd29"}
CERT_SHA1 = "6EAE26DB8C13182A7947982991B4321732CC3DE2"


class MyTargetedCallback(ReputationChangeCallback):
    """Prints every targeted reputation change event it receives."""

    def on_reputation_change(self, rep_change_dict, original_event):
        # The same converted dict as the broadcast events: hex hashes, and the old and new
        # reputations keyed by provider id. (flush=True: show each line at once when piped.)
        print("Targeted reputation change on topic: " + original_event.destination_topic,
              flush=True)
        print(MessageUtils.dict_to_json(rep_change_dict, pretty_print=True), flush=True)


# Load the DXL client configuration (the fabric's brokers and this client's certificates)
config = DxlClientConfig.create_dxl_config_from_file(CONFIG_FILE)

with DxlClient(config) as client:
    client.connect()
    tie_client = TieClient(client)

    # Register first, so that no change is missed, then look the file and certificate up: from
    # now on TIE counts this client among those to tell about their changes.
    callback = MyTargetedCallback()
    tie_client.add_file_targeted_reputation_change_callback(callback)
    tie_client.add_certificate_targeted_reputation_change_callback(callback)
    tie_client.get_file_reputation(FILE_HASHES)
    tie_client.get_certificate_reputation(CERT_SHA1)

    print("Waiting for targeted reputation change events...", flush=True)
    try:
        while True:
            time.sleep(60)
    except KeyboardInterrupt:
        pass
