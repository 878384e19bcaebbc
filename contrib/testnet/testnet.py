#!/usr/bin/env python3
"""hearsay testnet: real hearsayd processes on 127.0.0.1, a load, and a propagation report.

  testnet.py run --nodes N --degree D --topology random-regular|ring|full|file:PATH --seed S
                 --txs M --rate R --size B --link-delay-ms X [--jitter-ms J]
                 [--relay-mode pull|push|tree] [--push-peers K] [--graft-timeout-ms MS]
                 [--lazy-interval-ms MS] [--reconcile 0|1] [--reconcile-interval-ms MS]
                 [--flood-peers K] [--inv-interval-ms I] [--origin random|INDEX] [--bin DIR]
                 [--blocks N [--block-interval S] [--producer I]] [--compare-sim] --out DIR
  testnet.py analyze DIR          recompute DIR/report.json, report.md and figures from the traces
                                  (or from a hearsay-sim run's arrivals)
  testnet.py devnet               5 nodes in a ring, 1,000 transactions, 2 blocks, a short report
                                  in plain words; its temporary folder is removed unless the run
                                  failed (KEEP=1 in the environment: leave the nodes running and
                                  print how to talk to them, stop them and remove the folder)
  testnet.py throughput [--bin DIR] --out DIR     one node's accept rate vs raw Ed25519 verification
  testnet.py chaos ... [--kills N] [--partition AT:DURATION] [--flaps N] [--forgers K] --out DIR
                                  a run under faults, and an oracle of hearsay's promises
  testnet.py plan --hosts FILE --nodes N ... --out DIR   files for a testnet over several hosts

`run`: prepares N data directories under DIR (identities with hearsay-cli keygen, an allow-list
of them all), starts N hearsayd (every one with the same relay options: --relay-mode,
--push-peers, --graft-timeout-ms, --lazy-interval-ms, --reconcile, --reconcile-interval-ms,
--flood-peers, --inv-interval-ms; each node's getnetworkinfo must confirm the relay mode and
whether it reconciles), wires the topology with --connect (pinned identities;
--max-outbound 0 so that nodes add no links of their own), waits for every handshake, injects
with hearsay-cli inject (origins: every node round robin in a seeded order, or one node), waits
until every node holds every transaction (or --timeout), records the nodes' counters, stops the
nodes and writes DIR/report.json, DIR/report.md and PNG figures. Standard library only.

Blocks (--blocks N > 0): `run` first writes a fresh network with one producer (hearsay-cli
network new --producers 1 --out DIR/network), starts every node with --network
DIR/network/network.json and node --producer with --producer-key DIR/network/producer-0.key,
signs the transactions for that network's magic, and asks the producer for a block (RPC
generateblock) every --block-interval seconds from the moment the first transaction reaches a
node, N times, while and after the transactions flow. Each block (hash, height, txs, size,
txids from getblock) goes to DIR/blocks.jsonl. Once every transaction is delivered (a
transaction confirmed by a block a node connected counts as held there) and the N blocks are
made, it waits until every node's getchaininfo shows the last block as its best (or
--timeout), then stops as without blocks.

Simulation (--compare-sim): once the report is written, hearsay-sim (in the --bin folder; the
run refuses to start without it) simulates the same run: the same nodes, links and dial
directions, transactions injected at the same offsets into the same origins, link delay, relay
options and blocks (simrun.py says what it passes). Its report goes to DIR/sim, and the run's
report gets a "Simulation vs reality" table (report.json's compare_sim). A failed simulation is
reported and makes the exit code 1; the real report stays.
Exit code: 0 when every node held every transaction (and connected every block) and, with
--compare-sim, the simulation succeeded; 1 on an error or a timeout; 130 interrupted.
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import random
import shlex
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import simrun  # noqa: E402
from analyze import AnalysisError, analyze  # noqa: E402
from common import (RECON_OPTIONS, TREE_TIMERS, HelpFormatter,  # noqa: E402
                    add_relay_options, last_line, loadavg, log, machine, relay_args,
                    relay_settings)
from cluster import (Cluster, ClusterError, Interrupted, TraceTail,  # noqa: E402
                     check_binaries, default_bin_dir, install_cleanup, spawn, write_json)
from rpc import RpcError  # noqa: E402
from render import FEW_BLOCKS, write_report  # noqa: E402
from topology import TopologyError, build  # noqa: E402

# The --help texts of run and devnet: the paragraphs of this module's comment about them.
RUN_DESCRIPTION = "\n\n".join(p for p in __doc__.split("\n\n")
                              if p.startswith(("`run`", "Blocks", "Simulation", "Exit code")))
DEVNET_DESCRIPTION = """\
A local network to look at: `run` with 5 nodes in a ring, 1,000 transactions and 2 blocks
(the options below, with devnet's defaults), then a short summary in plain words.

Without --out the run's folder is a new temporary folder: it is removed at the end when the run
succeeded, and kept (its path printed) when it failed or with KEEP=1. With KEEP=1 in the
environment the nodes keep running: it prints the network (name and magic), hearsay-cli
commands that work as printed, a script that stops the nodes, and how to remove the folder."""

# Transactions one sender may hold (mempool/policy.h kDefaultMaxPerSender is 64): keep well
# under it, so no transaction is refused for its sender's count.
TXS_PER_SENDER = 32
# Warm-up transactions come from the senders of seed + this (the run's come from the seed's).
WARMUP_SEED_OFFSET = 1_000_003
# Requests hearsay-cli inject keeps in flight by default: enough that a node slow to answer
# (a busy 100-node testnet on two cores) does not hold the injection below its rate.
INJECT_CONNECTIONS = 16
# Poll interval of the wait loops, seconds.
POLL_S = 0.2

def node_args(a) -> list[str]:
    args = ["--max-outbound", "0", "--link-delay-ms", str(a.link_delay_ms),
            "--link-jitter-ms", str(a.jitter_ms), "--inv-interval-ms", str(a.inv_interval_ms),
            *relay_args(a), "--log-level", a.log_level]
    if a.verify_threads is not None:
        args += ["--verify-threads", str(a.verify_threads)]
    for extra in a.node_arg or []:
        args += extra.split()
    return args


def check_relay_mode(cluster: Cluster, params: dict) -> None:
    """Every node's getnetworkinfo must report the relay mode asked for, and reconcile as asked
    (a hearsayd too old to report them passes); the tree timers and the reconciliation settings
    in effect go to params (hearsayd's defaults when not given)."""
    for n in cluster.nodes:
        info = n.rpc.call("getnetworkinfo")
        mode = info.get("relay_mode")
        if mode is not None and mode != params["relay_mode"]:
            raise ClusterError(f"{n.name} relays in {mode} mode, not {params['relay_mode']}: "
                               "check --node-arg")
        reconcile = info.get("reconcile")
        if reconcile is not None and params.get("reconcile") is not None \
                and reconcile != bool(params["reconcile"]):
            raise ClusterError(f"{n.name} reconciles: {reconcile}, not as --reconcile "
                               f"{params['reconcile']} asks: check --node-arg")
        keys = [k for k, _ in TREE_TIMERS] if params["relay_mode"] == "tree" else []
        keys += [k for k, _ in RECON_OPTIONS] if reconcile else ["reconcile"]
        for key in keys:
            if params.get(key) is None and info.get(key) is not None:
                params[key] = info[key]
    if params.get("reconcile") is not None:
        params["reconcile"] = int(params["reconcile"])  # getnetworkinfo's true/false as 1/0


def origins(a, n: int) -> list[int]:
    if a.origin == "random":
        order = list(range(n))
        random.Random(a.seed).shuffle(order)
        return order
    try:
        o = int(a.origin)
    except ValueError:
        raise ClusterError(f"--origin {a.origin!r}: use 'random' or a node index") from None
    if not 0 <= o < n:
        raise ClusterError(f"--origin {o}: node indexes are 0..{n - 1}")
    return [o]


def inject(cluster: Cluster, a, out: str, origin_list: list[int],
           magic: str | None = None) -> subprocess.Popen:
    cli = cluster.bins["hearsay-cli"]
    senders = a.senders or max(16, math.ceil(a.txs / TXS_PER_SENDER))
    argv = [cli, "inject", "--count", str(a.txs), "--rate", str(a.rate), "--size", str(a.size),
            "--senders", str(senders), "--seed", str(a.seed),
            "--connections", str(a.inject_connections), "--out", os.path.join(out, "inject.jsonl")]
    if magic is not None:
        argv += ["--network", magic]
    for i in origin_list:
        n = cluster.nodes[i]
        argv += ["--rpc", f"127.0.0.1:{n.rpc_port}", "--datadir", n.datadir]
    with open(os.path.join(out, "inject.cmdline.txt"), "w", encoding="utf-8") as f:
        f.write(" ".join(argv) + "\n")
    so = open(os.path.join(out, "inject-summary.json"), "wb")
    se = open(os.path.join(out, "inject.log"), "wb")
    p = spawn(argv, so, se)
    so.close()
    se.close()
    return p


# --- blocks -------------------------------------------------------------------------------

def make_network(bins: dict, out: str, block_interval: float) -> dict:
    """A fresh network with one producer under out/network (hearsay-cli network new)."""
    netdir = os.path.join(out, "network")
    # The file's target interval is whole seconds (1..86,400); the producer makes blocks only
    # when asked (run_testnet starts it with --block-interval 0), so it is informative only.
    argv = [bins["hearsay-cli"], "network", "new", "--producers", "1", "--out", netdir,
            "--block-interval", str(min(86_400, max(1, math.ceil(block_interval))))]
    try:
        p = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise ClusterError(f"hearsay-cli network new failed: {e}") from None
    path = os.path.join(netdir, "network.json")
    key = os.path.join(netdir, "producer-0.key")
    if p.returncode != 0 or not os.path.exists(path) or not os.path.exists(key):
        raise ClusterError(f"hearsay-cli network new --out {netdir} failed (code {p.returncode}): "
                           f"{(p.stderr or p.stdout).strip()}")
    try:
        with open(path, encoding="utf-8") as f:
            net = json.load(f)
        magic = net["magic"]
    except (OSError, ValueError, KeyError) as e:
        raise ClusterError(f"{path}: not a network file with a magic: {e}") from None
    return {"file": path, "producer_key": key, "name": net.get("name"),
            "magic": magic if isinstance(magic, str) else str(int(magic)),
            "genesis_id": net.get("genesis_id")}


class BlockProducer:
    """Asks one node for a block (RPC generateblock) every `interval` seconds from `start`
    (time.monotonic(); set by the caller when the first transaction reaches a node, so that a
    slow start of the injector does not leave the first blocks empty), `count` times; appends
    each block to out/blocks.jsonl:
    {"hash","height","txs","size","t": µs of the request,"rpc_ms","tx":[txid...]} ("tx" from
    getblock HASH 1; null when that failed)."""

    def __init__(self, cluster: Cluster, producer: int, count: int, interval: float, out: str):
        self.node = cluster.nodes[producer]
        self.count, self.interval = count, interval
        self.start: float | None = None
        self.path = os.path.join(out, "blocks.jsonl")
        self.blocks: list[dict] = []

    @property
    def done(self) -> bool:
        return len(self.blocks) >= self.count

    def next_due(self) -> float | None:
        if self.done or self.start is None:
            return None
        return self.start + (len(self.blocks) + 1) * self.interval

    def poll(self) -> None:
        """Makes at most one block (the next, once due): a late loop catches up one per poll."""
        due = self.next_due()
        if due is None or time.monotonic() < due:
            return
        t = time.time()
        try:
            b = self.node.rpc.call("generateblock")
        except RpcError as e:
            raise ClusterError(f"generateblock on {self.node.name} (the producer): {e}") from None
        rpc_ms = (time.time() - t) * 1000
        try:
            row = {"hash": str(b["hash"]), "height": int(b["height"]), "txs": int(b["txs"]),
                   "size": int(b["size"])}
        except (TypeError, KeyError, ValueError):
            raise ClusterError(f"generateblock on {self.node.name}: unexpected answer {b!r}") \
                from None
        row["t"] = int(t * 1e6)
        row["rpc_ms"] = round(rpc_ms, 3)
        try:
            row["tx"] = [str(x) for x in self.node.rpc.call("getblock", [row["hash"], 1])["tx"]]
        except (RpcError, TypeError, KeyError) as e:
            log(f"getblock {row['hash']} on {self.node.name}: {e} (its transactions will not "
                "count as delivered where the block confirmed them)")
            row["tx"] = None
        self.blocks.append(row)
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(json.dumps(row) + "\n")
        log(f"block {len(self.blocks)}/{self.count}: height {row['height']}, {row['txs']} txs, "
            f"{row['size']} B ({rpc_ms:.0f} ms)")

    def sleep_hint(self, default: float) -> float:
        due = self.next_due()
        return default if due is None else max(0.0, min(default, due - time.monotonic()))


def wait_blocks(cluster: Cluster, producer: BlockProducer, timeout: float) -> bool:
    """Makes the rest of the blocks, then waits until every node's best block is the last one
    (getchaininfo). Returns timed_out."""
    n = len(cluster.nodes)
    deadline = None
    last_print = 0.0
    if producer.start is None:
        producer.start = time.monotonic()
    while True:
        cluster.check_alive()
        producer.poll()
        now = time.monotonic()
        if producer.done:
            if deadline is None:
                deadline = now + timeout
            last = producer.blocks[-1]["hash"] if producer.blocks else None
            at = 0
            for x in cluster.nodes:
                try:
                    at += x.rpc.call("getchaininfo").get("bestblockhash") == last
                except RpcError as e:
                    raise ClusterError(f"getchaininfo on {x.name}: {e}") from None
            if at == n or now - last_print >= 1.0:
                log(f"blocks: {len(producer.blocks)}/{producer.count} made, {at}/{n} nodes at "
                    "the last one")
                last_print = now
            if at == n:
                return False
            if now > deadline:
                log(f"timeout: {n - at} nodes are not at the last block {timeout:.0f} s after it "
                    "was made")
                return True
        elif now - last_print >= 1.0:
            log(f"blocks: {len(producer.blocks)}/{producer.count} made")
            last_print = now
        time.sleep(producer.sleep_hint(POLL_S))


def wait_delivery(cluster: Cluster, proc: subprocess.Popen, out: str, timeout: float,
                  n_txs: int, producer: BlockProducer | None = None,
                  held_before: int = 0) -> tuple[dict, bool]:
    """Until inject ends and every node holds what it accepted; returns (summary, timed_out).

    `held_before`: transactions every node already accepted (a warm-up), not counted.

    Progress comes from the nodes' trace files (tx_accepted lines; a node flushes its trace
    every 100 ms), not from RPC, so that watching costs the nodes nothing. With a producer, it
    makes the blocks that fall due meanwhile, and a transaction confirmed by a block a node has
    connected (block_connected) counts as held there, in its mempool or not.
    """
    n = len(cluster.nodes)
    tails = [TraceTail(os.path.join(x.datadir, "trace.jsonl")) for x in cluster.nodes]
    confirmed: list[set[str]] = [set() for _ in tails]  # per node: txids of connected blocks
    applied: list[set[str]] = [set() for _ in tails]  # per node: blocks counted in confirmed
    target = None
    summary: dict = {}
    deadline = None
    last_print = 0.0
    while True:
        cluster.check_alive()
        if producer is not None:
            producer.poll()
        for t in tails:
            t.poll()
        if producer is not None:
            if producer.start is None and any(t.accepted for t in tails):
                producer.start = time.monotonic()  # the transactions flow: blocks from now
            txids = {b["hash"]: b["tx"] for b in producer.blocks if b.get("tx")}
            for i, t in enumerate(tails):
                for bid in t.connected.keys() - applied[i]:
                    if bid in txids:
                        confirmed[i].update(txids[bid])
                        applied[i].add(bid)
            sizes = [len(t.accepted) + sum(1 for x in confirmed[i] if x not in t.accepted)
                     for i, t in enumerate(tails)]
        else:
            sizes = [len(t.accepted) for t in tails]
        sizes = [max(0, s - held_before) for s in sizes]
        now = time.monotonic()
        if target is None and proc.poll() is not None:
            try:
                with open(os.path.join(out, "inject-summary.json"), encoding="utf-8") as f:
                    summary = json.load(f)
            except (OSError, ValueError):
                raise ClusterError(
                    f"hearsay-cli inject exited with code {proc.returncode} and no summary: "
                    f"{last_line(os.path.join(out, 'inject.log'))}") from None
            target = int(summary.get("accepted", 0))
            log(f"inject done: {target} accepted, {summary.get('rejected')} rejected, "
                f"{summary.get('failed')} failed, {summary.get('rate', 0):.0f} tx/s")
            if target == 0:
                raise ClusterError("no transaction was accepted (see " +
                                   os.path.join(out, "inject.log") + ")")
            deadline = now + timeout
        want = target if target is not None else n_txs
        held = sum(min(s, want) for s in sizes)
        complete = sum(1 for s in sizes if s >= want)
        if now - last_print >= 1.0 or (target is not None and complete == n):
            head = "" if target is not None else f"{last_line(os.path.join(out, 'inject.log'))} | "
            log(f"{head}coverage {held}/{n * want} ({100.0 * held / max(1, n * want):.1f}%), "
                f"{complete}/{n} nodes hold all")
            last_print = now
        if target is not None and complete == n:
            return summary, False
        if deadline is not None and now > deadline:
            log(f"timeout: {n - complete} nodes still miss transactions {timeout:.0f} s after "
                "the injection ended")
            return summary, True
        time.sleep(producer.sleep_hint(POLL_S) if producer is not None else POLL_S)


def warm_up(cluster: Cluster, a, out: str, origin_list: list[int],
            magic: str | None) -> dict | None:
    """--warmup N: N transactions from other senders before the measured ones, delivered
    everywhere and left out of every figure (the counters' baseline is taken after them). A
    relay that learns per origin (tree mode) starts the measured run with its trees built, as
    gossipsub's harness starts with its meshes formed."""
    if not a.warmup:
        return None
    wdir = os.path.join(out, "warmup")
    os.makedirs(wdir, exist_ok=True)
    w = argparse.Namespace(**vars(a))
    w.txs = a.warmup
    w.seed = a.seed + WARMUP_SEED_OFFSET  # other senders: no nonce conflicts with the run's
    w.senders = None
    log(f"warm-up: {a.warmup} transactions (not measured)")
    proc = inject(cluster, w, wdir, origin_list, magic)
    summary, timed_out = wait_delivery(cluster, proc, wdir, a.timeout, a.warmup)
    if timed_out:
        raise ClusterError("the warm-up transactions did not reach every node (see " + wdir + ")")
    return {"txs": a.warmup, "accepted": int(summary.get("accepted", 0))}


def run_testnet(a, keep: bool = False) -> tuple[dict | None, int]:
    """The `run` command (and devnet). Returns (report, exit code)."""
    out = os.path.abspath(a.out)
    if os.path.exists(os.path.join(out, "testnet.json")):
        raise ClusterError(f"{out} already holds a run: choose another --out or remove it")
    relay_settings(a)  # refuses contradictory relay options before anything is made
    bin_dir = a.bin or default_bin_dir()
    compare_sim = getattr(a, "compare_sim", False)
    if compare_sim:
        simrun.find_simulator(bin_dir)  # before the run, not after it
    os.makedirs(out, exist_ok=True)
    topo = build(a.topology, a.nodes, a.degree, a.seed)
    n = topo.nodes
    degrees = topo.degrees()
    log(f"topology {topo.kind}: {n} nodes, {len(topo.edges)} links, degree "
        f"{min(degrees) if degrees else 0}..{max(degrees) if degrees else 0}, "
        f"diameter {topo.diameter() if n > 1 else 0}")
    blocks = a.blocks or 0
    if blocks < 0:
        raise ClusterError(f"--blocks {blocks}: use 0 (no blocks) or more")
    if blocks and not (a.block_interval > 0 and math.isfinite(a.block_interval)):
        raise ClusterError(f"--block-interval {a.block_interval}: use a positive number of "
                           "seconds (fractions allowed)")
    if blocks and not 0 <= a.producer < n:
        raise ClusterError(f"--producer {a.producer}: node indexes are 0..{n - 1}")
    network = None
    args = node_args(a)
    per_node: dict[int, list[str]] = {}
    if blocks:
        network = make_network(check_binaries(bin_dir), out, a.block_interval)
        log(f"network {network['name']} (magic {network['magic']}): {network['file']}, "
            f"producer node {a.producer}")
        args += ["--network", network["file"]]
        per_node[a.producer] = ["--producer-key", network["producer_key"]]
        if not any("--block-interval" in x for x in a.node_arg or []):
            per_node[a.producer] += ["--block-interval", "0"]  # blocks only when asked
    cluster = Cluster(bin_dir, out, n, topo.edges, args, log=log, die_with_us=not keep,
                      base_port=a.base_port, per_node_args=per_node)
    params = {k: getattr(a, k) for k in (
        "nodes", "degree", "topology", "seed", "txs", "warmup", "rate", "size", "link_delay_ms",
        "jitter_ms", "inv_interval_ms", "graft_timeout_ms", "lazy_interval_ms", "reconcile",
        "reconcile_interval_ms", "flood_peers", "origin", "verify_threads")}
    if a.warmup < 0:
        raise ClusterError(f"--warmup {a.warmup}: use 0 (none) or more transactions")
    params["relay_mode"], params["push_peers"] = relay_settings(a)
    params["nodes"] = n
    params["bin"] = os.path.abspath(bin_dir)
    params["blocks"] = blocks
    if blocks:
        params["block_interval"] = a.block_interval
        params["producer"] = a.producer
    meta = {"params": params, "topology": topo.to_json(), "machine": machine(),
            "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "completed": False, "load_before": loadavg()}
    if network:
        meta["network"] = network
    stopped = False
    try:
        cluster.prepare()
        meta.update(cluster.describe())
        write_json(os.path.join(out, "testnet.json"), meta)
        cluster.start()
        log(f"started {n} hearsayd (data under {out})")
        cluster.wait_ready()
        log(f"all {n} nodes answer RPC")
        check_relay_mode(cluster, params)
        meta.update(cluster.describe())
        write_json(os.path.join(out, "testnet.json"), meta)  # with the pids
        cluster.wait_handshakes(a.handshake_timeout,
                                lambda up, want: log(f"links up: {up}/{want}"))
        origin_list = origins(a, n)
        warm = warm_up(cluster, a, out, origin_list, network["magic"] if network else None)
        if warm is not None:
            meta["warmup"] = warm
        baseline = cluster.snapshot()
        rate = f"{a.rate:g} tx/s" if a.rate else "full speed"
        log(f"injecting {a.txs} transactions of {a.size} B at {rate} into "
            f"{'node ' + str(origin_list[0]) if len(origin_list) == 1 else 'every node'}")
        if blocks:
            log(f"{blocks} blocks from node {a.producer}, one every {a.block_interval:g} s")
        t_inject = time.time()
        producer = (BlockProducer(cluster, a.producer, blocks, a.block_interval, out)
                    if blocks else None)
        proc = inject(cluster, a, out, origin_list, network["magic"] if network else None)
        summary, timed_out = wait_delivery(cluster, proc, out, a.timeout, a.txs, producer,
                                           int(warm["accepted"]) if warm else 0)
        meta["inject"] = {"start": t_inject, "end": time.time(), "summary": summary}
        counters = {"baseline": baseline}
        if producer is not None:
            # The transaction figures (mempool, CPU, bytes) at full delivery; "final" adds the
            # rest of the blocks.
            counters["delivered"] = cluster.snapshot()
            blocks_timed_out = wait_blocks(cluster, producer, a.timeout)
            meta["blocks"] = {"made": len(producer.blocks), "timed_out": blocks_timed_out,
                              "last": producer.blocks[-1]["hash"] if producer.blocks else None}
            timed_out = timed_out or blocks_timed_out
        meta["load_after"] = loadavg()
        counters["final"] = cluster.snapshot()
        write_json(os.path.join(out, "counters.json"), counters)
        meta["timed_out"] = timed_out
        if keep:
            time.sleep(0.5)  # trace files flush every 100 ms
            cluster.detach()
        else:
            log("stopping the nodes")
            cluster.stop()
            stopped = True
            meta["exit_codes"] = {n.name: n.exit_code for n in cluster.nodes}
        meta["completed"] = not timed_out
        write_json(os.path.join(out, "testnet.json"), meta)
    except BaseException:
        if not stopped and not keep:
            log(f"stopping {n} nodes")
            cluster.stop()
            meta["exit_codes"] = {n.name: n.exit_code for n in cluster.nodes}
        write_json(os.path.join(out, "testnet.json"), meta)
        raise
    report = write_report(out, analyze(out))
    code = 0 if meta["completed"] and report["delivered_fraction"] == 1.0 else 1
    if blocks and (report.get("blocks") or {}).get("delivered_fraction") != 1.0:
        code = 1
    if (report.get("blocks") or {}).get("rejected"):
        log(f"warning: blocks were rejected: {report['blocks'].get('rejected_reasons')}")
    bad = {k: v for k, v in (meta.get("exit_codes") or {}).items() if v != 0}
    if bad:
        log(f"warning: nodes exited uncleanly: {bad}")
        code = 1
    if compare_sim:
        report, simulated = compare_with_simulation(bin_dir, out, meta)
        code = code if simulated else 1
    report["_network"] = network
    if keep:
        report["_cluster"] = cluster
    return report, code


def compare_with_simulation(bin_dir: str, out: str, meta: dict) -> tuple[dict, bool]:
    """--compare-sim: simulates the finished run (simrun.py), records the outcome in
    testnet.json and rewrites the report with the comparison. Returns (report, succeeded)."""
    log(f"simulating the same run with {simrun.SIMULATOR} (--compare-sim) into "
        f"{os.path.join(out, simrun.SIM_DIR)}")
    try:
        result = simrun.simulate(bin_dir, out, meta)
    except ClusterError as e:  # the inputs could not be made: the real report stands
        result = {"exit_code": 1, "error": str(e)}
    meta["compare_sim"] = result
    write_json(os.path.join(out, "testnet.json"), meta)
    if result["exit_code"]:
        log(f"the simulation failed (exit code {result['exit_code']}): {result['error']}")
    return write_report(out, analyze(out)), result["exit_code"] == 0


def compare_table(c: dict) -> list[str]:
    """report["compare_sim"] as aligned text lines for the terminal."""
    def cell(x) -> str:
        return "n/a" if x is None else f"{x:g}"
    lines = [f"simulation vs reality ({c.get('sim_dir')}/report.md):",
             f"  {'figure':34} {'real':>10} {'simulated':>10} {'sim/real':>9}"]
    for name, v in c.get("metrics", {}).items():
        lines.append(f"  {name:34} {cell(v.get('real')):>10} {cell(v.get('sim')):>10} "
                     f"{cell(v.get('sim_over_real')):>9}")
    if c.get("exit_code"):
        lines.append(f"  the simulator failed (exit code {c['exit_code']}): {c.get('error')}")
    return lines


def print_summary(r: dict, out: str) -> None:
    def f(d, k):
        v = (d or {}).get(k)
        return "n/a" if v is None else f"{v:.1f}"
    t = r.get("t100_ms", {})
    h = r.get("per_hop_ms", {})
    sb = (r.get("shortest_path_bound_ms") or {}).get("p50")
    bound = (f"bound ms {sb} (protocol: {(r.get('protocol_bound_ms') or {}).get('p50')})"
             if sb else "no link delay: no lower bound")
    log(f"{r.get('relay_mode') or 'pull'} relay | delivered "
        f"{r['delivered_fraction'] * 100:.2f}% | t100 ms p50 {f(t, 'p50')} p90 "
        f"{f(t, 'p90')} p99 {f(t, 'p99')} max {f(t, 'max')} | per hop ms p50 {f(h, 'p50')} "
        f"p99 {f(h, 'p99')} | {bound} | {r.get('throughput_tps')} tx/s | "
        f"{r.get('bytes_per_tx_per_node')} B/tx/node | bodies/node {r.get('tx_bodies_per_node')}"
        f" | peak RSS {r.get('peak_rss_mb') or 'n/a'} MB")
    if r.get("blocks"):
        log(block_line(r["blocks"]))
    if r.get("compare_sim"):
        log("\n".join(compare_table(r["compare_sim"])))
    log(f"report: {os.path.join(out, 'report.md')} and report.json")


def block_line(b: dict) -> str:
    """The blocks of a run (report["blocks"]) in plain words, a few lines: each block's time to
    reach every node when there are fewer than FEW_BLOCKS, else percentiles over blocks."""
    rows = b.get("per_block") or []
    count = b.get("count") or len(rows)
    txs = [x.get("txs") for x in rows]
    tx_words = (" and ".join(f"{t:,}" for t in txs) if len(txs) <= 3
                else f"{min(txs):,} to {max(txs):,}")
    made = (f"blocks: {count} made ({tx_words} transactions), "
            f"{b.get('fully_delivered_blocks')} of {count} reached every node")
    if len(rows) < FEW_BLOCKS:
        each = ", ".join(("never reached every node" if x.get("time_to_all_ms") is None
                          else f"{x['time_to_all_ms']:.1f} ms") + f" (height {x.get('height')})"
                         for x in rows)
        timing = f"time from the producer until the last node had it: {each}"
    else:
        t = b.get("time_to_all_ms") or {}
        def ms(k):
            return "n/a" if t.get(k) is None else f"{t[k]:.1f} ms"
        timing = (f"time from the producer until the last node had a block: median "
                  f"{ms('p50')}, 9 in 10 blocks within {ms('p90')}, the slowest {ms('max')}")
    rec = b.get("reconstruction") or {}
    asked = (rec.get("txs") or 0) - (rec.get("prefilled") or 0)
    per_link = b.get("bytes_per_block_per_link")
    share = b.get("bytes_per_block_per_link_over_size")
    cost = ("relay cost: n/a" if per_link is None else
            f"relay cost: {per_link:,.0f} B per block per link"
            + ("" if share is None else f", {share * 100:.1f} % of the average block "
               f"({b.get('mean_size') or 0:,.0f} B)"))
    rebuilt = (f"the nodes rebuilt the blocks from their own mempools and asked peers for "
               f"{rec.get('missing') or 0:,} of {asked:,} transactions" if asked else
               "no block needed a transaction rebuilt")
    rejected = b.get("rejected") or 0
    bad = ("no block was rejected" if not rejected else
           f"{rejected} block{'s' if rejected != 1 else ''} rejected: {b.get('rejected_reasons')}")
    return f"{made}\n  {timing}\n  {cost}; {rebuilt}; {bad}"


def add_run_options(p: argparse.ArgumentParser, devnet: bool = False,
                    blocks: bool = True) -> None:
    """`run`'s options (devnet's defaults with `devnet`); without `blocks`, none of the block
    producer's or the simulation's (chaos runs carry transactions only)."""
    p.add_argument("--nodes", type=int, default=5 if devnet else 10,
                   help="hearsayd processes to start")
    p.add_argument("--degree", type=int, default=2 if devnet else 4,
                   help="links per node (ring: the nearest degree/2 on each side)")
    p.add_argument("--topology", default="ring" if devnet else "random-regular",
                   help="random-regular, ring, full or file:PATH (edge list 'A B' per line)")
    p.add_argument("--seed", type=int, default=1,
                   help="seed of the topology, the origin order and the transactions")
    p.add_argument("--txs", type=int, default=1000 if devnet else 100,
                   help="transactions to inject")
    p.add_argument("--warmup", type=int, default=0,
                   help="transactions injected and delivered first, not measured")
    p.add_argument("--rate", type=float, default=500,
                   help="injection rate, tx/s (0: as fast as possible)")
    p.add_argument("--size", type=int, default=250, help="transaction size, bytes")
    p.add_argument("--senders", type=int, default=0,
                   help=f"sender keys (default 0: one per {TXS_PER_SENDER} transactions, at "
                        "least 16)")
    p.add_argument("--link-delay-ms", type=int, default=0,
                   help="emulated one-way delay on every link, ms (hearsayd --link-delay-ms)")
    p.add_argument("--jitter-ms", type=int, default=0,
                   help="random extra delay per message, up to this, ms (--link-jitter-ms)")
    add_relay_options(p)
    p.add_argument("--inv-interval-ms", type=int, default=0,
                   help="hearsayd --inv-interval-ms: mean time between announcements to a "
                        "peer (0: at once)")
    p.add_argument("--verify-threads", type=int, default=None,
                   help="hearsayd --verify-threads (default: hearsayd's, one per core)")
    p.add_argument("--inject-connections", type=int, default=INJECT_CONNECTIONS,
                   help="hearsay-cli inject --connections (requests in flight)")
    p.add_argument("--origin", default="random",
                   help="where to inject: random (every node, in a seeded order) or a node INDEX")
    p.add_argument("--bin", default=None,
                   help=f"folder of hearsayd and hearsay-cli (default {default_bin_dir()})")
    p.add_argument("--timeout", type=float, default=120,
                   help="seconds to wait for full delivery after the injection ends")
    p.add_argument("--handshake-timeout", type=float, default=None,
                   help="seconds to wait for every link (default 60 + 0.5 × nodes)")
    p.add_argument("--log-level", default="warn", help="hearsayd --log-level")
    p.add_argument("--base-port", type=int, default=None,
                   help="first port to try (default: random below the ephemeral range)")
    p.add_argument("--node-arg", action="append",
                   help="extra hearsayd arguments for every node, e.g. '--mempool-sync' "
                        "(repeatable; default none)")
    if not blocks:
        p.add_argument("--out", required=True,
                       help="run folder (created; must not hold a run; required)")
        return
    p.add_argument("--blocks", type=int, default=2 if devnet else 0,
                   help="blocks to make (RPC generateblock on --producer) during and after the "
                        "injection; > 0 runs a fresh network with one producer")
    p.add_argument("--block-interval", type=float, default=1.0 if devnet else 2.0,
                   help="seconds between blocks, from the first transaction a node accepts "
                        "(fractions allowed)")
    p.add_argument("--producer", type=int, default=0,
                   help="index of the producing node (with --blocks)")
    if not devnet:
        p.add_argument("--compare-sim", action="store_true",
                       help=f"after the run, simulate it with {simrun.SIMULATOR} from the --bin "
                            "folder (into OUT/sim) and compare the two in the report")
        p.add_argument("--out", required=True,
                       help="run folder (created; must not hold a run; required)")


def cmd_run(a) -> int:
    report, code = run_testnet(a)
    print_summary(report, a.out)
    return code


def cmd_analyze(a) -> int:
    r = write_report(a.dir, analyze(a.dir))
    print_summary(r, a.dir)
    ok = r["delivered_fraction"] == 1.0
    if r.get("blocks") and r["blocks"].get("delivered_fraction") != 1.0:
        ok = False
    return 0 if ok else 1


def folder_mb(path: str) -> float:
    total = 0
    for root, _, files in os.walk(path):
        for f in files:
            try:
                total += os.lstat(os.path.join(root, f)).st_size
            except OSError:
                pass
    return total / 1e6


def network_words(network: dict | None, with_file: bool = False) -> str:
    if not network:
        return "devnet (the built-in network)"
    file = f"; file {network['file']}" if with_file and network.get("file") else ""
    return f"{network['name']} (magic {network['magic']}{file})"


def asked_network(cli: str, node: dict) -> dict | None:
    """The network's name and magic as the node says (getnetworkinfo); None if it does not."""
    try:
        p = subprocess.run([cli, "--datadir", node["datadir"], "--rpc",
                            f"127.0.0.1:{node['rpc_port']}", "getnetworkinfo"],
                           capture_output=True, text=True, timeout=30)
        info = json.loads(p.stdout) if p.returncode == 0 else {}
        return {"name": str(info["network"]), "magic": str(info["magic"]), "file": None}
    except (OSError, subprocess.TimeoutExpired, ValueError, KeyError, TypeError):
        return None


def keep_instructions(cli: str, nodes: list[dict], network: dict | None, producer: int | None,
                      out: str, stop: str) -> list[str]:
    """What devnet prints with KEEP=1: the network, commands that work as printed, how to stop
    the nodes and remove their folder. nodes: [{"name", "datadir", "rpc_port", "pid"}]."""
    def at(n: dict) -> str:
        return (f"{shlex.quote(cli)} --datadir {shlex.quote(n['datadir'])} "
                f"--rpc 127.0.0.1:{n['rpc_port']}")
    key = os.path.join(out, "alice.key")
    lines = [f"KEEP=1: the nodes keep running, on network {network_words(network, True)}.",
             "Talk to them with:"]
    for n in nodes:
        lines.append(f"  {at(n)} getinfo    # {n['name']}, pid {n['pid']}")
    lines += ["Send a transaction to the first (sendtx asks the node for its network):",
              f"  {shlex.quote(cli)} keygen --out {shlex.quote(key)}",
              f"  {at(nodes[0])} sendtx --key {shlex.quote(key)} --size 250"]
    if network and producer is not None:
        pn = nodes[producer]
        lines += [f"{pn['name']} produces blocks: {at(pn)} generateblock"]
    lines += [f"Stop them all with: {shlex.quote(stop)}",
              "(or one: hearsay-cli --datadir DIR --rpc ... stop, or kill PID)",
              f"Their folder ({folder_mb(out):.0f} MB, every node's data and log, the report): "
              f"{out}",
              f"Remove it once they are stopped: rm -rf {shlex.quote(out)}"]
    return lines


def write_stop_script(path: str, cli: str, nodes: list[dict]) -> None:
    """A script that stops the devnet's nodes and returns once they have exited."""
    with open(path, "w", encoding="utf-8") as f:
        f.write("#!/bin/sh\n# Stops the devnet nodes started by testnet.py devnet and waits until "
                "they have exited.\n")
        for n in nodes:
            f.write(f"{shlex.quote(cli)} --datadir {shlex.quote(n['datadir'])} --rpc "
                    f"127.0.0.1:{n['rpc_port']} stop >/dev/null 2>&1 || kill {n['pid']} "
                    "2>/dev/null\n")
        pids = " ".join(str(n["pid"]) for n in nodes)
        f.write(f"for pid in {pids}; do\n"
                "  i=0\n"
                "  while kill -0 $pid 2>/dev/null && [ $i -lt 150 ]; do\n"
                "    sleep 0.1; i=$((i+1))\n"
                "  done\n"
                "  kill -9 $pid 2>/dev/null\n"
                "done\n"
                "echo 'devnet stopped'\n")
    os.chmod(path, 0o755)


def cmd_devnet(a) -> int:
    keep = os.environ.get("KEEP", "") not in ("", "0")
    temporary = a.out is None
    a.out = a.out or tempfile.mkdtemp(prefix="hearsay-devnet-")
    code = 1
    try:
        report, code = run_testnet(a, keep=keep)
    finally:
        if code != 0 and not keep:
            print(f"the run's folder is kept to look into ({folder_mb(a.out):.0f} MB): {a.out}\n"
                  f"remove it with: rm -rf {shlex.quote(a.out)}", file=sys.stderr)
    t = report.get("t100_ms", {})
    print()
    print(f"devnet: {report['nodes']} nodes ({report.get('topology')}) on network "
          f"{network_words(report.get('_network'))}")
    print(f"{report['txs']} transactions, {report['delivered_fraction'] * 100:.1f}% of them "
          "reached every node")
    def ms(k):
        return "n/a" if t.get(k) is None else f"{t[k]:.1f} ms"
    print(f"time for a transaction to reach all nodes: median {ms('p50')}, 9 in 10 within "
          f"{ms('p90')}, the slowest {ms('max')}")
    if report.get("blocks"):
        print(block_line(report["blocks"]))
    if keep:
        cluster = report["_cluster"]
        cli = cluster.bins["hearsay-cli"]
        nodes = [{"name": n.name, "datadir": n.datadir, "rpc_port": n.rpc_port,
                  "pid": n.proc.pid} for n in cluster.nodes]
        stop = os.path.join(a.out, "stop.sh")
        write_stop_script(stop, cli, nodes)
        network = report.get("_network") or asked_network(cli, nodes[0])
        print(f"report: {os.path.join(a.out, 'report.md')}")
        print()
        for line in keep_instructions(cli, nodes, network,
                                      a.producer if a.blocks else None, a.out, stop):
            print(line)
    elif code != 0:
        print(f"report: {os.path.join(a.out, 'report.md')}")
    elif temporary:
        shutil.rmtree(a.out, ignore_errors=True)
        print(f"nodes stopped; their temporary folder {a.out} is removed (to keep the report, "
              "the traces and the logs, pass --out DIR, or OUT=DIR to make devnet)")
    else:
        print(f"report: {os.path.join(a.out, 'report.md')}")
        print(f"nodes stopped; the run ({folder_mb(a.out):.0f} MB: every node's data, trace and "
              f"log, the report) is in {a.out}")
    return code


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("run", help="start a testnet, inject, measure, stop",
                       description=RUN_DESCRIPTION, formatter_class=HelpFormatter)
    add_run_options(p)
    p.set_defaults(func=cmd_run)
    p = sub.add_parser("analyze", help="recompute the report of a run folder from its traces",
                       description="Recomputes DIR/report.json, report.md and the figures from "
                       "the files a run left in DIR (traces, inject.jsonl, counters.json), or "
                       "that hearsay-sim run left (arrivals.jsonl, counters.json: "
                       "contrib/testnet/analyze.py says which).",
                       formatter_class=HelpFormatter)
    p.add_argument("dir", help="the run folder (a run's --out)")
    p.set_defaults(func=cmd_analyze)
    p = sub.add_parser("devnet",
                       help="5 local nodes, 1,000 transactions, 2 blocks (KEEP=1 keeps them)",
                       description=DEVNET_DESCRIPTION, formatter_class=HelpFormatter)
    add_run_options(p, devnet=True)
    p.add_argument("--out", default=None,
                   help="run folder, kept (default: a new temporary folder, removed at the end "
                        "unless the run failed or KEEP=1)")
    p.set_defaults(func=cmd_devnet)
    import chaos  # noqa: E402  (their own options)
    import plan  # noqa: E402
    import throughput  # noqa: E402
    throughput.add_parser(sub)
    chaos.add_parser(sub)
    plan.add_parser(sub)
    return ap


def main(argv: list[str] | None = None) -> int:
    a = build_parser().parse_args(argv)
    if getattr(a, "handshake_timeout", 0) is None:
        a.handshake_timeout = 60 + 0.5 * a.nodes
    install_cleanup()
    try:
        return a.func(a)
    except (ClusterError, TopologyError, AnalysisError) as e:
        print(f"testnet: error: {e}", file=sys.stderr)
        return 1
    except Interrupted as e:
        print(f"testnet: interrupted ({e or 'SIGINT'}): every node was stopped", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
