#!/usr/bin/env python3
"""testnet.py chaos, end to end and seeded: 8 real hearsayd processes while 300 transactions
flow, two nodes SIGKILLed and restarted, the network split in two halves and healed, a link
flapped, a forger pushing invalid signatures. The oracle must find every promise kept: nothing
acknowledged lost (restarted nodes reload what they acknowledged), no forgery held anywhere, the
forger banned, the partition reconverged, no crash. And the fault schedule is a function of the
seed alone, so a failing run can be replayed.

  python3 tests/contrib/chaos_test.py [--bin DIR] [unittest options]

The issue's 60-second run is `testnet.py chaos` in the README; this one keeps 10 seconds of
injection so that make test stays within its budget.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
TOOL_DIR = os.path.join(ROOT, "contrib", "testnet")
sys.path.insert(0, TOOL_DIR)

import chaos  # noqa: E402
import topology  # noqa: E402

from harness import DEFAULT_BIN_DIR, take_bin_arg  # noqa: E402

BIN_DIR = DEFAULT_BIN_DIR
TIMEOUT_S = 200
ARGS = ["--nodes", "8", "--degree", "3", "--seed", "5", "--txs", "300", "--rate", "30",
        "--kills", "2", "--down-time", "2", "--partition", "3:3", "--flaps", "1",
        "--flap-time", "2", "--forgers", "1", "--forger-txs", "20", "--settle", "60"]


def namespace(**over) -> argparse.Namespace:
    a = dict(seed=5, kill_rate=0.0, kills=2, flap_rate=0.0, flaps=1, flap_time=2.0,
             partition=["3:3"], forgers=1)
    a.update(over)
    return argparse.Namespace(**a)


class ScheduleTest(unittest.TestCase):
    def test_the_schedule_is_the_seeds(self):
        t = topology.build("random-regular", 8, 3, 5)
        def drawn(**over):  # Event compares by time only: the whole of each event here
            return [(e.t, e.kind, e.arg) for e in chaos.schedule(namespace(**over), 8, t.edges,
                                                                 10.0)]

        one = chaos.schedule(namespace(), 8, t.edges, 10.0)
        self.assertEqual(drawn(), drawn())
        self.assertNotEqual(drawn(), drawn(seed=6))
        kinds = [e.kind for e in one]
        self.assertEqual(kinds.count("kill"), 2)
        self.assertEqual(kinds.count("forger"), 1)
        self.assertEqual(kinds.count("cut"), 2)  # the flap and the partition
        self.assertEqual(kinds.count("heal"), 2)
        part = next(e for e in one if e.kind == "cut" and e.arg["why"] == "partition")
        half = set(part.arg["half"])
        self.assertEqual(len(half), 4)
        for a, b in part.arg["links"]:  # exactly the links across
            self.assertNotEqual(a in half, b in half)
        across = sum(1 for a, b in t.edges if (a in half) != (b in half))
        self.assertEqual(len(part.arg["links"]), across)

    def test_a_bad_partition_is_refused(self):
        for bad in ("3", "x:3", "3:0", "-1:2"):
            with self.assertRaises(chaos.ClusterError):
                chaos.parse_partition(bad)


class ChaosRunTest(unittest.TestCase):
    def test_every_promise_holds_under_kills_a_partition_a_flap_and_a_forger(self):
        for name in ("hearsayd", "hearsay-cli"):
            self.assertTrue(os.access(os.path.join(BIN_DIR, name), os.X_OK),
                            f"{name} not built in {BIN_DIR}")
        with tempfile.TemporaryDirectory() as tmp:
            out = os.path.join(tmp, "chaos")
            p = subprocess.run([sys.executable, os.path.join(TOOL_DIR, "testnet.py"), "chaos",
                                "--bin", BIN_DIR, "--out", out, *ARGS],
                               capture_output=True, text=True, timeout=TIMEOUT_S)
            self.assertEqual(p.returncode, 0, p.stdout[-3000:] + p.stderr[-3000:])
            with open(os.path.join(out, "chaos.json"), encoding="utf-8") as f:
                r = json.load(f)
            self.assertTrue(r["ok"])
            self.assertGreater(r["acknowledged"], 200)
            self.assertEqual(r["lost"], 0)
            self.assertEqual(r["kills"], 2)
            self.assertEqual(r["restarts"], 2)
            for x in r["reloads"]:
                self.assertEqual(x["not_reloaded_count"], 0, x)
                self.assertGreaterEqual(x["reloaded"], x["acknowledged_before_kill"])
            self.assertEqual(len(r["partitions"]), 1)
            self.assertIsNotNone(r["partitions"][0]["reconverged_after_s"])
            self.assertEqual(r["forged_sent"], 20)
            self.assertEqual(r["forgeries_held"], 0)
            self.assertEqual([b["banned"] for b in r["forger_bans"]], [True])
            self.assertEqual(r["crashes"], [])
            self.assertEqual(r["nodes_answering"], 8)
            with open(os.path.join(out, "chaos.md"), encoding="utf-8") as f:
                self.assertIn("every promise held", f.read())


if __name__ == "__main__":
    BIN_DIR, argv = take_bin_arg(BIN_DIR)
    unittest.main(argv=argv)
