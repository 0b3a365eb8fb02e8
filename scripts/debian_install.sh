#!/usr/bin/env bash
# Install Debian packages for the test suite: `bash scripts/debian_install.sh WHAT PACKAGE...`.
# Only root can; anyone else gets a message saying what to install.
set -euo pipefail
what="$1"
shift
if [ "$(id -u)" -ne 0 ]; then
  echo "$what is not installed and this user cannot install it (apt-get install $*)" >&2
  exit 1
fi
echo "installing $what from Debian's packages ..." >&2
apt-get install -y -q --no-install-recommends "$@" >/dev/null 2>&1 \
  || { apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends "$@" >/dev/null; }
