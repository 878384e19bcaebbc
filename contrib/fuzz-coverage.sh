#!/usr/bin/env bash
# Replays every fuzz corpus (fuzz/corpus/<target>/) through the replay build of its target made
# with clang's source-based coverage (the `coverage` preset), merges the profiles and prints line
# coverage per file for p2p/, chainstub/ and net/ (llvm-cov report).
#   contrib/fuzz-coverage.sh BUILD_DIR [DIR...]   DIRs default to p2p chainstub net
# An HTML report of the same profile is written to BUILD_DIR/coverage-html/index.html.
set -euo pipefail
build=${1:?usage: fuzz-coverage.sh BUILD_DIR [SOURCE_DIR...]}
shift
root=$(cd "$(dirname "$0")/.." && pwd)
dirs=("$@")
[[ ${#dirs[@]} -gt 0 ]] || dirs=(p2p chainstub net)

profdata=$(command -v llvm-profdata-14 || command -v llvm-profdata) ||
  { echo "fuzz-coverage: llvm-profdata not found (contrib/install-deps.sh installs llvm-14)" >&2; exit 1; }
cov=$(command -v llvm-cov-14 || command -v llvm-cov) ||
  { echo "fuzz-coverage: llvm-cov not found (contrib/install-deps.sh installs llvm-14)" >&2; exit 1; }

work="$build/coverage-profiles"
rm -rf "$work"
mkdir -p "$work"
objects=()
for bin in "$build"/bin/fuzz_*; do
  name=$(basename "$bin")
  target=${name#fuzz_}
  corpus="$root/fuzz/corpus/$target"
  [[ -d "$corpus" ]] || { echo "fuzz-coverage: no corpus for $name ($corpus)" >&2; exit 1; }
  # %m keeps the profiles of one binary apart; each replay runs every file of the corpus once.
  if ! LLVM_PROFILE_FILE="$work/$target-%m.profraw" "$bin" "$corpus" >"$work/$target.log" 2>&1; then
    tail -20 "$work/$target.log" >&2
    echo "fuzz-coverage: $name failed on its corpus" >&2
    exit 1
  fi
  objects+=("$bin")
done
[[ ${#objects[@]} -gt 0 ]] || { echo "fuzz-coverage: no fuzz_* binaries in $build/bin" >&2; exit 1; }

# Functions in the fuzz targets' anonymous namespaces share mangled names across targets, so
# llvm-profdata reports them as "mismatched"; they are the targets' own helpers, outside the
# folders reported.
"$profdata" merge -sparse "$work"/*.profraw -o "$work/all.profdata" 2>&1 |
  { grep -v 'functions have mismatched data' || true; } >&2
args=("${objects[0]}")
for o in "${objects[@]:1}"; do args+=(-object "$o"); done
sources=()
for d in "${dirs[@]}"; do sources+=("$root/$d"); done

"$cov" show "${args[@]}" -instr-profile="$work/all.profdata" -format=html \
  -output-dir="$build/coverage-html" "${sources[@]}" >/dev/null 2>&1
echo "Line coverage of ${dirs[*]} by the fuzz corpora (${#objects[@]} targets):"
"$cov" report -use-color=false "${args[@]}" -instr-profile="$work/all.profdata" \
  -show-region-summary=false -show-instantiation-summary=false "${sources[@]}" 2>/dev/null |
  sed "s|$root/||"
echo "HTML: $build/coverage-html/index.html"
