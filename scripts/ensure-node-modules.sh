#!/usr/bin/env bash
# Installs the npm packages when node_modules is missing or older than package-lock.json.
#
# `npm install` rather than `npm ci`: the lock file pins every version we use, but the
# registry mirror this project is built against does not record the other platforms'
# optional packages (rollup's per-OS binaries…), which `npm ci` insists on finding in the
# lock. `npm install` installs exactly the locked versions and leaves the lock unchanged.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -d node_modules ] || [ ! -f node_modules/.package-lock.json ] \
  || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "ensure-node-modules: npm install"
  npm install --no-audit --no-fund --loglevel=error </dev/null
fi
bash scripts/build-native.sh
