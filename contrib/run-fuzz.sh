#!/usr/bin/env bash
# Runs every libFuzzer target in BIN_DIR for SECONDS each, starting from its seed corpus in
# fuzz/corpus/<target>/. New inputs go to a scratch copy, so the tree is not modified; a crash
# leaves its input in build/fuzz/crashes/<target>/ and makes this script fail.
set -euo pipefail
bin_dir=${1:?usage: run-fuzz.sh BIN_DIR SECONDS}
seconds=${2:-30}
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failed=()
for fuzzer in "$bin_dir"/fuzz_*; do
  name=$(basename "$fuzzer")
  name=${name#fuzz_}
  mkdir -p "$work/$name" "$root/build/fuzz/crashes/$name"
  echo "== fuzz_$name for ${seconds}s"
  if ! "$fuzzer" -max_total_time="$seconds" -print_final_stats=1 \
      -artifact_prefix="$root/build/fuzz/crashes/$name/" \
      "$work/$name" "$root/fuzz/corpus/$name" 2>"$work/$name.log"; then
    tail -40 "$work/$name.log"
    failed+=("$name")
  else
    grep -E 'stat::number_of_executed_units|stat::peak_rss_mb' "$work/$name.log" | tr '\n' ' '
    echo
  fi
done
if [[ ${#failed[@]} -gt 0 ]]; then
  echo "fuzz: FAILED: ${failed[*]} (inputs in build/fuzz/crashes/)" >&2
  exit 1
fi
echo "fuzz: all targets ran ${seconds}s without a finding"
