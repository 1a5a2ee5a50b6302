#!/usr/bin/env bash
# The test suite. Installs what the tests need first (the Python environment, scripts/setup.sh; Chromium for
# the browser tests, scripts/install-browser.sh). Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/install-browser.sh
export HF_HUB_OFFLINE=1
exec .venv/bin/python -m pytest -q "$@"
