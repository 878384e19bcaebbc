"""What every subcommand shares: the progress logger, the machine description, a log's last line
and hearsayd's relay options (run, devnet, plan and the simulation of --compare-sim pass the same
ones to every node)."""

from __future__ import annotations

import argparse
import os
import platform
import time

from cluster import ClusterError

_t_start = time.monotonic()


def log(msg: str) -> None:
    print(f"[{time.monotonic() - _t_start:7.1f}s] {msg}", flush=True)


def machine() -> str:
    model = ""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    distro = ""
    try:
        with open("/etc/os-release", encoding="utf-8") as f:
            for line in f:
                if line.startswith("PRETTY_NAME="):
                    distro = line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    return f"{os.cpu_count()} cores {model or platform.machine()}, {distro or platform.system()}"


def last_line(path: str) -> str:
    """The last non-empty line of a log file ("" when there is none)."""
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - 400))
            lines = f.read().decode("utf-8", "replace").replace("\r", "\n").splitlines()
        return next((x.strip() for x in reversed(lines) if x.strip()), "")
    except OSError:
        return ""


def loadavg() -> str:
    """The 1-minute load average (other work on the machine skews every figure)."""
    try:
        with open("/proc/loadavg", encoding="ascii") as f:
            return f.read().split()[0]
    except (OSError, IndexError):
        return "?"


class HelpFormatter(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
    """--help of every subcommand: the description as written, and each option's default
    appended, unless its help already says it (or there is none to show)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if (action.default in (None, argparse.SUPPRESS) or action.required
                or "default" in text or not action.option_strings):
            return text
        return super()._get_help_string(action)


# hearsayd's --push-peers under --relay-mode push when not given (node/options.h
# kDefaultPushPeers).
DEFAULT_PUSH_PEERS = 2
RELAY_MODES = ("pull", "push", "tree")
TREE_TIMERS = (("graft_timeout_ms", "--graft-timeout-ms"),
               ("lazy_interval_ms", "--lazy-interval-ms"))
# Set reconciliation's options (hearsayd's --reconcile, --reconcile-interval-ms, --flood-peers),
# as params keys and flags.
RECON_OPTIONS = (("reconcile", "--reconcile"), ("reconcile_interval_ms", "--reconcile-interval-ms"),
                 ("flood_peers", "--flood-peers"))


def relay_settings(a) -> tuple[str, int]:
    """The relay mode and push peers every node runs, as hearsayd settles them: --push-peers
    K > 0 alone means push; push without --push-peers pushes to DEFAULT_PUSH_PEERS. The
    contradictions hearsayd refuses are refused here first, naming both options."""
    given = a.relay_mode
    peers = a.push_peers
    if given is not None and given not in RELAY_MODES:
        raise ClusterError(f"--relay-mode {given}: use pull, push or tree")
    if peers is not None and peers < 0:
        raise ClusterError(f"--push-peers {peers}: use 0 or more")
    mode = given or ("push" if peers else "pull")
    if mode == "push" and peers == 0:
        raise ClusterError("--relay-mode push and --push-peers 0 contradict each other: push "
                           "mode pushes to K > 0 peers (leave --push-peers out to push to "
                           f"{DEFAULT_PUSH_PEERS})")
    if mode != "push" and peers:
        raise ClusterError(f"--relay-mode {mode} and --push-peers {peers} contradict each other: "
                           "push peers are for --relay-mode push")
    for attr, flag in TREE_TIMERS:
        if getattr(a, attr) is not None and mode != "tree":
            raise ClusterError(f"{flag} applies to --relay-mode tree only (the relay mode is "
                               f"{mode})")
    return mode, (peers or DEFAULT_PUSH_PEERS) if mode == "push" else 0


def check_recon_options(a, mode: str) -> None:
    """The reconciliation options against each other and the relay mode, refused as hearsayd
    refuses them, naming both options (None: not given, hearsayd's default stands)."""
    reconcile, interval, flood = (getattr(a, attr) for attr, _ in RECON_OPTIONS)
    if reconcile not in (None, 0, 1):
        raise ClusterError(f"--reconcile {reconcile}: use 0 or 1")
    for value, flag in ((interval, "--reconcile-interval-ms"), (flood, "--flood-peers")):
        if value is not None and value < 0:
            raise ClusterError(f"{flag} {value}: use 0 or more")
    if reconcile == 0 and interval is not None:
        raise ClusterError(f"--reconcile-interval-ms {interval} applies only with "
                           "reconciliation, and --reconcile 0 turns it off")
    if not flood:
        return
    if reconcile == 0:
        raise ClusterError(f"--flood-peers {flood} applies only with reconciliation, and "
                           "--reconcile 0 turns it off (the peers not flooded learn by it)")
    if interval == 0:
        raise ClusterError(f"--flood-peers {flood} and --reconcile-interval-ms 0 contradict each "
                           "other: reconciling only on connect, the peers not flooded would never "
                           "learn the later transactions")
    if mode != "pull":
        raise ClusterError(f"--flood-peers applies to --relay-mode pull only (the relay mode is "
                           f"{mode})")


def relay_args(a) -> list[str]:
    """hearsayd's relay options for every node (only those given: hearsayd's defaults stand)."""
    mode, peers = relay_settings(a)
    check_recon_options(a, mode)
    args = ["--relay-mode", mode]
    if peers:
        args += ["--push-peers", str(peers)]
    for attr, flag in (*TREE_TIMERS, *RECON_OPTIONS):
        if getattr(a, attr) is not None:
            args += [flag, str(getattr(a, attr))]
    return args


def add_relay_options(p: argparse.ArgumentParser) -> None:
    """--relay-mode, --push-peers, --graft-timeout-ms, --lazy-interval-ms, --reconcile,
    --reconcile-interval-ms and --flood-peers (hearsayd's)."""
    p.add_argument("--relay-mode", choices=RELAY_MODES, default=None,
                   help="hearsayd --relay-mode for every node: pull (announce, then request), "
                        "push (also push each new transaction to --push-peers peers) or tree "
                        "(push along one tree per origin, announce on the other links) "
                        "(default: pull, or push with --push-peers K > 0)")
    p.add_argument("--push-peers", type=int, default=None,
                   help="hearsayd --push-peers: peers sent each new transaction whole; K > 0 "
                        "alone means --relay-mode push (default: 0, or "
                        f"{DEFAULT_PUSH_PEERS} with --relay-mode push)")
    p.add_argument("--graft-timeout-ms", type=int, default=None,
                   help="hearsayd --graft-timeout-ms, with --relay-mode tree: how long an "
                        "announced transaction waits for its tree push before it is requested "
                        "(default: hearsayd's)")
    p.add_argument("--lazy-interval-ms", type=int, default=None,
                   help="hearsayd --lazy-interval-ms, with --relay-mode tree: mean interval "
                        "between announcements to a tree peer (default: hearsayd's)")
    p.add_argument("--reconcile", type=int, choices=(0, 1), default=None,
                   help="hearsayd --reconcile for every node: 1 compares mempools by sketch (set "
                        "reconciliation) on every link, on connect and every "
                        "--reconcile-interval-ms; 0 relays by announcements alone "
                        "(default: hearsayd's, 1)")
    p.add_argument("--reconcile-interval-ms", type=int, default=None,
                   help="hearsayd --reconcile-interval-ms: mean interval between reconciliation "
                        "rounds on a link, 0 = only on connect (default: hearsayd's)")
    p.add_argument("--flood-peers", type=int, default=None,
                   help="hearsayd --flood-peers, in pull mode with reconciliation: announce each "
                        "new transaction to only this many reconciling peers, the others learn it "
                        "by reconciliation; 0 = every peer (default: hearsayd's, 0)")
