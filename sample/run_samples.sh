#!/usr/bin/env bash
# Runs every sample against a local sandbox (a DXL fabric on Mosquitto with a TIE emulator) and
# checks what each one prints:
#
#   bash sample/run_samples.sh [NAME...]    (NAME: run only the samples whose file name contains it)
#
# It first sets up what it needs (scripts/bootstrap.sh): Mosquitto and python3-venv when missing
# (installed with apt-get as root; anyone else is told the command to run), and the virtual
# environment .venv/ in this checkout with this checkout installed. The samples then run with
# .venv/'s python; the system's Python is never modified.
#
# It ends with the line "samples: N passed, M failed", and exits non-zero when a sample failed.
set -euo pipefail
REPO_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=../scripts/bootstrap.sh
source "$REPO_DIR/scripts/bootstrap.sh"
dxltie_bootstrap
exec "$DXLTIE_VENV_PYTHON" "$REPO_DIR/sample/run_samples.py" "$@"
