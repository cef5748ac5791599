"""``python -m dxltieclient``: runs the ``dxltie`` command line (see :mod:`dxltieclient.cli`)."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
