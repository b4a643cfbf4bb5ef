#!/usr/bin/env bash
# `npm start`: installs what is missing, builds when the build is missing or stale, then serves
# the production build on http://${HOST:-127.0.0.1}:${PORT:-3000}.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-system-deps.sh
bash scripts/ensure-node-modules.sh

stale=no
if [ ! -f build/handler.js ]; then
  stale=yes
elif [ -n "$(find src static svelte.config.js vite.config.ts package-lock.json -newer build/handler.js -print -quit 2>/dev/null)" ]; then
  stale=yes
fi
if [ "$stale" = yes ]; then
  echo "start: building the app"
  npx svelte-kit sync
  npx vite build --logLevel warn
fi

export HOST="${HOST:-127.0.0.1}"
export PORT="${PORT:-3000}"
# The relay accepts packaged lot messages of up to 10 MiB (adapter-node refuses 512 KiB+ by default).
export BODY_SIZE_LIMIT="${BODY_SIZE_LIMIT:-16M}"
# The relay: TELETRANS_RELAY_CONFIG when given, else its embedded defaults (demo PKI and
# practitioner credential, SQLite, local SMTP test peer for the insurers) in data/demo.
if [ -z "${TELETRANS_RELAY_CONFIG:-}" ]; then
  export TELETRANS_RELAY_DEMO_DIR="${TELETRANS_RELAY_DEMO_DIR:-$PWD/data/demo}"
  echo "start: relay on its embedded defaults in ${TELETRANS_RELAY_DEMO_DIR} (fictitious credentials, local test peer)"
fi
echo "start: Teletrans on http://${HOST}:${PORT}"
exec node build
