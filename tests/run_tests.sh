#!/usr/bin/env bash
# Runs the whole test suite on a fresh Debian machine: installs Mosquitto (the sandbox's broker) and
# the package with its test tools when they are missing, then runs pytest with any arguments given.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v mosquitto >/dev/null 2>&1 && [ ! -x /usr/sbin/mosquitto ]; then
    echo "Installing mosquitto (the sandbox's MQTT broker)..."
    if [ "$(id -u)" -ne 0 ]; then
        echo "mosquitto is missing: run 'sudo apt-get install -y mosquitto' (Debian/Ubuntu)" \
             "or 'brew install mosquitto' (macOS), then run this script again." >&2
        exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq mosquitto >/dev/null
fi

# (checked from / so that the work tree itself does not count as an installed package)
if ! (cd / && python3 -c "import dxltieclient, pytest, hypothesis, pytest_timeout, pytest_asyncio") \
        >/dev/null 2>&1; then
    echo "Installing dxltieclient with its test tools..."
    python3 -m pip install -q -e ".[test]"
fi

exec python3 -m pytest "$@"
