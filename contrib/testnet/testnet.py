#!/usr/bin/env python3
"""hearsay testnet: real hearsayd processes on 127.0.0.1, a load, and a propagation report.

  testnet.py run --nodes N --degree D --topology random-regular|ring|full|file:PATH --seed S
                 --txs M --rate R --size B --link-delay-ms X [--jitter-ms J] [--push-peers K]
                 [--inv-interval-ms I] [--origin random|INDEX] [--bin DIR] --out DIR
  testnet.py analyze DIR          recompute DIR/report.json, report.md and figures from the traces
  testnet.py devnet               5 nodes in a ring, 1,000 transactions, a short report
                                  (KEEP=1 in the environment: leave the nodes running)
  testnet.py throughput [--bin DIR] --out DIR     one node's accept rate vs raw Ed25519 verification
  testnet.py plan --hosts FILE --nodes N ... --out DIR   files for a testnet over several hosts

`run`: prepares N data directories under DIR (identities with hearsay-cli keygen, an allow-list
of them all), starts N hearsayd, wires the topology with --connect (pinned identities;
--max-outbound 0 so that nodes add no links of their own), waits for every handshake, injects
with hearsay-cli inject (origins: every node round robin in a seeded order, or one node), waits
until every node holds every transaction (or --timeout), records the nodes' counters, stops the
nodes and writes DIR/report.json, DIR/report.md and PNG figures. Standard library only.
Exit code: 0 when every node held every transaction; 1 on an error or a timeout; 130 interrupted.
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import random
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from analyze import analyze  # noqa: E402
from common import loadavg, log, machine  # noqa: E402
from cluster import (Cluster, ClusterError, Interrupted, TraceTail, default_bin_dir,  # noqa: E402
                     install_cleanup, spawn, write_json)
from render import write_report  # noqa: E402
from topology import TopologyError, build  # noqa: E402

# Transactions one sender may hold (mempool/policy.h kDefaultMaxPerSender is 64): keep well
# under it, so no transaction is refused for its sender's count.
TXS_PER_SENDER = 32
# Requests hearsay-cli inject keeps in flight by default: enough that a node slow to answer
# (a busy 100-node testnet on two cores) does not hold the injection below its rate.
INJECT_CONNECTIONS = 16

def node_args(a) -> list[str]:
    args = ["--max-outbound", "0", "--link-delay-ms", str(a.link_delay_ms),
            "--link-jitter-ms", str(a.jitter_ms), "--inv-interval-ms", str(a.inv_interval_ms),
            "--push-peers", str(a.push_peers), "--log-level", a.log_level]
    if a.verify_threads is not None:
        args += ["--verify-threads", str(a.verify_threads)]
    for extra in a.node_arg or []:
        args += extra.split()
    return args


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


def last_line(path: str) -> str:
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - 400))
            lines = f.read().decode("utf-8", "replace").replace("\r", "\n").splitlines()
        return next((x.strip() for x in reversed(lines) if x.strip()), "")
    except OSError:
        return ""


def inject(cluster: Cluster, a, out: str, origin_list: list[int]) -> subprocess.Popen:
    cli = cluster.bins["hearsay-cli"]
    senders = a.senders or max(16, math.ceil(a.txs / TXS_PER_SENDER))
    argv = [cli, "inject", "--count", str(a.txs), "--rate", str(a.rate), "--size", str(a.size),
            "--senders", str(senders), "--seed", str(a.seed),
            "--connections", str(a.inject_connections), "--out", os.path.join(out, "inject.jsonl")]
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


def wait_delivery(cluster: Cluster, proc: subprocess.Popen, out: str, timeout: float,
                  n_txs: int) -> tuple[dict, bool]:
    """Until inject ends and every node holds what it accepted; returns (summary, timed_out).

    Progress comes from the nodes' trace files (tx_accepted lines; a node flushes its trace
    every 100 ms), not from RPC, so that watching costs the nodes nothing.
    """
    n = len(cluster.nodes)
    tails = [TraceTail(os.path.join(x.datadir, "trace.jsonl")) for x in cluster.nodes]
    target = None
    summary: dict = {}
    deadline = None
    last_print = 0.0
    while True:
        cluster.check_alive()
        for t in tails:
            t.poll()
        sizes = [len(t.accepted) for t in tails]
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
        time.sleep(0.2)


def run_testnet(a, keep: bool = False) -> tuple[dict | None, int]:
    """The `run` command (and devnet). Returns (report, exit code)."""
    out = os.path.abspath(a.out)
    if os.path.exists(os.path.join(out, "testnet.json")):
        raise ClusterError(f"{out} already holds a run: choose another --out or remove it")
    os.makedirs(out, exist_ok=True)
    topo = build(a.topology, a.nodes, a.degree, a.seed)
    n = topo.nodes
    degrees = topo.degrees()
    log(f"topology {topo.kind}: {n} nodes, {len(topo.edges)} links, degree "
        f"{min(degrees) if degrees else 0}..{max(degrees) if degrees else 0}, "
        f"diameter {topo.diameter() if n > 1 else 0}")
    bin_dir = a.bin or default_bin_dir()
    cluster = Cluster(bin_dir, out, n, topo.edges, node_args(a), log=log, die_with_us=not keep,
                      base_port=a.base_port)
    params = {k: getattr(a, k) for k in (
        "nodes", "degree", "topology", "seed", "txs", "rate", "size", "link_delay_ms",
        "jitter_ms", "push_peers", "inv_interval_ms", "origin", "verify_threads")}
    params["nodes"] = n
    params["bin"] = os.path.abspath(bin_dir)
    meta = {"params": params, "topology": topo.to_json(), "machine": machine(),
            "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "completed": False, "load_before": loadavg()}
    stopped = False
    try:
        cluster.prepare()
        meta.update(cluster.describe())
        write_json(os.path.join(out, "testnet.json"), meta)
        cluster.start()
        log(f"started {n} hearsayd (data under {out})")
        cluster.wait_ready()
        log(f"all {n} nodes answer RPC")
        meta.update(cluster.describe())
        write_json(os.path.join(out, "testnet.json"), meta)  # with the pids
        cluster.wait_handshakes(a.handshake_timeout,
                                lambda up, want: log(f"links up: {up}/{want}"))
        baseline = cluster.snapshot()
        origin_list = origins(a, n)
        rate = f"{a.rate:g} tx/s" if a.rate else "full speed"
        log(f"injecting {a.txs} transactions of {a.size} B at {rate} into "
            f"{'node ' + str(origin_list[0]) if len(origin_list) == 1 else 'every node'}")
        t_inject = time.time()
        proc = inject(cluster, a, out, origin_list)
        summary, timed_out = wait_delivery(cluster, proc, out, a.timeout, a.txs)
        meta["inject"] = {"start": t_inject, "end": time.time(), "summary": summary}
        meta["load_after"] = loadavg()
        final = cluster.snapshot()
        write_json(os.path.join(out, "counters.json"), {"baseline": baseline, "final": final})
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
    bad = {k: v for k, v in (meta.get("exit_codes") or {}).items() if v != 0}
    if bad:
        log(f"warning: nodes exited uncleanly: {bad}")
        code = 1
    if keep:
        report["_cluster"] = cluster
    return report, code


def print_summary(r: dict, out: str) -> None:
    def f(d, k):
        v = (d or {}).get(k)
        return "n/a" if v is None else f"{v:.1f}"
    t = r.get("t100_ms", {})
    h = r.get("per_hop_ms", {})
    log(f"delivered {r['delivered_fraction'] * 100:.2f}% | t100 ms p50 {f(t, 'p50')} p90 "
        f"{f(t, 'p90')} p99 {f(t, 'p99')} max {f(t, 'max')} | per hop ms p50 {f(h, 'p50')} "
        f"p99 {f(h, 'p99')} | bound ms {r.get('shortest_path_bound_ms', {}).get('p50')} "
        f"(×3: {r.get('protocol_bound_ms', {}).get('p50')}) | {r.get('throughput_tps')} tx/s | "
        f"{r.get('bytes_per_tx_per_node')} B/tx/node | bodies/node {r.get('tx_bodies_per_node')}"
        f" | peak RSS {r.get('peak_rss_mb')} MB")
    log(f"report: {os.path.join(out, 'report.md')} and report.json")


def add_run_options(p: argparse.ArgumentParser, devnet: bool = False) -> None:
    p.add_argument("--nodes", type=int, default=5 if devnet else 10)
    p.add_argument("--degree", type=int, default=2 if devnet else 4)
    p.add_argument("--topology", default="ring" if devnet else "random-regular",
                   help="random-regular, ring, full or file:PATH (edge list 'A B' per line)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--txs", type=int, default=1000 if devnet else 100)
    p.add_argument("--rate", type=float, default=500, help="tx/s (0: as fast as possible)")
    p.add_argument("--size", type=int, default=250, help="transaction size, bytes")
    p.add_argument("--senders", type=int, default=0,
                   help=f"sender keys (default: one per {TXS_PER_SENDER} transactions)")
    p.add_argument("--link-delay-ms", type=int, default=0)
    p.add_argument("--jitter-ms", type=int, default=0)
    p.add_argument("--push-peers", type=int, default=0)
    p.add_argument("--inv-interval-ms", type=int, default=0)
    p.add_argument("--verify-threads", type=int, default=None,
                   help="hearsayd --verify-threads (default: hearsayd's, one per core)")
    p.add_argument("--inject-connections", type=int, default=INJECT_CONNECTIONS,
                   help="hearsay-cli inject --connections (requests in flight)")
    p.add_argument("--origin", default="random", help="random (every node, seeded order) or INDEX")
    p.add_argument("--bin", default=None, help=f"binaries (default {default_bin_dir()})")
    p.add_argument("--timeout", type=float, default=120,
                   help="seconds to wait for full delivery after the injection ends")
    p.add_argument("--handshake-timeout", type=float, default=None,
                   help="seconds to wait for every link (default 60 + 0.5 × nodes)")
    p.add_argument("--log-level", default="warn", help="hearsayd --log-level")
    p.add_argument("--base-port", type=int, default=None,
                   help="first port to try (default: random below the ephemeral range)")
    p.add_argument("--node-arg", action="append",
                   help="extra hearsayd arguments for every node (repeatable)")
    if not devnet:
        p.add_argument("--out", required=True, help="run folder (created; must not hold a run)")


def cmd_run(a) -> int:
    report, code = run_testnet(a)
    print_summary(report, a.out)
    return code


def cmd_analyze(a) -> int:
    r = write_report(a.dir, analyze(a.dir))
    print_summary(r, a.dir)
    return 0 if r["delivered_fraction"] == 1.0 else 1


def cmd_devnet(a) -> int:
    keep = os.environ.get("KEEP", "") not in ("", "0")
    a.out = a.out or tempfile.mkdtemp(prefix="hearsay-devnet-")
    report, code = run_testnet(a, keep=keep)
    t = report.get("t100_ms", {})
    print()
    print(f"devnet: {report['nodes']} nodes ({report.get('topology')}), {report['txs']} "
          f"transactions, delivered {report['delivered_fraction'] * 100:.1f}%")
    def ms(k):
        return "n/a" if t.get(k) is None else f"{t[k]:.1f} ms"
    print(f"time for a transaction to reach all nodes: p50 {ms('p50')}, p90 {ms('p90')}, "
          f"max {ms('max')}")
    print(f"report: {os.path.join(a.out, 'report.md')}")
    if keep:
        cluster = report["_cluster"]
        cli = cluster.bins["hearsay-cli"]
        stop = os.path.join(a.out, "stop.sh")
        with open(stop, "w", encoding="utf-8") as f:
            f.write("#!/bin/sh\n# Stops the devnet nodes started by testnet.py devnet.\n")
            for n in cluster.nodes:
                f.write(f"{cli} --datadir {n.datadir} --rpc 127.0.0.1:{n.rpc_port} stop "
                        f"|| kill {n.proc.pid}\n")
        os.chmod(stop, 0o755)
        print("\nKEEP=1: the nodes keep running. Talk to them with:")
        for n in cluster.nodes:
            print(f"  {cli} --datadir {n.datadir} --rpc 127.0.0.1:{n.rpc_port} getinfo"
                  f"    # {n.name}, pid {n.proc.pid}")
        print(f"Stop them all with: {stop}")
        print("(or one: hearsay-cli --datadir DIR --rpc ... stop, or kill PID)")
    else:
        print(f"nodes stopped; data kept in {a.out}")
    return code


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("run", help="start a testnet, inject, measure, stop")
    add_run_options(p)
    p.set_defaults(func=cmd_run)
    p = sub.add_parser("analyze", help="recompute the report of a run folder from its traces")
    p.add_argument("dir")
    p.set_defaults(func=cmd_analyze)
    p = sub.add_parser("devnet", help="5 local nodes, 1,000 transactions (KEEP=1 keeps them)")
    add_run_options(p, devnet=True)
    p.add_argument("--out", default=None, help="run folder (default: a new temporary folder)")
    p.set_defaults(func=cmd_devnet)
    import plan  # noqa: E402  (their own options)
    import throughput  # noqa: E402
    throughput.add_parser(sub)
    plan.add_parser(sub)
    a = ap.parse_args(argv)
    if getattr(a, "handshake_timeout", 0) is None:
        a.handshake_timeout = 60 + 0.5 * a.nodes
    install_cleanup()
    try:
        return a.func(a)
    except (ClusterError, TopologyError) as e:
        print(f"testnet: error: {e}", file=sys.stderr)
        return 1
    except Interrupted as e:
        print(f"testnet: interrupted ({e or 'SIGINT'}): every node was stopped", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
