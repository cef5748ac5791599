#!/usr/bin/env bash
# Runs the test suite with any pytest arguments given:
#
#   bash tests/run_tests.sh [PYTEST ARGS...]     (e.g. tests/unit -q)
#
# It first sets up what it needs (scripts/bootstrap.sh): Mosquitto and python3-venv when missing
# (installed with apt-get as root; anyone else is told the command to run), and the virtual
# environment .venv/ in this checkout with this checkout and its test tools installed. pytest
# then runs from .venv/, always on this checkout's code; the system's Python is never modified.
set -euo pipefail
REPO_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=../scripts/bootstrap.sh
source "$REPO_DIR/scripts/bootstrap.sh"
dxltie_bootstrap test
cd "$REPO_DIR"
exec "$DXLTIE_VENV_PYTHON" -m pytest "$@"
