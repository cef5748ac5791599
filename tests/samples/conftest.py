"""
Fixtures of the sample tests: a copy of the sample tree configured for the session's sandbox.

The samples read ``dxlclient.config`` beside ``common.py``; the tests therefore run copies of the
samples, in a temporary folder whose ``dxlclient.config`` is the sandbox's client configuration,
and leave the work tree alone.
"""

import os
import shutil

import pytest
from sample_runner import SAMPLE_DIR, run_samples


@pytest.fixture(scope="session")
def sample_tree(tmp_path_factory, tie_sandbox_config):
    """A copy of ``common.py`` and the sample folders, with the sandbox's client configuration."""
    tree = tmp_path_factory.mktemp("sample")
    shutil.copyfile(os.path.join(SAMPLE_DIR, "common.py"), tree / "common.py")
    for folder in ("basic", "advanced"):
        shutil.copytree(os.path.join(SAMPLE_DIR, folder), tree / folder,
                        ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copyfile(str(tie_sandbox_config), tree / "dxlclient.config")
    return tree


@pytest.fixture(scope="session")
def samples_by_name():
    """The runner's samples, by file name without extension."""
    return {os.path.splitext(os.path.basename(sample.path))[0]: sample
            for sample in run_samples.SAMPLES}
