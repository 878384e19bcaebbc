"""The propagation report of a testnet run, or of a simulated one, computed from the files the
run left in its folder.

Inputs of a real run (DIR is the run's --out):
  DIR/testnet.json        the run: parameters, topology, nodes (identity, ports), inject timing
  DIR/counters.json       node counters (getinfo, getpeerinfo, /proc) after the handshakes
                          ("baseline"), when every node held every transaction ("delivered",
                          runs with blocks only) and at the end ("final")
  DIR/inject.jsonl        hearsay-cli inject --out: {"id","node":"HOST:PORT","t":µs,"accepted"}
  DIR/blocks.jsonl        runs with --blocks: one line per generateblock {"hash","height","txs",
                          "size","t","tx":[txid...]}
  DIR/nodeNNN/trace.jsonl hearsayd --trace: tx_first_seen / tx_accepted / ... and block_*
                          events (node/trace.h)
  DIR/sim/report.json     runs with --compare-sim: the simulation of the same run (below)
Inputs of a simulated run (hearsay-sim run --out DIR; its testnet.json has "sim"):
  DIR/testnet.json, DIR/counters.json, DIR/blocks.jsonl   as a real run's (no "proc" counters)
  DIR/arrivals.jsonl      per measured transaction {"id","origin","t","nodes":[[node,
                          first_seen, from, accepted], ...]} (from: -1 at the origin; accepted:
                          null if never): it stands for the traces and inject.jsonl
  DIR/block_arrivals.jsonl  per block {"id","height","producer","t","nodes":[[node, first_seen,
                          from, connected], ...]}
  DIR/sim_run.json        the simulator's wall time, events per second, peak RSS, machine and
                          date: report.md shows them, report.json never does (a seed gives the
                          same report.json, byte for byte), and its date, machine and load
                          averages are null.
Both loaders build the same observations, a TxSeen per transaction and a block_view() per node,
and every figure below is computed from those once: a real run and a simulation share one
definition of each.

Definitions (all times are wall-clock µs of the one machine, or a simulation's virtual µs,
reported in ms):
  injection      the submit time of the transaction's RPC request (inject's "t"; a simulation's
                 arrivals "t").
  holds          a node holds a transaction from its tx_accepted event (it is in its mempool),
                 or from the block_connected event of a block confirming it (blocks.jsonl's
                 txids), whichever is first: a transaction a block took out of the mempool, or
                 that a node first met inside a block, still reached that node (in a
                 simulation: its accepted and connected times).
  tK_ms          per transaction, time from injection until ceil(K % of N) nodes hold it.
  t100_from_origin_ms  the same for 100 %, but from the moment the origin node accepted it: the
                 network's part, without the RPC queue of the origin (inject_to_origin_accept_ms).
  per_hop_ms     for every node that first saw a transaction from a peer, the first-seen time
                 there minus the first-seen time at that peer: one hop of the gossip, including
                 the sender's validation, its announcement, the getdata and the transfer.
  transfer_ms    receiver first-seen minus sender accepted (announce + request + body on the wire).
  validate_ms    accepted minus first-seen at the same node (precheck + signature + admission).
  shortest_path_bound_ms   hops from the origin to its farthest node × the one-way link delay: no
                 gossip can beat it. bound_link_delay_ms is that delay: the run's link_delay_ms,
                 or, in a simulation whose latency is not constant (link_delay_ms null), the
                 model's mean one-way latency (sim.mean_latency_ms). A simulation knows every
                 link's latency and records, per origin, its slowest shortest path with the
                 latencies summed (sim.bound_ms_by_origin): the bound is that one when present
                 (a path of fast links can beat the mean link's). protocol_bound_ms multiplies
                 by the one-way trips a hop costs (inv → getdata → tx: 3; push to every peer, or
                 tree relay: 1).
                 t100_over_shortest_path_bound and t100_over_protocol_bound: t100's p50 ÷ the
                 bound's p50.
  relay_mode     the nodes' --relay-mode (pull, push or tree; a run recorded before the option:
                 push when push_peers > 0); graft_timeout_ms and lazy_interval_ms, tree mode's
                 timers (None: not tree mode, or hearsayd's defaults unrecorded); reconcile (1:
                 the nodes reconcile their mempools, 0: not), reconcile_interval_ms and
                 flood_peers, its settings (None: unrecorded, or not reconciling).
  bytes_per_tx_per_node    bytes all nodes sent during the run ÷ (transactions × nodes): whole
                 frames (24-byte frame header + payload) as the nodes count them (getpeerinfo's
                 bytes_sent, summed over peers), without TLS; _by_message splits it by type.
  bytes_per_tx_per_node_columns  every byte the nodes put on the wire in exactly one column, each
                 ÷ (transactions × nodes): per message type its payload (sent_bytes − 24 × sent
                 messages), "frame_headers" (24 × all messages sent) and "tls" (TLS ciphertext
                 − frames, getpeerinfo's tls_bytes_sent: each record's header, content type
                 and tag; the handshakes precede the baseline). Block messages are left out of
                 the message and frame_headers columns, but TLS is not apportioned: when a run
                 has blocks, "tls" includes the records that carried the block messages. Frames
                 count when queued, ciphertext when written: the two agree once the send queues
                 are empty.
                 Counters of an older hearsayd have no tls_bytes_sent: "tls" is then absent and
                 the columns sum to bytes_per_tx_per_node.
  bytes_on_wire_per_tx_per_node  the sum of the columns: TLS ciphertext all nodes sent minus
                 the block messages' frames, ÷ (transactions × nodes); _over_size ÷ the
                 transaction size. None without TLS counters.
  tx_bodies_per_node       tx bodies the nodes received ÷ (transactions × (nodes − 1)); 1.0 means
                 every node but the origin received each body exactly once.
  tree           tree relay's counters (getinfo's relay), summed over the nodes, from the
                 counters of a hearsayd that reports them: tree_peers (at the end: each tree link
                 counts at both ends), and during the run tree_pushed (treetx bodies sent),
                 prunes_sent / prunes_received and grafts_sent / grafts_received (origins),
                 tree_swaps (parents replaced by a faster peer), withheld (bodies a parent owed
                 and never sent).
  recon          set reconciliation's counters (getinfo's relay), summed over the nodes, from
                 the counters of a hearsayd that reports them: recon_peers (at the end: each
                 reconciling link counts at both ends), and during the run recon_rounds (rounds
                 the askers ran), recon_requests_sent / recon_requests_received (reqrecon, one per
                 part), recon_sketch_bytes_sent / recon_sketch_bytes_received,
                 recon_differences (transactions a side lacked), recon_failures (undecodable
                 sketches), recon_bisections (parts split), recon_exchanges (failed parts announced
                 whole), recon_refused (over a peer's
                 budget), recon_timeouts (rounds abandoned), recon_announced (transactions
                 announced because reconciliation found a peer lacked them).
  throughput_tps transactions that reached every node ÷ seconds from the first injection to the
                 moment the last of them reached its last node.
  Bytes, CPU and memory of the transactions come from the "delivered" counters when present;
  bytes_* leave out the block messages (BLOCK_MESSAGES).
Blocks (report["blocks"], when the run made any; the blocks of blocks.jsonl, else those a node
traced as first seen "local"):
  time_to_all_ms per block, from block_connected at the producer until the last node's
                 block_connected; only blocks every node connected (the others count in
                 nodes_missing). Aggregated as p50/p90/max over blocks.
  per_hop_ms     for every node that first saw the block from a peer (block_first_seen "from"),
                 its block_connected minus that peer's: announcement, compact block, any
                 getblocktxn round trip, reconstruction and validation.
  delivered_fraction  (node, block) pairs connected ÷ (blocks × nodes).
  bytes_per_block_per_link  bytes all nodes sent in BLOCK_MESSAGES (per-peer counters, final −
                 baseline) ÷ (blocks × links), both directions of a link together; _over_size
                 divides by the mean block size (block_connected "size"). Block announcements by
                 inv/getdata are not separable from the transactions' and are not counted.
  reconstruction.miss_rate  Σ missing ÷ Σ (txs − prefilled) over block_reconstructed events:
                 the share of the transactions a node had to ask for (getblocktxn).
  rejected       block_rejected events on all nodes (0 in an honest testnet).
  diameter       the most hops between two nodes (None when the topology is not connected, or
                 has more than DIAMETER_MAX_NODES nodes).
  compare_sim    runs with --compare-sim: COMPARED figures of this run and of its simulation
                 (DIR/sim/report.json) side by side, with sim ÷ real; the simulator's exit code
                 and error, and its wall time (DIR/sim/sim_run.json).
Percentiles are linear interpolations between closest ranks (as numpy's default).
"""

from __future__ import annotations

import gc
import json
import math
import operator
import os
from array import array
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import reduce
from typing import NamedTuple

from topology import Topology

REPORT_VERSION = 2
# getinfo's tree relay counters (node/rpc_methods.cpp relay_json), reported summed over nodes.
TREE_COUNTERS = ("tree_peers", "tree_pushed", "prunes_sent", "prunes_received", "grafts_sent",
                 "grafts_received", "tree_swaps", "withheld")
# getinfo's set reconciliation counters (node/rpc_methods.cpp relay_json), summed over nodes.
RECON_COUNTERS = ("recon_peers", "recon_rounds", "recon_requests_sent", "recon_requests_received",
                  "recon_sketch_bytes_sent", "recon_sketch_bytes_received", "recon_differences",
                  "recon_failures", "recon_bisections", "recon_exchanges", "recon_refused",
                  "recon_timeouts", "recon_announced")
# Messages that carry blocks (their bytes are the block report's, not the transactions').
BLOCK_MESSAGES = ("headers", "getheaders", "cmpctblock", "getblocktxn", "blocktxn", "block")
# Every frame's header: magic, command, length, checksum (p2p/transport.h kFrameHeaderSize).
FRAME_HEADER_BYTES = 24


def percentile(sorted_values: list[float], q: float) -> float | None:
    if not sorted_values:
        return None
    if len(sorted_values) == 1:
        return sorted_values[0]
    pos = (len(sorted_values) - 1) * q / 100.0
    lo = math.floor(pos)
    hi = min(lo + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (pos - lo)


def summary(values: Iterable[float], qs=(50, 90, 95, 99)) -> dict:
    """Percentiles, max, mean and count of numbers (infinities and NaN left out). Sorting is
    its cost, linear when `values` come sorted."""
    v = sorted(filter(math.isfinite, values))
    out = {f"p{q}": _r(percentile(v, q)) for q in qs}
    out["max"] = _r(v[-1]) if v else None
    out["mean"] = _r(sum(v) / len(v)) if v else None
    out["count"] = len(v)
    return out


def _r(x, digits=3):
    return None if x is None else round(x, digits)


def load_trace(path: str) -> dict:
    """first_seen {id: (t, from)}, accepted {id: t}, rejected Counter, inv/getdata counts, and
    the block events: block_first_seen {id: (t, from)}, block_connected {id: (t, height, txs,
    size)}, block_reconstructed {id: event}, block_rejected [(id, reason)], block_disconnected."""
    first_seen: dict[str, tuple[int, str]] = {}
    accepted: dict[str, int] = {}
    rejected: Counter = Counter()
    counts: Counter = Counter()
    blocks: dict = {"first_seen": {}, "connected": {}, "reconstructed": {}, "rejected": [],
                    "disconnected": 0}
    identity = None
    dropped = 0
    try:
        f = open(path, encoding="utf-8", errors="replace")
    except OSError:
        return {"missing": True, "first_seen": first_seen, "accepted": accepted,
                "rejected": rejected, "counts": counts, "identity": None, "dropped": 0,
                "blocks": blocks}
    with f:
        for line in f:
            # Cheap dispatch on the event name before parsing (most lines are tx events).
            if line.startswith('{"ev":"inv_sent"') or line.startswith('{"ev":"getdata_sent"'):
                try:
                    e = json.loads(line)
                except ValueError:
                    continue
                counts[e["ev"]] += 1
                counts[e["ev"] + "_entries"] += int(e.get("n", 0))
                continue
            try:
                e = json.loads(line)
            except ValueError:
                counts["bad_lines"] += 1  # a line cut by a kill -9
                continue
            ev = e.get("ev")
            if ev == "tx_first_seen":
                first_seen.setdefault(e["id"], (int(e["t"]), e.get("from", "")))
            elif ev == "tx_accepted":
                accepted.setdefault(e["id"], int(e["t"]))
            elif ev == "tx_rejected":
                rejected[e.get("reason", "")] += 1
            elif ev == "start":
                identity = identity or e.get("node")
            elif ev == "dropped":
                dropped += int(e.get("n", 0))
            elif ev == "stop":
                dropped = max(dropped, int(e.get("dropped", 0)))
            elif ev == "block_first_seen":
                blocks["first_seen"].setdefault(e["id"], (int(e["t"]), e.get("from", "")))
            elif ev == "block_connected":
                blocks["connected"].setdefault(e["id"], (int(e["t"]), int(e.get("height", 0)),
                                                         int(e.get("txs", 0)),
                                                         int(e.get("size", 0))))
            elif ev == "block_reconstructed":
                blocks["reconstructed"].setdefault(e["id"], e)
            elif ev == "block_rejected":
                blocks["rejected"].append((e.get("id", ""), e.get("reason", "")))
            elif ev == "block_disconnected":
                blocks["disconnected"] += 1
    return {"missing": False, "first_seen": first_seen, "accepted": accepted,
            "rejected": rejected, "counts": counts, "identity": identity, "dropped": dropped,
            "blocks": blocks}


def load_jsonl(path: str) -> list[dict]:
    """The objects of a JSON-lines file, skipping lines that do not parse (a kill -9 can cut
    the last one); none when the file is missing."""
    rows = []
    try:
        with open(path, encoding="utf-8") as f:
            for line in f:
                line = line.strip()
                if line:
                    try:
                        rows.append(json.loads(line))
                    except ValueError:
                        pass
    except OSError:
        pass
    return rows


def load_blocks(path: str) -> list[dict] | None:
    """blocks.jsonl rows (None without the file)."""
    if not os.path.exists(path):
        return None
    return load_jsonl(path)


def _delta(final: dict, base: dict, key: str) -> float:
    return float(final.get(key) or 0) - float(base.get(key) or 0)


def sent_by_type(base: dict, final: dict, field: str) -> dict[str, float]:
    """A per-message-type counter ("sent": messages, "sent_bytes": their frames) summed over all
    nodes between two snapshots ({index: node})."""
    by_type: dict[str, float] = {}
    for i, f in final.items():
        b = base.get(i, {}).get("messages", {})
        for t, m in f.get("messages", {}).items():
            by_type[t] = by_type.get(t, 0) + m.get(field, 0) - b.get(t, {}).get(field, 0)
    return by_type


def bytes_by_message(base: dict, final: dict) -> dict[str, float]:
    """Bytes all nodes sent per message type between two snapshots ({index: node})."""
    return sent_by_type(base, final, "sent_bytes")


def tls_sent(base: dict, final: dict) -> float | None:
    """TLS ciphertext all nodes sent between two snapshots; None when a snapshot of a node
    lacks it (counters of a hearsayd that did not count TLS)."""
    nodes = list(final.items())
    if not nodes or any("tls_bytes_sent" not in f or "tls_bytes_sent" not in base.get(i, {})
                        for i, f in nodes):
        return None
    return sum(_delta(f, base[i], "tls_bytes_sent") for i, f in nodes)


def wire_columns(base: dict, final: dict, by_type: dict[str, float], frames_sent: float,
                 per: float, size: int) -> dict:
    """bytes_per_tx_per_node_columns and bytes_on_wire_per_tx_per_node (module comment).
    `frames_sent`: all frames' bytes, block messages included; `per`: transactions × nodes."""
    msgs = sent_by_type(base, final, "sent")
    columns: dict[str, float] = {}
    headers = 0.0
    for t in sorted(by_type):
        if t in BLOCK_MESSAGES:
            continue
        h = FRAME_HEADER_BYTES * msgs.get(t, 0)
        headers += h
        if by_type[t] - h > 0:
            columns[t] = by_type[t] - h
    columns["frame_headers"] = headers
    ciphertext = tls_sent(base, final)
    if ciphertext is not None:
        columns["tls"] = ciphertext - frames_sent
    out: dict = {"bytes_per_tx_per_node_columns": {k: _r(v / per, 1) for k, v in columns.items()}}
    wire = sum(columns.values()) if ciphertext is not None else None
    out["bytes_on_wire_per_tx_per_node"] = None if wire is None else _r(wire / per, 1)
    out["bytes_on_wire_per_tx_per_node_over_size"] = (
        _r(wire / per / size, 3) if wire is not None and size else None)
    return out


def counters_section(counters: dict, n: int, txs: int, size: int) -> dict:
    """Bytes, bodies, CPU and memory from the node counters (before, and at full delivery)."""
    out: dict = {}
    base = {x["index"]: x for x in counters.get("baseline", {}).get("nodes", [])}
    end = counters.get("delivered") or counters.get("final", {})
    final = {x["index"]: x for x in end.get("nodes", [])}
    if not final or txs == 0:
        return out
    by_type = bytes_by_message(base, final)
    frames = sum(_delta(f, base.get(i, {}), "bytes_sent") for i, f in final.items())
    sent = frames - sum(by_type.get(t, 0) for t in BLOCK_MESSAGES)
    out["bytes_per_tx_per_node"] = _r(sent / (txs * n), 1)
    out["bytes_per_tx_per_node_over_size"] = _r(sent / (txs * n) / size, 3) if size else None
    out["bytes_per_tx_per_node_by_message"] = {
        t: _r(v / (txs * n), 1) for t, v in sorted(by_type.items())
        if v > 0 and t not in BLOCK_MESSAGES}
    out.update(wire_columns(base, final, by_type, frames, txs * n, size))

    def relay_delta(key: str) -> float:
        return sum(float(f.get("relay", {}).get(key, 0)) -
                   float(base.get(i, {}).get("relay", {}).get(key, 0)) for i, f in final.items())

    receivers = max(1, n - 1)
    out["tx_bodies_per_node"] = _r(relay_delta("bodies_received") / (txs * receivers), 3)
    out["duplicate_bodies_per_node"] = _r(relay_delta("duplicate_bodies") / (txs * receivers), 3)
    out["inv_entries_sent_per_tx_per_node"] = _r(relay_delta("inv_sent") / (txs * n), 2)
    out["getdata_entries_per_tx_per_node"] = _r(relay_delta("getdata_sent") / (txs * n), 3)
    out["request_timeouts"] = int(relay_delta("request_timeouts"))
    if all("tree_pushed" in f.get("relay", {}) for f in final.values()):
        # tree_peers is counted as links come up, before the baseline: its final value.
        out["tree"] = {k: int(sum(float(f["relay"].get(k, 0)) for f in final.values()))
                       if k == "tree_peers" else int(relay_delta(k)) for k in TREE_COUNTERS}
    if all("recon_rounds" in f.get("relay", {}) for f in final.values()):
        # recon_peers, like tree_peers, is counted as links come up: its final value.
        out["recon"] = {k: int(sum(float(f["relay"].get(k, 0)) for f in final.values()))
                        if k == "recon_peers" else int(relay_delta(k)) for k in RECON_COUNTERS}
    cpu = [(f.get("proc", {}).get("cpu_s"), base.get(i, {}).get("proc", {}).get("cpu_s"))
           for i, f in final.items()]
    cpu_run = [a - b for a, b in cpu if a is not None and b is not None]
    cpu_total = [a for a, _ in cpu if a is not None]
    if cpu_run:
        out["cpu_seconds"] = _r(sum(cpu_run), 2)
        out["cpu_seconds_since_start"] = _r(sum(cpu_total), 2)
        out["cpu_ms_per_tx_per_node"] = _r(sum(cpu_run) * 1000 / (txs * n), 4)
    # By thread name (hearsayd names its threads). Signature checks run on hs-verify, except
    # batches of at most two that arrive while the workers are idle: those run on hs-net.
    by_thread: dict[str, float] = {}
    for i, f in final.items():
        before = base.get(i, {}).get("threads", {})
        for name, sec in f.get("threads", {}).items():
            by_thread[name] = by_thread.get(name, 0.0) + sec - before.get(name, 0.0)
    if by_thread and txs:
        per = {k: _r(v * 1e6 / (txs * n), 1) for k, v in sorted(by_thread.items()) if v > 0}
        out["cpu_us_per_tx_per_node_by_thread"] = per
    hwm = [f.get("proc", {}).get("hwm_mb") for f in final.values()]
    rss = [f.get("proc", {}).get("rss_mb") for f in final.values()]
    hwm = [x for x in hwm if x is not None]
    rss = [x for x in rss if x is not None]
    if hwm:
        out["peak_rss_mb"] = _r(max(hwm), 1)
        out["peak_rss_mb_mean"] = _r(sum(hwm) / len(hwm), 1)
    if rss:
        out["rss_mb_at_end"] = {"mean": _r(sum(rss) / len(rss), 1), "max": _r(max(rss), 1)}
    base_rss = [b.get("proc", {}).get("rss_mb") for b in base.values()]
    base_rss = [x for x in base_rss if x is not None]
    if rss and base_rss:
        out["rss_mb_idle_mean"] = _r(sum(base_rss) / len(base_rss), 1)
        grow = (sum(rss) / len(rss) - sum(base_rss) / len(base_rss)) * 1024 * 1024
        out["rss_bytes_per_mempool_tx"] = _r(grow / txs, 0)
    usage = [f.get("mempool", {}).get("usage") for f in final.values()]
    usage = [u for u in usage if u is not None]
    if usage:
        out["mempool_usage_bytes_per_tx"] = _r(sum(usage) / len(usage) / txs, 1)
    return out


# --- what the nodes saw: both loaders build it, every metric reads it -------------------------

class TxSeen(NamedTuple):
    """What the nodes saw of one measured transaction. The columns are parallel, one entry per
    node that saw or accepted it; a simulation's are tuples straight from its arrivals line."""
    id: str
    t0: int  # injection, µs
    origin: int | None  # the node it was injected into (None: unknown)
    nodes: Sequence[int]
    first_seen: Sequence[int | None]  # µs; None: accepted without a first-seen record
    # The peer it first came from; LOCAL at the origin; None: unknown, or no first_seen.
    src: Sequence[int | None]
    accepted: Sequence[int | None]  # µs; None: never accepted


# The source (TxSeen.src, block_view()'s first_seen) of what a node had from no peer: a
# transaction injected into it, a block it made.
LOCAL = -1


def block_view() -> dict:
    """One node's blocks, as blocks_section reads them: first_seen {id: (t, source node or LOCAL
    or None)}, connected {id: (t, height, txs, size)}, reconstructed {id: event}, rejected
    [(id, reason)], disconnected (a count)."""
    return {"first_seen": {}, "connected": {}, "reconstructed": {}, "rejected": [],
            "disconnected": 0}


@dataclass
class Observed:
    """A run as the metrics see it, from either loader."""
    txs: Iterable[TxSeen]  # in injection order; read once (a simulation's are streamed)
    blocks: list[dict]  # per node, a block_view()
    block_rows: list[dict] | None  # blocks.jsonl (None without the file)
    rejections: Counter = field(default_factory=Counter)  # tx_rejected reasons, all nodes
    dropped: int = 0  # trace events the nodes could not write
    missing: list[int] = field(default_factory=list)  # nodes without a trace


def load_json(path: str) -> dict | None:
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def is_simulation(out_dir: str, meta: dict) -> bool:
    return "sim" in meta and os.path.exists(os.path.join(out_dir, "arrivals.jsonl"))


def observe_traces(out_dir: str, meta: dict) -> Observed:
    """A real run's observations, from its traces and inject.jsonl."""
    nodes = meta["nodes"]
    by_identity = {x["identity"]: x["index"] for x in nodes}
    by_rpc = {f"{x.get('rpc_host', '127.0.0.1')}:{x['rpc_port']}": x["index"] for x in nodes}
    traces = [load_trace(os.path.join(out_dir, f"node{x['index']:03d}", "trace.jsonl"))
              for x in nodes]
    injected = load_jsonl(os.path.join(out_dir, "inject.jsonl"))
    txs = [r for r in injected if r.get("accepted")]
    origin_of: dict[str, int] = {}
    t0_of: dict[str, int] = {}
    for r in txs:
        t0_of[r["id"]] = int(r["t"])
        if r.get("node") in by_rpc:
            origin_of[r["id"]] = by_rpc[r["node"]]
    # The origin is the node that first saw the transaction "from rpc" (inject's "node" is only
    # a fallback: HOST:PORT can be ambiguous on a multi-host plan). Without an inject file every
    # such id counts, injected when first seen.
    for i, t in enumerate(traces):
        for tid, (ts, frm) in t["first_seen"].items():
            if frm == "rpc":
                if not txs and tid not in t0_of:
                    t0_of[tid] = ts
                if tid in t0_of:
                    origin_of[tid] = i

    def source(frm: str) -> int | None:
        return LOCAL if frm in ("rpc", "local") else by_identity.get(frm)

    def seen(tid: str) -> TxSeen:
        nodes, first_seen, src, accepted = [], [], [], []
        for i, t in enumerate(traces):
            fs, acc = t["first_seen"].get(tid), t["accepted"].get(tid)
            if fs is None and acc is None:
                continue
            nodes.append(i)
            first_seen.append(None if fs is None else fs[0])
            src.append(None if fs is None else source(fs[1]))
            accepted.append(acc)
        return TxSeen(tid, t0_of[tid], origin_of.get(tid), nodes, first_seen, src, accepted)

    blocks = []
    for t in traces:
        b = t["blocks"]
        blocks.append(dict(b, first_seen={bid: (ts, source(frm))
                                          for bid, (ts, frm) in b["first_seen"].items()}))
    rejections: Counter = Counter()
    for t in traces:
        rejections.update(t["rejected"])
    return Observed(txs=[seen(tid) for tid in t0_of], blocks=blocks,
                    block_rows=load_blocks(os.path.join(out_dir, "blocks.jsonl")),
                    rejections=rejections, dropped=sum(t["dropped"] for t in traces),
                    missing=[i for i, t in enumerate(traces) if t["missing"]])


def read_arrivals(path: str) -> Iterator[TxSeen]:
    """A simulation's arrivals.jsonl, one transaction at a time: 10,000 nodes × 1,000
    transactions are 10 million entries, never all in memory."""
    with open(path, encoding="utf-8") as f:
        for line in f:
            if not line.strip():
                continue
            r = json.loads(line)
            cols = tuple(zip(*r["nodes"])) or ((), (), (), ())
            yield TxSeen(r["id"], int(r["t"]), r.get("origin"), *cols)


def observe_simulation(out_dir: str, meta: dict) -> Observed:
    """A simulated run's observations, from arrivals.jsonl and block_arrivals.jsonl."""
    n = len(meta["nodes"])
    rows = load_blocks(os.path.join(out_dir, "blocks.jsonl"))
    blocks = [block_view() for _ in range(n)]
    made = {r["hash"]: r for r in rows or []}
    for b in load_jsonl(os.path.join(out_dir, "block_arrivals.jsonl")):
        row = made.get(b["id"], {})
        txs, size = int(row.get("txs") or 0), int(row.get("size") or 0)
        for node, fs, frm, conn in b["nodes"]:
            if fs is not None:  # (a node can connect a block it has no first-seen time of)
                blocks[node]["first_seen"][b["id"]] = (fs, frm)
            if conn is not None:
                blocks[node]["connected"][b["id"]] = (conn, int(b.get("height", 0)), txs, size)
    return Observed(txs=read_arrivals(os.path.join(out_dir, "arrivals.jsonl")), blocks=blocks,
                    block_rows=rows)


# --- the transaction figures ------------------------------------------------------------------

class TxFigures:
    """The transaction figures, gathered one transaction at a time. Per transaction it keeps
    only what a figure needs (its t-levels, its coverage curve as an array, its origin);
    per_hop, transfer and validate, one value per (node, transaction), are arrays of floats
    (section() leaves per_hop a sorted list, for the histogram)."""

    LEVELS = {"t50_ms": 50, "t90_ms": 90, "t100_ms": 100}

    def __init__(self, n: int, held_in_blocks: Callable[[str], dict[int, int] | None]):
        self.n = n
        self.held_in_blocks = held_in_blocks
        self.levels: dict[str, list[float]] = {k: [] for k in self.LEVELS}
        self.coverage: list[array] = []  # per tx: ms until k+1 nodes hold it (len n)
        self.per_hop, self.transfer, self.validate = array("d"), array("d"), array("d")
        self.starts: list[int] = []
        self.origins: list[int | None] = []
        self.held_total = self.held_via_block = 0
        self.done_abs: list[int] = []  # per fully delivered tx: when its last node held it
        self.origin_accept: list[float] = []
        self.t100_from_origin: list[float] = []

    def add(self, tx: TxSeen) -> None:
        n = self.n
        self.starts.append(tx.t0)
        self.origins.append(tx.origin)
        accepted = dict(zip(tx.nodes, tx.accepted))
        times = sorted([(h - tx.t0) / 1000.0 for h in self.held(tx, accepted)])
        self.held_total += len(times)
        for key, pct in self.LEVELS.items():
            need = max(1, math.ceil(pct * n / 100))
            if len(times) >= need:
                self.levels[key].append(times[need - 1])
        cov = array("d", times)
        cov.extend([math.inf] * (n - len(times)))
        self.coverage.append(cov)
        if len(times) == n:
            self.done_abs.append(tx.t0 + int(times[-1] * 1000))
        oa = accepted.get(tx.origin)
        if oa is not None:
            oa = (oa - tx.t0) / 1000.0
            self.origin_accept.append(oa)
            if len(times) == n:
                self.t100_from_origin.append(times[-1] - oa)
        self.add_hops(tx, accepted)

    def held(self, tx: TxSeen, accepted: dict[int, int | None]) -> list[int]:
        """When each node first held `tx` (µs): accepted, or connected a block confirming it."""
        in_blocks = self.held_in_blocks(tx.id) or {}
        earlier = [(node, c) for node, c in in_blocks.items()
                   if (acc := accepted.get(node)) is None or c < acc]
        if not earlier:
            return [a for a in tx.accepted if a is not None]
        self.held_via_block += sum(accepted.get(node) is None for node, _ in earlier)
        held = dict(accepted)
        held.update(earlier)
        return [h for h in held.values() if h is not None]

    def add_hops(self, tx: TxSeen, accepted: dict[int, int | None]) -> None:
        """per_hop, transfer and validate of every node that saw `tx`. One comprehension per
        figure over the columns (a simulation has 10,000 entries per transaction): a source
        that is LOCAL, None or never saw it looks up None and adds nothing."""
        first_seen = dict(zip(tx.nodes, tx.first_seen))
        self.per_hop.extend([(fs - sfs) / 1000.0 for fs, sfs in
                             zip(tx.first_seen, map(first_seen.get, tx.src)) if sfs is not None])
        self.transfer.extend([(fs - sacc) / 1000.0 for fs, sacc in
                              zip(tx.first_seen, map(accepted.get, tx.src)) if sacc is not None])
        self.validate.extend([(acc - fs) / 1000.0 for fs, acc in zip(tx.first_seen, tx.accepted)
                              if fs is not None and acc is not None])

    def section(self, delay: float, trips: int, ecc: dict[int, int],
                weighted: dict[str, float] | None = None) -> dict:
        """The report's transaction figures; `ecc`: the origins' eccentricities; `weighted`:
        a simulation's latency-weighted bound per origin (ms, keyed by the origin's index)."""
        m, n = len(self.starts), self.n
        bound = [weighted[str(o)] if weighted and str(o) in weighted else ecc[o] * delay
                 for o in self.origins if o is not None]
        out: dict = {
            "delivered_fraction": _r(self.held_total / (m * n), 6) if m and n else 0.0,
            "fully_delivered_txs": len(self.done_abs)}
        for key in self.LEVELS:
            out[key] = summary(self.levels[key])
        # Sorted once here, as a list: summary() and the per-hop histogram then sort it in
        # linear time.
        self.per_hop = sorted(self.per_hop)
        out["per_hop_ms"] = summary(self.per_hop)
        out["transfer_ms"] = summary(self.transfer)
        out["validate_ms"] = summary(self.validate)
        out["inject_to_origin_accept_ms"] = summary(self.origin_accept)
        out["t100_from_origin_ms"] = summary(self.t100_from_origin)
        out["shortest_path_bound_ms"] = summary(bound)
        out["round_trips_per_hop"] = trips / 2
        out["protocol_bound_ms"] = summary([b * trips for b in bound])
        pb = out["protocol_bound_ms"]["p50"]
        t100 = out["t100_ms"]["p50"]
        sb = out["shortest_path_bound_ms"]["p50"]
        out["t100_over_shortest_path_bound"] = _r(t100 / sb, 3) if sb and t100 is not None else None
        out["t100_over_protocol_bound"] = _r(t100 / pb, 3) if pb and t100 is not None else None
        t100o = out["t100_from_origin_ms"]["p50"]
        out["t100_from_origin_over_protocol_bound"] = (
            _r(t100o / pb, 3) if pb and t100o is not None else None)
        starts = sorted(self.starts)
        if self.done_abs and starts:
            span = (max(self.done_abs) - starts[0]) / 1e6
            out["throughput_tps"] = _r(len(self.done_abs) / span, 1) if span > 0 else None
        else:
            out["throughput_tps"] = 0.0
        if len(starts) > 1 and starts[-1] > starts[0]:
            out["injection_rate_tps"] = _r((len(starts) - 1) / ((starts[-1] - starts[0]) / 1e6),
                                           1)
        return out


# --- the graph ----------------------------------------------------------------------------------

# Above this many nodes the diameter is not computed (None): every node's eccentricity costs n²
# bits of memory (10,000 nodes: 12.5 MB, 20,000: 50 MB, twice over while a round runs).
DIAMETER_MAX_NODES = 20_000


def eccentricities(topo: Topology, sources: Iterable[int]) -> dict[int, int]:
    """Hops from each source to its farthest node (-1 when some node is unreachable), for all
    sources at once: bit k of reach[v] says that source k reaches v within r hops, and a round
    ORs each node's neighbours' bits into its own. One Python operation per link and round does
    the work of a breadth-first search from every source: every node of 10,000 of degree 8 in a
    third of a second, where 10,000 searches take minutes."""
    sources = sorted(set(sources))
    everyone = (1 << len(sources)) - 1
    reach = [0] * topo.nodes
    for k, s in enumerate(sources):
        reach[s] |= 1 << k
    adjacency = [tuple(a) for a in topo.adjacency]
    ecc: dict[int, int] = {}
    done = 0
    hops = 0
    while True:
        newly = reduce(operator.and_, reach, everyone) & ~done
        for k, s in enumerate(sources):
            if newly >> k & 1:
                ecc[s] = hops
        done |= newly
        if done == everyone:
            break
        grown = [reduce(operator.or_, [reach[u] for u in adjacency[v]], reach[v])
                 for v in range(topo.nodes)]
        if grown == reach:  # no source reaches further: the rest never reach every node
            break
        reach = grown
        hops += 1
    return {s: ecc.get(s, -1) for s in sources}


def graph_figures(topo: Topology, origins: list[int | None]) -> tuple[int | None, dict[int, int]]:
    """(diameter, the origins' eccentricities)."""
    n = topo.nodes
    wanted = {o for o in origins if o is not None}
    if n > DIAMETER_MAX_NODES:
        return None, eccentricities(topo, wanted)
    ecc = eccentricities(topo, range(n))
    return (max(ecc.values()) if n > 1 and min(ecc.values()) >= 0 else None), ecc


# --- the report ---------------------------------------------------------------------------------

class AnalysisError(ValueError):
    """A folder that cannot be analysed; the message says which and why."""


@contextmanager
def collector_paused() -> Iterator[None]:
    """Python's cycle collector paused: the millions of small lists that json makes of a large
    simulation's arrivals form no cycle (reference counting frees them), yet the collector would
    scan them over and over: a quarter of the analysis of 10,000 nodes × 1,000 transactions."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def analyze(out_dir: str) -> dict:
    meta = load_json(os.path.join(out_dir, "testnet.json"))
    if meta is None:
        raise AnalysisError(f"{out_dir}: no readable testnet.json (not a run folder)")
    counters = load_json(os.path.join(out_dir, "counters.json")) or {}
    simulated = is_simulation(out_dir, meta)
    if "sim" in meta and not simulated:
        raise AnalysisError(f"{out_dir}: a simulation's folder without arrivals.jsonl")
    with collector_paused():
        seen = observe_simulation(out_dir, meta) if simulated else observe_traces(out_dir, meta)
        report = build_report(seen, meta, counters)
    if simulated:
        make_deterministic(report, meta)
        report["_sim_run"] = load_json(os.path.join(out_dir, "sim_run.json"))
    if meta.get("compare_sim"):
        report["compare_sim"] = compare_section(report, out_dir, meta["compare_sim"])
    return report


def build_report(seen: Observed, meta: dict, counters: dict) -> dict:
    """The report of a run's observations (the module comment defines every figure)."""
    params = meta["params"]
    topo = Topology.from_json(meta["topology"])
    n = len(meta["nodes"])
    confirmed_by: dict[str, str] = {}  # txid -> the block that confirmed it
    for b in seen.block_rows or []:
        for x in b.get("tx") or []:
            confirmed_by.setdefault(x, b["hash"])
    connected_at: dict[str, dict[int, int]] = {}  # block -> {node: connected µs}

    def held_in_blocks(tid: str) -> dict[int, int] | None:
        bid = confirmed_by.get(tid)
        if bid is None:
            return None
        if bid not in connected_at:
            connected_at[bid] = {i: b["connected"][bid][0] for i, b in enumerate(seen.blocks)
                                 if bid in b["connected"]}
        return connected_at[bid]

    txs = TxFigures(n, held_in_blocks)
    for tx in seen.txs:
        txs.add(tx)
    m = len(txs.starts)
    delay = bound_link_delay(meta)
    push = int(params.get("push_peers") or 0)
    relay_mode = params.get("relay_mode") or ("push" if push > 0 else "pull")
    max_degree = max(topo.degrees()) if n > 1 else 0
    trips = 1 if relay_mode == "tree" or (push > 0 and push >= max_degree) else 3
    diameter, ecc = graph_figures(topo, txs.origins)

    report: dict = {
        "report_version": REPORT_VERSION,
        "nodes": n,
        "topology": topo.kind or params.get("topology"),
        "degree": params.get("degree"),
        "diameter": diameter,
        "links": len(topo.edges),
        "txs": m,
        "size": params.get("size"),
        "rate": params.get("rate"),
        "warmup": params.get("warmup"),
        "link_delay_ms": params.get("link_delay_ms"),
        "jitter_ms": params.get("jitter_ms"),
        "bound_link_delay_ms": delay,
    }
    if "sim" in meta:
        report["latency"] = params.get("latency")
        report["bandwidth"] = params.get("bandwidth")
    report.update({k: params.get(k) for k in (
        "relay_mode", "push_peers", "graft_timeout_ms", "lazy_interval_ms", "reconcile",
        "reconcile_interval_ms", "flood_peers", "inv_interval_ms", "origin", "seed")})
    report["relay_mode"] = relay_mode
    tx_section = txs.section(delay, trips, ecc, meta.get("sim", {}).get("bound_ms_by_origin"))
    report["delivered_fraction"] = tx_section.pop("delivered_fraction")
    report["fully_delivered_txs"] = tx_section.pop("fully_delivered_txs")
    if seen.block_rows is not None:
        # (node, transaction) pairs held only through a block: the node never had it in its
        # mempool (it met the transaction first in the block, or after the block confirmed it).
        report["held_only_via_block"] = txs.held_via_block
    report.update(tx_section)
    report.update(counters_section(counters, n, m, int(params.get("size") or 0)))
    inj = meta.get("inject", {})
    report["inject"] = {k: inj.get("summary", {}).get(k)
                        for k in ("count", "accepted", "rejected", "failed", "rate")}
    report["rejections"] = dict(seen.rejections)
    report["trace_events_dropped"] = seen.dropped
    report["traces_missing"] = seen.missing
    report["node_exit_codes"] = meta.get("exit_codes")
    report["completed"] = meta.get("completed")
    report["timed_out"] = meta.get("timed_out", False)
    report["machine"] = meta.get("machine")
    report["load_average"] = {"before": meta.get("load_before"), "after": meta.get("load_after")}
    report["date"] = meta.get("date")
    blocks = blocks_section(seen.blocks, seen.block_rows, params, len(topo.edges), counters)
    if blocks is not None:
        report["blocks"] = blocks
    report["_series"] = {  # for the plots; not written to report.json
        "t100": txs.levels["t100_ms"], "per_hop": txs.per_hop, "coverage": txs.coverage}
    return report


def bound_link_delay(meta: dict) -> float:
    """The one-way delay per hop of the bounds: the link delay, or a simulation's mean latency
    when it has none (latency not constant)."""
    delay = meta["params"].get("link_delay_ms")
    if delay is None and "sim" in meta:
        delay = meta["sim"].get("mean_latency_ms")
    return float(delay or 0)


def make_deterministic(report: dict, meta: dict) -> None:
    """A simulation's report: its facts ("sim"), and nothing that differs between two runs of
    one seed (date, machine, load: those of sim_run.json go to report.md only)."""
    report["sim"] = meta["sim"]
    report["machine"] = None
    report["date"] = None
    report["load_average"] = {"before": None, "after": None}


# Figures put side by side by --compare-sim: "KEY" or "KEY.SUBKEY" of report.json.
COMPARED = ("t50_ms.p50", "t90_ms.p50", "t100_ms.p50", "t100_ms.p90", "per_hop_ms.p50",
            "bytes_per_tx_per_node", "bytes_on_wire_per_tx_per_node", "tx_bodies_per_node",
            "inv_entries_sent_per_tx_per_node", "getdata_entries_per_tx_per_node")
# The simulation's folder inside a real run's (--compare-sim).
SIM_DIR = "sim"


def figure(report: dict, name: str):
    value = report
    for key in name.split("."):
        value = value.get(key) if isinstance(value, dict) else None
    return value


def compare_section(real: dict, out_dir: str, sim: dict) -> dict:
    """report["compare_sim"]: the COMPARED figures of the real run and of its simulation (its
    report.json under SIM_DIR; None where it wrote none). `sim`: testnet.json's "compare_sim",
    the simulator's exit code and error."""
    sim_dir = os.path.join(out_dir, SIM_DIR)
    simulated = load_json(os.path.join(sim_dir, "report.json")) or {}
    sim_run = load_json(os.path.join(sim_dir, "sim_run.json")) or {}
    metrics = {}
    for name in COMPARED:
        x, y = figure(real, name), figure(simulated, name)
        metrics[name] = {"real": x, "sim": y,
                         "sim_over_real": _r(y / x, 3) if x and y is not None else None}
    return {"metrics": metrics, "sim_dir": SIM_DIR, "sim_wall_s": _r(sim_run.get("wall_s")),
            "exit_code": sim.get("exit_code"), "error": sim.get("error")}


def blocks_section(views: list[dict], rows: list[dict] | None, params: dict, links: int,
                   counters: dict) -> dict | None:
    """The block report (see the module comment) from each node's block_view(); None when the
    run made no block."""
    n = len(views)
    producer_of: dict[str, int] = {}
    for i, v in enumerate(views):
        for bid, (_, src) in v["first_seen"].items():
            if src == LOCAL:
                producer_of.setdefault(bid, i)
    if rows:
        order = [(r["hash"], r) for r in rows]
    else:
        def height(bid: str) -> int:
            c = views[producer_of[bid]]["connected"].get(bid)
            return c[1] if c else 0
        order = [(bid, {}) for bid in sorted(producer_of, key=height)]
    if not order:
        return None
    default_producer = int(params.get("producer") or 0)
    per_block = []
    hops_all: list[float] = []
    to_all: list[float] = []
    connected_pairs = 0
    rec = {"blocks": 0, "txs": 0, "prefilled": 0, "from_mempool": 0, "missing": 0}
    sizes = []
    for bid, row in order:
        p = producer_of.get(bid, default_producer)
        if not 0 <= p < n:
            p = 0
        conns = [v["connected"].get(bid) for v in views]
        got = [c for c in conns if c is not None]
        connected_pairs += len(got)
        pc = conns[p]
        any_c = pc or (got[0] if got else None)
        size = any_c[3] if any_c else row.get("size")
        if size:
            sizes.append(size)
        hops = []
        for i, v in enumerate(views):
            fs = v["first_seen"].get(bid)
            if fs is None or conns[i] is None:
                continue
            src = fs[1]
            if src is not None and src >= 0 and conns[src] is not None:
                hops.append((conns[i][0] - conns[src][0]) / 1000.0)
        hops_all += hops
        tta = None
        if pc is not None and len(got) == n:
            tta = max(c[0] for c in got) / 1000.0 - pc[0] / 1000.0
            to_all.append(tta)
        b_rec = {"blocks": 0, "txs": 0, "prefilled": 0, "from_mempool": 0, "missing": 0}
        for v in views:
            e = v["reconstructed"].get(bid)
            if e is None:
                continue
            b_rec["blocks"] += 1
            for k in ("txs", "prefilled", "from_mempool", "missing"):
                b_rec[k] += int(e.get(k, 0))
        for k in rec:
            rec[k] += b_rec[k]
        h = summary(hops, qs=(50, 90))
        per_block.append({
            "id": bid, "height": any_c[1] if any_c else row.get("height"),
            "txs": any_c[2] if any_c else row.get("txs"), "size": size, "producer": p,
            "nodes_connected": len(got), "nodes_missing": n - len(got),
            "time_to_all_ms": _r(tta),
            "per_hop_ms": {k: h[k] for k in ("p50", "p90", "max", "count")},
            "reconstructed": b_rec["blocks"], "missing_txs": b_rec["missing"]})
    count = len(order)
    out: dict = {"count": count, "nodes": n, "links": links}
    out["delivered_fraction"] = _r(connected_pairs / (count * n), 6) if n else 0.0
    out["fully_delivered_blocks"] = len(to_all)
    out["nodes_missing"] = sum(b["nodes_missing"] for b in per_block)
    tt = summary(to_all, qs=(50, 90))
    out["time_to_all_ms"] = tt
    out["per_hop_ms"] = summary(hops_all, qs=(50, 90))
    out["mean_size"] = _r(sum(sizes) / len(sizes), 1) if sizes else None
    out["mean_txs"] = _r(sum(b["txs"] or 0 for b in per_block) / count, 2)
    base = {x["index"]: x for x in counters.get("baseline", {}).get("nodes", [])}
    final = {x["index"]: x for x in counters.get("final", {}).get("nodes", [])}
    if final and links:
        by_type = bytes_by_message(base, final)
        total = sum(by_type.get(t, 0) for t in BLOCK_MESSAGES)
        per_link = total / (count * links)
        out["bytes_per_block_per_link"] = _r(per_link, 1)
        out["bytes_per_block_per_link_over_size"] = (
            _r(per_link / out["mean_size"], 4) if out["mean_size"] else None)
        out["bytes_per_block_per_link_by_message"] = {
            t: _r(by_type.get(t, 0) / (count * links), 1) for t in BLOCK_MESSAGES
            if by_type.get(t, 0) > 0}
    else:
        out["bytes_per_block_per_link"] = None
        out["bytes_per_block_per_link_over_size"] = None
        out["bytes_per_block_per_link_by_message"] = {}
    asked = rec["txs"] - rec["prefilled"]
    out["reconstruction"] = dict(rec, miss_rate=(_r(rec["missing"] / asked, 6)
                                                 if asked > 0 else None))
    rejected = Counter(reason for v in views for _, reason in v["rejected"])
    out["rejected"] = sum(rejected.values())
    out["rejected_reasons"] = dict(rejected)
    out["disconnected"] = sum(v["disconnected"] for v in views)
    out["per_block"] = per_block
    return out


def coverage_curve(coverage: list[Sequence[float]],
                   n: int) -> list[tuple[float, float | None, float | None]]:
    """(percent of nodes, median ms, p95 ms) until that share of nodes holds a transaction."""
    rows = []
    columns = zip(*coverage) if coverage else ([] for _ in range(n))
    for k, column in enumerate(columns):
        col = sorted(column)
        med = percentile(col, 50)
        p95 = percentile(col, 95)
        rows.append((100.0 * (k + 1) / n,
                     med if med is not None and math.isfinite(med) else None,
                     p95 if p95 is not None and math.isfinite(p95) else None))
    return rows
