#!/usr/bin/env bash
# Builds the optional native addon (native/aes_cbc_inplace.c → native/build/aes_cbc_inplace.node):
# in-place AES-CBC for the Node CMS adapter. Optional: without a C compiler or Node's headers
# it says so and exits 0, and the CLI encrypts through node:crypto instead (slower on large
# lots, same bytes). Rebuilt when the source or the node binary is newer than the addon.
#
# No node-gyp: one C file against Node-API needs only Node's headers (node_api.h and the
# OpenSSL headers Node ships); the OpenSSL symbols resolve against the node binary at load time.
set -uo pipefail
cd "$(dirname "$0")/.."

src=native/aes_cbc_inplace.c
out=native/build/aes_cbc_inplace.node
node_bin=$(readlink -f "$(command -v node)")

if [ -f "$out" ] && [ "$out" -nt "$src" ] && [ "$out" -nt "$node_bin" ]; then exit 0; fi

cc_bin=$(command -v cc || command -v gcc || true)
inc=""
for d in "$(dirname "$(dirname "$node_bin")")/include/node" /usr/include/node /usr/local/include/node \
  "$HOME/.cache/node-gyp/$(node -p 'process.versions.node')/include/node"; do
  if [ -f "$d/node_api.h" ] && [ -f "$d/openssl/evp.h" ]; then inc=$d; break; fi
done
if [ -z "$cc_bin" ] || [ -z "$inc" ]; then
  echo "build-native: skipped (no C compiler or no Node headers); node:crypto will be used" >&2
  exit 0
fi

mkdir -p native/build
tmp=$(mktemp --suffix=.node native/build/.aes.XXXXXX)
if "$cc_bin" -O2 -fPIC -shared -Wall -Wextra -Werror -I"$inc" -o "$tmp" "$src" \
  && node -e "require(process.argv[1]).encryptInPlace" "$PWD/$tmp"; then
  mv -f "$tmp" "$out"
  echo "build-native: $out"
else
  rm -f "$tmp"
  echo "build-native: build failed; node:crypto will be used" >&2
fi
exit 0
