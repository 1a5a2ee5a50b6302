#!/usr/bin/env bash
# Chromium for the browser tests (tests/test_web_browser.py), from Debian's packages: Playwright's Python package
# (the dev extra) drives this binary; Playwright's own browser download is not used. Run by scripts/test.sh.
# As root, or with sudo; otherwise it says what to do and the browser tests fail saying the same.
set -uo pipefail
for name in chromium chromium-browser google-chrome; do
    if command -v "$name" >/dev/null 2>&1; then exit 0; fi
done
if [ "${SYRISIGN_SKIP_BROWSER:-}" = 1 ]; then exit 0; fi
SUDO=""
if [ "$(id -u)" != 0 ]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        SUDO="sudo -n"
    else
        echo "scripts/install-browser.sh: Chromium is not installed and this user cannot install it: run" \
             "'sudo apt-get install -y chromium' (or set SYRISIGN_SKIP_BROWSER=1 to skip the browser tests)" >&2
        exit 0
    fi
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "scripts/install-browser.sh: no apt-get here: install Chromium with this system's package manager" \
         "(or set SYRISIGN_SKIP_BROWSER=1 to skip the browser tests)" >&2
    exit 0
fi
echo "installing Chromium for the browser tests (apt-get install chromium) ..."
if $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null; then
    echo "installed $(chromium --version 2>/dev/null)"
else
    echo "scripts/install-browser.sh: could not install chromium: the browser tests will fail and say so" >&2
fi
exit 0
