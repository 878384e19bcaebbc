#!/usr/bin/env bash
# clang-tidy with the project's .clang-tidy over the shipped code (crypto net p2p mempool
# chainstub node sim) and the test support library (testing/), using BUILD_DIR's
# compile_commands.json. Any warning in the project's own files fails the run.
#   contrib/lint.sh BUILD_DIR            every source file
#   contrib/lint.sh BUILD_DIR --changed  only the .cpp files changed since origin/main (or
#                                        HEAD~1 without a remote), plus the .cpp of each
#                                        changed header
set -euo pipefail
build=${1:?usage: lint.sh BUILD_DIR [--changed]}
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
dirs=(crypto net p2p mempool chainstub node sim testing)
tidy=$(command -v clang-tidy-14 || command -v clang-tidy || true)
if [[ -z "$tidy" ]]; then
  echo "lint: clang-tidy not found; run contrib/install-deps.sh" >&2
  exit 2
fi
if [[ ! -f "$build/compile_commands.json" ]]; then
  echo "lint: $build/compile_commands.json missing; configure the build first (make lint does)" >&2
  exit 2
fi
if [[ "${2:-}" == "--changed" ]]; then
  base=$(git rev-parse --verify -q origin/main || git rev-parse HEAD~1)
  mapfile -t changed < <(git diff --name-only "$base" -- "${dirs[@]}" | grep -E '\.(cpp|h)$' || true)
  files=()
  for f in "${changed[@]}"; do
    c=${f%.h}.cpp
    [[ -f "$c" ]] && files+=("$c")
  done
  mapfile -t files < <(printf '%s\n' "${files[@]}" | sort -u | grep . || true)
else
  mapfile -t files < <(git ls-files -co --exclude-standard "${dirs[@]/%//*.cpp}")
fi
if [[ ${#files[@]} -eq 0 ]]; then
  echo "lint: nothing to check"
  exit 0
fi
echo "lint: clang-tidy on ${#files[@]} files"
out=$(mktemp)
trap 'rm -f "$out"' EXIT
# Only the project's headers are reported (not Boost's, the standard library's or GTest's).
printf '%s\0' "${files[@]}" | xargs -0 -P "$(nproc)" -n 4 \
  "$tidy" -p "$build" --quiet --header-filter="^$root/(crypto|net|p2p|mempool|chainstub|node|sim|testing)/" \
  >"$out" 2>/dev/null || true
# A header included by several files reports the same finding several times: count it once.
findings=$(grep -E "^/.*: (warning|error):" "$out" | sort -u || true)
if [[ -n "$findings" ]]; then
  echo "$findings" >&2
  echo "lint: $(echo "$findings" | wc -l) findings" >&2
  exit 1
fi
echo "lint: clean"
