#!/usr/bin/env bash
# The shipped programs contain no test hook: no function that relays unverified data, fails
# writes on demand or injects raw frames. Test-only paths live in testing/ (the *TestAccess
# classes, fake stores), which hearsayd and hearsay-cli never link. Checked on the symbols of
# the binaries this build made.
#   test_hooks_test.sh BIN_DIR
set -euo pipefail
bin=${1:?usage: test_hooks_test.sh BIN_DIR}
# Names that only test code may define: a hearsay function (or class) of one of these names,
# anywhere in a symbol (templates instantiated for it count too).
forbidden='hearsay::([A-Za-z0-9_]+::)*[A-Za-z0-9_]*(ForTest|TestAccess|for_test|_unchecked|unverified|fail_next)|hearsay::test::'
status=0
for prog in hearsayd hearsay-cli; do
  syms=$(nm -C "$bin/$prog")
  # The check means something only if the binary has its symbols: a known function must show.
  if ! grep -q 'hearsay::' <<<"$syms"; then
    echo "FAIL: $bin/$prog has no hearsay:: symbols (stripped?); cannot check" >&2
    status=1
    continue
  fi
  if hits=$(grep -E "$forbidden" <<<"$syms"); then
    echo "FAIL: $prog contains test hooks:" >&2
    grep -oE "$forbidden" <<<"$hits" | sort | uniq -c >&2
    status=1
  else
    echo "ok: $prog ($(wc -l <<<"$syms") symbols, none is a test hook)"
  fi
done
exit $status
