# This sample waits for detection events and prints each one as JSON. It runs until it is stopped
# (Ctrl+C).
#
# TIE publishes a detection event when an endpoint takes action on a file because of its
# reputation (for example a TIE rule that blocks or cleans a file with a malicious reputation).

import logging
import os
import sys
import time

from dxlbootstrap.util import MessageUtils
from dxlclient.client import DxlClient
from dxlclient.client_config import DxlClientConfig

from dxltieclient import DetectionCallback, TieClient

# Import the common sample settings (CONFIG_FILE and the console logger) from the parent folder
sys.path.append(os.path.dirname(os.path.abspath(__file__)) + "/..")
from common import *

# Only show errors from the libraries, so that the sample's own output stands out
logging.getLogger().setLevel(logging.ERROR)
logger = logging.getLogger(__name__)


class MyDetectionCallback(DetectionCallback):
    """Prints every detection event it receives."""

    def on_detection(self, detection_dict, original_event):
        # detection_dict holds the system (agentGuid), the file's name and hex hashes, its local
        # reputation, the remediation action and the detection time (see DetectionEventProp).
        # (flush=True: show each line at once, even when output is piped.)
        print("Detection on topic: " + original_event.destination_topic, flush=True)
        print(MessageUtils.dict_to_json(detection_dict, pretty_print=True), flush=True)


# Load the DXL client configuration (the fabric's brokers and this client's certificates)
config = DxlClientConfig.create_dxl_config_from_file(CONFIG_FILE)

# Connect to the fabric; the "with" block disconnects at the end
with DxlClient(config) as client:
    client.connect()

    tie_client = TieClient(client)

    # Register the callback: the client subscribes to the detection topic
    tie_client.add_file_detection_callback(MyDetectionCallback())

    # The callback runs on the DXL client's own threads: the main thread only has to stay alive
    print("Waiting for detection events...", flush=True)
    try:
        while True:
            time.sleep(60)
    except KeyboardInterrupt:
        pass
