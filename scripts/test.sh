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
report="$(mktemp)"
status=0
npx vitest run --reporter=default --reporter=json --outputFile.json="$report" || status=$?
# One plain closing line that any CI can read, whatever the reporter's colours.
node -e '
  const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  console.log(`${r.numPassedTests} passed, ${r.numFailedTests} failed`);
' "$report" || true
rm -f "$report"
exit "$status"
