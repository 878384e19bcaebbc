"""What the tests of tests/contrib that run the built programs share: where hearsayd and
hearsay-cli are (--bin DIR, else $HEARSAY_BIN, else build/release/bin), and a testnet run with
--compare-sim."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile

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


def compare_sim_run(bin_dir: str, run_args: list[str], timeout: float) -> dict:
    """testnet.py run RUN_ARGS --compare-sim with the programs of `bin_dir` (each must exist:
    a missing one raises AssertionError, never a skip). Returns the exit code, a message with
    the output's tail for assertions, and the real and simulated reports (None when absent)."""
    for b in ("hearsayd", "hearsay-cli", "hearsay-sim"):
        if not os.access(os.path.join(bin_dir, b), os.X_OK):
            raise AssertionError(f"{bin_dir}/{b} is missing: build it or pass --bin DIR")
    tool = os.path.join(ROOT, "contrib", "testnet", "testnet.py")
    with tempfile.TemporaryDirectory(prefix="testnet-compare-sim-test-") as d:
        out = os.path.join(d, "run")
        cmd = [sys.executable, tool, "run", *run_args, "--compare-sim", "--bin", bin_dir,
               "--out", out]
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        result = {"returncode": p.returncode, "stdout": p.stdout,
                  "msg": f"testnet.py run, exit code {p.returncode}:\n{p.stdout[-4000:]}\n"
                         f"{p.stderr[-3000:]}"}
        for key, path in (("real", "report.json"), ("sim", os.path.join("sim", "report.json"))):
            try:
                with open(os.path.join(out, path)) as f:
                    result[key] = json.load(f)
            except (OSError, ValueError):
                result[key] = None
        try:
            with open(os.path.join(out, "report.md")) as f:
                result["markdown"] = f.read()
        except OSError:
            result["markdown"] = ""
    return result
