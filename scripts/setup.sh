#!/usr/bin/env bash
# Installs what voipd needs on Debian 12, from Debian's own packages (and the
# npm registry for the Node test client). Safe to re-run: it installs only
# what is missing.
#   scripts/setup.sh          build and run dependencies
#   scripts/setup.sh --test   plus the test peers and clients
set -euo pipefail

build_pkgs=(build-essential cmake ninja-build ccache pkg-config
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler libabsl-dev
  libboost-dev libphonenumber-dev libyaml-cpp-dev libcli11-dev libssl-dev libsystemd-dev
  libgtest-dev libgmock-dev libre-dev libcurl4-openssl-dev nlohmann-json3-dev libsqlite3-dev
  libgoogle-perftools-dev)
test_pkgs=(python3 python3-grpcio python3-protobuf sip-tester baresip kamailio
  systemd openssl dpkg-dev clang libclang-rt-14-dev chromium iproute2 util-linux e2fsprogs
  mount init-system-helpers)

want=("${build_pkgs[@]}")
if [[ "${1:-}" == "--test" ]]; then
  want+=("${test_pkgs[@]}")
  # Node.js may already be installed from elsewhere (any version >= 18 works).
  command -v node >/dev/null && command -v npm >/dev/null || want+=(nodejs npm)
fi

missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  sudo=""
  [[ $(id -u) -eq 0 ]] || sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends -o DPkg::Lock::Timeout=300 "${missing[@]}"
fi

if [[ "${1:-}" == "--test" ]]; then
  root=$(cd "$(dirname "$0")/.." && pwd)
  if [[ -f "$root/tests/integration/node/package.json" ]]; then
    (cd "$root/tests/integration/node" && npm ci --no-audit --no-fund --loglevel=error)
  fi
  if [[ -f "$root/tests/integration/twilio/package.json" ]]; then
    (cd "$root/tests/integration/twilio" && npm ci --no-audit --no-fund --loglevel=error)
  fi
  # playwright-core drives Debian's chromium; it never downloads a browser.
  if [[ -f "$root/tests/integration/webrtc/package.json" ]]; then
    (cd "$root/tests/integration/webrtc" && npm ci --no-audit --no-fund --loglevel=error)
  fi
fi
