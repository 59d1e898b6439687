#!/usr/bin/env bash
# `make cluster` and the deploy tests run Debian's nginx in front of the app processes, and
# `make cluster` a local redis-server when REDIS_URL is unset: install either when missing
# and we are root (as scripts/ensure-chromium.sh does for Chromium). Only the programs are
# used: the project runs nginx with its own configuration and directories (.cluster/),
# never the system's service.
set -u
missing=()
[ -x /usr/sbin/nginx ] || missing+=(nginx)
command -v redis-server >/dev/null || [ -x /usr/bin/redis-server ] || missing+=(redis-server)
if [ ${#missing[@]} -eq 0 ]; then exit 0; fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null; then
  echo "Installing Debian's ${missing[*]} (make cluster, tests/deploy)..."
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >/dev/null && exit 0
fi
echo "WARNING: ${missing[*]} missing (apt-get install ${missing[*]}, as root);" \
  "make cluster and tests/deploy need them." >&2
exit 0
