#!/usr/bin/env bash
# Calls relay their media through coturn when no direct path works: `make cluster` runs
# Debian's `turnserver` beside the app and tests/deploy/test_coturn.py starts a private one.
# Install the package when it is missing and we are root (as scripts/ensure-nginx.sh does
# for nginx). Only the program is used, with the project's configuration
# (deploy/coturn/), never the system's service.
set -u
if [ -x /usr/bin/turnserver ] || command -v turnserver >/dev/null; then exit 0; fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null; then
  echo "Installing Debian's coturn (make cluster, tests/deploy)..."
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    coturn >/dev/null && exit 0
fi
echo "WARNING: coturn missing (apt-get install coturn, as root);" \
  "make cluster's TURN and tests/deploy/test_coturn.py need it." >&2
exit 0
