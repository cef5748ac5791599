"""
``sample/run_samples.py`` imported as a module (``run_samples``): the list of samples and the
checks of their output, shared by the one-command run and these tests.
"""

import importlib.util
import os

REPO_DIR = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SAMPLE_DIR = os.path.join(REPO_DIR, "sample")


def _load_runner():
    spec = importlib.util.spec_from_file_location("run_samples",
                                                  os.path.join(SAMPLE_DIR, "run_samples.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


run_samples = _load_runner()


def run_or_fail(sample, sandbox, tree):
    """Runs ``sample`` from ``tree``; fails the test with the sample's output if it failed."""
    import pytest

    try:
        return sample.run(sandbox, str(tree))
    except run_samples.SampleFailure as failure:
        pytest.fail("{}: {}\n{}".format(sample.path, failure.reason, "\n".join(failure.lines)))
