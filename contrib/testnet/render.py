"""report.json, report.md and the gnuplot figures of a run.

Figures (PNG beside the report, drawn by gnuplot from .dat files kept for re-plotting):
  cdf_time_to_all.png   CDF over transactions of t100 (ms from injection until every node holds it)
  coverage.png          % of nodes holding a transaction vs ms since injection: median and p95
                        across transactions (the p95 curve is the slow 5 %)
  per_hop_hist.png      histogram of per-hop latency (first-seen difference across a link)
Without gnuplot the report says so and everything else is written.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from bisect import bisect_left, bisect_right

from analyze import coverage_curve, percentile

GNUPLOT_TIMEOUT_S = 60
HIST_BINS = 40


def _write_dat(path: str, header: str, rows) -> None:
    with open(path, "w", encoding="utf-8") as f:
        f.write(f"# {header}\n")
        for r in rows:
            f.write(" ".join("NaN" if v is None else f"{v:.6g}" for v in r) + "\n")


def _terminal() -> str:
    try:
        r = subprocess.run(["gnuplot", "-e", "set terminal"], capture_output=True, text=True,
                           timeout=GNUPLOT_TIMEOUT_S)
    except (OSError, subprocess.TimeoutExpired):
        return "png"
    return "pngcairo" if "pngcairo" in r.stdout + r.stderr else "png"


def hop_histogram(hop: list[float]) -> tuple[list[tuple[float, int, int]], dict]:
    """The per-hop histogram: HIST_BINS bars from min(0, fastest) up to the p99.5 cut, and one
    more, labelled, holding every hop above the cut (so none is silently dropped).

    Returns (rows of (bar centre ms, hops in range, hops above the cut), info) where info is
    {"hops", "cut_ms", "above", "max_ms"}; rows and info are empty without hops.
    """
    hop = sorted(hop)
    if not hop:
        return [], {}
    hi = percentile(hop, 99.5) or hop[-1]
    lo = min(0.0, hop[0])
    width = max((hi - lo) / HIST_BINS, 1e-3)

    def bar(v: float) -> int:
        return min(HIST_BINS - 1, max(0, int((v - lo) / width)))
    # `bar` never decreases along the sorted hops: each bar's hops are found by bisection (a
    # simulation has millions of them).
    cut = bisect_right(hop, hi)
    starts = [bisect_left(hop, i, 0, cut, key=bar) for i in range(HIST_BINS)] + [cut]
    counts = [starts[i + 1] - starts[i] for i in range(HIST_BINS)]
    above = len(hop) - cut
    rows = [(lo + (i + 0.5) * width, c, 0) for i, c in enumerate(counts)]
    if above:
        rows.append((lo + (HIST_BINS + 1.5) * width, 0, above))
    info = {"hops": len(hop), "cut_ms": round(hi, 3), "above": above,
            "max_ms": round(hop[-1], 3)}
    return rows, info


def run_parameters(report: dict) -> str:
    """The run in a few words, for the figures' titles."""
    r = report
    rate = f"{r.get('rate'):g} tx/s" if r.get("rate") else "full speed"
    if r.get("sim"):
        delay = f"simulated, latency {r.get('latency')}"
    else:
        delay = (f"link delay {r.get('link_delay_ms')} ms" if r.get("link_delay_ms")
                 else "no link delay")
    mode = f", {r['relay_mode']} relay" if r.get("relay_mode") else ""
    return (f"{r.get('nodes')} nodes, {r.get('topology')} degree {r.get('degree')}, "
            f"{r.get('txs')} tx of {r.get('size')} B at {rate}, {delay}{mode}")


def plot_titles(report: dict, hist: dict) -> dict[str, str]:
    """Each figure's title: what it shows, then the run's parameters on a second line (a
    gnuplot "\\n" in a double-quoted string)."""
    params = run_parameters(report)
    n_tx = len(report.get("_series", {}).get("t100", [])) or report.get("txs")
    if hist.get("above"):
        over = (f"; the last bar: {hist['above']} hops above {hist['cut_ms']:.1f} ms (p99.5), "
                f"the slowest {hist['max_ms']:.1f} ms")
    else:
        over = ""
    return {
        "cdf_time_to_all.png": f"Time for a transaction to reach every node: CDF over {n_tx} "
                               f"transactions\\n{params}",
        "coverage.png": "Share of the nodes holding a transaction, by time since its injection "
                        f"(median and p95 transaction)\\n{params}",
        "per_hop_hist.png": f"Per-hop latency: {hist.get('hops', 0)} hops{over}\\n{params}",
    }


def plots(out_dir: str, report: dict) -> tuple[list[str], str | None]:
    """Writes the data files and PNGs; returns (png names, a note when plots are missing)."""
    series = report.get("_series", {})
    n = report.get("nodes", 0)
    t100 = sorted(series.get("t100", []))
    cov = coverage_curve(series.get("coverage", []), n) if series.get("coverage") else []
    pdir = out_dir
    _write_dat(os.path.join(pdir, "cdf_time_to_all.dat"), "t100_ms fraction_of_txs",
               [(v, (i + 1) / len(t100)) for i, v in enumerate(t100)])
    _write_dat(os.path.join(pdir, "coverage.dat"), "percent_of_nodes median_ms p95_ms", cov)
    hist, info = hop_histogram(series.get("per_hop", []))
    if info:
        report["per_hop_hist"] = info
        report["per_hop_hist_beyond_p99_5"] = info["above"]
    _write_dat(os.path.join(pdir, "per_hop_hist.dat"),
               "bin_center_ms links links_above_the_cut", hist)

    if not shutil.which("gnuplot"):
        # No path in the note: report.json of a simulation's seed is the same bytes anywhere.
        return [], ("gnuplot is not installed, so no figures were drawn (apt-get install "
                    "gnuplot-nox, then run testnet.py analyze on this folder)")
    term = _terminal()
    titles = plot_titles(report, info)
    over_title = (f"above {info['cut_ms']:.1f} ms (p99.5): {info['above']}, the slowest "
                  f"{info['max_ms']:.1f} ms" if info.get("above") else "")
    pb = report.get("protocol_bound_ms", {}).get("p50")
    sb = report.get("shortest_path_bound_ms", {}).get("p50")
    bound_lines = ""
    if sb:
        bound_lines += (f"set arrow from {sb},graph 0 to {sb},graph 1 nohead dt 2 lc rgb 'gray'\n"
                        f"set label 'shortest path' at {sb},graph 0.95 left offset 0.5,0\n")
    if pb and pb != sb:
        bound_lines += (f"set arrow from {pb},graph 0 to {pb},graph 1 nohead dt 3 lc rgb 'red'\n"
                        f"set label 'protocol bound (1.5 RTT per hop)' at {pb},graph 0.88 left offset 0.5,0\n")
    hist_over = (f", \\\n     'per_hop_hist.dat' using 1:3 with boxes lc rgb 'red' "
                 f"title '{over_title}' noenhanced" if over_title else "")
    script = f"""
set terminal {term} size 900,560
set grid
set key bottom right
set output 'cdf_time_to_all.png'
set title "{titles['cdf_time_to_all.png']}" noenhanced
set xlabel 'ms from injection until every node holds the transaction (t100)'
set ylabel 'fraction of transactions'
set yrange [0:1.02]
set xrange [0:*]
{bound_lines}
plot 'cdf_time_to_all.dat' using 1:2 with steps lw 2 title 'time to all nodes (CDF)'
unset arrow
unset label
set output 'coverage.png'
set title "{titles['coverage.png']}" noenhanced
set xlabel 'ms since injection'
set ylabel '% of nodes holding the transaction'
set yrange [0:102]
{bound_lines}
plot 'coverage.dat' using 2:1 with lines lw 2 title 'median transaction', \\
     'coverage.dat' using 3:1 with lines lw 2 dt 2 title 'p95 transaction'
unset arrow
unset label
set output 'per_hop_hist.png'
set title "{titles['per_hop_hist.png']}" noenhanced
set xlabel 'per-hop latency, ms (first seen at receiver - first seen at sender)'
set ylabel 'link deliveries'
set yrange [0:*]
set style fill solid 0.6
set boxwidth 0.9 relative
set key top right
plot 'per_hop_hist.dat' using 1:2 with boxes title 'deliveries'{hist_over}
"""
    with open(os.path.join(pdir, "plots.gp"), "w", encoding="utf-8") as f:
        f.write(script)
    try:
        r = subprocess.run(["gnuplot", "plots.gp"], cwd=pdir, capture_output=True, text=True,
                           timeout=GNUPLOT_TIMEOUT_S)
    except (OSError, subprocess.TimeoutExpired) as e:
        return [], f"gnuplot failed: {e}"
    pngs = [p for p in ("cdf_time_to_all.png", "coverage.png", "per_hop_hist.png")
            if os.path.exists(os.path.join(pdir, p))]
    note = None
    if r.returncode != 0 or len(pngs) < 3:
        note = "gnuplot reported: " + (r.stderr.strip().splitlines() or ["(nothing)"])[-1]
    return pngs, note


def _fmt(d: dict | None, keys=("p50", "p90", "p95", "p99", "max")) -> str:
    if not d or d.get("count", 1) == 0:
        return "n/a"
    return " / ".join("n/a" if d.get(k) is None else f"{d[k]:.1f}" for k in keys)


def _v(x) -> str:
    """A value for the report: "n/a" where there is none (never Python's None)."""
    return "n/a" if x is None else str(x)


def bound_rows(r: dict) -> list[str]:
    """The lower-bound rows; one plain line when the links have no delay (every bound is 0)."""
    sb = (r.get("shortest_path_bound_ms") or {}).get("p50")
    pb = (r.get("protocol_bound_ms") or {}).get("p50")
    if not r.get("bound_link_delay_ms", r.get("link_delay_ms")) or not sb:
        return ["| lower bound on t100 | no link delay: no lower bound |"]
    delay = ("delay" if r.get("link_delay_ms") is not None
             else f"mean latency {r.get('bound_link_delay_ms')} ms")
    return [
        f"| shortest-path bound (eccentricity × {delay}), ms p50 | {_v(sb)} |",
        f"| protocol bound (× {_v(r.get('round_trips_per_hop'))} round trips per hop), ms p50 | "
        f"{_v(pb)} |",
        f"| t100 p50 ÷ shortest-path bound | {_v(r.get('t100_over_shortest_path_bound'))} |",
        f"| t100 p50 ÷ protocol bound (from origin acceptance) | "
        f"{_v(r.get('t100_over_protocol_bound'))} "
        f"({_v(r.get('t100_from_origin_over_protocol_bound'))}) |",
    ]


def relay_words(r: dict) -> str:
    """The relay mode and its settings, e.g. "relay mode tree (graft timeout 100 ms, lazy
    interval 50 ms)", then reconciliation's, e.g. ", reconciliation every 2000 ms"."""
    mode = r.get("relay_mode")

    def ms(k: str) -> str:
        return "hearsayd's default" if r.get(k) is None else f"{r[k]} ms"
    if mode is None:  # a report from before --relay-mode
        words = f"push peers {_v(r.get('push_peers'))}"
    elif mode == "push":
        words = f"relay mode push ({_v(r.get('push_peers'))} push peers)"
    elif mode == "tree":
        words = (f"relay mode tree (graft timeout {ms('graft_timeout_ms')}, lazy interval "
                 f"{ms('lazy_interval_ms')})")
    else:
        words = f"relay mode {mode}"
    return words + recon_words(r)


def recon_words(r: dict) -> str:
    """Reconciliation's settings after the relay mode's words ("" when unrecorded)."""
    if r.get("reconcile") is None:
        return ""
    if not r["reconcile"]:
        return ", no reconciliation"
    interval = r.get("reconcile_interval_ms")
    when = ("hearsayd's default interval" if interval is None
            else "only on connect" if interval == 0 else f"every {interval} ms")
    flood = r.get("flood_peers")
    fanout = (f", announcements to {flood} reconciling peer{'' if flood == 1 else 's'}"
              if flood else "")
    return f", reconciliation {when}{fanout}"


def tree_markdown(r: dict) -> list[str]:
    """Tree relay's counters summed over the nodes (tree mode, or any counted)."""
    t = r.get("tree")
    if not t or (r.get("relay_mode") != "tree" and not any(t.values())):
        return []
    return [f"Tree relay, summed over the nodes: {t.get('tree_peers', 0)} tree peers (each link "
            f"at both ends), {t.get('tree_pushed', 0)} bodies pushed down trees, prunes "
            f"{t.get('prunes_sent', 0)} sent / {t.get('prunes_received', 0)} received, grafts "
            f"{t.get('grafts_sent', 0)} sent / {t.get('grafts_received', 0)} received, "
            f"{t.get('tree_swaps', 0)} parents swapped for a faster peer, "
            f"{t.get('withheld', 0)} bodies withheld.", ""]


def recon_markdown(r: dict) -> list[str]:
    """Set reconciliation's counters summed over the nodes (when any link reconciled)."""
    c = r.get("recon")
    if not c or not any(c.values()):
        return []
    return [f"Set reconciliation, summed over the nodes: {c.get('recon_peers', 0)} reconciling "
            f"peers (each link at both ends), {c.get('recon_rounds', 0)} rounds, requests "
            f"{c.get('recon_requests_sent', 0)} sent / {c.get('recon_requests_received', 0)} "
            f"received, sketch bytes {c.get('recon_sketch_bytes_sent', 0)} sent / "
            f"{c.get('recon_sketch_bytes_received', 0)} received, "
            f"{c.get('recon_differences', 0)} differences, {c.get('recon_failures', 0)} failed "
            f"decodes, {c.get('recon_bisections', 0)} bisections, "
            f"{c.get('recon_exchanges', 0)} parts exchanged whole, "
            f"{c.get('recon_refused', 0)} refused, {c.get('recon_timeouts', 0)} timed out, "
            f"{c.get('recon_announced', 0)} transactions announced by reconciliation.", ""]


def histogram_note(info: dict | None) -> list[str]:
    if not info or not info.get("hops"):
        return []
    if not info.get("above"):
        return [f"Per-hop histogram: all {info['hops']} hops are drawn.", ""]
    return [f"Per-hop histogram: {info['above']} of {info['hops']} hops took longer than "
            f"{info['cut_ms']:.1f} ms (the p99.5 cut) and are drawn together as the last, red "
            f"bar; the slowest took {info['max_ms']:.1f} ms.", ""]


def markdown(report: dict, pngs: list[str], note: str | None,
             sim_run: dict | None = None) -> str:
    """report.md. `sim_run`: a simulation's sim_run.json (its wall time and memory, which
    report.json leaves out)."""
    r = report
    lines = simulation_intro(r, sim_run) if r.get("sim") else testnet_intro(r)
    lines += [
        "| measure | value |",
        "|---|---|",
        f"| delivered fraction (node-transaction pairs held) | {r['delivered_fraction']} |",
        f"| transactions held by every node | {_v(r.get('fully_delivered_txs'))} of {r['txs']} |",
        f"| t50, ms (p50 / p90 / p95 / p99 / max over txs) | {_fmt(r.get('t50_ms'))} |",
        f"| t90, ms | {_fmt(r.get('t90_ms'))} |",
        f"| t100, ms | {_fmt(r.get('t100_ms'))} |",
        f"| t100 from the origin's acceptance, ms | {_fmt(r.get('t100_from_origin_ms'))} |",
        f"| injection → origin accepted (RPC), ms | {_fmt(r.get('inject_to_origin_accept_ms'))} |",
        f"| per hop, ms | {_fmt(r.get('per_hop_ms'))} |",
        f"| of which transfer (sender accepted → receiver first seen), ms | "
        f"{_fmt(r.get('transfer_ms'))} |",
        f"| of which validation (first seen → accepted), ms | {_fmt(r.get('validate_ms'))} |",
        *bound_rows(r),
        f"| throughput (tx reaching all nodes per s) | {_v(r.get('throughput_tps'))} |",
        f"| injection rate achieved, tx/s | {_v(r.get('injection_rate_tps'))} |",
        f"| bytes sent per tx per node (÷ tx size) | {_v(r.get('bytes_per_tx_per_node'))} "
        f"({_v(r.get('bytes_per_tx_per_node_over_size'))}) |",
        f"| tx bodies received per node per tx (ideal 1.0) | {_v(r.get('tx_bodies_per_node'))} |",
        f"| CPU seconds, all nodes, during the run | {_v(r.get('cpu_seconds'))} |",
        f"| CPU per tx per node by thread, µs | "
        + (", ".join(f"{k} {v}" for k, v in r["cpu_us_per_tx_per_node_by_thread"].items())
           if r.get("cpu_us_per_tx_per_node_by_thread") else "n/a") + " |",
        f"| peak RSS of a node, MB (max / mean) | {_v(r.get('peak_rss_mb'))} / "
        f"{_v(r.get('peak_rss_mb_mean'))} |",
        "",
    ]
    by = r.get("bytes_per_tx_per_node_by_message")
    if by:
        lines += ["Bytes sent per transaction per node by message: " +
                  ", ".join(f"{k} {v}" for k, v in by.items()) + ".", ""]
    lines += wire_markdown(r)
    lines += tree_markdown(r)
    lines += recon_markdown(r)
    lines += compare_markdown(r.get("compare_sim"))
    if r.get("held_only_via_block"):
        lines += [f"Node–transaction pairs held only through a block (never in that node's "
                  f"mempool): {r['held_only_via_block']}.", ""]
    if r.get("rejections"):
        lines += [f"Rejections seen in the traces: {r['rejections']}.", ""]
    if r.get("blocks"):
        lines += block_markdown(r["blocks"])
    if r.get("timed_out"):
        lines += ["**The run timed out before every node held every transaction.**", ""]
    bad = {k: v for k, v in (r.get("node_exit_codes") or {}).items() if v not in (0, None)}
    if bad:
        lines += [f"**Nodes that did not exit cleanly (exit codes): {bad}.**", ""]
    for p in pngs:
        lines += [f"![{p[:-4]}]({p})", ""]
    lines += histogram_note(r.get("per_hop_hist"))
    if note:
        lines += [f"Figures: {note}.", ""]
    lines += ["Definitions: see contrib/testnet/analyze.py (and the README section "
              "\"Measuring propagation\").", ""]
    return "\n".join(lines)


def testnet_intro(r: dict) -> list[str]:
    """report.md's title and first paragraph for a run of real nodes."""
    load = r.get("load_average") or {}
    rate = f"{r.get('rate'):g} tx/s" if r.get("rate") else "full speed"
    delay = (f"link delay {r.get('link_delay_ms')} ms ± {_v(r.get('jitter_ms'))} ms"
             if r.get("link_delay_ms") else "no link delay")
    return [
        "# hearsay testnet report",
        "",
        f"{r['nodes']} hearsayd nodes on 127.0.0.1, topology {_v(r.get('topology'))} "
        f"(degree {_v(r.get('degree'))}, {_v(r.get('links'))} links, diameter "
        f"{_v(r.get('diameter'))}), {r['txs']} transactions of {_v(r.get('size'))} B injected at "
        f"{rate} from origin {_v(r.get('origin'))}; {delay}, {relay_words(r)}, inv interval "
        f"{_v(r.get('inv_interval_ms'))} ms. "
        f"{r.get('machine') or 'machine unknown'}, {r.get('date') or 'date unknown'}, load "
        f"average {_v(load.get('before'))} before and {_v(load.get('after'))} after the "
        "injection.",
        "",
    ]


def simulation_intro(r: dict, sim_run: dict | None) -> list[str]:
    """report.md's title and first paragraph for a simulation: what it models, and what it
    cost (sim_run.json: not in report.json, which must not change from one run to the next)."""
    sim = r.get("sim") or {}
    rate = f"{r.get('rate'):g} tx/s" if r.get("rate") else "full speed"
    mean = sim.get("mean_latency_ms")
    lines = [
        "# hearsay simulation report",
        "",
        f"A simulation, not a measurement: {r['nodes']} nodes running hearsay's relay code in "
        f"hearsay-sim's virtual time, topology {_v(r.get('topology'))} (degree "
        f"{_v(r.get('degree'))}, {_v(r.get('links'))} links, diameter {_v(r.get('diameter'))}), "
        f"{r['txs']} transactions of {_v(r.get('size'))} B injected at {rate} from origin "
        f"{_v(r.get('origin'))}; latency model {_v(r.get('latency'))} (mean one-way "
        f"{'n/a' if mean is None else f'{mean:g}'} ms), bandwidth model "
        f"{_v(r.get('bandwidth'))}, {relay_words(r)}, inv interval "
        f"{_v(r.get('inv_interval_ms'))} ms; signature verification "
        f"{_v(sim.get('verify_us'))} µs on {_v(sim.get('cores'))} "
        f"core{'' if sim.get('cores') == 1 else 's'} per node.",
        "",
    ]
    if sim_run:
        def num(k: str, fmt: str) -> str:
            return "n/a" if sim_run.get(k) is None else format(sim_run[k], fmt)
        lines += [f"Simulated {r['nodes']} nodes: {_v(sim.get('events'))} events in "
                  f"{num('wall_s', '.1f')} s wall ({num('events_per_s', '.0f')} events/s), "
                  f"peak RSS {num('peak_rss_mb', '.0f')} MB.", ""]
    return lines


def compare_rows(c: dict) -> list[str]:
    """The COMPARED figures of a real run and its simulation, as table rows."""
    def cell(x) -> str:
        return "n/a" if x is None else f"{x:g}"
    return [f"| {name} | {cell(v.get('real'))} | {cell(v.get('sim'))} | "
            f"{cell(v.get('sim_over_real'))} |" for name, v in c.get("metrics", {}).items()]


def compare_markdown(c: dict | None) -> list[str]:
    """report.md's "Simulation vs reality" (runs with --compare-sim)."""
    if not c:
        return []
    wall = c.get("sim_wall_s")
    lines = ["## Simulation vs reality", "",
             f"The same run simulated by hearsay-sim (its report: {c.get('sim_dir')}/report.md; "
             f"{'n/a' if wall is None else f'{wall:g}'} s of wall time).", ""]
    if c.get("exit_code"):
        lines += [f"**The simulator failed (exit code {c['exit_code']}): "
                  f"{c.get('error') or 'no message'}.**", ""]
    lines += ["| figure | real | simulated | simulated ÷ real |", "|---|---|---|---|",
              *compare_rows(c), ""]
    return lines


def wire_markdown(r: dict) -> list[str]:
    """The bytes on the wire per transaction per node, each in one column: the message types'
    payloads, the frame headers, TLS; and their total. Without TLS counters, what is left."""
    cols = r.get("bytes_per_tx_per_node_columns")
    if not cols:
        return []
    total = r.get("bytes_on_wire_per_tx_per_node")
    whole = total if total is not None else sum(cols.values())

    def share(v: float) -> str:
        return f"{100 * v / whole:.1f} %" if whole else "n/a"

    lines = ["Bytes on the wire per transaction per node, each byte in one row (block messages "
             "left out):", "", "| message type | payload B/tx/node | share |", "|---|---|---|"]
    for k, v in cols.items():
        if k not in ("frame_headers", "tls"):
            lines.append(f"| {k} | {v} | {share(v)} |")
    lines.append(f"| frame headers (24 B per message) | {cols.get('frame_headers')} | "
                 f"{share(cols.get('frame_headers') or 0)} |")
    if "tls" in cols:
        tls_label = ("TLS (record headers and tags; block records included)" if r.get("blocks")
                     else "TLS (record headers and tags)")
        lines.append(f"| {tls_label} | {cols['tls']} | {share(cols['tls'])} |")
        over = r.get("bytes_on_wire_per_tx_per_node_over_size")
        lines.append(f"| **total on the wire** (÷ tx size) | {total} ({_v(over)}) | 100 % |")
        lines.append("")
    else:
        lines += ["", "These nodes did not count TLS (their counters have no tls_bytes_sent): "
                  "the table holds the frames only, without a TLS row or a wire total."]
        lines.append("")
    return lines


# Below this many blocks, percentiles over blocks say little: list each block's time instead.
FEW_BLOCKS = 10


def block_times(b: dict) -> tuple[str, str]:
    """The blocks' time to reach every node, as (what is listed, the values): each block's
    when there are fewer than FEW_BLOCKS, else percentiles over blocks."""
    rows = b.get("per_block") or []
    if len(rows) < FEW_BLOCKS:
        each = ", ".join(f"height {x.get('height')}: "
                         + ("not every node" if x.get("time_to_all_ms") is None
                            else f"{x['time_to_all_ms']:g}") for x in rows)
        return "each block", each or "no block"
    return "p50 / p90 / max over blocks", _fmt(b.get("time_to_all_ms"), ("p50", "p90", "max"))


def block_markdown(b: dict) -> list[str]:
    rec = b.get("reconstruction") or {}
    miss = rec.get("miss_rate")
    lines = [
        "## Blocks",
        "",
        f"{b.get('count')} blocks of {b.get('mean_txs')} transactions and {b.get('mean_size')} B "
        f"on average, over {b.get('links')} links.",
        "",
        "| measure | value |",
        "|---|---|",
        f"| delivered fraction (node–block pairs connected) | {b.get('delivered_fraction')} |",
        f"| blocks connected by every node | {b.get('fully_delivered_blocks')} of "
        f"{b.get('count')} (node–block pairs missing: {b.get('nodes_missing')}) |",
        "| time to all nodes from the producer's block_connected, ms ({}) | {} |".format(
            *block_times(b)),
        f"| per hop (block_connected difference across the announcing link), ms (p50 / p90 / "
        f"max) | {_fmt(b.get('per_hop_ms'), ('p50', 'p90', 'max'))} |",
        f"| bytes sent per block per link (÷ mean block size) | "
        f"{_v(b.get('bytes_per_block_per_link'))} "
        f"({_v(b.get('bytes_per_block_per_link_over_size'))}) |",
        f"| reconstruction miss rate (missing ÷ (txs − prefilled)) | "
        f"{'n/a' if miss is None else miss} ({rec.get('missing')} of "
        f"{(rec.get('txs') or 0) - (rec.get('prefilled') or 0)} over {rec.get('blocks')} "
        f"reconstructions) |",
        f"| blocks rejected (block_rejected events) | {b.get('rejected')} "
        f"{b.get('rejected_reasons') or ''} |",
        f"| blocks disconnected (reorganisations) | {b.get('disconnected')} |",
        "",
    ]
    by = b.get("bytes_per_block_per_link_by_message")
    if by:
        lines += ["Bytes per block per link by message: " +
                  ", ".join(f"{k} {v}" for k, v in by.items()) + ".", ""]
    lines += ["| height | txs | size B | nodes connected | time to all ms | per hop ms p50 / p90 / "
              "max | reconstructions | missing txs |", "|---|---|---|---|---|---|---|---|"]
    for x in b.get("per_block", []):
        h = x.get("per_hop_ms") or {}
        lines.append(
            f"| {x.get('height')} | {x.get('txs')} | {x.get('size')} | {x.get('nodes_connected')}"
            f" | {'n/a' if x.get('time_to_all_ms') is None else x['time_to_all_ms']} | "
            f"{_fmt(h, ('p50', 'p90', 'max'))} | {x.get('reconstructed')} | "
            f"{x.get('missing_txs')} |")
    lines.append("")
    return lines


def write_report(out_dir: str, report: dict) -> dict:
    pngs, note = plots(out_dir, report)
    report["figures"] = pngs
    report["figures_note"] = note
    public = {k: v for k, v in report.items() if not k.startswith("_")}
    with open(os.path.join(out_dir, "report.json"), "w", encoding="utf-8") as f:
        json.dump(public, f, indent=2)
        f.write("\n")
    with open(os.path.join(out_dir, "report.md"), "w", encoding="utf-8") as f:
        f.write(markdown(public, pngs, note, report.get("_sim_run")))
    return public
