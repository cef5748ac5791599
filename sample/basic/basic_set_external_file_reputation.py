# This sample reports an external reputation (TIE 3.0 and later) for a file with
# TieClient.set_external_file_reputation.
#
# An external reputation is a fallback: TIE uses it only when no other provider has a definitive
# reputation for the file. So the sample first looks the file up, and aborts if another provider
# already knows it. The file here is made up (the hashes of the current time), so TIE does not
# know it and the report is sent.
#
# The report is an event: there is no answer, and "Event Sent" only means that the fabric received
# it. The client must be authorized to send on the topic of the ePO "TIE Server Set External
# Reputation" authorization group, and the External provider must be enabled in the TIE policy.

import hashlib
import logging
import os
import sys
import time

from dxlclient.client import DxlClient
from dxlclient.client_config import DxlClientConfig

from dxltieclient import FileProvider, FileType, HashType, ReputationProp, TieClient, TrustLevel

# Import the common sample settings (CONFIG_FILE and the console logger) from the parent folder
sys.path.append(os.path.dirname(os.path.abspath(__file__)) + "/..")
from common import *

# Only show errors from the libraries, so that the sample's own output stands out
logging.getLogger().setLevel(logging.ERROR)
logger = logging.getLogger(__name__)

# The hashes of a file nobody has seen: digests of the current time (replace them with the hashes
# of the file you want to report; give all three, TIE matches files on every hash)
random_text = str(time.time()).encode("utf-8")
fileMD5 = hashlib.md5(random_text).hexdigest()
fileSHA1 = hashlib.sha1(random_text).hexdigest()
fileSHA256 = hashlib.sha256(random_text).hexdigest()

# Trust levels that do not count as a definitive reputation
NOT_DEFINITIVE = (TrustLevel.NOT_SET, TrustLevel.UNKNOWN)

# Load the DXL client configuration (the fabric's brokers and this client's certificates)
config = DxlClientConfig.create_dxl_config_from_file(CONFIG_FILE)

# Connect to the fabric; the "with" block disconnects at the end
with DxlClient(config) as client:
    client.connect()

    # The TIE client sends its requests through the connected DXL client
    tie_client = TieClient(client)

    hashes = {
        HashType.MD5: fileMD5,
        HashType.SHA1: fileSHA1,
        HashType.SHA256: fileSHA256,
    }

    # Look the file up first: does a provider other than External have a definitive reputation?
    reputations_dict = tie_client.get_file_reputation(hashes)
    # (the reputations are keyed by provider id)
    has_definitive_reputation = any(
        provider_id != FileProvider.EXTERNAL
        and reputation[ReputationProp.TRUST_LEVEL] not in NOT_DEFINITIVE
        for provider_id, reputation in reputations_dict.items())

    if has_definitive_reputation:
        print("Abort: There is a reputation from another provider for the file, "
              "External Reputation is not necessary.")
    else:
        try:
            # Report the external reputation. The arguments are checked before anything is sent:
            # a bad value raises a ValueError.
            tie_client.set_external_file_reputation(
                TrustLevel.MIGHT_BE_TRUSTED,
                hashes,
                FileType.PEEXE,
                filename="random.exe",
                comment="External Reputation set via OpenDXL")
            print("Event Sent")
        except ValueError as error:
            print("Error: " + str(error))
