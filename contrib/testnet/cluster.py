"""A cluster of hearsayd processes on 127.0.0.1: prepare, start, wire, watch, stop.

Every child process (nodes, hearsay-cli inject) is registered in one process-wide registry, so
that whatever ends the run — an error, Ctrl-C, SIGTERM, SIGHUP, the end of the program — stops
them all: SIGTERM first (hearsayd exits within 5 s), SIGKILL to the child's process group after a
grace period. Each child runs in its own session (a Ctrl-C at the terminal reaches only this
tool, which then stops the nodes in order), and, unless asked to outlive us (devnet KEEP=1),
under `setpriv --pdeathsig KILL` so that even a `kill -9` of this tool takes the nodes with it.

Ports: P2P and RPC ports are chosen below the kernel's ephemeral range
(/proc/sys/net/ipv4/ip_local_port_range), where no outgoing connection (ours or another
program's) can take them between our check and the node's bind; each is checked free by binding.
"""

from __future__ import annotations

import atexit
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field

from rpc import RpcClient, RpcError

# How long a node may take from exec to answering RPC (ASan builds start slowly).
READY_TIMEOUT_S = 60.0
# SIGTERM → exit grace before SIGKILL (hearsayd promises 5 s; ASan's leak check adds time).
STOP_GRACE_S = 15.0
# Poll interval of the wait loops (each loop has its own deadline).
POLL_S = 0.2
# hearsay-cli keygen processes run at once while preparing identities.
KEYGEN_PARALLEL = 8


class ClusterError(RuntimeError):
    """A failure of the run: the message names the node, its files and what to do."""


class Interrupted(KeyboardInterrupt):
    """SIGINT, SIGTERM or SIGHUP reached the tool."""


# --- the registry of children ----------------------------------------------------------------

_children: list[subprocess.Popen] = []
_cleanup_installed = False


def _stop_processes(procs: list[subprocess.Popen], grace: float, log=None) -> None:
    alive = [p for p in procs if p.poll() is None]
    for p in alive:
        try:
            os.kill(p.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + grace
    while any(p.poll() is None for p in alive) and time.monotonic() < deadline:
        time.sleep(0.05)
    for p in alive:
        if p.poll() is None:
            if log:
                log(f"pid {p.pid} did not stop within {grace:.0f} s of SIGTERM: SIGKILL")
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass


def stop_all_children(grace: float = STOP_GRACE_S) -> None:
    procs = [p for p in _children if p.poll() is None]
    if procs:
        _stop_processes(procs, grace, lambda m: print(f"testnet: {m}", file=sys.stderr))


def forget_child(p: subprocess.Popen) -> None:
    """Lets `p` outlive the tool (devnet KEEP=1)."""
    if p in _children:
        _children.remove(p)


def _on_signal(signum, frame):
    raise Interrupted(signal.Signals(signum).name)


def install_cleanup() -> None:
    """atexit and signal handlers that stop every registered child. Idempotent."""
    global _cleanup_installed
    if _cleanup_installed:
        return
    _cleanup_installed = True
    atexit.register(stop_all_children)
    for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(s, _on_signal)


def spawn(argv: list[str], stdout, stderr, die_with_us: bool = True,
          cpus: str | None = None, env: dict | None = None) -> subprocess.Popen:
    """Starts a registered child in its own session (see the module comment)."""
    prefix: list[str] = []
    if die_with_us and shutil.which("setpriv"):
        prefix += ["setpriv", "--pdeathsig", "KILL", "--"]
    if cpus is not None:
        if not shutil.which("taskset"):
            raise ClusterError("pinning to CPUs needs taskset (Debian package util-linux)")
        prefix += ["taskset", "-c", cpus]
    p = subprocess.Popen(prefix + argv, stdout=stdout, stderr=stderr, stdin=subprocess.DEVNULL,
                         start_new_session=True, env=env)
    _children.append(p)
    return p


# --- ports ----------------------------------------------------------------------------------

def _ephemeral_low() -> int:
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range", encoding="ascii") as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def pick_ports(count: int, seed: int | None = None, base: int | None = None) -> list[int]:
    """`count` free TCP ports on 127.0.0.1 below the ephemeral range."""
    high = _ephemeral_low() - 1
    low = 10000
    if high - low < count * 2:
        raise ClusterError(f"not enough ports below the ephemeral range ({low}..{high})")
    rng = random.Random(seed)
    start = base if base is not None else rng.randrange(low, high - count * 2)
    ports = []
    for p in list(range(start, high + 1)) + list(range(low, start)):
        if _port_free(p):
            ports.append(p)
            if len(ports) == count:
                return ports
    raise ClusterError(f"only {len(ports)} of {count} ports below {high + 1} are free")


class TraceTail:
    """Reads a growing trace file: tx_accepted and block_connected times by id."""

    def __init__(self, path: str):
        self.path = path
        self.offset = 0
        self.partial = ""
        self.accepted: dict[str, int] = {}
        self.connected: dict[str, int] = {}  # block id -> block_connected time

    def poll(self) -> None:
        try:
            with open(self.path, encoding="utf-8", errors="replace") as f:
                f.seek(self.offset)
                data = f.read()
                self.offset = f.tell()
        except OSError:
            return
        data = self.partial + data
        lines = data.split("\n")
        self.partial = lines.pop()
        for line in lines:
            if line.startswith('{"ev":"tx_accepted"'):
                try:
                    e = json.loads(line)
                except ValueError:
                    continue
                self.accepted.setdefault(e["id"], int(e["t"]))
            elif line.startswith('{"ev":"block_connected"'):
                try:
                    e = json.loads(line)
                except ValueError:
                    continue
                self.connected.setdefault(e["id"], int(e["t"]))


# --- nodes ----------------------------------------------------------------------------------

def read_proc_stats(pid: int) -> dict:
    """CPU seconds (user + system) and memory (VmRSS, VmHWM in MB) of a live process."""
    out = {"cpu_s": None, "rss_mb": None, "hwm_mb": None}
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        tick = os.sysconf("SC_CLK_TCK")
        out["cpu_s"] = (int(fields[11]) + int(fields[12])) / tick  # utime, stime
        with open(f"/proc/{pid}/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    out["rss_mb"] = int(line.split()[1]) / 1024
                elif line.startswith("VmHWM:"):
                    out["hwm_mb"] = int(line.split()[1]) / 1024
    except (OSError, ValueError, IndexError):
        pass
    return out


def read_thread_cpu(pid: int) -> dict[str, float]:
    """CPU seconds (user + system) of a live process's threads, summed by thread name (hearsayd
    names its own: hs-net, hs-verify, hs-store, hs-trace, hs-rpc; the rest keep the process's
    name). Threads that ended are not counted. Empty when the process is gone."""
    out: dict[str, float] = {}
    tick = os.sysconf("SC_CLK_TCK")
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return out
    for tid in tids:
        try:
            with open(f"/proc/{pid}/task/{tid}/stat", encoding="ascii", errors="replace") as f:
                text = f.read()
        except OSError:
            continue
        name = text[text.index("(") + 1:text.rindex(")")]
        fields = text.rsplit(")", 1)[1].split()
        out[name] = out.get(name, 0.0) + (int(fields[11]) + int(fields[12])) / tick
    return out


def cpu_us_per_tx(before: dict[str, float], after: dict[str, float], txs: int) -> dict:
    """Microseconds of CPU per transaction by thread name between two read_thread_cpu()s."""
    if not txs:
        return {}
    return {name: round((after[name] - before.get(name, 0.0)) * 1e6 / txs, 1)
            for name in sorted(after) if after[name] - before.get(name, 0.0) > 0}


@dataclass
class Node:
    index: int
    datadir: str
    identity: str
    p2p_port: int
    rpc_port: int
    connect: list[int] = field(default_factory=list)
    proc: subprocess.Popen | None = None
    rpc: RpcClient | None = None
    exit_code: int | None = None
    stopped: bool = False  # stopped on purpose: its exit is no failure

    @property
    def name(self) -> str:
        return f"node{self.index:03d}"

    def stderr_tail(self, lines: int = 5) -> str:
        parts = []
        for f in ("stderr.log", "hearsayd.log"):
            try:
                with open(os.path.join(self.datadir, f), encoding="utf-8", errors="replace") as h:
                    tail = h.read().splitlines()[-lines:]
                if tail:
                    parts.append(f"--- {f}:\n" + "\n".join(tail))
            except OSError:
                pass
        return "\n".join(parts)


def default_bin_dir() -> str:
    here = os.path.dirname(os.path.abspath(__file__))
    return os.path.join(os.path.dirname(os.path.dirname(here)), "build", "release", "bin")


def check_binaries(bin_dir: str, names=("hearsayd", "hearsay-cli")) -> dict[str, str]:
    paths = {}
    for n in names:
        p = os.path.abspath(os.path.join(bin_dir, n))
        if not (os.path.isfile(p) and os.access(p, os.X_OK)):
            raise ClusterError(
                f"{p} not found: build it (make programs, or cmake --preset release && cmake "
                f"--build --preset release --target hearsayd hearsay-cli) or pass --bin DIR")
        paths[n] = p
    return paths


class Cluster:
    """N hearsayd processes under `out_dir`/nodeNNN, wired by `edges` (dialler, listener)."""

    def __init__(self, bin_dir: str, out_dir: str, nodes: int, edges: list[tuple[int, int]],
                 node_args: list[str], log=print, die_with_us: bool = True,
                 seed: int | None = None, base_port: int | None = None,
                 cpus: dict[int, str] | None = None,
                 per_node_args: dict[int, list[str]] | None = None):
        self.bins = check_binaries(bin_dir)
        self.out_dir = os.path.abspath(out_dir)
        self.edges = edges
        self.node_args = node_args
        self.log = log
        self.die_with_us = die_with_us
        self.cpus = cpus or {}
        self.per_node_args = per_node_args or {}
        ports = pick_ports(2 * nodes, None, base_port)
        self.nodes = [
            Node(i, os.path.join(self.out_dir, f"node{i:03d}"), "", ports[2 * i], ports[2 * i + 1],
                 sorted(b for a, b in edges if a == i)) for i in range(nodes)]
        self.allow_file = os.path.join(self.out_dir, "allow-peers.txt")

    # -- preparation --

    def prepare(self) -> None:
        """Data directories, identities (hearsay-cli keygen) and the allow-list."""
        pending = []
        for n in self.nodes:
            os.makedirs(n.datadir, mode=0o700, exist_ok=True)
            key = os.path.join(n.datadir, "identity.key")
            if os.path.exists(key):
                raise ClusterError(f"{key} exists: use a fresh --out directory")
            pending.append(n)
        running: list[tuple[Node, subprocess.Popen]] = []
        while pending or running:
            while pending and len(running) < KEYGEN_PARALLEL:
                n = pending.pop(0)
                p = subprocess.Popen([self.bins["hearsay-cli"], "keygen", "--out",
                                      os.path.join(n.datadir, "identity.key")],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                running.append((n, p))
            n, p = running.pop(0)
            out, err = p.communicate(timeout=60)
            if p.returncode != 0:
                raise ClusterError(f"hearsay-cli keygen for {n.name} failed: {err.strip()}")
            n.identity = out.strip().split()[-1]
        with open(self.allow_file, "w", encoding="ascii") as f:
            for n in self.nodes:
                f.write(n.identity + "\n")

    def argv(self, n: Node) -> list[str]:
        a = [self.bins["hearsayd"], "--datadir", n.datadir,
             "--listen", f"127.0.0.1:{n.p2p_port}", "--rpc", f"127.0.0.1:{n.rpc_port}",
             "--allow-peers", self.allow_file,
             "--trace", os.path.join(n.datadir, "trace.jsonl"),
             "--log-file", os.path.join(n.datadir, "hearsayd.log"), "--log-stderr", "0"]
        for j in n.connect:
            m = self.nodes[j]
            a += ["--connect", f"{m.identity}@127.0.0.1:{m.p2p_port}"]
        return a + self.node_args + self.per_node_args.get(n.index, [])

    # -- start and wait --

    def start(self, only: list[int] | None = None) -> None:
        for n in self.nodes if only is None else [self.nodes[i] for i in only]:
            with open(os.path.join(n.datadir, "cmdline.txt"), "w", encoding="utf-8") as f:
                f.write(" ".join(self.argv(n)) + "\n")
            out = open(os.path.join(n.datadir, "stdout.log"), "wb")
            err = open(os.path.join(n.datadir, "stderr.log"), "wb")
            n.proc = spawn(self.argv(n), out, err, self.die_with_us, self.cpus.get(n.index))
            out.close()
            err.close()

    def check_alive(self) -> None:
        for n in self.nodes:
            if n.proc is not None and not n.stopped and n.proc.poll() is not None:
                n.exit_code = n.proc.returncode
                raise ClusterError(
                    f"{n.name} (pid {n.proc.pid}) exited with code {n.proc.returncode}; its "
                    f"files are in {n.datadir}\n{n.stderr_tail()}")

    def wait_ready(self, timeout: float = READY_TIMEOUT_S, only: list[int] | None = None) -> None:
        """Until every node answers getinfo (its cookie exists once its RPC answers)."""
        deadline = time.monotonic() + timeout
        waiting = list(self.nodes) if only is None else [self.nodes[i] for i in only]
        while waiting:
            self.check_alive()
            still = []
            for n in waiting:
                cookie = os.path.join(n.datadir, ".cookie")
                if not os.path.exists(cookie):
                    still.append(n)
                    continue
                try:
                    if n.rpc is None:
                        n.rpc = RpcClient.from_datadir("127.0.0.1", n.rpc_port, n.datadir)
                    info = n.rpc.call("getinfo")
                    if info.get("identity") != n.identity:
                        raise ClusterError(f"{n.name}: identity {info.get('identity')} is not the "
                                           f"pre-generated {n.identity}")
                except (RpcError, OSError):
                    n.rpc = None
                    still.append(n)
            waiting = still
            if waiting:
                if time.monotonic() > deadline:
                    raise ClusterError(
                        f"{len(waiting)} nodes did not answer RPC within {timeout:.0f} s, e.g. "
                        f"{waiting[0].name}:\n{waiting[0].stderr_tail()}")
                time.sleep(POLL_S)

    def links_up(self) -> tuple[int, int]:
        """(links with a finished handshake seen from both ends, links expected)."""
        ends = set()
        for n in self.nodes:
            for p in n.rpc.call("getpeerinfo"):
                if p.get("handshake_done") and p.get("identity"):
                    ends.add((n.identity, p["identity"]))
        up = 0
        for a, b in self.edges:
            ia, ib = self.nodes[a].identity, self.nodes[b].identity
            up += (ia, ib) in ends and (ib, ia) in ends
        return up, len(self.edges)

    def wait_handshakes(self, timeout: float, progress=None) -> None:
        deadline = time.monotonic() + timeout
        last = -1
        while True:
            self.check_alive()
            up, want = self.links_up()
            if up != last and progress:
                progress(up, want)
                last = up
            if up == want:
                return
            if time.monotonic() > deadline:
                raise ClusterError(
                    f"only {up} of {want} links finished their handshake within {timeout:.0f} s "
                    f"(see the nodes' hearsayd.log in {self.out_dir})")
            time.sleep(POLL_S * 2)

    # -- observation --

    def snapshot(self) -> dict:
        """Counters of every node: getinfo, per-peer byte counters, mempool, CPU and memory."""
        nodes = []
        for n in self.nodes:
            info = n.rpc.call("getinfo")
            peers = n.rpc.call("getpeerinfo")
            mp = n.rpc.call("getmempoolinfo")
            by_type: dict[str, dict[str, int]] = {}
            for p in peers:
                for t, m in (p.get("messages") or {}).items():
                    d = by_type.setdefault(t, {"sent": 0, "sent_bytes": 0, "recv": 0,
                                               "recv_bytes": 0})
                    for k in d:
                        d[k] += int(m.get(k, 0))
            node = {
                "index": n.index,
                "mempool_size": info.get("mempool_size"),
                "relay": info.get("relay", {}),
                "bytes_sent": sum(int(p.get("bytes_sent", 0)) for p in peers),
                "bytes_recv": sum(int(p.get("bytes_recv", 0)) for p in peers),
                "messages": by_type,
                "peers": len(peers),
                "mempool": {k: mp.get(k) for k in ("size", "bytes", "usage")},
                "proc": read_proc_stats(n.proc.pid) if n.proc else {},
                "threads": read_thread_cpu(n.proc.pid) if n.proc else {},
            }
            # TLS ciphertext over the same live peers as bytes_sent, so that the difference is
            # TLS's own cost; absent when the node does not count it (an older hearsayd).
            for k in ("tls_bytes_sent", "tls_bytes_recv"):
                if all(k in p for p in peers):
                    node[k] = sum(int(p[k]) for p in peers)
            nodes.append(node)
        return {"t": time.time(), "nodes": nodes}

    def mempool_sizes(self) -> list[int]:
        return [int(n.rpc.call("getinfo").get("mempool_size", 0)) for n in self.nodes]

    def pids(self) -> list[int]:
        return [n.proc.pid for n in self.nodes if n.proc]

    # -- stop --

    def stop(self, grace: float = STOP_GRACE_S, only: list[int] | None = None) -> None:
        nodes = self.nodes if only is None else [self.nodes[i] for i in only]
        for n in nodes:
            n.stopped = True
            if n.rpc:
                n.rpc.close()
        procs = [n.proc for n in nodes if n.proc is not None]
        _stop_processes(procs, grace, self.log)
        for n in nodes:
            if n.proc is not None:
                n.exit_code = n.proc.returncode

    def detach(self) -> None:
        """Leaves the nodes running after the tool exits (devnet KEEP=1)."""
        for n in self.nodes:
            if n.rpc:
                n.rpc.close()
            if n.proc is not None:
                forget_child(n.proc)

    def describe(self) -> dict:
        return {"nodes": [{"index": n.index, "identity": n.identity, "datadir": n.datadir,
                           "p2p_port": n.p2p_port, "rpc_port": n.rpc_port, "connect": n.connect,
                           "pid": n.proc.pid if n.proc else None}
                          for n in self.nodes]}


def write_json(path: str, obj) -> None:
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=2, sort_keys=False)
        f.write("\n")
    os.replace(tmp, path)
