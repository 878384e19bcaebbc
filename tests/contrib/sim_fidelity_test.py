#!/usr/bin/env python3
"""The simulator against reality: testnet.py run --compare-sim on 20 real hearsayd processes
(random-regular, degree 6, 25 ms links, 200 tx/s), then hearsay-sim on the same links, schedule
and options in the same test; the simulation's median t50 and t100 must be within 25 % of the
real run's.

  python3 tests/contrib/sim_fidelity_test.py [--bin DIR]     (make sim-fidelity)

Run it with optimised programs (make programs: build/release/bin, the default). The simulator
models the CPU of signature checks only (README, "Simulating large networks"): 20 sanitizer-
instrumented nodes at 200 tx/s need more than two cores, and the queueing that follows is real
but not what the comparison is about, so `make test` (ASan) runs only the small end-to-end
check of --compare-sim (testnet_test.py) and CI runs this file on the release build.
"""

from __future__ import annotations

import unittest

from harness import DEFAULT_BIN_DIR, compare_sim_run, take_bin_arg  # noqa: E402

BIN_DIR = DEFAULT_BIN_DIR
E2E_TIMEOUT_S = 240


class FidelityTest(unittest.TestCase):
    def test_compare_sim_fidelity(self):
        """testnet.py run --compare-sim: 20 real nodes, then hearsay-sim on the same links,
        schedule and options; the simulation's median t50 and t100 are within 25 % of the real
        run's. A missing BIN/hearsay-sim fails the test (it is never skipped)."""
        run = compare_sim_run(BIN_DIR, [
            "--nodes", "20", "--degree", "6", "--topology", "random-regular", "--seed", "5",
            "--txs", "400", "--warmup", "50", "--rate", "200", "--size", "250",
            "--link-delay-ms", "25", "--origin", "random", "--timeout", "60"], E2E_TIMEOUT_S)
        msg, r, s = run["msg"], run["real"], run["sim"]
        self.assertEqual(run["returncode"], 0, msg)
        self.assertIn("simulation vs reality", run["stdout"], msg)
        self.assertEqual(r["delivered_fraction"], 1.0, msg)
        self.assertEqual((s["nodes"], s["links"], s["txs"]), (20, 60, r["txs"]), msg)
        self.assertEqual(s["delivered_fraction"], 1.0, msg)
        c = r["compare_sim"]
        self.assertEqual((c["exit_code"], c["sim_dir"]), (0, "sim"), msg)
        for name in ("t50_ms.p50", "t100_ms.p50"):
            m = c["metrics"][name]
            self.assertGreater(m["real"], 0, (name, m))
            self.assertTrue(0.75 <= m["sim_over_real"] <= 1.25,
                            f"{name}: real {m['real']} ms, simulated {m['sim']} ms\n{msg}")

if __name__ == "__main__":
    BIN_DIR, argv = take_bin_arg(BIN_DIR)
    unittest.main(argv=argv)
