#!/usr/bin/env bash
# Runs every libFuzzer target in BIN_DIR for SECONDS each, starting from its seed corpus in
# fuzz/corpus/<target>/, FUZZ_JOBS targets at a time (default: one per core; each fuzzer uses
# one). New inputs go to a scratch copy, so the tree is not modified; a crash leaves its input in
# build/fuzz/crashes/<target>/ and makes this script fail. Results are printed in target order.
set -euo pipefail
bin_dir=${1:?usage: run-fuzz.sh BIN_DIR SECONDS}
seconds=${2:-30}
jobs=${FUZZ_JOBS:-$(nproc)}
if ! [[ "$jobs" =~ ^[1-9][0-9]*$ ]]; then
  echo "run-fuzz: FUZZ_JOBS=$jobs: expected a whole number of targets at a time, 1 or more" >&2
  exit 2
fi
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# One target: its log in $work/NAME.log, and $work/NAME.failed when it found something.
run_one() {
  local fuzzer=$1 name
  name=$(basename "$fuzzer")
  name=${name#fuzz_}
  mkdir -p "$work/$name" "$root/build/fuzz/crashes/$name"
  if ! "$fuzzer" -max_total_time="$seconds" -print_final_stats=1 \
      -artifact_prefix="$root/build/fuzz/crashes/$name/" \
      "$work/$name" "$root/fuzz/corpus/$name" 2>"$work/$name.log"; then
    touch "$work/$name.failed"
  fi
}

fuzzers=("$bin_dir"/fuzz_*)
for fuzzer in "${fuzzers[@]}"; do
  while [[ $(jobs -rp | wc -l) -ge $jobs ]]; do
    wait -n || true
  done
  run_one "$fuzzer" &
done
wait

failed=()
for fuzzer in "${fuzzers[@]}"; do
  name=$(basename "$fuzzer")
  name=${name#fuzz_}
  echo "== fuzz_$name for ${seconds}s"
  if [[ -e "$work/$name.failed" ]]; then
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
echo "fuzz: all targets ran ${seconds}s without a finding ($jobs at a time)"
