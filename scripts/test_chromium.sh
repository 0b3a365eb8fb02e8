#!/usr/bin/env bash
# Debian's Chromium for the browser tests (driven by Playwright with executablePath /usr/bin/chromium).
set -euo pipefail
CHROMIUM="${ACCORD_TEST_CHROMIUM:-/usr/bin/chromium}"
if [ -x "$CHROMIUM" ]; then
  exit 0
fi
bash "$(dirname "$0")/debian_install.sh" "Chromium ($CHROMIUM)" chromium
