#!/usr/bin/env bash
# Installs the npm packages when node_modules is missing or older than package-lock.json.
#
# `npm ci`: what is installed, and so what is tested, is exactly what package-lock.json locks,
# and the lock is never rewritten. The lock lists every platform's optional binaries (rollup's
# per-OS packages…), as `npm install` writes it; `npm ci` refuses a lock that lacks them.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -d node_modules ] || [ ! -f node_modules/.package-lock.json ] \
  || [ package-lock.json -nt node_modules/.package-lock.json ] \
  || [ package.json -nt node_modules/.package-lock.json ]; then
  echo "ensure-node-modules: npm ci"
  npm ci --no-audit --no-fund --loglevel=error </dev/null
fi
bash scripts/build-native.sh
