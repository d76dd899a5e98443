#!/usr/bin/env bash
# Installs Debian's chromium for the browser tests (tests/test_browser.py), idempotently.
#
# Playwright never downloads a browser here: the tests launch /usr/bin/chromium through `executable_path`.
# This script always exits 0; when chromium cannot be installed (no root, no apt, no network) it says why,
# and the browser tests then skip with that reason.
set -u

CHROMIUM="${ALNB_CHROMIUM:-/usr/bin/chromium}"

if [ -x "$CHROMIUM" ]; then
    echo "browser-deps: $CHROMIUM is already installed ($("$CHROMIUM" --version 2>/dev/null || echo 'version unknown'))."
    exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
    echo "browser-deps: apt-get is not available; install chromium by hand to run the browser tests." >&2
    exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        SUDO="sudo -n"
    else
        echo "browser-deps: not root and no password-less sudo; cannot install chromium (browser tests will skip)." >&2
        exit 0
    fi
fi

echo "browser-deps: installing Debian's chromium with apt-get ..."
export DEBIAN_FRONTEND=noninteractive
if $SUDO apt-get update -qq >/dev/null \
    && $SUDO apt-get install -y -qq --no-install-recommends chromium >/dev/null; then
    if [ -x "$CHROMIUM" ]; then
        echo "browser-deps: installed $("$CHROMIUM" --version 2>/dev/null || echo chromium)."
    else
        echo "browser-deps: apt-get succeeded but $CHROMIUM is missing; browser tests will skip." >&2
    fi
else
    echo "browser-deps: apt-get could not install chromium (offline mirror?); browser tests will skip." >&2
fi
exit 0
