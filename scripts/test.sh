#!/usr/bin/env bash
# `npm test`: installs what is needed, then type-checks, lints, builds and runs every test.
# Exits non-zero on the first failure.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n== %s ==\n' "$*"; }

step "system packages"
bash scripts/install-system-deps.sh
step "node modules"
bash scripts/ensure-node-modules.sh

step "svelte-kit sync"
npx svelte-kit sync
step "svelte-check"
npx svelte-check --tsconfig ./tsconfig.json --fail-on-warnings
step "eslint"
npx eslint .
step "vite build"
npx vite build --logLevel warn
step "vitest"
npx vitest run
