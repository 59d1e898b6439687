#!/usr/bin/env bash
# Browser tests drive Debian's Chromium; install it when missing and we are root.
# (Playwright's own browser download does not work here; never run `playwright install`.)
set -u
if [ -x /usr/bin/chromium ]; then exit 0; fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null; then
  echo "Installing Debian's chromium for the browser tests..."
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null \
    && exit 0
fi
echo "WARNING: /usr/bin/chromium is missing; browser tests will be skipped." >&2
exit 0
