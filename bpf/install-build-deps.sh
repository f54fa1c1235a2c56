#!/usr/bin/env bash
# Installs what building and testing Sightline needs on Debian (as root): the BPF toolchain, libbpf and libelf
# for the addon (and Vectorscan for its text scanner), the real clients the tests drive (Go clients are built from
# source with golang-go; a C client is linked against libssl-dev's static OpenSSL), capsh (libcap2-bin) to test capture
# without root, and Chromium for the web UI's browser test. Safe to run again: installed packages are skipped.
set -euo pipefail

packages=(clang llvm libbpf-dev bpftool libelf-dev zlib1g-dev libvectorscan-dev pkg-config make g++ python3 python3-httpx python3-h2 curl openssl ca-certificates util-linux prometheus libcap2-bin chromium golang-go libssl-dev)

missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done

if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "sightline setup: these Debian packages are missing: ${missing[*]}; run this as root (or with sudo)" >&2
    exit 1
  fi
  echo "sightline setup: installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! command -v node >/dev/null || ! node -e 'const [major, minor] = process.versions.node.split(".").map(Number); process.exit(major > 20 || (major === 20 && minor >= 19) ? 0 : 1)'; then
  echo "sightline setup: Node.js 20.19 or newer is required (found: $(node --version 2>/dev/null || echo none))" >&2
  exit 1
fi
