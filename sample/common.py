"""
Settings shared by every sample.

Each sample adds this folder to ``sys.path`` and star-imports this module, which gives it
:data:`CONFIG_FILE` (the DXL client configuration the sample connects with) and a console logger.
"""

import logging
import os

#: The name of the DXL client configuration file used by the samples.
CONFIG_FILE_NAME = "dxlclient.config"

#: The DXL client configuration file: ``dxlclient.config`` beside this module. Fill it in for your
#: fabric (see the "Sample configuration" page of the documentation), or let
#: ``sample/run_samples.py`` write one for the local sandbox.
CONFIG_FILE = os.path.dirname(os.path.abspath(__file__)) + "/" + CONFIG_FILE_NAME

# Log to the console. The samples lower the root level to ERROR so that only their own output shows;
# raise it again (logging.INFO or logging.DEBUG) to watch the DXL client at work.
_console_handler = logging.StreamHandler()
_console_handler.setFormatter(
    logging.Formatter("%(asctime)s %(name)s - %(levelname)s - %(message)s"))
logging.getLogger().addHandler(_console_handler)
logging.getLogger().setLevel(logging.INFO)
