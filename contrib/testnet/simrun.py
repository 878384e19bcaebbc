"""--compare-sim: a finished testnet run simulated by hearsay-sim on the same configuration, so
that its report can put the simulation's figures beside the real ones (analyze.py compare_sim).

Everything comes from the run's folder DIR (testnet.json's params, the traces, inject.jsonl);
the simulation writes DIR/sim (SIM_DIR) and its output goes to DIR/sim.log. What hearsay-sim
run gets:
  --topology file:DIR/sim/topology.txt   the run's links, one "DIALLER LISTENER" line each: the
                 simulated nodes dial as the real ones did.
  --schedule DIR/sim/schedule.txt   one "OFFSET_US ORIGIN" line per measured transaction: its
                 injection (inject.jsonl's "t") after the first one's, and its origin, the node
                 whose trace saw it first "from rpc" (analyze.py's TxSeen); --txs is their count.
  --latency      constant:D for a link delay of D ms; with a jitter of J ms uniform:LO:HI, LO =
                 max(0, D - J), HI = D + J. hearsayd (net/connection.cpp Connection::delay) draws
                 every frame's delay in D ± J (clamped at 0, a link never reordering); the
                 simulator draws one latency per link from the range: the same mean, another
                 spread.
  --cores        --verify-threads, else hearsayd's default: one verification thread per core of
                 this machine (net/verify_pool.cpp).
  the relay options the nodes ran (params, with hearsayd's defaults that getnetworkinfo
  reported), --inv-interval-ms, --nodes, --degree, --size, --warmup, --seed, and --blocks /
  --block-interval for a run with blocks; --analyzer this folder's testnet.py.
Not passed: --node-arg (no simulated node has those options) and --bandwidth (a testnet's
links are not limited: the simulator's default, unlimited).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import time

from analyze import SIM_DIR, TxSeen, load_json, observe_traces
from cluster import ClusterError
from common import RECON_OPTIONS, TREE_TIMERS, last_line, relay_args

SIMULATOR = "hearsay-sim"
# Wall-clock limit of one simulation with its analysis. A testnet's size (≤ a few hundred
# nodes and thousands of transactions) simulates in seconds; this only stops a hang.
SIM_TIMEOUT_S = 600
# hearsayd's most verification threads (net/verify_pool.h kMaxVerifyThreads).
MAX_VERIFY_THREADS = 256
ANALYZER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "testnet.py")


def find_simulator(bin_dir: str) -> str:
    path = os.path.abspath(os.path.join(bin_dir, SIMULATOR))
    if not os.access(path, os.X_OK):
        raise ClusterError(f"--compare-sim needs {path}, which is missing: build it (cmake "
                           f"--build BUILD --target {SIMULATOR}) or pass the --bin folder that "
                           "holds it")
    return path


def latency_spec(delay_ms: int, jitter_ms: int) -> str:
    """The simulator's --latency for hearsayd's --link-delay-ms and --link-jitter-ms."""
    if not jitter_ms:
        return f"constant:{delay_ms}"
    return f"uniform:{max(0, delay_ms - jitter_ms)}:{delay_ms + jitter_ms}"


def schedule(txs: list[TxSeen]) -> list[tuple[int, int]]:
    """(offset µs from the first injection, origin) per measured transaction with a known
    origin, in the order of their injection times."""
    known = [tx for tx in txs if tx.origin is not None]
    if not known:
        return []
    first = min(tx.t0 for tx in known)
    return sorted(((tx.t0 - first, tx.origin) for tx in known), key=lambda x: x[0])


def cores(params: dict) -> int:
    threads = params.get("verify_threads") or os.cpu_count() or 1
    return max(1, min(MAX_VERIFY_THREADS, int(threads)))


def sim_relay_args(params: dict) -> list[str]:
    """The relay options the real nodes ran, as hearsayd's (and hearsay-sim's) options."""
    a = argparse.Namespace(relay_mode=params.get("relay_mode"),
                           push_peers=params.get("push_peers") or None)
    for attr, _ in (*TREE_TIMERS, *RECON_OPTIONS):
        setattr(a, attr, params.get(attr))
    return relay_args(a)


def write_inputs(out: str, meta: dict) -> tuple[str, str, int]:
    """DIR/sim/topology.txt and DIR/sim/schedule.txt; returns their paths and the number of
    scheduled transactions."""
    sim_dir = os.path.join(out, SIM_DIR)
    os.makedirs(sim_dir, exist_ok=True)
    topo = os.path.join(sim_dir, "topology.txt")
    with open(topo, "w", encoding="utf-8") as f:
        for dialler, listener in meta["topology"]["edges"]:
            f.write(f"{dialler} {listener}\n")
    rows = schedule(list(observe_traces(out, meta).txs))
    if not rows:
        raise ClusterError(f"{out}: no measured transaction with a known origin to simulate")
    plan = os.path.join(sim_dir, "schedule.txt")
    with open(plan, "w", encoding="utf-8") as f:
        for offset, origin in rows:
            f.write(f"{offset} {origin}\n")
    return topo, plan, len(rows)


def sim_argv(simulator: str, out: str, meta: dict) -> list[str]:
    """hearsay-sim run's command line for the run in `out` (writes its input files)."""
    p = meta["params"]
    topo, plan, txs = write_inputs(out, meta)
    argv = [simulator, "run", "--nodes", str(p["nodes"]), "--degree", str(p["degree"]),
            "--topology", f"file:{topo}", "--schedule", plan, "--txs", str(txs),
            "--size", str(p["size"]), "--warmup", str(p.get("warmup") or 0),
            "--seed", str(p["seed"]),
            "--latency", latency_spec(int(p.get("link_delay_ms") or 0),
                                      int(p.get("jitter_ms") or 0)),
            *sim_relay_args(p), "--inv-interval-ms", str(p.get("inv_interval_ms") or 0),
            "--cores", str(cores(p))]
    if p.get("blocks"):
        argv += ["--blocks", str(p["blocks"]), "--block-interval", str(p["block_interval"])]
    return argv + ["--out", os.path.join(out, SIM_DIR), "--analyzer", ANALYZER]


def why(log_path: str) -> str:
    """The simulator's last word in its log: its last "hearsay-sim: ..." line (the analysis
    it runs prints after it), else the log's last line."""
    try:
        with open(log_path, encoding="utf-8", errors="replace") as f:
            said = [x.strip() for x in f if x.startswith(f"{SIMULATOR}:")]
    except OSError:
        said = []
    return said[-1] if said else last_line(log_path)


def simulate(bin_dir: str, out: str, meta: dict) -> dict:
    """Runs the simulation of the run in `out`; returns what testnet.json records of it
    ("compare_sim"): {"exit_code", "error" (None when it succeeded), "argv", "wall_s"}."""
    simulator = find_simulator(bin_dir)
    argv = sim_argv(simulator, out, meta)
    log_path = os.path.join(out, "sim.log")
    start = time.monotonic()
    try:
        with open(log_path, "wb") as log:
            code = subprocess.run(argv, stdout=log, stderr=subprocess.STDOUT,
                                  timeout=SIM_TIMEOUT_S).returncode
        error = None if code == 0 else f"{SIMULATOR} exited with code {code}: {why(log_path)}"
    except subprocess.TimeoutExpired:
        code, error = 1, f"{SIMULATOR} did not finish within {SIM_TIMEOUT_S} s (see {log_path})"
    except OSError as e:
        code, error = 1, f"{SIMULATOR} could not run: {e}"
    if code == 0 and load_json(os.path.join(out, SIM_DIR, "report.json")) is None:
        code, error = 1, f"{SIMULATOR} wrote no {SIM_DIR}/report.json (see {log_path})"
    return {"exit_code": code, "error": error, "argv": argv,
            "wall_s": round(time.monotonic() - start, 1)}
