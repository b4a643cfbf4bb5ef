#!/usr/bin/env bash
# Installs the Debian packages Teletrans needs to build, run and test. Idempotent: does nothing
# (not even `apt-get update`) when every package is already installed.
set -euo pipefail

# Debian 12 packages. Later features add to this list.
PACKAGES=(chromium openssl xmlsec1 dnsmasq-base slapd ldap-utils pcscd vsmartcard-vpcd libpcsclite-dev postfix dovecot-imapd dovecot-pop3d dovecot-lmtpd postgresql-15 python3)

missing=()
for package in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$package")
  fi
done

if [ "${#missing[@]}" -eq 0 ]; then
  exit 0
fi

if [ "$(id -u)" -eq 0 ]; then
  sudo=()
elif command -v sudo >/dev/null 2>&1; then
  sudo=(sudo)
else
  echo "install-system-deps: missing packages: ${missing[*]}; run this script as root or install sudo." >&2
  exit 1
fi

echo "install-system-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq </dev/null
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" </dev/null >/dev/null
