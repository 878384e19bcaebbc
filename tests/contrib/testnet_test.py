#!/usr/bin/env python3
"""Tests of contrib/testnet: topologies, the report computed from synthetic traces and from a
synthetic simulation (one definition of every figure), --compare-sim's inputs and report, an
end-to-end run of 5 real hearsayd processes with 50 transactions and 3 blocks, and one of 20
nodes compared with its simulation.

  python3 tests/contrib/testnet_test.py [--bin DIR] [unittest options]

--bin (or $HEARSAY_BIN) names the folder holding hearsayd, hearsay-cli and hearsay-sim (default
build/release/bin). Missing binaries fail the end-to-end tests: they are never skipped.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
TOOL_DIR = os.path.join(ROOT, "contrib", "testnet")
sys.path.insert(0, TOOL_DIR)

import analyze  # noqa: E402
import common  # noqa: E402
import render  # noqa: E402
import simrun  # noqa: E402
import testnet  # noqa: E402
import topology  # noqa: E402
from cluster import pick_ports  # noqa: E402

from harness import DEFAULT_BIN_DIR, compare_sim_run, take_bin_arg  # noqa: E402

BIN_DIR = DEFAULT_BIN_DIR
# The end-to-end run's own limit (the whole test must stay well under ctest's timeout).
E2E_TIMEOUT_S = 240


class TopologyTest(unittest.TestCase):
    def test_random_regular_is_regular_connected_and_seeded(self):
        for n, d in [(5, 2), (10, 3), (50, 8), (100, 8)]:
            t = topology.build("random-regular", n, d, 7)
            self.assertEqual(set(t.degrees()), {d})
            self.assertTrue(t.is_connected())
            self.assertEqual(len(t.edges), n * d // 2)
            pairs = {frozenset(e) for e in t.edges}
            self.assertEqual(len(pairs), len(t.edges), "each link is dialled from one side only")
            self.assertEqual(t.edges, topology.build("random-regular", n, d, 7).edges)
        self.assertNotEqual(topology.build("random-regular", 50, 8, 1).edges,
                            topology.build("random-regular", 50, 8, 2).edges)

    def test_outbound_is_balanced(self):
        t = topology.build("random-regular", 100, 8, 3)
        outs = [len(t.dials(i)) for i in range(100)]
        self.assertLessEqual(max(outs) - min(outs), 3)

    def test_ring_and_full(self):
        r = topology.build("ring", 6, 2, 1)
        self.assertEqual(sorted(map(sorted, r.edges)), [[0, 1], [0, 5], [1, 2], [2, 3], [3, 4],
                                                        [4, 5]])
        self.assertEqual(r.eccentricity(0), 3)
        f = topology.build("full", 7, 0, 1)
        self.assertEqual(len(f.edges), 21)
        self.assertEqual(f.diameter(), 1)
        self.assertEqual({len(f.dials(i)) for i in range(7)}, {3})

    def test_file_topology_and_errors(self):
        with tempfile.TemporaryDirectory() as d:
            p = os.path.join(d, "net.txt")
            with open(p, "w") as f:
                f.write("# a line\n0 1\n1 2\n2 3  # tail\n")
            t = topology.build("file:" + p, 4, 0, 1)
            self.assertEqual(t.eccentricity(0), 3)
            with open(p, "w") as f:
                f.write("0 1\n2 3\n")
            with self.assertRaisesRegex(topology.TopologyError, "not connected"):
                topology.build("file:" + p, 4, 0, 1)
            with open(p, "w") as f:
                f.write("0 x\n")
            with self.assertRaisesRegex(topology.TopologyError, "net.txt:1"):
                topology.build("file:" + p, None, 0, 1)
        with self.assertRaisesRegex(topology.TopologyError, "odd"):
            topology.build("random-regular", 7, 3, 1)
        with self.assertRaisesRegex(topology.TopologyError, "unknown --topology"):
            topology.build("star", 7, 3, 1)

    def test_ports_are_free_and_below_the_ephemeral_range(self):
        ports = pick_ports(20)
        self.assertEqual(len(set(ports)), 20)
        self.assertTrue(all(1024 < p < 32768 for p in ports))


def relabel_synthetic_run(d: str, params: dict, relay_counters) -> None:
    """Sets run parameters of a synthetic run, and each node's relay counters: relay_counters(k)
    gives them at the baseline (k = 0) and at the end (k = 1)."""
    for name in ("testnet.json", "counters.json"):
        path = os.path.join(d, name)
        with open(path) as f:
            data = json.load(f)
        if name == "testnet.json":
            data["params"].update(params)
        else:
            for snap, k in (("baseline", 0), ("final", 1)):
                for x in data[snap]["nodes"]:
                    x["relay"].update(relay_counters(k))
        with open(path, "w") as f:
            json.dump(data, f)


def write_synthetic_run(d: str, blocks: bool = False, link_delay_ms: int = 10) -> None:
    """A 3-node line 0-1-2, link delay 10 ms (or link_delay_ms); two transactions injected at
    node 0.

    With `blocks`, node 0 produces block X (both transactions; 600 B) connected at t0 + 301 ms
    at node 0, + 312 at node 1, + 331 at node 2 (which lacked tx bb: it never accepts it, the
    block brings it), and block Y (empty, 100 B) that node 2 never connects; a block_rejected
    event at node 1; every node sent 70 B of cmpctblock.
    """
    ids = ["aa" * 32, "bb" * 32]
    keys = ["%064x" % (i + 1) for i in range(3)]
    nodes = [{"index": i, "identity": keys[i], "rpc_port": 20000 + i, "p2p_port": 21000 + i,
              "datadir": os.path.join(d, f"node{i:03d}"), "connect": []} for i in range(3)]
    meta = {"params": {"nodes": 3, "degree": 2, "topology": "file", "txs": 2, "rate": 10,
                       "size": 250, "link_delay_ms": link_delay_ms, "jitter_ms": 0,
                       "push_peers": 0,
                       "inv_interval_ms": 0, "origin": "0", "seed": 1},
            "topology": {"nodes": 3, "kind": "file", "edges": [[0, 1], [1, 2]]},
            "nodes": nodes, "completed": True,
            "inject": {"summary": {"count": 2, "accepted": 2, "rejected": 0, "failed": 0}}}
    with open(os.path.join(d, "testnet.json"), "w") as f:
        json.dump(meta, f)
    t0 = 1_000_000_000
    with open(os.path.join(d, "inject.jsonl"), "w") as f:
        for k, i in enumerate(ids):
            f.write(json.dumps({"id": i, "node": "127.0.0.1:20000", "t": t0 + k * 100_000,
                                "accepted": True}) + "\n")
    # Per tx k: node0 sees at +1 ms, accepts +2; node1 sees +33, accepts +34; node2 +66/+67.
    for n in range(3):
        os.makedirs(os.path.join(d, f"node{n:03d}"))
        with open(os.path.join(d, f"node{n:03d}", "trace.jsonl"), "w") as f:
            f.write(json.dumps({"ev": "start", "node": keys[n], "t": t0}) + "\n")
            for k, i in enumerate(ids):
                base = t0 + k * 100_000 + n * 32_000
                frm = "rpc" if n == 0 else keys[n - 1]
                f.write(json.dumps({"ev": "tx_first_seen", "t": base + 1000, "id": i,
                                    "from": frm}) + "\n")
                if not (blocks and n == 2 and i == ids[1]):
                    f.write(json.dumps({"ev": "tx_accepted", "t": base + 2000, "id": i}) + "\n")
                f.write(json.dumps({"ev": "inv_sent", "t": base + 2000, "peer": keys[0],
                                    "n": 1}) + "\n")
            if blocks:
                for bid, height, txs, size, seen, conn in (
                        (BLOCK_X, 1, 2, 600, [300, 310, 322], [301, 312, 331]),
                        (BLOCK_Y, 2, 0, 100, [400, 410, None], [401, 420, None])):
                    if seen[n] is None:
                        continue
                    f.write(json.dumps({"ev": "block_first_seen", "t": t0 + seen[n] * 1000,
                                        "id": bid, "height": height,
                                        "from": "local" if n == 0 else keys[n - 1]}) + "\n")
                    if n and bid == BLOCK_X:
                        f.write(json.dumps({"ev": "block_reconstructed", "t": t0 + conn[n] * 1000,
                                            "id": bid, "txs": 2, "prefilled": 0,
                                            "from_mempool": 3 - n, "missing": n - 1}) + "\n")
                    f.write(json.dumps({"ev": "block_connected", "t": t0 + conn[n] * 1000,
                                        "id": bid, "height": height, "txs": txs,
                                        "size": size}) + "\n")
                if n == 1:
                    f.write(json.dumps({"ev": "block_rejected", "t": t0, "id": "cc" * 32,
                                        "reason": "bad-signature"}) + "\n")
            f.write('{"ev":"tx_first_se')  # a line cut by kill -9 is ignored
    if blocks:
        with open(os.path.join(d, "blocks.jsonl"), "w") as f:
            f.write(json.dumps({"hash": BLOCK_X, "height": 1, "txs": 2, "size": 600, "t": t0,
                                "tx": ids}) + "\n")
            f.write(json.dumps({"hash": BLOCK_Y, "height": 2, "txs": 0, "size": 100, "t": t0,
                                "tx": []}) + "\n")
    cmpct = 70 if blocks else 0
    snap = lambda sent, bodies, cpu, cb: {"nodes": [  # noqa: E731
        {"index": n, "bytes_sent": sent + cb, "relay": {"bodies_received": bodies if n else 0},
         "messages": dict({"tx": {"sent_bytes": sent}},
                          **({"cmpctblock": {"sent_bytes": cb}} if cb else {})),
         "proc": {"cpu_s": cpu, "hwm_mb": 20 + n, "rss_mb": 10}}
        for n in range(3)]}
    with open(os.path.join(d, "counters.json"), "w") as f:
        json.dump({"baseline": snap(1000, 0, 1.0, 0), "final": snap(1000 + 600, 2, 1.5, cmpct)},
                  f)


BLOCK_X = "0b" * 32
BLOCK_Y = "0c" * 32


class AnalyzeTest(unittest.TestCase):
    def test_report_from_synthetic_traces(self):
        with tempfile.TemporaryDirectory() as d:
            write_synthetic_run(d)
            r = analyze.analyze(d)
            self.assertEqual(r["txs"], 2)
            self.assertEqual(r["delivered_fraction"], 1.0)
            self.assertAlmostEqual(r["t100_ms"]["p50"], 66.0)
            self.assertAlmostEqual(r["t50_ms"]["p50"], 34.0)  # 2 of 3 nodes
            self.assertAlmostEqual(r["per_hop_ms"]["p50"], 32.0)
            self.assertEqual(r["per_hop_ms"]["count"], 4)
            self.assertAlmostEqual(r["transfer_ms"]["p50"], 31.0)
            self.assertAlmostEqual(r["validate_ms"]["p50"], 1.0)
            self.assertAlmostEqual(r["shortest_path_bound_ms"]["p50"], 20.0)  # 2 hops × 10
            self.assertAlmostEqual(r["protocol_bound_ms"]["p50"], 60.0)
            self.assertAlmostEqual(r["t100_over_shortest_path_bound"], 3.3)  # 66 / 20
            self.assertAlmostEqual(r["t100_over_protocol_bound"], 1.1)
            # A run recorded before --relay-mode (push_peers 0): pull; no tree counters.
            self.assertEqual(r["relay_mode"], "pull")
            self.assertNotIn("tree", r)
            self.assertAlmostEqual(r["bytes_per_tx_per_node"], 300.0)  # 3 × 600 B / (2 tx × 3)
            self.assertAlmostEqual(r["tx_bodies_per_node"], 1.0)
            self.assertAlmostEqual(r["cpu_seconds"], 1.5)
            self.assertAlmostEqual(r["peak_rss_mb"], 22.0)
            # 2 txs, first injected at t0, the last reached its last node at t0 + 167 ms
            self.assertAlmostEqual(r["throughput_tps"], round(2 / 0.167, 1))

    def test_block_report_from_synthetic_traces(self):
        with tempfile.TemporaryDirectory() as d:
            write_synthetic_run(d, blocks=True)
            r = analyze.analyze(d)
            # Node 2 never accepted tx bb: block X (connected there at t0 + 331 ms) brought it.
            self.assertEqual(r["delivered_fraction"], 1.0)
            self.assertEqual(r["held_only_via_block"], 1)
            self.assertAlmostEqual(r["t100_ms"]["max"], 231.0)  # bb injected at t0 + 100 ms
            self.assertAlmostEqual(r["bytes_per_tx_per_node"], 300.0)  # cmpctblock left out
            self.assertNotIn("cmpctblock", r["bytes_per_tx_per_node_by_message"])
            b = r["blocks"]
            self.assertEqual(b["count"], 2)
            self.assertAlmostEqual(b["delivered_fraction"], round(5 / 6, 6))
            self.assertEqual(b["fully_delivered_blocks"], 1)
            self.assertEqual(b["nodes_missing"], 1)
            self.assertAlmostEqual(b["time_to_all_ms"]["p50"], 30.0)  # 331 - 301
            self.assertEqual(b["time_to_all_ms"]["count"], 1)
            # Hops: X 11 and 19, Y 19.
            self.assertEqual(b["per_hop_ms"]["count"], 3)
            self.assertAlmostEqual(b["per_hop_ms"]["max"], 19.0)
            self.assertAlmostEqual(b["per_hop_ms"]["p50"], 19.0)
            self.assertEqual(b["mean_size"], 350.0)
            self.assertAlmostEqual(b["bytes_per_block_per_link"], 52.5)  # 3 × 70 / (2 × 2)
            self.assertAlmostEqual(b["bytes_per_block_per_link_over_size"], 0.15)
            self.assertEqual(b["reconstruction"]["blocks"], 2)
            self.assertAlmostEqual(b["reconstruction"]["miss_rate"], 0.25)  # 1 of 4
            self.assertEqual(b["rejected"], 1)
            self.assertEqual(b["rejected_reasons"], {"bad-signature": 1})
            x, y = b["per_block"]
            self.assertEqual((x["height"], x["txs"], x["size"], x["nodes_connected"]),
                             (1, 2, 600, 3))
            self.assertEqual((y["height"], y["nodes_missing"], y["time_to_all_ms"]), (2, 1, None))
            # Without blocks.jsonl the blocks are those first seen "local"; the transaction
            # confirmed only by a block no longer counts at node 2.
            os.remove(os.path.join(d, "blocks.jsonl"))
            r2 = analyze.analyze(d)
            self.assertEqual([z["id"] for z in r2["blocks"]["per_block"]], [BLOCK_X, BLOCK_Y])
            self.assertAlmostEqual(r2["delivered_fraction"], round(5 / 6, 6))
            # And the markdown has the block section.
            from render import markdown  # noqa: E402
            self.assertIn("## Blocks", markdown(r, [], None))

    def test_every_byte_on_the_wire_in_one_column(self):
        with tempfile.TemporaryDirectory() as d:
            write_synthetic_run(d, blocks=True)
            # Per node during the run: 4 inv frames of 61 B, 2 tx frames of 274 B, a cmpctblock
            # of 70 B (left out), and 100 B of TLS beyond the frames (records, tickets).
            def node(i: int, k: int, tls: bool = True) -> dict:  # k: 0 baseline, 1 final
                msgs = {"inv": {"sent": 10 + 4 * k, "sent_bytes": 610 + 244 * k},
                        "tx": {"sent": 2 * k, "sent_bytes": 548 * k},
                        "cmpctblock": {"sent": k, "sent_bytes": 70 * k},
                        "version": {"sent": 1, "sent_bytes": 150}}
                frames = sum(m["sent_bytes"] for m in msgs.values())
                x = {"index": i, "bytes_sent": frames, "messages": msgs}
                if tls:
                    x["tls_bytes_sent"] = 5000 + frames + 100 * k
                return x

            def write(base_tls: bool) -> dict:
                with open(os.path.join(d, "counters.json"), "w") as f:
                    json.dump({"baseline": {"nodes": [node(i, 0, base_tls) for i in range(3)]},
                               "final": {"nodes": [node(i, 1) for i in range(3)]}}, f)
                return analyze.analyze(d)

            r = write(base_tls=True)
            cols = r["bytes_per_tx_per_node_columns"]
            # ÷ (2 tx × 3 nodes) of 3 nodes' bytes: payloads 4 × 37 and 2 × 250, 6 headers.
            self.assertEqual(cols, {"inv": 74.0, "tx": 250.0, "frame_headers": 72.0, "tls": 50.0})
            self.assertAlmostEqual(sum(cols.values()), r["bytes_on_wire_per_tx_per_node"])
            self.assertAlmostEqual(r["bytes_on_wire_per_tx_per_node"], 446.0)
            self.assertAlmostEqual(r["bytes_on_wire_per_tx_per_node_over_size"], 1.784)
            # The frames' view is as before: payloads and headers are its parts.
            self.assertAlmostEqual(r["bytes_per_tx_per_node"], 396.0)
            self.assertEqual(r["bytes_per_tx_per_node_by_message"], {"inv": 122.0, "tx": 274.0})
            md = render.markdown(r, [], None)
            self.assertIn("| message type | payload B/tx/node | share |", md)
            self.assertIn("| tx | 250.0 | 56.1 % |", md)
            self.assertIn("| frame headers (24 B per message) | 72.0 | 16.1 % |", md)
            self.assertIn("block records included) | 50.0 | 11.2 % |", md)
            self.assertIn("| **total on the wire** (÷ tx size) | 446.0 (1.784) | 100 % |", md)

            # A baseline without TLS counters (an older hearsayd): no TLS column, no total.
            r = write(base_tls=False)
            cols = r["bytes_per_tx_per_node_columns"]
            self.assertNotIn("tls", cols)
            self.assertIsNone(r["bytes_on_wire_per_tx_per_node"])
            self.assertIsNone(r["bytes_on_wire_per_tx_per_node_over_size"])
            self.assertAlmostEqual(sum(cols.values()), r["bytes_per_tx_per_node"])
            md = render.markdown(r, [], None)
            self.assertIn("did not count TLS", md)
            self.assertNotIn("total on the wire", md)
            self.assertNotIn("None", md)

    def test_tree_run_reports_its_mode_bound_and_counters(self):
        with tempfile.TemporaryDirectory() as d:
            write_synthetic_run(d)
            # Per node: 2 tree peers from the start; during the run 1 body pushed, 2 prunes
            # sent and received, 1 graft sent, 3 received, 1 swap, no withheld body.
            relabel_synthetic_run(
                d, dict(relay_mode="tree", graft_timeout_ms=100, lazy_interval_ms=500),
                lambda k: dict(tree_peers=2, tree_pushed=5 + k, prunes_sent=2 * k,
                               prunes_received=2 * k, grafts_sent=k, grafts_received=3 * k,
                               tree_swaps=k, withheld=0))
            r = analyze.analyze(d)
            self.assertEqual(r["relay_mode"], "tree")
            self.assertEqual((r["graft_timeout_ms"], r["lazy_interval_ms"]), (100, 500))
            # A tree hop is one push: the protocol bound is the shortest path's.
            self.assertEqual(r["round_trips_per_hop"], 0.5)
            self.assertAlmostEqual(r["protocol_bound_ms"]["p50"], 20.0)
            self.assertAlmostEqual(r["t100_over_shortest_path_bound"], 3.3)
            self.assertAlmostEqual(r["t100_over_protocol_bound"], 3.3)
            self.assertEqual(r["tree"], {"tree_peers": 6, "tree_pushed": 3, "prunes_sent": 6,
                                         "prunes_received": 6, "grafts_sent": 3,
                                         "grafts_received": 9, "tree_swaps": 3, "withheld": 0})
            self.assertAlmostEqual(r["tx_bodies_per_node"], 1.0)
            md = render.markdown(r, [], None)
            self.assertIn("relay mode tree (graft timeout 100 ms, lazy interval 500 ms)", md)
            self.assertIn("Tree relay, summed over the nodes: 6 tree peers", md)
            self.assertIn("grafts 3 sent / 9 received", md)
            self.assertIn("| t100 p50 ÷ shortest-path bound | 3.3 |", md)
            self.assertIn("tree relay", render.run_parameters(r))
            self.assertNotIn("None", md)

    def test_reconciling_run_reports_its_settings_and_counters(self):
        with tempfile.TemporaryDirectory() as d:
            write_synthetic_run(d)
            # Per node: 2 reconciling peers from the start; during the run 4 rounds, 5 requests
            # sent and 6 received, 272 sketch bytes sent and 300 received, 3 differences, 1
            # failure, 1 bisection, 1 exchange, nothing refused or timed out, 2 announced.
            relabel_synthetic_run(
                d, dict(relay_mode="pull", reconcile=1, reconcile_interval_ms=2000, flood_peers=2),
                lambda k: dict(
                    recon_peers=2, recon_rounds=10 + 4 * k, recon_requests_sent=5 * k,
                    recon_requests_received=6 * k, recon_sketch_bytes_sent=272 * k,
                    recon_sketch_bytes_received=300 * k, recon_differences=3 * k,
                    recon_failures=k, recon_bisections=k, recon_exchanges=k, recon_refused=0,
                    recon_timeouts=0, recon_announced=2 * k))
            r = analyze.analyze(d)
            self.assertEqual((r["reconcile"], r["reconcile_interval_ms"], r["flood_peers"]),
                             (1, 2000, 2))
            self.assertEqual(r["recon"], {
                "recon_peers": 6, "recon_rounds": 12, "recon_requests_sent": 15,
                "recon_requests_received": 18, "recon_sketch_bytes_sent": 816,
                "recon_sketch_bytes_received": 900, "recon_differences": 9, "recon_failures": 3,
                "recon_bisections": 3, "recon_exchanges": 3, "recon_refused": 0,
                "recon_timeouts": 0,
                "recon_announced": 6})
            self.assertEqual(r["delivered_fraction"], 1.0)
            md = render.markdown(r, [], None)
            self.assertIn("relay mode pull, reconciliation every 2000 ms, announcements to 2 "
                          "reconciling peers", md)
            self.assertIn("Set reconciliation, summed over the nodes: 6 reconciling peers", md)
            self.assertIn("requests 15 sent / 18 received", md)
            self.assertIn("6 transactions announced by reconciliation", md)
            self.assertNotIn("None", md)
            # Reconciliation off: said so, and no counters line.
            r.update(reconcile=0, reconcile_interval_ms=None, flood_peers=None,
                     recon={k: 0 for k in analyze.RECON_COUNTERS})
            md = render.markdown(r, [], None)
            self.assertIn("relay mode pull, no reconciliation", md)
            self.assertNotIn("Set reconciliation", md)

    def test_no_blocks_no_block_section(self):
        with tempfile.TemporaryDirectory() as d:
            write_synthetic_run(d)
            self.assertNotIn("blocks", analyze.analyze(d))

    def test_missing_node_lowers_delivery(self):
        with tempfile.TemporaryDirectory() as d:
            write_synthetic_run(d)
            os.remove(os.path.join(d, "node002", "trace.jsonl"))
            r = analyze.analyze(d)
            self.assertAlmostEqual(r["delivered_fraction"], round(4 / 6, 6))
            self.assertEqual(r["t100_ms"]["count"], 0)
            self.assertEqual(r["traces_missing"], [2])
            curve = analyze.coverage_curve(r["_series"]["coverage"], 3)
            self.assertEqual(curve[2][1], None)

    def test_percentile(self):
        self.assertEqual(analyze.percentile([1, 2, 3, 4], 50), 2.5)
        self.assertEqual(analyze.percentile([5], 99), 5)
        self.assertIsNone(analyze.percentile([], 50))


class RenderTest(unittest.TestCase):
    def test_no_link_delay_no_bounds_and_no_none(self):
        with tempfile.TemporaryDirectory() as d:
            write_synthetic_run(d, blocks=True, link_delay_ms=0)
            r = analyze.analyze(d)
            r["machine"] = r["date"] = r["throughput_tps"] = None
            md = render.markdown(r, [], None)
            self.assertNotIn("None", md)
            self.assertIn("no link delay: no lower bound", md)
            self.assertNotRegex(md, r"bound[^\n]*\| 0\.0 \|")
            self.assertNotIn("protocol bound", md)
        with tempfile.TemporaryDirectory() as d:
            write_synthetic_run(d)
            md = render.markdown(analyze.analyze(d), [], None)
            self.assertIn("| protocol bound (× 1.5 round trips per hop), ms p50 | 60.0 |", md)
            self.assertNotIn("no lower bound", md)

    def test_each_figure_has_its_own_title(self):
        with tempfile.TemporaryDirectory() as d:
            write_synthetic_run(d)
            r = analyze.analyze(d)
        _, info = render.hop_histogram(r["_series"]["per_hop"])
        titles = render.plot_titles(r, info)
        self.assertEqual(set(titles), {"cdf_time_to_all.png", "coverage.png",
                                       "per_hop_hist.png"})
        self.assertEqual(len(set(titles.values())), 3, titles)
        for t in titles.values():
            self.assertIn("3 nodes, file degree 2, 2 tx of 250 B at 10 tx/s, link delay 10 ms",
                          t)
            self.assertNotIn("None", t)
            self.assertNotIn('"', t)  # it goes into a double-quoted gnuplot string

    def test_histogram_overflow_is_drawn_and_reported(self):
        hops = [1.0 + i / 1000 for i in range(995)] + [40.0, 41.0, 300.0, 500.0, 800.0]
        rows, info = render.hop_histogram(hops)
        self.assertEqual(sum(c for _, c, _ in rows) + sum(o for _, _, o in rows), len(hops))
        self.assertEqual(info["hops"], 1000)
        self.assertEqual(info["max_ms"], 800.0)
        self.assertGreater(info["above"], 0)
        self.assertEqual(rows[-1][2], info["above"], "the last bar holds every hop above")
        self.assertGreater(rows[-1][0], rows[-2][0])
        title = render.plot_titles({"nodes": 5}, info)["per_hop_hist.png"]
        self.assertIn(f"{info['above']} hops above", title)
        self.assertIn("800.0 ms", title)
        note = " ".join(render.histogram_note(info))
        self.assertIn(f"{info['above']} of 1000 hops", note)
        self.assertIn("800.0 ms", note)
        rows, info = render.hop_histogram([2.0, 1.0, 2.0])  # nothing above p99.5
        self.assertEqual(info["above"], 0)
        self.assertNotIn("above", render.plot_titles({}, info)["per_hop_hist.png"])

    def test_blocks_in_plain_words(self):
        with tempfile.TemporaryDirectory() as d:
            write_synthetic_run(d, blocks=True)
            b = analyze.analyze(d)["blocks"]
        line = testnet.block_line(b)
        self.assertIn("30.0 ms (height 1)", line)
        self.assertIn("never reached every node (height 2)", line)
        self.assertNotIn("p50", line)
        self.assertNotIn("p90", line)
        md = "\n".join(render.block_markdown(b))
        self.assertIn("(each block) | height 1: 30, height 2: not every node |", md)
        many = dict(b, per_block=[dict(b["per_block"][0], height=h) for h in range(12)])
        self.assertIn("median 30.0 ms", testnet.block_line(many))


# One run seen two ways, as a simulation's files and as a real run's traces: 4 nodes, links 0-1,
# 1-2 and 1-3 (dialler first) of 10 ms, 3 transactions injected 100 ms apart. Per transaction:
# (id, ms from T0 to its injection, origin, {node: (first seen, from, accepted)}), times in ms
# after the injection, from -1 at the origin, accepted None where the node never accepted it.
T0 = 1_000_000_000
OBSERVED = [
    ("a1" * 32, 0, 0, {0: (1, -1, 2), 1: (32, 0, 34), 2: (60, 1, 61), 3: (70, 1, 73)}),
    ("b2" * 32, 100, 2, {0: (70, 1, 72), 1: (35, 2, 36), 2: (1, -1, 3), 3: (66, 1, 68)}),
    ("c3" * 32, 200, 3, {0: (75, 1, None), 1: (40, 3, 41), 2: (80, 1, 83), 3: (2, -1, 4)}),
]
# With blocks: node 1 makes block D (confirming c3, which node 0 never accepted); per node
# (first seen, from, connected) in ms after T0.
BLOCK_D = "0d" * 32
OBSERVED_BLOCK = {0: (309, 1, 311), 1: (299, -1, 300), 2: (310, 1, 315), 3: (312, 1, 313)}
SIM_RUN = {"wall_s": 1.5, "events_per_s": 8230.0, "peak_rss_mb": 42.0,
           "machine": "2 cores Synthetic CPU", "date": "2031-02-03 04:05 UTC",
           "calibrated_verify_us": None}


def _identity(i: int) -> str:
    return "%064x" % (i + 1)


def write_observed_run(d: str, sim: bool, blocks: bool = False, **params) -> None:
    """OBSERVED (and OBSERVED_BLOCK with `blocks`) as the files of a simulation (`sim`) or of a
    real run; `params` overrides testnet.json's params."""
    os.makedirs(d, exist_ok=True)
    meta = {"params": dict({"nodes": 4, "degree": 2, "topology": "file", "seed": 1, "txs": 3,
                            "rate": 10, "size": 250, "warmup": 0, "link_delay_ms": 10,
                            "jitter_ms": 0, "relay_mode": "pull", "push_peers": 0,
                            "inv_interval_ms": 0, "origin": "random",
                            "blocks": 1 if blocks else 0}, **params),
            "topology": {"nodes": 4, "kind": "file", "edges": [[0, 1], [1, 2], [1, 3]]},
            "nodes": [{"index": i, "identity": _identity(i), "rpc_port": 20000 + i}
                      for i in range(4)],
            "inject": {"summary": {"count": 3, "accepted": 3, "rejected": 0, "failed": 0,
                                   "rate": 10.0}},
            "completed": True, "timed_out": False, "machine": None, "date": None,
            "load_before": None, "load_after": None, "exit_codes": None}
    if sim:
        meta["params"].update(latency="constant:10", bandwidth="unlimited")
        meta["sim"] = {"events": 12345, "virtual_ms": 400.0, "verify_us": 50.0, "cores": 2,
                       "latency": "constant:10", "bandwidth": "unlimited",
                       "mean_latency_ms": 10.0, "forgers": [], "left": [], "churn_leaves": 0,
                       "churn_joins": 0, "bans": []}
        _write_arrivals(d, blocks)
    else:
        _write_traces(d, blocks)
    with open(os.path.join(d, "testnet.json"), "w") as f:
        json.dump(meta, f)
    if blocks:
        with open(os.path.join(d, "blocks.jsonl"), "w") as f:
            f.write(json.dumps({"hash": BLOCK_D, "height": 1, "txs": 1, "size": 500,
                                "t": T0 + 300_000, "tx": [OBSERVED[2][0]]}) + "\n")
    _write_observed_counters(d)


def _write_arrivals(d: str, blocks: bool) -> None:
    us = 1000
    with open(os.path.join(d, "arrivals.jsonl"), "w") as f:
        for tid, at, origin, seen in OBSERVED:
            t = T0 + at * us
            nodes = [[i, t + fs * us, frm, None if acc is None else t + acc * us]
                     for i, (fs, frm, acc) in sorted(seen.items())]
            f.write(json.dumps({"id": tid, "origin": origin, "t": t, "nodes": nodes}) + "\n")
    with open(os.path.join(d, "sim_run.json"), "w") as f:
        json.dump(SIM_RUN, f)
    if blocks:
        with open(os.path.join(d, "block_arrivals.jsonl"), "w") as f:
            nodes = [[i, T0 + fs * us, frm, T0 + conn * us]
                     for i, (fs, frm, conn) in sorted(OBSERVED_BLOCK.items())]
            f.write(json.dumps({"id": BLOCK_D, "height": 1, "producer": 1, "t": T0 + 300 * us,
                                "nodes": nodes}) + "\n")


def _write_traces(d: str, blocks: bool) -> None:
    us = 1000
    with open(os.path.join(d, "inject.jsonl"), "w") as f:
        for tid, at, origin, _ in OBSERVED:
            f.write(json.dumps({"id": tid, "node": f"127.0.0.1:{20000 + origin}",
                                "t": T0 + at * us, "accepted": True}) + "\n")
    for n in range(4):
        events = [{"ev": "start", "node": _identity(n), "t": T0}]
        for tid, at, _, seen in OBSERVED:
            fs, frm, acc = seen[n]
            t = T0 + at * us
            events.append({"ev": "tx_first_seen", "t": t + fs * us, "id": tid,
                           "from": "rpc" if frm < 0 else _identity(frm)})
            if acc is not None:
                events.append({"ev": "tx_accepted", "t": t + acc * us, "id": tid})
        if blocks:
            fs, frm, conn = OBSERVED_BLOCK[n]
            events.append({"ev": "block_first_seen", "t": T0 + fs * us, "id": BLOCK_D,
                           "height": 1, "from": "local" if frm < 0 else _identity(frm)})
            events.append({"ev": "block_connected", "t": T0 + conn * us, "id": BLOCK_D,
                           "height": 1, "txs": 1, "size": 500})
        os.makedirs(os.path.join(d, f"node{n:03d}"))
        with open(os.path.join(d, f"node{n:03d}", "trace.jsonl"), "w") as f:
            f.writelines(json.dumps(e) + "\n" for e in events)


def _write_observed_counters(d: str) -> None:
    """Per node during the run: 2 tx frames of 274 B and 1 inv of 52 B (600 B), 50 B of TLS
    beyond them, 3 inv entries, and bodies received: node 1 three, the others two."""
    def node(i: int, k: int) -> dict:  # k: 0 baseline, 1 final
        return {"index": i, "bytes_sent": 600 * k, "tls_bytes_sent": 650 * k,
                "messages": {"tx": {"sent": 2 * k, "sent_bytes": 548 * k},
                             "inv": {"sent": k, "sent_bytes": 52 * k}},
                "relay": {"bodies_received": (3 if i == 1 else 2) * k, "inv_sent": 3 * k,
                          "getdata_sent": 2 * k}}
    with open(os.path.join(d, "counters.json"), "w") as f:
        json.dump({"baseline": {"nodes": [node(i, 0) for i in range(4)]},
                   "final": {"nodes": [node(i, 1) for i in range(4)]}}, f)


def _comparable(report: dict) -> dict:
    """A report with its series for the plots as lists (the analysis keeps arrays)."""
    series = report["_series"]
    return dict(report, _series={"t100": list(series["t100"]),
                                 "per_hop": list(series["per_hop"]),
                                 "coverage": [list(c) for c in series["coverage"]]})


class SimulationAnalysisTest(unittest.TestCase):
    """A hearsay-sim folder (arrivals.jsonl) analysed with the definitions of a real run."""

    def test_figures_of_a_simulation_as_computed_by_hand(self):
        with tempfile.TemporaryDirectory() as d:
            write_observed_run(d, sim=True)
            r = analyze.analyze(d)
        self.assertEqual((r["nodes"], r["txs"], r["diameter"], r["links"]), (4, 3, 2, 3))
        # Held (accepted) ms per tx: a1 2 34 61 73; b2 3 36 68 72; c3 4 41 83 (node 0 never).
        self.assertEqual(r["delivered_fraction"], round(11 / 12, 6))
        self.assertEqual(r["fully_delivered_txs"], 2)
        self.assertEqual((r["t50_ms"]["p50"], r["t50_ms"]["count"]), (36.0, 3))  # 34 36 41
        self.assertEqual((r["t100_ms"]["p50"], r["t100_ms"]["count"]), (72.5, 2))  # 73 72
        self.assertEqual(r["t90_ms"]["count"], 2)  # ceil(3.6) = every node
        # Hops (receiver first seen − sender first seen): 31 28 38, 34 35 31, 38 35 40.
        self.assertEqual((r["per_hop_ms"]["p50"], r["per_hop_ms"]["count"],
                          r["per_hop_ms"]["max"]), (35.0, 9, 40.0))
        # Transfer (receiver first seen − sender accepted): 30 26 36, 32 34 30, 36 34 39.
        self.assertEqual((r["transfer_ms"]["p50"], r["transfer_ms"]["count"]), (34.0, 9))
        self.assertEqual((r["validate_ms"]["p50"], r["validate_ms"]["count"]), (2.0, 11))
        self.assertEqual(r["inject_to_origin_accept_ms"]["p50"], 3.0)  # 2 3 4
        self.assertEqual(r["t100_from_origin_ms"]["p50"], 70.0)  # 73 − 2, 72 − 3
        # Every origin is 2 hops from its farthest node: 2 × 10 ms; pull: 3 trips per hop.
        self.assertEqual(r["bound_link_delay_ms"], 10.0)
        self.assertEqual(r["shortest_path_bound_ms"]["p50"], 20.0)
        self.assertEqual(r["protocol_bound_ms"]["p50"], 60.0)
        self.assertEqual(r["t100_over_shortest_path_bound"], 3.625)
        self.assertEqual(r["throughput_tps"], round(2 / 0.172, 1))  # b2 done at T0 + 172 ms
        self.assertEqual(r["injection_rate_tps"], 10.0)
        # 4 nodes × 600 B ÷ (3 tx × 4 nodes); on the wire 650 B per node.
        self.assertEqual(r["bytes_per_tx_per_node"], 200.0)
        self.assertEqual(r["bytes_per_tx_per_node_by_message"], {"inv": 17.3, "tx": 182.7})
        self.assertEqual(r["bytes_per_tx_per_node_columns"],
                         {"inv": 9.3, "tx": 166.7, "frame_headers": 24.0, "tls": 16.7})
        self.assertEqual(r["bytes_on_wire_per_tx_per_node"], 216.7)
        self.assertEqual(r["tx_bodies_per_node"], 1.0)  # 9 bodies ÷ (3 tx × 3 receivers)
        self.assertEqual(r["inv_entries_sent_per_tx_per_node"], 1.0)
        self.assertEqual(r["getdata_entries_per_tx_per_node"], round(8 / 12, 3))
        self.assertEqual((r["latency"], r["bandwidth"]), ("constant:10", "unlimited"))
        self.assertEqual(r["sim"]["events"], 12345)
        self.assertNotIn("blocks", r)

    def test_a_simulation_and_its_traces_give_one_report(self):
        """The same observations as a simulation's arrivals and as a real run's traces: every
        figure of the real run's report is the simulation's (one definition of each)."""
        for blocks in (False, True):
            with tempfile.TemporaryDirectory() as d:
                write_observed_run(os.path.join(d, "sim"), sim=True, blocks=blocks)
                write_observed_run(os.path.join(d, "real"), sim=False, blocks=blocks)
                simulated = _comparable(analyze.analyze(os.path.join(d, "sim")))
                real = _comparable(analyze.analyze(os.path.join(d, "real")))
            self.assertEqual(set(simulated) - set(real),
                             {"sim", "latency", "bandwidth", "_sim_run"})
            for key, value in real.items():
                self.assertEqual(simulated[key], value, f"{key} (blocks: {blocks})")
            self.assertEqual(real["t50_ms"]["p50"], 36.0)  # the figures are not empty
            self.assertEqual(real["per_hop_ms"]["count"], 9)

    def test_blocks_of_a_simulation_from_block_arrivals(self):
        with tempfile.TemporaryDirectory() as d:
            write_observed_run(d, sim=True, blocks=True)
            r = analyze.analyze(d)
        # c3 reached node 0 only in block D, connected there at T0 + 311 ms (c3: + 200 ms).
        self.assertEqual(r["delivered_fraction"], 1.0)
        self.assertEqual(r["held_only_via_block"], 1)
        self.assertEqual(r["t100_ms"]["max"], 111.0)
        b = r["blocks"]
        self.assertEqual((b["count"], b["fully_delivered_blocks"], b["delivered_fraction"]),
                         (1, 1, 1.0))
        self.assertEqual(b["time_to_all_ms"]["p50"], 15.0)  # 315 − 300
        self.assertEqual((b["per_hop_ms"]["p50"], b["per_hop_ms"]["count"]), (13.0, 3))
        x = b["per_block"][0]
        self.assertEqual((x["id"], x["height"], x["txs"], x["size"], x["producer"]),
                         (BLOCK_D, 1, 1, 500, 1))
        self.assertEqual(b["reconstruction"]["miss_rate"], None)  # no reconstruction recorded

    def test_report_of_a_seed_is_the_same_bytes_without_date_machine_or_load(self):
        with tempfile.TemporaryDirectory() as d:
            texts = []
            for name in ("one", "two"):
                folder = os.path.join(d, name)
                write_observed_run(folder, sim=True, blocks=True)
                # A simulator that wrote these anyway: report.json still leaves them out.
                with open(os.path.join(folder, "testnet.json")) as f:
                    meta = json.load(f)
                meta.update(machine="a machine", date="2031-02-03", load_before="1.5",
                            load_after="2.5")
                with open(os.path.join(folder, "testnet.json"), "w") as f:
                    json.dump(meta, f)
                for _ in range(2):
                    render.write_report(folder, analyze.analyze(folder))
                    with open(os.path.join(folder, "report.json"), "rb") as f:
                        texts.append(f.read())
            with open(os.path.join(d, "one", "report.md")) as f:
                md = f.read()
        self.assertEqual(len(set(texts)), 1, "analysed twice, in two folders: the same bytes")
        r = json.loads(texts[0])
        self.assertIsNone(r["machine"])
        self.assertIsNone(r["date"])
        self.assertEqual(r["load_average"], {"before": None, "after": None})
        for volatile in ("2031", "a machine", "Synthetic CPU", "wall_s", "peak_rss"):
            self.assertNotIn(volatile, texts[0].decode())
        self.assertIn("# hearsay simulation report", md)
        self.assertIn("A simulation, not a measurement: 4 nodes", md)
        self.assertIn("latency model constant:10 (mean one-way 10 ms), bandwidth model "
                      "unlimited", md)
        self.assertIn("Simulated 4 nodes: 12345 events in 1.5 s wall (8230 events/s), peak RSS "
                      "42 MB.", md)
        self.assertNotIn("None", md)

    def test_bound_of_a_latency_that_is_not_constant_is_the_mean_links(self):
        with tempfile.TemporaryDirectory() as d:
            write_observed_run(d, sim=True, link_delay_ms=None, latency="uniform:20:60")
            with open(os.path.join(d, "testnet.json")) as f:
                meta = json.load(f)
            meta["sim"]["mean_latency_ms"] = 40.0
            with open(os.path.join(d, "testnet.json"), "w") as f:
                json.dump(meta, f)
            r = analyze.analyze(d)
        self.assertIsNone(r["link_delay_ms"])
        self.assertEqual(r["bound_link_delay_ms"], 40.0)
        self.assertEqual(r["shortest_path_bound_ms"]["p50"], 80.0)  # 2 hops × 40 ms
        md = render.markdown(r, [], None)
        self.assertIn("| shortest-path bound (eccentricity × mean latency 40.0 ms), ms p50 | "
                      "80.0 |", md)

    def test_a_simulations_latency_weighted_bound_per_origin_wins(self):
        """A simulation that recorded its origins' slowest shortest paths (link latencies
        summed) is bounded by those, not by hops × the mean link."""
        with tempfile.TemporaryDirectory() as d:
            write_observed_run(d, sim=True, link_delay_ms=None, latency="uniform:20:60")
            with open(os.path.join(d, "testnet.json")) as f:
                meta = json.load(f)
            meta["sim"]["mean_latency_ms"] = 40.0
            origins = {str(i): 10.0 * (i + 1) for i in range(len(meta["nodes"]))}
            meta["sim"]["bound_ms_by_origin"] = origins
            with open(os.path.join(d, "testnet.json"), "w") as f:
                json.dump(meta, f)
            r = analyze.analyze(d)
        bounds = sorted(origins[str(origin)] for _, _, origin, _ in OBSERVED)
        self.assertEqual(r["shortest_path_bound_ms"]["max"], bounds[-1])
        self.assertEqual(r["shortest_path_bound_ms"]["count"], len(OBSERVED))
        self.assertEqual(r["protocol_bound_ms"]["max"], bounds[-1] * 3)

    def test_a_simulation_folder_without_arrivals_is_refused(self):
        with tempfile.TemporaryDirectory() as d:
            write_observed_run(d, sim=True)
            os.remove(os.path.join(d, "arrivals.jsonl"))
            with self.assertRaisesRegex(analyze.AnalysisError, "arrivals.jsonl"):
                analyze.analyze(d)

    def test_eccentricities_match_breadth_first_search(self):
        for kind, n, deg in (("random-regular", 60, 3), ("ring", 30, 2), ("ring", 31, 4),
                             ("full", 7, 0)):
            t = topology.build(kind, n, deg, 5)
            ecc = analyze.eccentricities(t, range(n))
            self.assertEqual(ecc, {i: t.eccentricity(i) for i in range(n)}, kind)
            self.assertEqual(analyze.graph_figures(t, [0])[0], t.diameter())
        split = topology.Topology(4, [(0, 1), (2, 3)])
        self.assertEqual(analyze.eccentricities(split, [0, 2]), {0: -1, 2: -1})
        self.assertEqual(analyze.graph_figures(split, [0]), (None, {0: -1, 1: -1, 2: -1,
                                                                    3: -1}))


class CompareSimTest(unittest.TestCase):
    """--compare-sim without a testnet: the simulator's inputs and command line, the comparison
    in the report, and a simulator that fails or is missing."""

    def test_inputs_and_command_line_of_the_simulation(self):
        with tempfile.TemporaryDirectory() as d:
            write_observed_run(d, sim=False, blocks=True, verify_threads=None, block_interval=2.5,
                               reconcile=1, reconcile_interval_ms=2000, flood_peers=0)
            with open(os.path.join(d, "testnet.json")) as f:
                meta = json.load(f)
            argv = simrun.sim_argv("/b/hearsay-sim", d, meta)
            with open(os.path.join(d, "sim", "topology.txt")) as f:
                self.assertEqual(f.read(), "0 1\n1 2\n1 3\n")  # dialler, listener
            with open(os.path.join(d, "sim", "schedule.txt")) as f:
                self.assertEqual(f.read(), "0 0\n100000 2\n200000 3\n")

        def value(flag: str) -> str:
            return argv[argv.index(flag) + 1]
        self.assertEqual(argv[:2], ["/b/hearsay-sim", "run"])
        self.assertEqual(value("--topology"), "file:" + os.path.join(d, "sim", "topology.txt"))
        self.assertEqual(value("--schedule"), os.path.join(d, "sim", "schedule.txt"))
        for flag, want in (("--nodes", "4"), ("--degree", "2"), ("--txs", "3"), ("--size", "250"),
                           ("--warmup", "0"), ("--seed", "1"), ("--latency", "constant:10"),
                           ("--relay-mode", "pull"), ("--reconcile", "1"),
                           ("--reconcile-interval-ms", "2000"), ("--flood-peers", "0"),
                           ("--inv-interval-ms", "0"), ("--cores", str(os.cpu_count())),
                           ("--blocks", "1"), ("--block-interval", "2.5"),
                           ("--out", os.path.join(d, "sim"))):
            self.assertEqual(value(flag), want, flag)
        self.assertEqual(value("--analyzer"), os.path.join(TOOL_DIR, "testnet.py"))
        self.assertNotIn("--push-peers", argv)
        self.assertNotIn("--rate", argv, "the schedule replaces the rate")

    def test_latency_and_cores_as_hearsayd_would_have_them(self):
        self.assertEqual(simrun.latency_spec(25, 0), "constant:25")
        self.assertEqual(simrun.latency_spec(25, 5), "uniform:20:30")
        self.assertEqual(simrun.latency_spec(5, 10), "uniform:0:15")  # hearsayd clamps at 0
        self.assertEqual(simrun.cores({"verify_threads": 3}), 3)
        self.assertEqual(simrun.cores({"verify_threads": 0}), os.cpu_count())
        self.assertEqual(simrun.sim_relay_args({"relay_mode": "push", "push_peers": 3}),
                         ["--relay-mode", "push", "--push-peers", "3"])
        self.assertEqual(simrun.sim_relay_args({"relay_mode": "tree", "push_peers": 0,
                                                "graft_timeout_ms": 100,
                                                "lazy_interval_ms": 500}),
                         ["--relay-mode", "tree", "--graft-timeout-ms", "100",
                          "--lazy-interval-ms", "500"])

    def test_comparison_in_the_report_and_its_markdown(self):
        with tempfile.TemporaryDirectory() as d:
            write_observed_run(d, sim=False)
            sim_dir = os.path.join(d, "sim")
            write_observed_run(sim_dir, sim=True)
            simulated = render.write_report(sim_dir, analyze.analyze(sim_dir))
            simulated["t50_ms"]["p50"] = 45.0  # a simulation slower than reality
            with open(os.path.join(sim_dir, "report.json"), "w") as f:
                json.dump(simulated, f)
            self._record(d, {"exit_code": 0, "error": None})
            r = analyze.analyze(d)
        c = r["compare_sim"]
        self.assertEqual(list(c["metrics"]), list(analyze.COMPARED))
        self.assertEqual(c["metrics"]["t50_ms.p50"], {"real": 36.0, "sim": 45.0,
                                                      "sim_over_real": 1.25})
        self.assertEqual(c["metrics"]["bytes_on_wire_per_tx_per_node"]["sim"], 216.7)
        self.assertEqual((c["sim_dir"], c["sim_wall_s"], c["exit_code"]), ("sim", 1.5, 0))
        md = render.markdown(r, [], None)
        self.assertIn("## Simulation vs reality", md)
        self.assertIn("| t50_ms.p50 | 36 | 45 | 1.25 |", md)
        self.assertIn("| t100_ms.p50 | 72.5 | 72.5 | 1 |", md)
        self.assertNotIn("simulator failed", md)
        table = "\n".join(testnet.compare_table(c))
        self.assertRegex(table, r"per_hop_ms\.p50 +35 +35 +1\n")

    def test_a_failed_simulation_is_reported_and_the_real_report_kept(self):
        with tempfile.TemporaryDirectory() as d:
            bin_dir = os.path.join(d, "bin")
            os.makedirs(bin_dir)
            fake = os.path.join(bin_dir, "hearsay-sim")
            with open(fake, "w") as f:
                f.write("#!/bin/sh\necho \"$@\" > \"$(dirname \"$0\")/argv.txt\"\n"
                        "echo 'hearsay-sim: --cores: expected 1..256' >&2\nexit 2\n")
            os.chmod(fake, 0o755)
            run = os.path.join(d, "run")
            write_observed_run(run, sim=False)
            with open(os.path.join(run, "testnet.json")) as f:
                meta = json.load(f)
            result = simrun.simulate(bin_dir, run, meta)
            self.assertEqual(result["exit_code"], 2)
            self.assertIn("--cores: expected 1..256", result["error"])
            with open(os.path.join(bin_dir, "argv.txt")) as f:
                self.assertIn("run --nodes 4", f.read())
            self._record(run, result)
            r = analyze.analyze(run)
        self.assertEqual(r["t50_ms"]["p50"], 36.0, "the real figures stand")
        self.assertEqual(r["compare_sim"]["exit_code"], 2)
        self.assertEqual(r["compare_sim"]["metrics"]["t50_ms.p50"],
                         {"real": 36.0, "sim": None, "sim_over_real": None})
        md = render.markdown(r, [], None)
        self.assertIn("**The simulator failed (exit code 2): hearsay-sim exited with code 2: "
                      "hearsay-sim: --cores: expected 1..256.**", md)
        self.assertIn("| t50_ms.p50 | 36 | n/a | n/a |", md)

    def test_a_missing_simulator_stops_the_run_before_it_starts(self):
        with tempfile.TemporaryDirectory() as d:
            out = os.path.join(d, "run")
            p = subprocess.run([sys.executable, os.path.join(TOOL_DIR, "testnet.py"), "run",
                                "--nodes", "3", "--degree", "2", "--compare-sim", "--bin", d,
                                "--out", out], capture_output=True, text=True, timeout=60)
            self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
            self.assertIn(f"--compare-sim needs {d}/hearsay-sim, which is missing", p.stderr)
            self.assertFalse(os.path.exists(out), "nothing was started")

    @staticmethod
    def _record(run: str, result: dict) -> None:
        """testnet.json's "compare_sim", as testnet.py run --compare-sim records it."""
        path = os.path.join(run, "testnet.json")
        with open(path) as f:
            meta = json.load(f)
        meta["compare_sim"] = result
        with open(path, "w") as f:
            json.dump(meta, f)


class RelayOptionsTest(unittest.TestCase):
    """testnet.py run's relay options: the mode every node runs and the hearsayd arguments."""

    @staticmethod
    def run_args(*extra: str):
        return testnet.build_parser().parse_args(["run", "--out", "/nonexistent", *extra])

    def test_mode_push_peers_and_arguments(self):
        for extra, mode, peers, args in (
                ((), "pull", 0, ["--relay-mode", "pull"]),
                (("--push-peers", "3"), "push", 3, ["--relay-mode", "push", "--push-peers", "3"]),
                (("--relay-mode", "push"), "push", 2,
                 ["--relay-mode", "push", "--push-peers", "2"]),
                (("--relay-mode", "tree", "--graft-timeout-ms", "40", "--lazy-interval-ms", "0"),
                 "tree", 0, ["--relay-mode", "tree", "--graft-timeout-ms", "40",
                             "--lazy-interval-ms", "0"]),
                (("--relay-mode", "tree", "--push-peers", "0"), "tree", 0,
                 ["--relay-mode", "tree"])):
            a = self.run_args(*extra)
            self.assertEqual(common.relay_settings(a), (mode, peers), extra)
            self.assertEqual(common.relay_args(a), args, extra)
            node = testnet.node_args(a)
            self.assertEqual(node[node.index("--relay-mode") + 1], mode, node)

    def test_reconciliation_arguments(self):
        for extra, args in (
                ((), []),
                (("--reconcile", "0"), ["--reconcile", "0"]),
                (("--reconcile", "1", "--reconcile-interval-ms", "0"),
                 ["--reconcile", "1", "--reconcile-interval-ms", "0"]),
                (("--reconcile-interval-ms", "500", "--flood-peers", "2"),
                 ["--reconcile-interval-ms", "500", "--flood-peers", "2"]),
                # 0 (announce to every peer) contradicts nothing, in any mode.
                (("--relay-mode", "tree", "--flood-peers", "0"), ["--flood-peers", "0"])):
            a = self.run_args(*extra)
            # After --relay-mode MODE: only what was given (hearsayd's defaults stand).
            self.assertEqual(common.relay_args(a)[2:], args, extra)
            node = testnet.node_args(a)
            for flag, value in zip(args[::2], args[1::2]):
                self.assertEqual(node[node.index(flag) + 1], value, node)

    def test_reconciliation_contradictions_are_refused_naming_both_options(self):
        from cluster import ClusterError
        for extra, words in (
                (("--reconcile", "0", "--reconcile-interval-ms", "500"),
                 ("--reconcile-interval-ms 500", "--reconcile 0")),
                (("--reconcile", "0", "--flood-peers", "2"), ("--flood-peers 2", "--reconcile 0")),
                (("--flood-peers", "2", "--reconcile-interval-ms", "0"),
                 ("--flood-peers 2", "--reconcile-interval-ms 0")),
                (("--relay-mode", "tree", "--flood-peers", "2"),
                 ("--flood-peers", "pull only", "tree")),
                (("--push-peers", "2", "--flood-peers", "1"), ("--flood-peers", "push")),
                (("--flood-peers", "-1"), ("--flood-peers -1", "0 or more"))):
            with self.assertRaises(ClusterError, msg=str(extra)) as e:
                common.relay_args(self.run_args(*extra))
            for w in words:
                self.assertIn(w, str(e.exception))
        with self.assertRaises(SystemExit):  # argparse's own refusal: --reconcile is 0 or 1
            import contextlib
            import io
            with contextlib.redirect_stderr(io.StringIO()):
                self.run_args("--reconcile", "2")

    def test_contradictions_are_refused_naming_both_options(self):
        from cluster import ClusterError
        for extra, words in (
                (("--relay-mode", "tree", "--push-peers", "3"), ("--relay-mode tree",
                                                                 "--push-peers 3")),
                (("--relay-mode", "pull", "--push-peers", "1"), ("--relay-mode pull",
                                                                 "--push-peers 1")),
                (("--relay-mode", "push", "--push-peers", "0"), ("--relay-mode push",
                                                                 "--push-peers 0")),
                (("--graft-timeout-ms", "50",), ("--graft-timeout-ms", "tree only", "pull")),
                (("--push-peers", "2", "--lazy-interval-ms", "5"), ("--lazy-interval-ms",
                                                                    "push"))):
            with self.assertRaises(ClusterError, msg=str(extra)) as e:
                common.relay_settings(self.run_args(*extra))
            for w in words:
                self.assertIn(w, str(e.exception))
        with self.assertRaises(SystemExit):  # argparse's own refusal of an unknown mode
            import contextlib
            import io
            with contextlib.redirect_stderr(io.StringIO()):
                self.run_args("--relay-mode", "gossip")


class DevnetTest(unittest.TestCase):
    NETWORK = {"name": "testnet-0ded17e5", "magic": "0x58457eea",
               "file": "/x/network/network.json", "producer_key": "/x/network/producer-0.key"}

    def test_keep_names_the_network_and_commands_that_work_as_printed(self):
        with tempfile.TemporaryDirectory() as d:
            nodes = [{"name": f"node00{i}", "datadir": os.path.join(d, f"node00{i}"),
                      "rpc_port": 20000 + i, "pid": 100 + i} for i in range(3)]
            text = "\n".join(testnet.keep_instructions("/b/hearsay-cli", nodes, self.NETWORK, 0,
                                                       d, os.path.join(d, "stop.sh")))
            self.assertIn("testnet-0ded17e5 (magic 0x58457eea", text)
            self.assertIn(f"/b/hearsay-cli --datadir {d}/node000 --rpc 127.0.0.1:20000 sendtx "
                          f"--key {d}/alice.key", text)
            self.assertIn(f"/b/hearsay-cli keygen --out {d}/alice.key", text)
            self.assertIn("generateblock", text)
            self.assertIn(f"rm -rf {d}", text)
            self.assertIn(os.path.join(d, "stop.sh"), text)
            text = "\n".join(testnet.keep_instructions("cli", nodes, None, None, d, "stop.sh"))
            self.assertIn("devnet (the built-in network)", text)
            self.assertNotIn("generateblock", text)

    def _devnet(self, code: int, out: str | None = None) -> tuple[str, str, str]:
        """cmd_devnet around a run that ends with `code` (no nodes): (stdout, stderr, folder)."""
        import contextlib
        import io
        folder = {}

        def fake_run(a, keep=False):
            folder["out"] = a.out
            os.makedirs(a.out, exist_ok=True)
            with open(os.path.join(a.out, "report.md"), "w") as f:
                f.write("report\n")
            return {"nodes": 5, "topology": "ring", "txs": 10, "delivered_fraction": 1.0,
                    "t100_ms": {"p50": 1.0, "p90": 2.0, "max": 3.0},
                    "_network": self.NETWORK}, code
        a = testnet.build_parser().parse_args(["devnet"] + (["--out", out] if out else []))
        real, testnet.run_testnet = testnet.run_testnet, fake_run
        so, se = io.StringIO(), io.StringIO()
        env = os.environ.pop("KEEP", None)
        try:
            with contextlib.redirect_stdout(so), contextlib.redirect_stderr(se):
                testnet.cmd_devnet(a)
        finally:
            testnet.run_testnet = real
            if env is not None:
                os.environ["KEEP"] = env
        return so.getvalue(), se.getvalue(), folder["out"]

    def test_the_temporary_folder_is_removed_or_named(self):
        out, _, folder = self._devnet(0)
        self.assertFalse(os.path.exists(folder), folder)
        self.assertIn(f"{folder} is removed", out)
        self.assertIn("testnet-0ded17e5 (magic 0x58457eea", out)
        out, err, folder = self._devnet(1)
        try:
            self.assertTrue(os.path.isdir(folder))
            self.assertIn(f"rm -rf {folder}", err)
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        with tempfile.TemporaryDirectory() as d:
            out, _, folder = self._devnet(0, os.path.join(d, "run"))
            self.assertTrue(os.path.isdir(folder), "an --out folder is the user's: kept")
            self.assertIn(f"is in {folder}", out)


class HelpTest(unittest.TestCase):
    def test_every_option_is_described_with_its_default(self):
        from common import HelpFormatter
        ap = testnet.build_parser()
        subs = next(a for a in ap._actions if isinstance(a, argparse._SubParsersAction))
        self.assertEqual(set(subs.choices),
                         {"run", "analyze", "devnet", "throughput", "plan", "chaos"})
        for name, p in subs.choices.items():
            text = p.format_help()
            self.assertNotIn("None", text, name)
            fmt = HelpFormatter(name)
            for action in p._actions:
                if action.dest == "help":
                    continue
                what = f"{name} {action.option_strings or action.dest}"
                self.assertTrue(action.help, f"{what} has no description")
                if action.option_strings:
                    h = fmt._get_help_string(action)
                    self.assertTrue("default" in h or (action.required and "required" in h),
                                    f"{what}: no default in {h!r}")
        run = subs.choices["run"].format_help()
        self.assertIn("(default: 500", " ".join(run.split()))  # --rate
        self.assertIn("--out", run)


class EndToEndTest(unittest.TestCase):
    def test_five_nodes_fifty_transactions_three_blocks(self):
        for b in ("hearsayd", "hearsay-cli"):
            self.assertTrue(os.access(os.path.join(BIN_DIR, b), os.X_OK),
                            f"{BIN_DIR}/{b} is missing: build it or pass --bin DIR")
        with tempfile.TemporaryDirectory(prefix="testnet-test-") as d:
            out = os.path.join(d, "run")
            cmd = [sys.executable, os.path.join(TOOL_DIR, "testnet.py"), "run", "--nodes", "5",
                   "--degree", "2", "--topology", "random-regular", "--seed", "3", "--txs", "50",
                   "--rate", "200", "--size", "250", "--link-delay-ms", "5", "--origin", "random",
                   "--blocks", "3", "--block-interval", "0.5",
                   "--bin", BIN_DIR, "--timeout", "60", "--out", out]
            p = subprocess.run(cmd, capture_output=True, text=True, timeout=E2E_TIMEOUT_S)
            msg = f"testnet.py failed ({p.returncode}):\n{p.stdout[-3000:]}\n{p.stderr[-3000:]}"
            self.assertEqual(p.returncode, 0, msg)
            with open(os.path.join(out, "report.json")) as f:
                r = json.load(f)
            self.assertEqual(r["delivered_fraction"], 1.0, msg)
            self.assertEqual(r["nodes"], 5)
            self.assertEqual(r["txs"], 50)
            self.assertEqual(r["fully_delivered_txs"], 50)
            for key in ("t50_ms", "t90_ms", "t100_ms", "per_hop_ms"):
                s = r[key]
                self.assertGreater(s["count"], 0, key)
                self.assertTrue(0 <= s["p50"] <= s["p95"] <= s["p99"] <= s["max"], (key, s))
            self.assertLessEqual(r["t50_ms"]["p50"], r["t100_ms"]["p50"])
            # Every hop costs at least one delayed message (5 ms) and the bound is positive.
            self.assertGreaterEqual(r["per_hop_ms"]["p50"], 5.0)
            self.assertGreater(r["shortest_path_bound_ms"]["p50"], 0)
            self.assertGreaterEqual(r["t100_ms"]["p50"], r["shortest_path_bound_ms"]["p50"])
            self.assertGreater(r["bytes_per_tx_per_node"], 250 * 0.5)
            # Every byte on the wire in one column; TLS costs something beyond the frames.
            cols = r["bytes_per_tx_per_node_columns"]
            self.assertGreater(cols["tls"], 0, cols)
            self.assertGreater(cols["frame_headers"], 0, cols)
            self.assertAlmostEqual(sum(cols.values()), r["bytes_on_wire_per_tx_per_node"],
                                   delta=0.05 * len(cols) + 0.1)
            self.assertGreater(r["bytes_on_wire_per_tx_per_node"], r["bytes_per_tx_per_node"])
            self.assertTrue(0.9 <= r["tx_bodies_per_node"] <= 2.0, r["tx_bodies_per_node"])
            self.assertGreater(r["throughput_tps"], 0)
            self.assertGreater(r["cpu_seconds"], 0)
            self.assertGreater(r["peak_rss_mb"], 1)
            self.assertEqual(set(r["node_exit_codes"].values()), {0})
            self.assertTrue(os.path.exists(os.path.join(out, "report.md")))
            # analyze recomputes the same numbers from the files.
            p2 = subprocess.run([sys.executable, os.path.join(TOOL_DIR, "testnet.py"), "analyze",
                                 out], capture_output=True, text=True, timeout=60)
            self.assertEqual(p2.returncode, 0, p2.stderr)
            with open(os.path.join(out, "report.json")) as f:
                r2 = json.load(f)
            self.assertEqual(r2["t100_ms"], r["t100_ms"])
            self.assertEqual(r2["blocks"], r["blocks"])
            # Blocks: every block reached every node, none was rejected, compact relay sent
            # less than a block per link.
            b = r["blocks"]
            self.assertEqual(b["count"], 3, msg)
            self.assertEqual(b["delivered_fraction"], 1.0, msg)
            self.assertEqual(b["fully_delivered_blocks"], 3)
            self.assertEqual(b["nodes_missing"], 0)
            self.assertEqual([x["nodes_connected"] for x in b["per_block"]], [5, 5, 5])
            self.assertEqual([x["height"] for x in b["per_block"]], [1, 2, 3])
            tt = b["time_to_all_ms"]
            self.assertEqual(tt["count"], 3)
            self.assertTrue(0 <= tt["p50"] <= tt["p90"] <= tt["max"], tt)
            self.assertGreater(b["per_hop_ms"]["count"], 0)
            self.assertGreater(b["mean_size"], 0)
            self.assertTrue(0 < b["bytes_per_block_per_link_over_size"] < 1, b)
            rec = b["reconstruction"]
            if rec["txs"] - rec["prefilled"] > 0:
                self.assertTrue(0 <= rec["miss_rate"] <= 1, rec)
            self.assertEqual(b["rejected"], 0, b["rejected_reasons"])
            self.assertEqual(b["disconnected"], 0)
            # blocks.jsonl: the 3 blocks, each confirming injected transactions, none twice
            # (how many depends on timing: the injection and the blocks overlap).
            with open(os.path.join(out, "blocks.jsonl")) as f:
                rows = [json.loads(x) for x in f]
            with open(os.path.join(out, "inject.jsonl")) as f:
                injected = {json.loads(x)["id"] for x in f}
            self.assertEqual([x["hash"] for x in rows], [x["id"] for x in b["per_block"]])
            txids = [t for x in rows for t in x["tx"]]
            self.assertEqual(len(txids), len(set(txids)))
            self.assertLessEqual(set(txids), injected)
            self.assertEqual([len(x["tx"]) for x in rows], [x["txs"] for x in b["per_block"]])
            # No node outlives the run.
            for node in range(5):
                pid = None
                with open(os.path.join(out, "testnet.json")) as f:
                    pid = json.load(f)["nodes"][node]["pid"]
                self.assertFalse(os.path.exists(f"/proc/{pid}") and _is_hearsayd(pid),
                                 f"node {node} (pid {pid}) still runs")


class TreeEndToEndTest(unittest.TestCase):
    def test_five_nodes_in_tree_mode(self):
        """testnet.py run --relay-mode tree: every node runs it (getnetworkinfo says so, with
        hearsayd's timers), every transaction arrives, and the tree counters are reported."""
        for b in ("hearsayd", "hearsay-cli"):
            self.assertTrue(os.access(os.path.join(BIN_DIR, b), os.X_OK),
                            f"{BIN_DIR}/{b} is missing: build it or pass --bin DIR")
        with tempfile.TemporaryDirectory(prefix="testnet-tree-test-") as d:
            out = os.path.join(d, "run")
            cmd = [sys.executable, os.path.join(TOOL_DIR, "testnet.py"), "run", "--nodes", "5",
                   "--degree", "2", "--topology", "ring", "--seed", "3", "--txs", "50",
                   "--rate", "200", "--size", "250", "--link-delay-ms", "5", "--origin", "random",
                   "--relay-mode", "tree", "--bin", BIN_DIR, "--timeout", "60", "--out", out]
            p = subprocess.run(cmd, capture_output=True, text=True, timeout=E2E_TIMEOUT_S)
            msg = f"testnet.py failed ({p.returncode}):\n{p.stdout[-3000:]}\n{p.stderr[-3000:]}"
            self.assertEqual(p.returncode, 0, msg)
            self.assertIn("tree relay | delivered 100.00%", p.stdout, msg)
            with open(os.path.join(out, "report.json")) as f:
                r = json.load(f)
            self.assertEqual(r["delivered_fraction"], 1.0, msg)
            self.assertEqual(r["relay_mode"], "tree")
            self.assertEqual((r["graft_timeout_ms"], r["lazy_interval_ms"]), (100, 500))
            self.assertEqual(r["round_trips_per_hop"], 0.5)
            t = r["tree"]
            self.assertEqual(t["tree_peers"], 2 * r["links"], t)  # every link, at both ends
            self.assertGreater(t["tree_pushed"], 0, t)
            # Before any prune, a transaction is pushed over all 5 links of the ring (6 bodies
            # for 4 receivers): duplicates, and prunes, are certain.
            self.assertGreater(t["prunes_sent"], 0, t)
            self.assertEqual(t["withheld"], 0, t)
            self.assertGreaterEqual(r["tx_bodies_per_node"], 1.0)
            self.assertEqual(set(r["node_exit_codes"].values()), {0})
            with open(os.path.join(out, "report.md")) as f:
                self.assertIn("relay mode tree (graft timeout 100 ms, lazy interval 500 ms)",
                              f.read())

    def test_a_warm_up_is_delivered_and_left_out_of_the_figures(self):
        """--warmup N: N transactions first, delivered everywhere, then the measured ones; the
        report counts only those."""
        with tempfile.TemporaryDirectory(prefix="testnet-warmup-test-") as d:
            out = os.path.join(d, "run")
            cmd = [sys.executable, os.path.join(TOOL_DIR, "testnet.py"), "run", "--nodes", "5",
                   "--degree", "2", "--topology", "ring", "--seed", "3", "--txs", "40",
                   "--warmup", "10", "--rate", "100", "--size", "250", "--link-delay-ms", "5",
                   "--origin", "0", "--relay-mode", "tree", "--bin", BIN_DIR, "--timeout", "60",
                   "--out", out]
            p = subprocess.run(cmd, capture_output=True, text=True, timeout=E2E_TIMEOUT_S)
            msg = f"testnet.py failed ({p.returncode}):\n{p.stdout[-3000:]}\n{p.stderr[-3000:]}"
            self.assertEqual(p.returncode, 0, msg)
            self.assertIn("warm-up: 10 transactions", p.stdout, msg)
            with open(os.path.join(out, "report.json")) as f:
                r = json.load(f)
            self.assertEqual(r["warmup"], 10)
            self.assertEqual(r["txs"], 40, msg)
            self.assertEqual(r["delivered_fraction"], 1.0, msg)
            self.assertTrue(os.path.exists(os.path.join(out, "warmup", "inject.jsonl")))
            # Measured: the 40 only, and the counters from after the warm-up.
            self.assertGreater(r["tree"]["tree_pushed"], 0, r)
            self.assertLess(r["tx_bodies_per_node"], 1.2, r)


class ReconEndToEndTest(unittest.TestCase):
    def test_five_nodes_reconciling_with_low_fanout(self):
        """testnet.py run --reconcile 1 --reconcile-interval-ms 200 --flood-peers 1: every node
        runs it (getnetworkinfo says so), every transaction arrives, and the reconciliation
        counters are reported, every link reconciling at both ends."""
        with tempfile.TemporaryDirectory(prefix="testnet-recon-test-") as d:
            out = os.path.join(d, "run")
            cmd = [sys.executable, os.path.join(TOOL_DIR, "testnet.py"), "run", "--nodes", "5",
                   "--degree", "2", "--topology", "ring", "--seed", "3", "--txs", "50",
                   "--rate", "100", "--size", "250", "--link-delay-ms", "5", "--origin", "random",
                   "--reconcile", "1", "--reconcile-interval-ms", "200", "--flood-peers", "1",
                   "--bin", BIN_DIR, "--timeout", "60", "--out", out]
            p = subprocess.run(cmd, capture_output=True, text=True, timeout=E2E_TIMEOUT_S)
            msg = f"testnet.py failed ({p.returncode}):\n{p.stdout[-3000:]}\n{p.stderr[-3000:]}"
            self.assertEqual(p.returncode, 0, msg)
            with open(os.path.join(out, "report.json")) as f:
                r = json.load(f)
            self.assertEqual(r["delivered_fraction"], 1.0, msg)
            self.assertEqual((r["reconcile"], r["reconcile_interval_ms"], r["flood_peers"]),
                             (1, 200, 1))
            c = r["recon"]
            self.assertEqual(c["recon_peers"], 2 * r["links"], c)  # every link, at both ends
            self.assertEqual(c["recon_timeouts"], 0, c)
            self.assertEqual(set(r["node_exit_codes"].values()), {0})
            with open(os.path.join(out, "report.md")) as f:
                self.assertIn("relay mode pull, reconciliation every 200 ms, announcements to 1 "
                              "reconciling peer,", f.read())


class ThroughputEndToEndTest(unittest.TestCase):
    def test_burst_sweep_and_flood_are_all_accepted_and_reported(self):
        """testnet.py throughput, small: every phase's transactions reach the measured node; the
        flood phase (hearsay-cli flood pushing as a peer) is reported with its offered rate."""
        with tempfile.TemporaryDirectory(prefix="throughput-test-") as d:
            out = os.path.join(d, "tp")
            cmd = [sys.executable, os.path.join(TOOL_DIR, "testnet.py"), "throughput",
                   "--bin", BIN_DIR, "--out", out, "--load-peers", "1", "--backlog", "200",
                   "--rates", "200", "--step-seconds", "1", "--flood-count", "2000"]
            p = subprocess.run(cmd, capture_output=True, text=True, timeout=E2E_TIMEOUT_S)
            msg = f"testnet.py failed ({p.returncode}):\n{p.stdout[-3000:]}\n{p.stderr[-3000:]}"
            self.assertEqual(p.returncode, 0, msg)
            with open(os.path.join(out, "throughput.json")) as f:
                r = json.load(f)
            self.assertEqual(r["burst"]["accepted"], r["burst"]["transactions"], msg)
            self.assertEqual(r["burst"]["transactions"], 200, msg)
            self.assertEqual(r["sweep"][0]["measured_received"], r["sweep"][0]["injected"], msg)
            fl = r["flood"]
            self.assertEqual((fl["transactions"], fl["accepted"]), (2000, 2000), msg)
            self.assertGreater(fl["offered_rate"], 0, msg)
            self.assertGreater(fl["accept_rate"], 0, msg)
            self.assertGreaterEqual(r["max_accept_rate"], fl["accept_rate"])
            with open(os.path.join(out, "throughput.md")) as f:
                self.assertIn("| flood of 2000 pushed by hearsay-cli flood |", f.read())


class CompareSimEndToEndTest(unittest.TestCase):
    def test_compare_sim_on_five_real_nodes(self):
        """testnet.py run --compare-sim end to end with the build's own programs: the simulation
        of the run's links, schedule and options is delivered, and both reports sit side by
        side. (How close the figures are is sim_fidelity_test.py's: optimised programs only.)"""
        run = compare_sim_run(BIN_DIR, [
            "--nodes", "5", "--degree", "2", "--topology", "ring", "--seed", "5", "--txs", "40",
            "--rate", "50", "--link-delay-ms", "10", "--timeout", "60"], E2E_TIMEOUT_S)
        msg, r, s = run["msg"], run["real"], run["sim"]
        self.assertEqual(run["returncode"], 0, msg)
        self.assertIn("simulation vs reality", run["stdout"], msg)
        self.assertEqual((s["nodes"], s["links"], s["txs"]), (5, 5, r["txs"]), msg)
        self.assertEqual(s["delivered_fraction"], 1.0, msg)
        c = r["compare_sim"]
        self.assertEqual((c["exit_code"], c["sim_dir"]), (0, "sim"), msg)
        m = c["metrics"]["t100_ms.p50"]
        self.assertEqual((m["real"], m["sim"]), (r["t100_ms"]["p50"], s["t100_ms"]["p50"]))
        self.assertGreater(m["sim"], 0)
        self.assertIn("Simulation vs reality", run["markdown"])


class SimRunTest(unittest.TestCase):
    def run_sim(self, out: str, seed: int) -> bytes:
        sim = os.path.join(BIN_DIR, "hearsay-sim")
        self.assertTrue(os.access(sim, os.X_OK), f"{sim} is missing: build it or pass --bin DIR")
        cmd = [sim, "run", "--nodes", "30", "--degree", "4", "--txs", "60", "--rate", "50",
               "--latency", "regions", "--bandwidth", "regions", "--verify-us", "60",
               "--seed", str(seed), "--quiet", "--out", out,
               "--analyzer", os.path.join(TOOL_DIR, "testnet.py")]
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=E2E_TIMEOUT_S)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        with open(os.path.join(out, "report.json"), "rb") as f:
            return f.read()

    def test_same_seed_and_arguments_give_the_same_report_bytes(self):
        """hearsay-sim run twice with one seed (and --verify-us: the calibrated default is a
        measurement) writes byte-identical report.json files; another seed another one."""
        with tempfile.TemporaryDirectory(prefix="hearsay-sim-test-") as d:
            a = self.run_sim(os.path.join(d, "a"), 3)
            b = self.run_sim(os.path.join(d, "b"), 3)
            c = self.run_sim(os.path.join(d, "c"), 4)
            with open(os.path.join(d, "a", "report.md")) as f:
                md = f.read()
        self.assertEqual(a, b)
        self.assertNotEqual(a, c)
        r = json.loads(a)
        self.assertEqual(r["delivered_fraction"], 1.0)
        self.assertEqual((r["nodes"], r["txs"]), (30, 60))
        self.assertEqual(r["sim"]["latency"], "regions")
        self.assertGreater(r["sim"]["events"], 0)
        self.assertIsNone(r["date"])
        self.assertIn("imulat", md)


def _is_hearsayd(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return b"hearsayd" in f.read()
    except OSError:
        return False


if __name__ == "__main__":
    BIN_DIR, argv = take_bin_arg(BIN_DIR)
    unittest.main(argv=argv)
