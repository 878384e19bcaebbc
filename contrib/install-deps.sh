#!/usr/bin/env bash
# Installs, from Debian 12's packages, exactly what hearsay needs to build, test, fuzz and
# benchmark — and nothing when everything is already there (then it prints nothing).
# Idempotent. Run as root (or with sudo available). No other source of code is used.
set -euo pipefail

PACKAGES=(
  # toolchain
  g++ cmake ninja-build pkg-config make git
  # clang + libFuzzer/sanitizer runtimes for `make fuzz`
  clang libclang-rt-14-dev clang-format
  # clang-tidy for `make lint`
  clang-tidy
  # llvm-profdata and llvm-cov for `make fuzz-coverage`
  llvm-14
  # libraries
  libssl-dev libsodium-dev libleveldb-dev libsnappy-dev
  libboost1.81-dev libboost-program-options1.81-dev libboost-json1.81-dev
  libspdlog-dev libfmt-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  # test tools: the openssl CLI drives refused TLS clients; python3 runs contrib scripts
  openssl python3 python3-cryptography
  # promtool (from prometheus) checks the /metrics exposition in the tests
  prometheus
  # gnuplot renders the testnet report's figures (contrib/testnet)
  gnuplot-nox
  # tshark (with dumpcap) decodes a capture with contrib/wireshark/hearsay.lua in its test
  tshark
)

missing=()
for p in "${PACKAGES[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$p")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

echo "install-deps: installing ${missing[*]}"
SUDO=""
if [[ $(id -u) -ne 0 ]]; then
  command -v sudo >/dev/null || { echo "install-deps: need root (or sudo) to install: ${missing[*]}" >&2; exit 1; }
  SUDO=sudo
fi
export DEBIAN_FRONTEND=noninteractive
# wireshark-common (pulled in by tshark) asks whether non-root users may capture: answer no
# beforehand, so that the install never stops at a prompt.
if [[ " ${missing[*]} " == *" tshark "* ]] && command -v debconf-set-selections >/dev/null; then
  echo "wireshark-common wireshark-common/install-setuid boolean false" |
    $SUDO debconf-set-selections
fi
# Refresh the package lists when they are missing or older than a day.
if [[ -z $(find /var/lib/apt/lists -maxdepth 1 -name '*Packages*' -mtime -1 2>/dev/null | head -1) ]]; then
  $SUDO apt-get update -qq
fi
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "install-deps: done"
