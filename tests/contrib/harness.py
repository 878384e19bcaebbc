"""What the tests of tests/contrib that run the built programs share: where hearsayd and
hearsay-cli are (--bin DIR, else $HEARSAY_BIN, else build/release/bin)."""

from __future__ import annotations

import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEFAULT_BIN_DIR = os.environ.get("HEARSAY_BIN", os.path.join(ROOT, "build", "release", "bin"))


def take_bin_arg(default: str) -> tuple[str, list[str]]:
    """The folder --bin names (else `default`), and sys.argv without --bin, for unittest."""
    args = sys.argv[1:]
    bin_dir = default
    if "--bin" in args:
        i = args.index("--bin")
        if i + 1 >= len(args):
            sys.exit(f"{sys.argv[0]}: --bin needs a folder (the one holding hearsayd)")
        bin_dir = os.path.abspath(args[i + 1])
        del args[i:i + 2]
    return bin_dir, [sys.argv[0], *args]
