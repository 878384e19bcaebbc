"""testnet.py throughput: how many transactions per second one node accepts from a peer, against
the machine's raw Ed25519 verification rate on the cores that node ran on.

Set-up: the measured node M is pinned (taskset) to --measured-cpus with --verify-threads equal
to their count; load peers L1..Lk (hearsayd too) and hearsay-cli inject are pinned to
--load-cpus. Every transaction M accepts came from a peer as inv → getdata → tx and had its
signature verified by M once; so M's accept rate is its relay throughput.

Two measurements, both read from M's trace (tx_accepted times):
  1. burst: each load peer is filled first (by RPC, while M is not running) with --backlog
     distinct transactions; then M starts and connects to them; on connect each peer announces
     its newest transactions (anti-entropy, at most 5,000 per peer: p2p/tx_relay.h
     kAntiEntropyMax), and M fetches and verifies them as fast as it can. Nothing else runs, so
     this is M's saturated accept rate.
  2. sweep: inject into L1 at increasing --rates for --step-seconds each; per step the offered
     rate (inject's), L1's accept rate and M's accept rate. It stops when M falls below
     --stop-ratio of the offered rate (M saturated) or L1 does (the load peer, which verifies
     every RPC transaction too, is the limit: said so).
  3. flood: the load peers stop, and `hearsay-cli flood` (on the load CPUs) connects to M as a
     peer (load peer 1's identity, so the allow-list admits it) and pushes --flood-count transactions, signed and framed before its clock starts, as
     fast as M's socket takes them (`tx` frames: it sets kServicePushTx). Nothing but M's own
     work limits this phase, so a 2-core machine measures a 1-core node honestly. Its "cores
     busy" is M's CPU time over the span from the first send to the last acceptance, not over
     the time waited for transactions that never came.
The raw rate is hearsay_bench's BM_Ed25519Verify (tests/bench/wire_bench.cpp, one thread)
pinned to the first measured CPU, times the number of measured CPUs. --measured-args adds
hearsayd options to M alone (compare `--io-threads 0` and `1` on the same machine, same run).
Writes DIR/throughput.json and DIR/throughput.md.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import time

from common import HelpFormatter, log, machine
from cluster import Cluster, ClusterError, TraceTail, check_binaries, default_bin_dir, \
    cpu_us_per_tx, read_proc_stats, read_thread_cpu, spawn, write_json

# Per-peer anti-entropy cap (p2p/tx_relay.h kAntiEntropyMax = kMaxPeerAnnouncements).
ANTI_ENTROPY_MAX = 5000
# Transactions a node holds awaiting verification (p2p/tx_relay.h kMaxVerifying).
MAX_VERIFYING = 100_000
BENCH_TIMEOUT_S = 120


def rate_of(times: list[int]) -> float | None:
    """Accepts per second between the first and the last of `times` (µs)."""
    if len(times) < 2:
        return None
    span = (max(times) - min(times)) / 1e6
    return (len(times) - 1) / span if span > 0 else None


def raw_verify_rate(bin_dir: str, cpu: str) -> tuple[float | None, str]:
    bench = os.path.join(bin_dir, "hearsay_bench")
    if not os.access(bench, os.X_OK):
        return None, f"{bench} is absent (configure with HEARSAY_BENCH=ON, the release default)"
    argv = ["taskset", "-c", cpu, bench, "--benchmark_filter=Ed25519Verify",
            "--benchmark_format=json", "--benchmark_min_time=1"]
    try:
        r = subprocess.run(argv, capture_output=True, text=True, timeout=BENCH_TIMEOUT_S)
        if r.returncode != 0:  # older Google Benchmark wants a unit-less min_time
            argv[-1] = "--benchmark_min_time=1s"
            r = subprocess.run(argv, capture_output=True, text=True, timeout=BENCH_TIMEOUT_S)
        data = json.loads(r.stdout)
        for b in data.get("benchmarks", []):
            if "Ed25519Verify" in b.get("name", "") and "verifies/s" in b:
                return float(b["verifies/s"]), b["name"]
        return None, "hearsay_bench printed no BM_Ed25519Verify verifies/s counter"
    except (OSError, ValueError, subprocess.TimeoutExpired) as e:
        return None, f"hearsay_bench failed: {e}"


def run_tool(cluster: Cluster, argv: list[str], out_file: str, log_file: str,
             cpus: str) -> dict:
    """Runs a hearsay-cli load tool (its summary JSON on stdout) while the nodes stay alive."""
    summary_path = out_file + ".summary.json"
    with open(summary_path, "wb") as so, open(log_file, "wb") as se:
        p = spawn(argv, so, se, cpus=cpus)
    while p.poll() is None:
        cluster.check_alive()
        time.sleep(0.1)
    try:
        with open(summary_path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError):
        raise ClusterError(f"hearsay-cli {argv[1]} failed (code {p.returncode}); see {log_file}") \
            from None


def inject(cluster: Cluster, node: int, count: int, rate: float, size: int, seed: int,
           out_file: str, log_file: str, cpus: str) -> dict:
    n = cluster.nodes[node]
    argv = [cluster.bins["hearsay-cli"], "inject", "--count", str(count), "--rate", str(rate),
            "--size", str(size), "--senders", str(max(16, count // 32 + 1)), "--seed", str(seed),
            "--connections", "4", "--out", out_file,
            "--rpc", f"127.0.0.1:{n.rpc_port}", "--datadir", n.datadir]
    return run_tool(cluster, argv, out_file, log_file, cpus)


def flood(cluster: Cluster, node: int, key: str, count: int, size: int, seed: int,
          out_file: str, log_file: str, cpus: str) -> dict:
    """hearsay-cli flood: `count` transactions pushed to `node` by a peer of identity `key` (a
    key file on the cluster's allow-list); its summary."""
    n = cluster.nodes[node]
    argv = [cluster.bins["hearsay-cli"], "flood", f"{n.identity}@127.0.0.1:{n.p2p_port}",
            "--key", key, "--mode", "push", "--count", str(count), "--size", str(size),
            "--seed", str(seed), "--out", out_file]
    return run_tool(cluster, argv, out_file, log_file, cpus)


def json_lines(path: str):
    """The JSON objects of a file of JSON lines (lines that do not parse are skipped)."""
    with open(path, encoding="utf-8") as f:
        for line in f:
            try:
                yield json.loads(line)
            except ValueError:
                continue


def flood_ids(path: str) -> tuple[list[str], int | None]:
    """The ids a flood --out file lists as sent, and the first send time (µs)."""
    sent = [(r["id"], r["t_sent"]) for r in json_lines(path) if r.get("t_sent")]
    return [i for i, _ in sent], min((t for _, t in sent), default=None)


def ids_of(path: str) -> list[str]:
    """The ids an inject --out file lists as accepted."""
    return [r["id"] for r in json_lines(path) if r.get("accepted")]


def wait_for(tail: TraceTail, ids: list[str], timeout: float, alive) -> list[int]:
    """Accept times at the node of `ids`, waiting until all are there or `timeout` passes."""
    deadline = time.monotonic() + timeout
    while True:
        alive()
        tail.poll()
        got = [tail.accepted[i] for i in ids if i in tail.accepted]
        if len(got) == len(ids) or time.monotonic() > deadline:
            return got
        time.sleep(0.1)


def cmd_throughput(a) -> int:
    out = os.path.abspath(a.out)
    if os.path.exists(os.path.join(out, "throughput.json")):
        raise ClusterError(f"{out} already holds a throughput run: choose another --out")
    os.makedirs(out, exist_ok=True)
    bin_dir = a.bin or default_bin_dir()
    check_binaries(bin_dir)
    mcpus = a.measured_cpus
    ncpu = len(mcpus.split(","))
    raw, bench_name = raw_verify_rate(bin_dir, mcpus.split(",")[0])
    if raw is None:
        log(f"raw verification rate unknown: {bench_name}")
    else:
        log(f"raw Ed25519 verification: {raw:.0f}/s per core ({bench_name}), "
            f"{raw * ncpu:.0f}/s on {ncpu} measured core(s)")
    k = a.load_peers
    # Node 0 is M; 1..k are the load peers; M dials each (so they are its preferred peers).
    edges = [(0, i) for i in range(1, k + 1)]
    common = ["--max-outbound", "0", "--log-level", "warn", "--inv-interval-ms", "0"]
    per = {0: ["--verify-threads", str(ncpu)] + shlex.split(a.measured_args)}
    for i in range(1, k + 1):
        per[i] = ["--verify-threads", str(len(a.load_cpus.split(",")))]
    cpus = {0: mcpus, **{i: a.load_cpus for i in range(1, k + 1)}}
    cluster = Cluster(bin_dir, out, k + 1, edges, common, log=log, cpus=cpus, per_node_args=per)
    result: dict = {"machine": machine(), "measured_cpus": mcpus, "load_cpus": a.load_cpus,
                    "measured_args": a.measured_args, "raw_verify_per_core": raw, "raw_verify_on_measured_cores":
                        raw * ncpu if raw else None, "bench": bench_name, "size": a.size,
                    "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
    try:
        cluster.prepare()
        loads = list(range(1, k + 1))
        cluster.start(only=loads)
        cluster.wait_ready(only=loads)
        log(f"load peers up; filling each with {a.backlog} transactions by RPC")
        burst_ids: list[str] = []
        for i in loads:
            f = os.path.join(out, f"burst-{i}.jsonl")
            s = inject(cluster, i, a.backlog, 0, a.size, 1000 + i, f,
                       os.path.join(out, f"burst-{i}.log"), a.load_cpus)
            log(f"load peer {i}: {s.get('accepted')} accepted at {s.get('rate', 0):.0f} tx/s (RPC)")
            burst_ids += ids_of(f)
        tail = TraceTail(os.path.join(cluster.nodes[0].datadir, "trace.jsonl"))
        cluster.start(only=[0])
        cluster.wait_ready(only=[0])
        cpu0 = read_proc_stats(cluster.nodes[0].proc.pid)["cpu_s"]
        th0 = read_thread_cpu(cluster.nodes[0].proc.pid)
        t0 = time.monotonic()
        got = wait_for(tail, burst_ids, a.step_seconds * 10 + 30, cluster.check_alive)
        wall = time.monotonic() - t0
        cpu1 = read_proc_stats(cluster.nodes[0].proc.pid)["cpu_s"]
        th1 = read_thread_cpu(cluster.nodes[0].proc.pid)
        rate = rate_of(got)
        result["burst"] = {
            "transactions": len(burst_ids), "accepted": len(got), "accept_rate": rate,
            "ratio_to_raw_verify": rate / (raw * ncpu) if rate and raw else None,
            "cores_busy": (cpu1 - cpu0) / wall if cpu0 is not None and cpu1 is not None else None,
            "cpu_us_per_tx_by_thread": cpu_us_per_tx(th0, th1, len(got)),
        }
        log(f"burst: M accepted {len(got)}/{len(burst_ids)} at {rate or 0:.0f} tx/s"
            + (f" = {rate / (raw * ncpu):.2f} × raw verification" if rate and raw else ""))
        if k > 1:
            cluster.stop(only=loads[1:])  # they would verify M's relays on the load cores
        steps = []
        for step, r in enumerate(a.rates):
            count = max(100, int(r * a.step_seconds))
            f = os.path.join(out, f"step-{step}.jsonl")
            c0 = read_proc_stats(cluster.nodes[0].proc.pid)["cpu_s"]
            w0 = time.monotonic()
            s = inject(cluster, 1, count, r, a.size, 2000 + step, f,
                       os.path.join(out, f"step-{step}.log"), a.load_cpus)
            ids = ids_of(f)
            got = wait_for(tail, ids, a.step_seconds * 2 + 5, cluster.check_alive)
            w1 = time.monotonic()
            c1 = read_proc_stats(cluster.nodes[0].proc.pid)["cpu_s"]
            l_tail = TraceTail(os.path.join(cluster.nodes[1].datadir, "trace.jsonl"))
            l_tail.poll()
            l_rate = rate_of([l_tail.accepted[i] for i in ids if i in l_tail.accepted])
            m_rate = rate_of(got)
            offered = float(s.get("rate") or 0)
            st = {"target_rate": r, "offered_rate": offered, "injected": len(ids),
                  "load_peer_accept_rate": l_rate, "measured_accept_rate": m_rate,
                  "measured_received": len(got),
                  "measured_cores_busy": (c1 - c0) / (w1 - w0) if c0 is not None else None,
                  "ratio_to_raw_verify": m_rate / (raw * ncpu) if m_rate and raw else None}
            steps.append(st)
            log(f"step {step}: target {r:.0f}/s, offered {offered:.0f}/s, load peer "
                f"{l_rate or 0:.0f}/s, measured node {m_rate or 0:.0f}/s "
                f"({len(got)}/{len(ids)} received)")
            if len(got) < len(ids) or (m_rate or 0) < a.stop_ratio * min(r, offered or r):
                st["limit"] = "measured node saturated"
                break
            if (l_rate or 0) < a.stop_ratio * r or offered < a.stop_ratio * r:
                st["limit"] = "load peer / injector saturated (it verifies every RPC transaction)"
                break
        result["sweep"] = steps
        # M alone, and the flood speaks with load peer 1's identity (on the allow-list).
        cluster.stop(only=loads[:1])
        f = os.path.join(out, "flood.jsonl")
        c0 = read_proc_stats(cluster.nodes[0].proc.pid)["cpu_s"]
        th0 = read_thread_cpu(cluster.nodes[0].proc.pid)
        s = flood(cluster, 0, os.path.join(cluster.nodes[1].datadir, "identity.key"),
                  a.flood_count, a.size, 3000, f, os.path.join(out, "flood.log"), a.load_cpus)
        ids, first_sent = flood_ids(f)
        got = wait_for(tail, ids, a.step_seconds * 10 + 30, cluster.check_alive)
        c1 = read_proc_stats(cluster.nodes[0].proc.pid)["cpu_s"]
        th1 = read_thread_cpu(cluster.nodes[0].proc.pid)
        rate = rate_of(got)
        span = (max(got) - first_sent) / 1e6 if got and first_sent else None
        result["flood"] = {
            "transactions": len(ids), "offered_rate": s.get("offered_rate"),
            "accepted": len(got), "accept_rate": rate,
            "ratio_to_raw_verify": rate / (raw * ncpu) if rate and raw else None,
            "cores_busy": (c1 - c0) / span if span and c0 is not None and c1 is not None
            else None,
            "cpu_us_per_tx_by_thread": cpu_us_per_tx(th0, th1, len(got)),
        }
        log(f"flood: offered {s.get('offered_rate') or 0:.0f} tx/s, M accepted "
            f"{len(got)}/{len(ids)} at {rate or 0:.0f} tx/s"
            + (f" = {rate / (raw * ncpu):.2f} × raw verification" if rate and raw else ""))
        best = max([x["measured_accept_rate"] or 0 for x in steps] +
                   [result["burst"]["accept_rate"] or 0, result["flood"]["accept_rate"] or 0])
        result["max_accept_rate"] = best
        result["max_ratio_to_raw_verify"] = best / (raw * ncpu) if raw else None
    finally:
        cluster.stop()
    write_json(os.path.join(out, "throughput.json"), result)
    with open(os.path.join(out, "throughput.md"), "w", encoding="utf-8") as f:
        f.write(markdown(result))
    log(f"max accept rate {result['max_accept_rate']:.0f} tx/s"
        + (f" = {result['max_ratio_to_raw_verify']:.2f} × raw verification on {ncpu} core(s)"
           if result.get("max_ratio_to_raw_verify") else "")
        + f"; {os.path.join(out, 'throughput.md')}")
    return 0


def markdown(r: dict) -> str:
    def f(x, d=0):
        return "n/a" if x is None else f"{x:.{d}f}"
    raw = r.get("raw_verify_on_measured_cores")
    lines = [
        "# hearsay relay throughput", "",
        f"{r['machine']}; {r['date']}. Measured node on CPU(s) {r['measured_cpus']}, load "
        f"peers and injector on CPU(s) {r['load_cpus']}; transactions of {r['size']} B.", "",
        f"Raw Ed25519 verification ({r['bench']}): {f(r.get('raw_verify_per_core'))}/s per core, "
        f"{f(raw)}/s on the measured core(s).", "",
        "| phase | offered tx/s | load peer tx/s | measured node tx/s | ÷ raw verify | cores busy |",
        "|---|---|---|---|---|---|",
    ]
    b = r.get("burst", {})
    lines.append(f"| burst of {b.get('transactions')} (anti-entropy) | — | — | "
                 f"{f(b.get('accept_rate'))} | {f(b.get('ratio_to_raw_verify'), 2)} | "
                 f"{f(b.get('cores_busy'), 2)} |")
    for s in r.get("sweep", []):
        lines.append(f"| sweep {f(s['target_rate'])}/s | {f(s['offered_rate'])} | "
                     f"{f(s['load_peer_accept_rate'])} | {f(s['measured_accept_rate'])} | "
                     f"{f(s['ratio_to_raw_verify'], 2)} | {f(s['measured_cores_busy'], 2)} |"
                     + (f" ← {s['limit']}" if s.get("limit") else ""))
    fl = r.get("flood")
    if fl:
        lines.append(f"| flood of {fl.get('transactions')} pushed by hearsay-cli flood | "
                     f"{f(fl.get('offered_rate'))} | — | {f(fl.get('accept_rate'))} | "
                     f"{f(fl.get('ratio_to_raw_verify'), 2)} | {f(fl.get('cores_busy'), 2)} |")
    threads = [(name, p) for name, p in (("burst", b), ("flood", fl or {}))
               if p.get("cpu_us_per_tx_by_thread")]
    if threads:
        lines += ["", "CPU per accepted transaction, by thread of the measured node (µs; "
                  "hs-verify is the signature check, hs-net the protocol and network thread):", ""]
        for name, p in threads:
            per = p["cpu_us_per_tx_by_thread"]
            lines.append(f"- {name}: " + ", ".join(f"{k} {v:.1f}" for k, v in per.items())
                         + f"; total {sum(per.values()):.1f}")
    lines += ["", f"Max accept rate: {f(r.get('max_accept_rate'))} tx/s = "
              f"{f(r.get('max_ratio_to_raw_verify'), 2)} × the raw verification rate.", ""]
    return "\n".join(lines)


def add_parser(sub) -> None:
    p = sub.add_parser("throughput", help="one node's accept rate vs raw signature verification",
                       description=__doc__, formatter_class=HelpFormatter)
    p.add_argument("--bin", default=None, help=f"folder of hearsayd, hearsay-cli and "
                   f"hearsay_bench (default {default_bin_dir()})")
    p.add_argument("--out", required=True,
                   help="folder for throughput.json and throughput.md (required)")
    p.add_argument("--size", type=int, default=250, help="transaction size, bytes")
    p.add_argument("--measured-cpus", default="0", help="taskset CPU list of the measured node")
    p.add_argument("--measured-args", default="",
                   help="more hearsayd options for the measured node, e.g. '--io-threads 0' "
                        "(one string, split as a shell would)")
    p.add_argument("--load-cpus", default=None,
                   help="CPU list of load peers and injector (default: the other CPUs)")
    p.add_argument("--load-peers", type=int, default=2,
                   help="hearsayd load peers the measured node connects to")
    p.add_argument("--backlog", type=int, default=ANTI_ENTROPY_MAX,
                   help=f"transactions per load peer in the burst (at most {ANTI_ENTROPY_MAX} "
                        "are announced on connect)")
    p.add_argument("--rates", default="1000,2000,4000,8000,16000,32000",
                   help="comma-separated tx/s of the sweep")
    p.add_argument("--step-seconds", type=float, default=4,
                   help="seconds of injection at each rate of the sweep")
    p.add_argument("--flood-count", type=int, default=50_000,
                   help="transactions hearsay-cli flood pushes in the last phase (at most "
                        "100,000: beyond, the node drops what waits for verification)")
    p.add_argument("--stop-ratio", type=float, default=0.9,
                   help="the sweep stops when a node accepts less than this share of the "
                        "offered rate")
    p.set_defaults(func=_run)


def _run(a) -> int:
    a.rates = [float(x) for x in a.rates.split(",") if x]
    if a.load_cpus is None:
        mine = set(a.measured_cpus.split(","))
        others = [str(c) for c in sorted(os.sched_getaffinity(0)) if str(c) not in mine]
        a.load_cpus = ",".join(others) or a.measured_cpus
    if not 1 <= a.flood_count <= MAX_VERIFYING:
        raise ClusterError(f"--flood-count {a.flood_count}: expected 1 to {MAX_VERIFYING} (the "
                           "node drops pushed transactions beyond that many awaiting verification)")
    if a.backlog > ANTI_ENTROPY_MAX:
        raise ClusterError(f"--backlog {a.backlog}: a peer announces at most {ANTI_ENTROPY_MAX} "
                           "on connect")
    return cmd_throughput(a)
