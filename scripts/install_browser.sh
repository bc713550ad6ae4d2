#!/usr/bin/env bash
# Installs Debian's Chromium for the browser tests (tests/diagnostics/*browser*), if missing.
# Without root or apt the tests that need it skip with a message naming this script.
set -euo pipefail
if command -v chromium >/dev/null 2>&1; then
    exit 0
fi
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "install_browser: no root/apt here; browser tests will be skipped" >&2
    exit 0
fi
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
