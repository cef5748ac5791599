# This sample uses the asyncio client (dxltieclient.aio) to watch file reputation changes and to
# look up the current reputations of each changed file. Each lookup runs as its own task, so the
# lookups run concurrently with each other and with the watch: a slow answer never holds up the
# next event.
#
# It stops by itself once it has seen MAX_CHANGES changes, or after WATCH_SECONDS seconds,
# whichever comes first (or on Ctrl+C). To see it work, change a file's reputation while it
# waits: for example run basic_set_reputation_example.py, or set a reputation in ePO.

import asyncio
import logging
import os
import sys

from dxlbootstrap.util import MessageUtils

from dxltieclient import HashType
from dxltieclient.aio import AsyncTieClient, EventKind

# Import the common sample settings (CONFIG_FILE and the console logger) from the parent folder
sys.path.append(os.path.dirname(os.path.abspath(__file__)) + "/..")
from common import *

# Only show errors from the libraries, so that the sample's own output stands out
logging.getLogger().setLevel(logging.ERROR)
logger = logging.getLogger(__name__)

# Stop after this many reputation changes...
MAX_CHANGES = 3
# ...or after this many seconds, whichever comes first
WATCH_SECONDS = 60


def file_name(hashes):
    """A short name for a file in the output: its MD5 (else another of its hashes)."""
    return hashes.get(HashType.MD5) or hashes.get(HashType.SHA256) or hashes.get(HashType.SHA1)


async def look_up(tie, hashes):
    """Looks a changed file up and prints its current reputations."""
    reputations = await tie.get_file_reputation(hashes)
    # (flush=True: show each line at once, even when the output is piped)
    print("Reputations of " + file_name(hashes) + ":", flush=True)
    print(MessageUtils.dict_to_json(reputations, pretty_print=True), flush=True)


async def watch(tie, changes, lookups):
    """Starts a lookup for each change, until MAX_CHANGES changes were seen."""
    async for change in changes:
        # change is the dict a ReputationChangeCallback receives: hex hashes, and the old and new
        # reputations keyed by provider id
        print("Reputation change for file: " + file_name(change["hashes"]), flush=True)
        lookups.append(asyncio.ensure_future(look_up(tie, change["hashes"])))
        if len(lookups) == MAX_CHANGES:
            return


async def main():
    # Connect to the fabric (in a worker thread: connecting blocks); disconnect at the end
    async with AsyncTieClient.from_config(CONFIG_FILE) as tie:
        # Subscribe to file reputation changes; unsubscribe at the end of the block. If the
        # lookups fall behind, at most 100 events wait (the oldest are dropped beyond that).
        async with tie.events(EventKind.FILE_REPUTATION_CHANGE, max_queue=100) as changes:
            print("Waiting for reputation change events...", flush=True)
            lookups = []
            try:
                await asyncio.wait_for(watch(tie, changes, lookups), WATCH_SECONDS)
            except asyncio.TimeoutError:
                print("No more changes within {} seconds.".format(WATCH_SECONDS), flush=True)
            # Let the lookups already started finish
            await asyncio.gather(*lookups)
            print("Watched {} reputation changes; stopping.".format(len(lookups)), flush=True)


try:
    asyncio.run(main())
except KeyboardInterrupt:
    pass
