# This sample waits for first instance events and prints each one as JSON. It runs until it is
# stopped (Ctrl+C).
#
# TIE publishes a first instance event when a file is seen for the first time in the enterprise
# (the first endpoint to run it asks TIE for its reputation).

import logging
import os
import sys
import time

from dxlbootstrap.util import MessageUtils
from dxlclient.client import DxlClient
from dxlclient.client_config import DxlClientConfig

from dxltieclient import FirstInstanceCallback, TieClient

# Import the common sample settings (CONFIG_FILE and the console logger) from the parent folder
sys.path.append(os.path.dirname(os.path.abspath(__file__)) + "/..")
from common import *

# Only show errors from the libraries, so that the sample's own output stands out
logging.getLogger().setLevel(logging.ERROR)
logger = logging.getLogger(__name__)


class MyFirstInstanceCallback(FirstInstanceCallback):
    """Prints every first instance event it receives."""

    def on_first_instance(self, first_instance_dict, original_event):
        # first_instance_dict holds the system (agentGuid), the file's name and its hex hashes
        # (see FirstInstanceEventProp). (flush=True: show each line at once, even when piped.)
        print("First instance on topic: " + original_event.destination_topic, flush=True)
        print(MessageUtils.dict_to_json(first_instance_dict, pretty_print=True), flush=True)


# Load the DXL client configuration (the fabric's brokers and this client's certificates)
config = DxlClientConfig.create_dxl_config_from_file(CONFIG_FILE)

# Connect to the fabric; the "with" block disconnects at the end
with DxlClient(config) as client:
    client.connect()

    tie_client = TieClient(client)

    # Register the callback: the client subscribes to the first instance topic
    tie_client.add_file_first_instance_callback(MyFirstInstanceCallback())

    # The callback runs on the DXL client's own threads: the main thread only has to stay alive
    print("Waiting for first instance events...", flush=True)
    try:
        while True:
            time.sleep(60)
    except KeyboardInterrupt:
        pass
