# This sample waits for file prevalence events and prints each one as JSON. It runs until it is
# stopped (Ctrl+C).
#
# TIE publishes a prevalence event each time one more system asks for a file's reputation
# ("enterpriseCount"), until the file is prevalent in the enterprise ("prevalent": true, the last
# event for that file). Following them shows how a new file spreads.

import logging
import os
import sys
import time

from dxlbootstrap.util import MessageUtils
from dxlclient.client import DxlClient
from dxlclient.client_config import DxlClientConfig

from dxltieclient import FilePrevalenceCallback, TieClient

# Import the common sample settings (CONFIG_FILE and the console logger) from the parent folder
sys.path.append(os.path.dirname(os.path.abspath(__file__)) + "/..")
from common import *

# Only show errors from the libraries, so that the sample's own output stands out
logging.getLogger().setLevel(logging.ERROR)
logger = logging.getLogger(__name__)


class MyPrevalenceCallback(FilePrevalenceCallback):
    """Prints every file prevalence event it receives."""

    def on_prevalence(self, prevalence_dict, original_event):
        # prevalence_dict: the file's hashes in hex, the system that asked ("agentGuid") and when
        # ("agentFirstReference"), the number of systems so far ("enterpriseCount"), "prevalent".
        print("Prevalence change on topic: " + original_event.destination_topic, flush=True)
        print(MessageUtils.dict_to_json(prevalence_dict, pretty_print=True), flush=True)


# Load the DXL client configuration (the fabric's brokers and this client's certificates)
config = DxlClientConfig.create_dxl_config_from_file(CONFIG_FILE)

with DxlClient(config) as client:
    client.connect()
    tie_client = TieClient(client)
    tie_client.add_file_prevalence_callback(MyPrevalenceCallback())

    print("Waiting for file prevalence events...", flush=True)
    try:
        while True:
            time.sleep(60)
    except KeyboardInterrupt:
        pass
