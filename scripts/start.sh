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
if [ -n "${TELETRANS_RELAY_CONFIG:-}" ] || [ "${TELETRANS_START_BRIDGE:-1}" = 0 ]; then
  # A configured deployment: the card bridge runs on each workstation (`npx teletrans bridge`).
  exec node build
fi

# The embedded defaults: the card bridge too, with simulated cards whose certificates come from
# the server's fictitious demo PKI (data/demo/pki.json, made at the server's start), so the
# simulated CPS logs in to the demo relay. The bridge stays in the foreground: its pairing
# requests are approved on this terminal (type « oui »). Stopping one stops the other.
# A background job's standard input would be /dev/null: the bridge gets the terminal's (fd 3).
exec 3<&0
node build </dev/null &
server=$!
trap 'kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true' EXIT
trap 'exit 130' INT TERM
echo "start: card bridge with simulated cards on ws://127.0.0.1:7523/ (pairing approved here)"
node bin/teletrans.js bridge --simulated-cards --demo-dir "${TELETRANS_RELAY_DEMO_DIR}" \
  --state-dir "${TELETRANS_RELAY_DEMO_DIR}/bridge" \
  --allow-origin "http://127.0.0.1:${PORT}" --allow-origin "http://localhost:${PORT}" <&3 &
bridge=$!
trap 'kill "$server" "$bridge" 2>/dev/null || true; wait "$server" "$bridge" 2>/dev/null || true' EXIT
# Whichever ends first ends the other (the EXIT trap).
wait -n "$server" "$bridge"
