"""testnet.py plan: the files for a testnet spread over several hosts (no provisioning).

  testnet.py plan --hosts HOSTS --nodes N --degree D [--topology ...] [--seed S]
                  [--link-delay-ms X ...] [--relay-mode pull|push|tree ...] [--bin DIR] --out DIR

HOSTS has one host per line, "ADDRESS [FIRST_PORT]" ('#' comments): the address other hosts
reach it at, and the first of the ports its nodes use (default 18800; node k of a host listens
on FIRST_PORT + 2k and serves RPC on 127.0.0.1:FIRST_PORT + 2k + 1). Nodes go to hosts round
robin. DIR receives, per host, a folder DIR/hosts/ADDRESS/ holding:
  nodeNNN/identity.key, nodeNNN/hearsay.conf   identity (hearsay-cli keygen) and wiring
                                               (listen, rpc, connect=PUBKEY@HOST:PORT, link,
                                               relay mode)
  allow-peers.txt                              every identity of the testnet
  start.sh / stop.sh                           run / stop this host's nodes (hearsayd on PATH,
                                               or HEARSAYD=/path/to/hearsayd)
  inject.sh                                    hearsay-cli inject against this host's nodes
and DIR/testnet.json, which `testnet.py analyze DIR` reads once the traces are gathered: copy
each host's nodeNNN/trace.jsonl to DIR/nodeNNN/trace.jsonl and its inject.jsonl lines into
DIR/inject.jsonl. The hosts' clocks must agree (chrony/NTP): traces compare wall-clock times,
so a clock offset shows up in every cross-host per-hop figure.
"""

from __future__ import annotations

import os
import shlex
import subprocess

from cluster import ClusterError, check_binaries, default_bin_dir, write_json
from common import HelpFormatter, add_relay_options, log, relay_args, relay_settings
from topology import build

DEFAULT_FIRST_PORT = 18800


def read_hosts(path: str) -> list[tuple[str, int]]:
    hosts = []
    try:
        with open(path, encoding="utf-8") as f:
            for lineno, line in enumerate(f, 1):
                line = line.split("#", 1)[0].split()
                if not line:
                    continue
                if len(line) > 2 or (len(line) == 2 and not line[1].isdigit()):
                    raise ClusterError(f"{path}:{lineno}: expected 'ADDRESS [FIRST_PORT]'")
                hosts.append((line[0], int(line[1]) if len(line) == 2 else DEFAULT_FIRST_PORT))
    except OSError as e:
        raise ClusterError(f"cannot read --hosts {path}: {e.strerror}") from e
    if not hosts:
        raise ClusterError(f"{path} names no host")
    return hosts


def cmd_plan(a) -> int:
    out = os.path.abspath(a.out)
    if os.path.exists(os.path.join(out, "testnet.json")):
        raise ClusterError(f"{out} already holds a testnet: choose another --out")
    mode, push_peers = relay_settings(a)
    # The relay options as config lines: "--name value" pairs become "name=value".
    relay = relay_args(a)
    relay_conf = [f"{relay[k][2:]}={relay[k + 1]}" for k in range(0, len(relay), 2)]
    hosts = read_hosts(a.hosts)
    topo = build(a.topology, a.nodes, a.degree, a.seed)
    cli = check_binaries(a.bin or default_bin_dir(), ("hearsay-cli",))["hearsay-cli"]
    nodes = []
    per_host_count: dict[str, int] = {}
    for i in range(topo.nodes):
        host, first = hosts[i % len(hosts)]
        k = per_host_count.get(host, 0)
        per_host_count[host] = k + 1
        hdir = os.path.join(out, "hosts", host)
        ndir = os.path.join(hdir, f"node{i:03d}")
        os.makedirs(ndir, mode=0o700, exist_ok=True)
        key = os.path.join(ndir, "identity.key")
        r = subprocess.run([cli, "keygen", "--out", key], capture_output=True, text=True)
        if r.returncode != 0:
            raise ClusterError(f"hearsay-cli keygen: {r.stderr.strip()}")
        nodes.append({"index": i, "host": host, "identity": r.stdout.split()[-1],
                      "p2p_port": first + 2 * k, "rpc_port": first + 2 * k + 1,
                      "rpc_host": host, "datadir": f"hosts/{host}/node{i:03d}"})
    allow = "".join(n["identity"] + "\n" for n in nodes)
    for host, _ in hosts:
        hdir = os.path.join(out, "hosts", host)
        if not os.path.isdir(hdir):
            continue
        with open(os.path.join(hdir, "allow-peers.txt"), "w", encoding="ascii") as f:
            f.write(allow)
        mine = [n for n in nodes if n["host"] == host]
        for n in mine:
            conf = [f"# node {n['index']} of the testnet planned by contrib/testnet/testnet.py plan",
                    f"listen=0.0.0.0:{n['p2p_port']}", f"rpc=127.0.0.1:{n['rpc_port']}",
                    "max-outbound=0", f"link-delay-ms={a.link_delay_ms}",
                    f"link-jitter-ms={a.jitter_ms}", f"inv-interval-ms={a.inv_interval_ms}",
                    *relay_conf, "log-level=warn"]
            for j in topo.dials(n["index"]):
                m = nodes[j]
                conf.append(f"connect={m['identity']}@{m['host']}:{m['p2p_port']}")
            with open(os.path.join(out, n["datadir"], "hearsay.conf"), "w", encoding="utf-8") as f:
                f.write("\n".join(conf) + "\n")
        start = ["#!/bin/sh", "# Starts this host's testnet nodes (see contrib/testnet/plan.py).",
                 "set -e", 'ROOT=$(cd "$(dirname "$0")" && pwd)',
                 'HEARSAYD=${HEARSAYD:-hearsayd}']
        stop = ["#!/bin/sh", 'ROOT=$(cd "$(dirname "$0")" && pwd)',
                'CLI=${HEARSAY_CLI:-hearsay-cli}']
        rpcs = []
        for n in mine:
            d = f'"$ROOT/node{n["index"]:03d}"'
            start.append(f'$HEARSAYD --datadir {d} --allow-peers "$ROOT/allow-peers.txt" '
                         f'--trace {d}/trace.jsonl --log-file {d}/hearsayd.log --log-stderr 0 '
                         f'> {d}/stdout.log 2> {d}/stderr.log &')
            stop.append(f'$CLI --datadir {d} --rpc 127.0.0.1:{n["rpc_port"]} stop || true')
            rpcs.append(f'--rpc 127.0.0.1:{n["rpc_port"]} --datadir {d}')
        start.append('echo "started; stop with $ROOT/stop.sh"')
        inject = ["#!/bin/sh", "# Injects into this host's nodes; arguments go to inject.",
                  'ROOT=$(cd "$(dirname "$0")" && pwd)', 'CLI=${HEARSAY_CLI:-hearsay-cli}',
                  f'exec $CLI inject --out "$ROOT/inject.jsonl" {" ".join(rpcs)} "$@"']
        for name, lines in (("start.sh", start), ("stop.sh", stop), ("inject.sh", inject)):
            p = os.path.join(hdir, name)
            with open(p, "w", encoding="utf-8") as f:
                f.write("\n".join(lines) + "\n")
            os.chmod(p, 0o755)
    params = {"nodes": topo.nodes, "degree": a.degree, "topology": a.topology, "seed": a.seed,
              "txs": None, "rate": None, "size": None, "link_delay_ms": a.link_delay_ms,
              "jitter_ms": a.jitter_ms, "relay_mode": mode, "push_peers": push_peers,
              "graft_timeout_ms": a.graft_timeout_ms, "lazy_interval_ms": a.lazy_interval_ms,
              "inv_interval_ms": a.inv_interval_ms, "origin": "hosts"}
    write_json(os.path.join(out, "testnet.json"),
               {"params": params, "topology": topo.to_json(), "nodes": nodes, "hosts": hosts,
                "completed": None})
    log(f"planned {topo.nodes} nodes on {len(hosts)} hosts in {out}/hosts/: copy each folder to "
        f"its host, run start.sh there, inject with inject.sh, gather the traces into "
        f"{out}/nodeNNN/trace.jsonl and run: testnet.py analyze {shlex.quote(out)}")
    return 0


def add_parser(sub) -> None:
    p = sub.add_parser("plan", help="files for a testnet across several hosts (hosts file)",
                       description=__doc__, formatter_class=HelpFormatter)
    p.add_argument("--hosts", required=True,
                   help="file with one 'ADDRESS [FIRST_PORT]' per line (required)")
    p.add_argument("--nodes", type=int, required=True,
                   help="nodes in all, spread round robin over the hosts (required)")
    p.add_argument("--degree", type=int, default=8, help="links per node")
    p.add_argument("--topology", default="random-regular",
                   help="random-regular, ring, full or file:PATH (edge list 'A B' per line)")
    p.add_argument("--seed", type=int, default=1, help="seed of the random-regular topology")
    p.add_argument("--link-delay-ms", type=int, default=0,
                   help="emulated one-way delay on every link, ms (0 with real links)")
    p.add_argument("--jitter-ms", type=int, default=0, help="random extra delay, up to this, ms")
    add_relay_options(p)
    p.add_argument("--inv-interval-ms", type=int, default=0,
                   help="hearsayd --inv-interval-ms: mean time between announcements (0: at once)")
    p.add_argument("--bin", default=None,
                   help=f"folder of hearsay-cli, for keygen (default {default_bin_dir()})")
    p.add_argument("--out", required=True, help="folder to write the plan into (required)")
    p.set_defaults(func=cmd_plan)
