#!/usr/bin/env bash
# Makes sure Chromium is installed for `npm start` and the end-to-end tests: Debian's package (/usr/bin/chromium),
# never a browser download. Installs it with apt-get when it is missing and we are root; otherwise says what to do.
# CHROMIUM_PATH overrides the location.
set -euo pipefail
CHROMIUM="${CHROMIUM_PATH:-/usr/bin/chromium}"
if [ -x "$CHROMIUM" ]; then
  exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "ensure-chromium: $CHROMIUM is missing; installing Debian's chromium package (apt-get)…" >&2
  export DEBIAN_FRONTEND=noninteractive
  if ! apt-get install -y -q chromium >&2; then
    apt-get update -q >&2
    apt-get install -y -q chromium >&2
  fi
  if [ -x "$CHROMIUM" ]; then
    echo "ensure-chromium: installed $CHROMIUM" >&2
    exit 0
  fi
fi
cat >&2 <<MSG
ensure-chromium: Chromium is needed at $CHROMIUM (the end-to-end tests and npm start load the extensions into it).
  Install it as root:   apt-get update && apt-get install -y chromium
  or point CHROMIUM_PATH at a Chromium/Chrome 118+ binary.
MSG
exit 1
