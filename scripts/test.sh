#!/usr/bin/env bash
# `npm test`: installs what is needed, then type-checks, lints, builds and runs every test.
# Exits non-zero on the first failure.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n== %s ==\n' "$*"; }
clean_tree() {
  local dirty
  dirty=$(git status --porcelain 2>/dev/null || true)
  if [ -n "$dirty" ]; then
    printf 'test: the working tree changed %s:\n%s\n' "$1" "$dirty" >&2
    exit 1
  fi
}

step "system packages"
bash scripts/install-system-deps.sh
step "node modules"
bash scripts/ensure-node-modules.sh
# CI tests a clean checkout: set-up must leave it exactly as committed (a rewritten lock file
# would mean that what is tested is not what is locked).
if [ "${CI:-}" = true ]; then clean_tree "after set-up"; fi

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
if [ "${CI:-}" = true ] && [ "$status" -eq 0 ]; then clean_tree "during the tests"; fi
exit "$status"
