#!/usr/bin/env bash
# Browser tests drive Debian's Chromium; install it when missing and we are root, with a
# Korean font (the pages are Korean first: without one the screenshots show empty boxes).
# (Playwright's own browser download does not work here; never run `playwright install`.)
set -u
packages=()
if [ ! -x /usr/bin/chromium ]; then
  packages+=(chromium fonts-nanum)
elif command -v fc-list >/dev/null && [ -z "$(fc-list :lang=ko 2>/dev/null)" ]; then
  packages+=(fonts-nanum)
fi
if [ ${#packages[@]} -eq 0 ]; then exit 0; fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null; then
  echo "Installing ${packages[*]} for the browser tests..."
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${packages[@]}" >/dev/null \
    && exit 0
fi
[ -x /usr/bin/chromium ] || echo "WARNING: /usr/bin/chromium is missing; browser tests will be skipped." >&2
exit 0
