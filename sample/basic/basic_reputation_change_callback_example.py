# This sample waits for reputation change events, for files and for certificates, and prints each
# one as JSON. It runs until it is stopped (Ctrl+C).
#
# TIE publishes such an event whenever a reputation changes: for example when an administrator
# changes a file's enterprise reputation in ePO, or when a script calls
# TieClient.set_file_reputation or TieClient.set_certificate_reputation (see
# basic_set_reputation_example.py).

import logging
import os
import sys
import time

from dxlbootstrap.util import MessageUtils
from dxlclient.client import DxlClient
from dxlclient.client_config import DxlClientConfig

from dxltieclient import ReputationChangeCallback, TieClient

# Import the common sample settings (CONFIG_FILE and the console logger) from the parent folder
sys.path.append(os.path.dirname(os.path.abspath(__file__)) + "/..")
from common import *

# Only show errors from the libraries, so that the sample's own output stands out
logging.getLogger().setLevel(logging.ERROR)
logger = logging.getLogger(__name__)


class MyReputationChangeCallback(ReputationChangeCallback):
    """Prints every reputation change event it receives."""

    def on_reputation_change(self, rep_change_dict, original_event):
        # rep_change_dict is the event already converted by the library: hex hashes, and the old
        # and new reputations keyed by provider id. The event's topic tells a file change from a
        # certificate change. (flush=True: show each line at once, even when output is piped.)
        print("Reputation change on topic: " + original_event.destination_topic, flush=True)
        print(MessageUtils.dict_to_json(rep_change_dict, pretty_print=True), flush=True)


# Load the DXL client configuration (the fabric's brokers and this client's certificates)
config = DxlClientConfig.create_dxl_config_from_file(CONFIG_FILE)

# Connect to the fabric; the "with" block disconnects at the end
with DxlClient(config) as client:
    client.connect()

    tie_client = TieClient(client)

    # One callback object serves both topics: file and certificate reputation changes
    rep_change_callback = MyReputationChangeCallback()
    tie_client.add_file_reputation_change_callback(rep_change_callback)
    tie_client.add_certificate_reputation_change_callback(rep_change_callback)

    # The callback runs on the DXL client's own threads: the main thread only has to stay alive
    print("Waiting for reputation change events...", flush=True)
    try:
        while True:
            time.sleep(60)
    except KeyboardInterrupt:
        pass
