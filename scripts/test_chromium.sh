#!/usr/bin/env bash
# Debian's Chromium for the browser tests (driven by Playwright with executablePath /usr/bin/chromium).
set -euo pipefail
CHROMIUM="${ACCORD_TEST_CHROMIUM:-/usr/bin/chromium}"
if [ -x "$CHROMIUM" ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "Chromium is not installed at $CHROMIUM and this user cannot install it (apt-get install chromium)" >&2
  exit 1
fi
echo "installing Chromium from Debian's packages ..." >&2
apt-get install -y -q --no-install-recommends chromium >/dev/null 2>&1 \
  || { apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends chromium >/dev/null; }
