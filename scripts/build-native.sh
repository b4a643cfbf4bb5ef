#!/usr/bin/env bash
# Builds the optional native addons into native/build/:
#   native/aes_cbc_inplace.c → aes_cbc_inplace.node: in-place AES-CBC for the Node CMS adapter;
#   native/smtp_data.c       → smtp_data.node: the relay's check that a body can go out as is.
# Optional: without a C compiler or Node's headers it says so and exits 0, and the code uses
# its JavaScript paths instead (same results, slower). Each addon is rebuilt when its source or
# the node binary is newer than it.
#
# No node-gyp: one C file against Node-API needs only Node's headers (node_api.h and the
# OpenSSL headers Node ships); the OpenSSL symbols resolve against the node binary at load time.
set -uo pipefail
cd "$(dirname "$0")/.."

node_bin=$(readlink -f "$(command -v node)")
# name:function that must be exported (checked by loading the freshly built file)
addons=(aes_cbc_inplace:encryptInPlace smtp_data:wireClean)

stale=()
for a in "${addons[@]}"; do
  name=${a%%:*}
  out=native/build/$name.node
  if ! { [ -f "$out" ] && [ "$out" -nt "native/$name.c" ] && [ "$out" -nt "$node_bin" ]; }; then stale+=("$a"); fi
done
[ ${#stale[@]} -eq 0 ] && exit 0

cc_bin=$(command -v cc || command -v gcc || true)
inc=""
for d in "$(dirname "$(dirname "$node_bin")")/include/node" /usr/include/node /usr/local/include/node \
  "$HOME/.cache/node-gyp/$(node -p 'process.versions.node')/include/node"; do
  if [ -f "$d/node_api.h" ] && [ -f "$d/openssl/evp.h" ]; then inc=$d; break; fi
done
if [ -z "$cc_bin" ] || [ -z "$inc" ]; then
  echo "build-native: skipped (no C compiler or no Node headers); the JavaScript paths will be used" >&2
  exit 0
fi

mkdir -p native/build
for a in "${stale[@]}"; do
  name=${a%%:*}
  fn=${a#*:}
  out=native/build/$name.node
  tmp=$(mktemp --suffix=.node "native/build/.$name.XXXXXX")
  if "$cc_bin" -O2 -fPIC -shared -Wall -Wextra -Werror -I"$inc" -o "$tmp" "native/$name.c" \
    && node -e "if (typeof require(process.argv[1])[process.argv[2]] !== 'function') process.exit(1)" "$PWD/$tmp" "$fn"; then
    mv -f "$tmp" "$out"
    echo "build-native: $out"
  else
    rm -f "$tmp"
    echo "build-native: $name failed to build; its JavaScript path will be used" >&2
  fi
done
exit 0
