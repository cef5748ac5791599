#!/usr/bin/env bash
# Runs every sample against a local sandbox (a DXL fabric on Mosquitto with a TIE emulator) and
# checks what each one prints. Meant for a fresh Debian or Ubuntu machine with Python 3.9 or later:
# run as root, it installs Mosquitto and this package when they are missing.
#
#   bash sample/run_samples.sh [NAME...]    (NAME: run only the samples whose file name contains it)
#
# It ends with the line "samples: N passed, M failed", and exits non-zero when a sample failed.
set -euo pipefail

SAMPLE_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_DIR="$(dirname "$SAMPLE_DIR")"
PYTHON="${PYTHON:-python3}"

if ! command -v mosquitto >/dev/null 2>&1 && [ ! -x /usr/sbin/mosquitto ]; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "mosquitto is missing: install it ('sudo apt-get install -y mosquitto' on" \
             "Debian/Ubuntu, 'brew install mosquitto' on macOS), then run this script again." >&2
        exit 1
    fi
    echo "Installing mosquitto (the sandbox's MQTT broker)..."
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq mosquitto >/dev/null
fi

# Check from a neutral folder, so that the work tree itself does not count as installed
if ! (cd / && "$PYTHON" -c "import dxltieclient.sandbox") >/dev/null 2>&1; then
    echo "Installing dxltieclient from $REPO_DIR..."
    "$PYTHON" -m pip install -q -e "$REPO_DIR"
fi

exec "$PYTHON" "$SAMPLE_DIR/run_samples.py" "$@"
