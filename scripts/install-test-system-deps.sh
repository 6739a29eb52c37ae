#!/usr/bin/env bash
# System packages the test suite needs beyond Python: Debian's chromium for the UI
# end-to-end test (stock_assets_tests/deploy/test_ui_browser.py drives it through
# playwright; no browser is ever downloaded). Idempotent: does nothing when present.
set -euo pipefail

CHROMIUM="${CHROMIUM_PATH:-/usr/bin/chromium}"

if [ -x "$CHROMIUM" ]; then
    echo "chromium: already installed ($CHROMIUM)"
    exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
    echo "error: $CHROMIUM is missing and apt-get is not available;" \
        "install Chromium yourself and set CHROMIUM_PATH to its binary" >&2
    exit 1
fi

if [ "$(id -u)" -eq 0 ]; then
    SUDO=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    SUDO=(sudo -n)
else
    echo "error: installing chromium needs root: run this script as root or with" \
        "passwordless sudo (sudo $0)" >&2
    exit 1
fi

echo "chromium: installing Debian's package"
"${SUDO[@]}" apt-get update -qq
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium

if [ ! -x "$CHROMIUM" ]; then
    echo "error: apt-get installed chromium but $CHROMIUM does not exist" >&2
    exit 1
fi
echo "chromium: installed ($("$CHROMIUM" --version 2>/dev/null || echo "$CHROMIUM"))"
