"""Sphinx configuration of the dxltieclient documentation.

Build with: ``python -m sphinx -W --keep-going -b html docs docs/_build/html``
"""

import os
import sys

# Document the package of this work tree, even when another copy is installed
sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..")))

import dxltieclient

project = "McAfee Threat Intelligence Exchange (TIE) DXL Python client library"
copyright = "dxltieclient contributors"
author = "dxltieclient contributors"

version = dxltieclient.get_version()
release = version

extensions = ["sphinx.ext.autodoc"]

# Show the class docstring and the __init__ docstring together
autoclass_content = "both"
autodoc_member_order = "bysource"

# Sort the module index by the name after "dxltieclient."
modindex_common_prefix = ["dxltieclient."]

# Keep quotes, dashes and ellipses exactly as written (hashes, topics and options are copied)
smartquotes = False

root_doc = "index"
exclude_patterns = ["_build"]
nitpicky = False

html_theme = "alabaster"
html_title = "dxltieclient " + release
html_static_path = []
