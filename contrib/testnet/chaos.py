"""testnet.py chaos: a testnet run under faults, and an oracle that checks hearsay's promises.

Set-up as `run` (the same topology, relay and load options; blocks are not supported here):
real hearsayd processes on 127.0.0.1, wired by --connect, loaded with hearsay-cli inject over
RPC. While the transactions flow, a fault schedule drawn from --seed (so a run can be replayed)
is carried out:

  kill       SIGKILL a random node that is up; restart it --down-time seconds later, on the same
             data directory (--kill-rate per minute of injection, or exactly --kills);
  flap       cut a random link for --flap-time seconds: each end bans the other's identity
             (RPC setban), then lifts the ban, which redials at once (--flap-rate per minute);
  partition  AT:DURATION split the nodes into two halves (seeded) for DURATION seconds from AT
             seconds after the injection starts, every link across cut on both sides as a flap
             (repeatable);
  forger     --forgers K: K `hearsay-cli flood --forge` peers, each pushing --forger-txs
             transactions with invalid signatures into a random node at a random time.

The oracle, once the injection ended and every fault is over, waits up to --settle seconds:
  * every transaction some node acknowledged (inject's outcome accepted or already-held) is held
    by every node: a restarted node reloads what it had, and gets the rest by relay and
    reconciliation (0 lost);
  * no node holds a forged transaction, and every forger is banned by the node it reached;
  * no node exited except those the schedule killed.
It writes OUT/chaos.json and OUT/chaos.md: the schedule as carried out, kills and restarts,
time to reconverge after each partition (until every node holds what was acknowledged before it
healed), the transactions lost (with the nodes missing each), forgeries held, bans, crashes.
Exit code 0 when every promise held; 1 when one did not (the report says which) or on an error.
"""

from __future__ import annotations

import json
import math
import os
import random
import signal
import subprocess
import time
from dataclasses import dataclass, field

from cluster import Cluster, ClusterError, default_bin_dir, spawn, write_json
from common import HelpFormatter, log, machine
from rpc import RpcClient, RpcError
from topology import build

POLL_S = 0.25
# A flap or partition ban outlives its fault by this much, so that a lift that failed (its node
# was down) still ends: the ban expires on its own.
BAN_MARGIN_S = 30


@dataclass(order=True)
class Event:
    t: float  # seconds after the injection starts
    kind: str = field(compare=False)  # kill, restart, cut, heal, forger
    arg: dict = field(default_factory=dict, compare=False)


def parse_partition(text: str) -> tuple[float, float]:
    at, sep, dur = text.partition(":")
    try:
        a, d = float(at), float(dur)
    except ValueError:
        a = d = -1
    if not sep or a < 0 or d <= 0:
        raise ClusterError(f"--partition {text!r}: use AT:DURATION in seconds, e.g. 10:15")
    return a, d


def draw_count(rate_per_min: float, exact: int | None, window: float, rng: random.Random) -> int:
    if exact is not None:
        return exact
    mean = rate_per_min * window / 60.0
    whole = int(mean)
    return whole + (1 if rng.random() < mean - whole else 0)


def schedule(a, n: int, edges: list[tuple[int, int]], window: float) -> list[Event]:
    """The faults, drawn from the seed: kills, flaps, partitions and forgers in [0, window)."""
    rng = random.Random(a.seed * 7919 + 17)
    events: list[Event] = []
    for _ in range(draw_count(a.kill_rate, a.kills, window, rng)):
        events.append(Event(rng.uniform(0, window), "kill"))
    if edges:
        for _ in range(draw_count(a.flap_rate, a.flaps, window, rng)):
            e = edges[rng.randrange(len(edges))]
            t = rng.uniform(0, window)
            events.append(Event(t, "cut", {"links": [list(e)], "why": "flap",
                                            "seconds": a.flap_time}))
            events.append(Event(t + a.flap_time, "heal", {"links": [list(e)], "why": "flap"}))
    for p in a.partition or []:
        at, dur = parse_partition(p)
        order = list(range(n))
        rng.shuffle(order)
        half = set(order[: n // 2])
        cross = [list(e) for e in edges if (e[0] in half) != (e[1] in half)]
        events.append(Event(at, "cut", {"links": cross, "why": "partition",
                                        "half": sorted(half), "seconds": dur}))
        events.append(Event(at + dur, "heal", {"links": cross, "why": "partition",
                                               "half": sorted(half)}))
    for k in range(a.forgers):
        events.append(Event(rng.uniform(0, window), "forger",
                            {"index": k, "target": rng.randrange(n)}))
    return sorted(events)


class Chaos:
    def __init__(self, a, cluster: Cluster, out: str):
        self.a, self.cluster, self.out = a, cluster, out
        self.rng = random.Random(a.seed * 104729 + 3)
        self.down: dict[int, float] = {}  # node -> when it was killed (monotonic)
        self.log: list[dict] = []
        self.forgers: list[dict] = []
        self.partitions: list[dict] = []
        self.pending_reconvergence: list[tuple[dict, set[str]]] = []
        self.kills: list[dict] = []  # node, killed_wall, and the set it reloaded on restart
        self.stale_bans: dict[int, set[str]] = {}  # node -> identities to unban once it is up
        self.t0 = 0.0

    def now(self) -> float:
        return time.monotonic() - self.t0

    def note(self, what: str, **kw) -> None:
        entry = {"t": round(self.now(), 3), "event": what, **kw}
        self.log.append(entry)
        log(f"chaos t={entry['t']:.1f}s {what} " +
            " ".join(f"{k}={v}" for k, v in kw.items()))

    def rpc(self, i: int, method: str, *params):
        n = self.cluster.nodes[i]
        if i in self.down or n.rpc is None:
            raise RpcError(f"{n.name} is down")
        return n.rpc.call(method, list(params))

    # -- faults --

    def kill(self, restart_at: float, events: list[Event]) -> None:
        up = [i for i in range(len(self.cluster.nodes)) if i not in self.down]
        if len(up) <= 1:
            self.note("kill skipped", why="no other node is up")
            return
        i = self.rng.choice(up)
        n = self.cluster.nodes[i]
        n.stopped = True  # not a crash
        n.proc.send_signal(signal.SIGKILL)
        n.proc.wait()
        if n.rpc:
            n.rpc.close()
        n.rpc = None
        self.down[i] = time.monotonic()
        self.kills.append({"node": i, "killed_wall": time.time()})
        self.note("kill", node=i, pid=n.proc.pid)
        events.append(Event(restart_at, "restart", {"node": i}))
        events.sort()

    def restart(self, i: int) -> None:
        n = self.cluster.nodes[i]
        try:
            os.remove(os.path.join(n.datadir, ".cookie"))  # wait_ready waits for the new one
        except OSError:
            pass
        self.cluster.start(only=[i])
        n.stopped = False
        self.cluster.wait_ready(only=[i])
        del self.down[i]
        reloaded = set(n.rpc.call("getrawmempool"))
        for k in reversed(self.kills):
            if k["node"] == i and "reloaded" not in k:
                k["reloaded"] = reloaded
                break
        # Bans it could not lift while it was down (its ban list outlived the kill).
        lifted = 0
        for target in sorted(self.stale_bans.pop(i, set())):
            try:
                self.rpc(i, "setban", target, "remove")
                lifted += 1
            except RpcError:
                pass
        self.note("restart", node=i, pid=n.proc.pid, reloaded=len(reloaded),
                  stale_bans_lifted=lifted)

    def set_bans(self, links: list[list[int]], add: bool, seconds: int) -> int:
        """Bans (or lifts) each link's far end on both ends; returns the RPC calls that failed
        (a node that is down: its ban expires by itself)."""
        failed = 0
        for a_, b_ in links:
            for x, y in ((a_, b_), (b_, a_)):
                target = self.cluster.nodes[y].identity
                params = [target, "add", seconds] if add else [target, "remove"]
                try:
                    self.rpc(x, "setban", *params)
                except RpcError:
                    failed += 1
                    if not add and x in self.down:
                        self.stale_bans.setdefault(x, set()).add(target)
        return failed

    def cut(self, ev: Event) -> None:
        secs = math.ceil(ev.arg["seconds"]) + BAN_MARGIN_S
        failed = self.set_bans(ev.arg["links"], True, secs)
        self.note("cut", why=ev.arg["why"], links=len(ev.arg["links"]), failed_calls=failed)
        if ev.arg["why"] == "partition":
            self.partitions.append({"start": round(self.now(), 3), "half": ev.arg["half"],
                                    "links": len(ev.arg["links"])})

    def heal(self, ev: Event) -> None:
        if ev.arg["why"] == "partition":
            # Reconverged: every node up holds what any node held when the partition healed,
            # timed from before the first ban is lifted.
            p = self.partitions[-1]
            p["healed"] = round(self.now(), 3)
            target: set[str] = set()
            for h in held_by(self.cluster, self.down).values():
                target |= h
            p["held_at_heal"] = len(target)
            p["reconverged_after_s"] = None
            self.pending_reconvergence.append((p, target))
        failed = self.set_bans(ev.arg["links"], False, 0)
        self.note("heal", why=ev.arg["why"], links=len(ev.arg["links"]), failed_calls=failed)

    def check_reconvergence(self) -> None:
        if not self.pending_reconvergence:
            return
        held = held_by(self.cluster, self.down)
        still = []
        for p, target in self.pending_reconvergence:
            if self.down or any(target - h for h in held.values()):
                still.append((p, target))
            else:
                p["reconverged_after_s"] = round(self.now() - p["healed"], 3)
                self.note("reconverged", after_s=p["reconverged_after_s"])
        self.pending_reconvergence = still

    def forger(self, ev: Event) -> None:
        i = ev.arg["target"]
        if i in self.down:
            up = [j for j in range(len(self.cluster.nodes)) if j not in self.down]
            i = up[ev.arg["index"] % len(up)]
        n = self.cluster.nodes[i]
        k = ev.arg["index"]
        out = os.path.join(self.out, f"forger{k}")
        argv = [self.cluster.bins["hearsay-cli"], "flood", f"{n.identity}@127.0.0.1:{n.p2p_port}",
                "--forge", "--count", str(self.a.forger_txs), "--seed", str(900_000 + k),
                "--key", os.path.join(out, "identity.key"),
                "--out", os.path.join(out, "records.jsonl"), "--timeout", "10"]
        so = open(os.path.join(out, "summary.json"), "wb")
        se = open(os.path.join(out, "flood.log"), "wb")
        proc = spawn(argv, so, se)
        so.close()
        se.close()
        self.forgers.append({"index": k, "node": i, "proc": proc, "dir": out})
        self.note("forger", index=k, node=i, txs=self.a.forger_txs)


def admit_forgers(cluster: Cluster, out: str, k: int) -> None:
    """Each forger gets an identity the nodes' allow-list admits: a forger is a peer that got in
    (an authenticated node gone bad), not a stranger TLS refuses."""
    for i in range(k):
        d = os.path.join(out, f"forger{i}")
        os.makedirs(d, exist_ok=True)
        p = subprocess.run([cluster.bins["hearsay-cli"], "keygen", "--out",
                            os.path.join(d, "identity.key")], capture_output=True, text=True,
                           timeout=60)
        if p.returncode != 0:
            raise ClusterError(f"hearsay-cli keygen for forger {i} failed: {p.stderr.strip()}")
        with open(cluster.allow_file, "a", encoding="ascii") as f:
            f.write(p.stdout.strip().split()[-1] + "\n")


def read_jsonl(path: str) -> list[dict]:
    try:
        with open(path, encoding="utf-8") as f:
            return [json.loads(line) for line in f if line.strip()]
    except (OSError, ValueError):
        return []


def held_by(cluster: Cluster, down: dict) -> dict[int, set[str]]:
    out = {}
    for n in cluster.nodes:
        if n.index in down or n.rpc is None:
            continue
        try:
            out[n.index] = set(n.rpc.call("getrawmempool"))
        except RpcError:
            pass
    return out


def check_crashes(cluster: Cluster) -> list[dict]:
    crashed = []
    for n in cluster.nodes:
        if n.proc is not None and not n.stopped and n.proc.poll() is not None:
            crashed.append({"node": n.index, "exit_code": n.proc.returncode})
    return crashed


def run_chaos(a) -> int:
    from testnet import inject, node_args, origins  # noqa: E402  (shared with run)
    out = os.path.abspath(a.out)
    if os.path.exists(os.path.join(out, "chaos.json")):
        raise ClusterError(f"{out} already holds a run: choose another --out or remove it")
    if a.warmup:
        raise ClusterError("--warmup: not in chaos runs (every transaction is under the faults)")
    if a.down_time <= 0 or a.flap_time <= 0 or a.settle <= 0:
        raise ClusterError("--down-time, --flap-time and --settle must be more than 0 seconds")
    if a.rate <= 0:
        raise ClusterError(f"--rate {a.rate:g}: chaos spreads its faults over the injection, "
                           "so it needs a rate (tx/s) above 0")
    for name in ("kill_rate", "flap_rate", "kills", "flaps", "forgers"):
        v = getattr(a, name)
        if v is not None and v < 0:
            raise ClusterError(f"--{name.replace('_', '-')} {v}: use 0 or more")
    if a.forger_txs < 1:
        raise ClusterError(f"--forger-txs {a.forger_txs}: use 1 or more")
    if a.nodes < 2 and (a.partition or a.kills or a.kill_rate):
        raise ClusterError("kills and partitions need at least 2 nodes")
    os.makedirs(out, exist_ok=True)
    topo = build(a.topology, a.nodes, a.degree, a.seed)
    n = topo.nodes
    window = a.txs / a.rate
    events = schedule(a, n, topo.edges, window)
    cluster = Cluster(a.bin or default_bin_dir(), out, n, topo.edges, node_args(a), log=log,
                      base_port=a.base_port)
    chaos = Chaos(a, cluster, out)
    report: dict = {"params": {k: v for k, v in vars(a).items() if k != "func"},
                    "machine": machine(), "nodes": n, "links": len(topo.edges),
                    "window_s": window,
                    "schedule": [{"t": round(e.t, 3), "kind": e.kind, **e.arg} for e in events]}
    crashes: list[dict] = []
    try:
        cluster.prepare()
        admit_forgers(cluster, out, a.forgers)
        cluster.start()
        cluster.wait_ready()
        cluster.wait_handshakes(a.handshake_timeout,
                                lambda up, want: log(f"links up: {up}/{want}"))
        log(f"chaos: {n} nodes, {len(topo.edges)} links; {len(events)} scheduled faults over "
            f"{window:.0f} s of injection")
        proc = inject(cluster, a, out, origins(a, n))
        chaos.t0 = time.monotonic()
        records_path = os.path.join(out, "inject.jsonl")

        while events or proc.poll() is None:
            t = chaos.now()
            while events and events[0].t <= t:
                ev = events.pop(0)
                if ev.kind == "kill":
                    chaos.kill(t + a.down_time, events)
                elif ev.kind == "restart":
                    chaos.restart(ev.arg["node"])
                elif ev.kind == "cut":
                    chaos.cut(ev)
                elif ev.kind == "heal":
                    chaos.heal(ev)
                elif ev.kind == "forger":
                    chaos.forger(ev)
            chaos.check_reconvergence()
            for c in check_crashes(cluster):
                crashes.append(c)
                cluster.nodes[c["node"]].stopped = True  # reported once
            time.sleep(POLL_S)
        last_fault = chaos.now()
        log(f"chaos: injection and faults over at t={last_fault:.1f} s; settling (at most "
            f"{a.settle:g} s)")
        records = read_jsonl(records_path)
        acked = {r["id"] for r in records if r.get("outcome") in ("accepted", "already-held")}
        # A node acknowledges a transaction only once it is written: it must reload all it
        # acknowledged before it was killed.
        reload_missing = []
        for k in chaos.kills:
            rpc_addr = f"127.0.0.1:{cluster.nodes[k['node']].rpc_port}"
            before = {r["id"] for r in records
                      if r.get("node") == rpc_addr and r["id"] in acked
                      and r.get("t", 0) / 1e6 < k["killed_wall"]}
            missing = before - k.get("reloaded", set())
            reload_missing.append({"node": k["node"], "acknowledged_before_kill": len(before),
                                   "reloaded": len(k.get("reloaded", set())),
                                   "not_reloaded": sorted(missing)[:20],
                                   "not_reloaded_count": len(missing)})
        forged: set[str] = set()
        for f in chaos.forgers:
            try:
                f["proc"].wait(timeout=30)
            except subprocess.TimeoutExpired:
                f["proc"].kill()
            forged |= {r["id"] for r in read_jsonl(os.path.join(f["dir"], "records.jsonl"))}
            try:
                with open(os.path.join(f["dir"], "summary.json"), encoding="utf-8") as h:
                    f["identity"] = json.load(h).get("identity")
            except (OSError, ValueError):
                f["identity"] = None
        deadline = time.monotonic() + a.settle
        held: dict[int, set[str]] = {}
        while True:
            chaos.check_reconvergence()
            held = held_by(cluster, chaos.down)
            missing = {i: acked - h for i, h in held.items()}
            if all(not m for m in missing.values()) and len(held) == n and \
                    not chaos.pending_reconvergence:
                break
            if time.monotonic() > deadline:
                break
            time.sleep(POLL_S * 2)
        crashes += check_crashes(cluster)
        settled_after = round(a.settle - max(0.0, deadline - time.monotonic()), 3)
        lost = {}
        for i, h in held.items():
            for tx in acked - h:
                lost.setdefault(tx, []).append(i)
        forgeries = {i: sorted(h & forged) for i, h in held.items() if h & forged}
        bans = []
        for f in chaos.forgers:
            banned = False
            try:
                banned = any(b.get("target") == f["identity"]
                             for b in chaos.rpc(f["node"], "listbanned"))
            except RpcError:
                pass
            bans.append({"forger": f["index"], "node": f["node"], "identity": f["identity"],
                         "banned": banned})
        report.update({
            "events": chaos.log,
            "kills": sum(1 for e in chaos.log if e["event"] == "kill"),
            "reloads": reload_missing,
            "restarts": sum(1 for e in chaos.log if e["event"] == "restart"),
            "partitions": chaos.partitions,
            "settled_after_s": settled_after,
            "acknowledged": len(acked),
            "lost": len(lost),
            "lost_detail": {tx: sorted(nodes) for tx, nodes in sorted(lost.items())[:50]},
            "nodes_answering": len(held),
            "forged_sent": len(forged),
            "forgeries_held": sum(len(v) for v in forgeries.values()),
            "forgeries_detail": forgeries,
            "forger_bans": bans,
            "crashes": crashes,
        })
    finally:
        cluster.stop()
        for f in chaos.forgers:
            if f["proc"].poll() is None:
                f["proc"].kill()
            f.pop("proc", None)
    ok = (report.get("lost") == 0 and report.get("forgeries_held") == 0 and not crashes and
          all(x["not_reloaded_count"] == 0 for x in report.get("reloads", [])) and
          report.get("nodes_answering") == n and all(b["banned"] for b in report["forger_bans"])
          and all(p.get("reconverged_after_s") is not None for p in report["partitions"]))
    report["ok"] = ok
    write_json(os.path.join(out, "chaos.json"), report)
    write_markdown(os.path.join(out, "chaos.md"), report)
    print_summary(report)
    return 0 if ok else 1


def write_markdown(path: str, r: dict) -> None:
    lines = ["# Chaos run", "",
             f"{r['nodes']} nodes, {r['links']} links, seed {r['params']['seed']}, "
             f"{r['params']['txs']} transactions at {r['params']['rate']:g} tx/s "
             f"({r['window_s']:.0f} s); machine: {r['machine']}", "",
             "## Faults", "", "| t (s) | event | details |", "|---|---|---|"]
    for e in r.get("events", []):
        details = ", ".join(f"{k} {v}" for k, v in e.items() if k not in ("t", "event"))
        lines.append(f"| {e['t']:.1f} | {e['event']} | {details} |")
    lines += ["", "## Promises", "",
              f"- acknowledged transactions: {r.get('acknowledged')}; lost: **{r.get('lost')}**"
              + (f" (missing where: {r['lost_detail']})" if r.get("lost") else ""),
              f"- forged transactions sent: {r.get('forged_sent')}; held by any node: "
              f"**{r.get('forgeries_held')}**",
              "- forgers banned by the node they reached: " +
              (", ".join(f"forger {b['forger']} at node {b['node']}: "
                         f"{'yes' if b['banned'] else '**no**'}" for b in r.get("forger_bans", []))
               or "no forger"),
              f"- kills {r.get('kills')}, restarts {r.get('restarts')}; crashes: "
              f"**{len(r.get('crashes', []))}** {r.get('crashes') or ''}"]
    for x in r.get("reloads", []):
        lines.append(f"- node {x['node']} restarted: it had acknowledged "
                     f"{x['acknowledged_before_kill']} before its kill and reloaded "
                     f"{x['reloaded']}; acknowledged and not reloaded: "
                     f"**{x['not_reloaded_count']}**")
    for i, p in enumerate(r.get("partitions", [])):
        lines.append(f"- partition {i}: {p.get('links')} links cut at {p.get('start')} s, healed "
                     f"at {p.get('healed')} s, reconverged {p.get('reconverged_after_s')} s "
                     "after healing")
    lines += ["", f"Verdict: **{'every promise held' if r.get('ok') else 'a promise failed'}**",
              ""]
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(lines))


def print_summary(r: dict) -> None:
    parts = [f"acknowledged {r.get('acknowledged')}", f"lost {r.get('lost')}",
             f"forgeries held {r.get('forgeries_held')}",
             f"forgers banned {sum(1 for b in r.get('forger_bans', []) if b['banned'])}/"
             f"{len(r.get('forger_bans', []))}",
             f"kills {r.get('kills')}", f"crashes {len(r.get('crashes', []))}"]
    for p in r.get("partitions", []):
        parts.append(f"partition reconverged in {p.get('reconverged_after_s')} s")
    log("chaos: " + ", ".join(parts) + (" — OK" if r.get("ok") else " — FAILED"))
    if r.get("lost"):
        log(f"chaos: lost transactions and the nodes missing them: {r['lost_detail']}")


def add_parser(sub) -> None:
    from testnet import add_run_options  # noqa: E402
    p = sub.add_parser("chaos", help="a testnet under kills, link flaps, partitions and "
                       "forgers, with an oracle", description=__doc__,
                       formatter_class=HelpFormatter)
    add_run_options(p, blocks=False)
    p.add_argument("--kill-rate", type=float, default=0.0,
                   help="node kills per minute of injection (SIGKILL, then a restart)")
    p.add_argument("--kills", type=int, default=None,
                   help="exactly this many kills (default: drawn from --kill-rate)")
    p.add_argument("--down-time", type=float, default=5.0,
                   help="seconds a killed node stays down")
    p.add_argument("--flap-rate", type=float, default=0.0, help="link cuts per minute")
    p.add_argument("--flaps", type=int, default=None,
                   help="exactly this many link cuts (default: drawn from --flap-rate)")
    p.add_argument("--flap-time", type=float, default=3.0, help="seconds a cut link stays cut")
    p.add_argument("--partition", action="append", metavar="AT:DURATION",
                   help="split the network in two halves at AT s for DURATION s (repeatable; "
                        "default none)")
    p.add_argument("--forgers", type=int, default=0,
                   help="flood --forge peers, each into a random node at a random time")
    p.add_argument("--forger-txs", type=int, default=50,
                   help="forged transactions each forger pushes")
    p.add_argument("--settle", type=float, default=60.0,
                   help="seconds, after the injection and the last fault, for every node to "
                        "hold every acknowledged transaction")
    p.set_defaults(func=run_chaos)
