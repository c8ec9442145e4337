#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Installs everything ueip needs to build, test, demo and benchmark on Debian 12.
# Idempotent and non-interactive: packages already present are skipped.
set -euo pipefail

packages=(
  build-essential pkg-config meson ninja-build
  clang libclang-rt-14-dev libfuzzer-14-dev
  libuv1-dev libyaml-dev libjansson-dev libsqlite3-dev libssl-dev
  libcmocka-dev sqlite3 spin
  libnftables-dev natpmpc iperf3 curl
  iproute2 nftables procps python3
)
if [ "${UEIP_BENCH_DEPS:-0}" = 1 ]; then
  packages+=(kea-dhcp4-server kea-admin miniupnpd-nftables)
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: missing packages: ${missing[*]} (run as root, or install them)" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
stamp=/var/lib/apt/periodic/ueip-update-stamp
if [ ! -f "$stamp" ] || [ -n "$(find "$stamp" -mmin +1440 2>/dev/null)" ]; then
  apt-get update -qq
  mkdir -p "$(dirname "$stamp")" && touch "$stamp"
fi
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "install-deps: installed ${missing[*]}"
