#!/usr/bin/env python3
"""Tests of contrib/grafana/hearsay.json: every metric the dashboard queries is one a running
hearsayd exports, and every query is valid PromQL.

  python3 tests/contrib/grafana_test.py [--bin DIR] [unittest options]

--bin (or $HEARSAY_BIN) names the folder holding hearsayd and hearsay-cli (default
build/release/bin). Missing binaries fail the test: they are never skipped.

The node runs with --metrics-public on free 127.0.0.1 ports; one transaction is sent with
hearsay-cli sendtx before the scrape. Metric names are taken from every `expr` of every panel
(rows' nested panels included) and from the template variables' queries: identifiers that are
not PromQL functions, aggregations or keywords, label names (inside {} and by/without/on/
ignoring/group_left/group_right (...)), durations or numbers. A histogram's _bucket, _sum and
_count series count as its family.
"""

from __future__ import annotations

import ctypes
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
DASHBOARD = os.path.join(ROOT, "contrib", "grafana", "hearsay.json")
sys.path.insert(0, os.path.join(ROOT, "contrib", "testnet"))

from cluster import pick_ports  # noqa: E402

from harness import DEFAULT_BIN_DIR, take_bin_arg  # noqa: E402

BIN_DIR = DEFAULT_BIN_DIR
# How long the node may take from exec to answering /metrics (ASan builds start slowly).
READY_TIMEOUT_S = 60.0
# SIGTERM → exit grace (hearsayd promises 5 s; ASan's leak check adds time).
STOP_GRACE_S = 15.0
POLL_S = 0.1

# PromQL's functions and aggregation operators (Prometheus 2.x), and Grafana's variable-query
# functions.
FUNCTIONS = {
    "abs", "absent", "absent_over_time", "acos", "acosh", "asin", "asinh", "atan", "atanh",
    "avg_over_time", "ceil", "changes", "clamp", "clamp_max", "clamp_min", "cos", "cosh",
    "count_over_time", "day_of_month", "day_of_week", "day_of_year", "days_in_month", "deg",
    "delta", "deriv", "exp", "floor", "histogram_avg", "histogram_count", "histogram_fraction",
    "histogram_quantile", "histogram_stddev", "histogram_stdvar", "histogram_sum",
    "holt_winters", "hour", "idelta", "increase", "irate", "label_join", "label_replace",
    "last_over_time", "ln", "log10", "log2", "mad_over_time", "max_over_time", "min_over_time",
    "minute", "month", "pi", "predict_linear", "present_over_time", "quantile_over_time", "rad",
    "rate", "resets", "round", "scalar", "sgn", "sin", "sinh", "sort", "sort_desc", "sqrt",
    "stddev_over_time", "stdvar_over_time", "sum_over_time", "tan", "tanh", "time",
    "timestamp", "vector", "year",
    # aggregations
    "sum", "min", "max", "avg", "group", "stddev", "stdvar", "count", "count_values", "bottomk",
    "topk", "quantile",
    # Grafana's Prometheus variable queries
    "label_values", "label_names", "metrics", "query_result",
}
KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "offset",
            "and", "or", "unless", "inf", "nan"}
# Clauses whose parenthesised list holds label names.
LABEL_LIST = re.compile(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)")
TOKEN = re.compile(r"(?P<num>\d+(\.\d+)?([eE][+-]?\d+)?)|(?P<id>[A-Za-z_:][A-Za-z0-9_:]*)")


def _die_with_parent() -> None:
    """In the child before exec: a kill -9 of this test takes the node with it (Linux)."""
    pr_set_pdeathsig = 1
    ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL, 0, 0, 0)


class PromqlError(ValueError):
    """An expression the extractor cannot account for."""


def metric_names(expr: str) -> set[str]:
    """The metric names an expression (a panel's or a template variable's) refers to."""
    e = re.sub(r'"(\\.|[^"\\])*"', '""', expr)  # string literals (label values, regexes)
    e = re.sub(r"'(\\.|[^'\\])*'", "''", e)
    e = re.sub(r"\$\{[^}]*\}|\$[A-Za-z_][A-Za-z0-9_]*", " ", e)  # Grafana variables
    e = re.sub(r"\{[^{}]*\}", " ", e)  # label matchers
    e = re.sub(r"\[[^\[\]]*\]", " ", e)  # ranges and subqueries: durations
    e = re.sub(r"\boffset\s+-?[0-9a-z]+", " ", e)
    e = LABEL_LIST.sub(" ", e)
    # label_values(metric, label) and label_values(label): the label is not a metric.
    e = re.sub(r"\blabel_values\s*\(([^(),]*),\s*[A-Za-z_][A-Za-z0-9_]*\s*\)", r"(\1)", e)
    e = re.sub(r"\blabel_values\s*\(\s*[A-Za-z_][A-Za-z0-9_]*\s*\)", " ", e)
    names = set()
    for m in TOKEN.finditer(e):
        word = m.group("id")
        if word is None:
            continue
        followed_by_paren = e[m.end():].lstrip().startswith("(")
        if word in FUNCTIONS:
            if not followed_by_paren:
                raise PromqlError(f"{word} without arguments in {expr!r}")
        elif word.lower() in KEYWORDS:
            continue
        elif followed_by_paren:
            raise PromqlError(f"unknown function {word}() in {expr!r}")
        else:
            names.add(word)
    return names


def panels_of(items: list) -> list[dict]:
    """Every panel, rows' nested panels included."""
    out = []
    for p in items:
        out.append(p)
        out += panels_of(p.get("panels", []))
    return out


def dashboard_exprs(d: dict) -> list[tuple[str, str]]:
    """(where, expression) for every panel target and query template variable."""
    out = []
    for p in panels_of(d.get("panels", [])):
        for t in p.get("targets", []):
            if "expr" in t:
                out.append((f"panel {p.get('title')!r} target {t.get('refId')}", t["expr"]))
    for v in d.get("templating", {}).get("list", []):
        if v.get("type") != "query":
            continue
        q = v.get("query")
        q = q.get("query", "") if isinstance(q, dict) else (q or "")
        out.append((f"variable ${v.get('name')}", q))
    return out


def exported_names(scrape: str) -> set[str]:
    """Families (# TYPE lines, present even with no sample) and the series names of a scrape."""
    names = set()
    for line in scrape.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ", 3)
            names.add(name)
            if kind == "histogram":
                names |= {name + "_bucket", name + "_sum", name + "_count"}
        elif line and not line.startswith("#"):
            names.add(re.match(r"[A-Za-z_:][A-Za-z0-9_:]*", line).group(0))
    return names


def unknown_metrics(d: dict, exported: set[str]) -> list[str]:
    """'where: name' for each metric the dashboard names that the node does not export."""
    out = []
    for where, expr in dashboard_exprs(d):
        for name in sorted(metric_names(expr) - exported):
            out.append(f"{where}: {name}")
    return out


def load_dashboard() -> dict:
    with open(DASHBOARD, encoding="utf-8") as f:
        return json.load(f)


class ExtractorTest(unittest.TestCase):
    def test_names_functions_labels_and_durations(self):
        self.assertEqual(metric_names(
            'histogram_quantile(0.99, sum by (instance, le) (rate('
            'hearsay_relay_latency_seconds_bucket{instance=~"$instance",source="rpc"}'
            '[$__rate_interval])))'), {"hearsay_relay_latency_seconds_bucket"})
        self.assertEqual(metric_names(
            "sum(rate(a_total[5m] offset 1h)) without (job) / on (instance) group_left(version) "
            "b_info + time() - c > bool 2e3"), {"a_total", "b_info", "c"})
        self.assertEqual(metric_names("label_values(hearsay_build_info, instance)"),
                         {"hearsay_build_info"})
        self.assertEqual(metric_names("label_values(instance)"), set())
        self.assertEqual(metric_names('max_over_time(x{a="sum(y)"}[1h:5m])'), {"x"})
        with self.assertRaises(PromqlError):
            metric_names("rte(hearsay_peers[5m])")

    def test_check_catches_a_metric_the_node_does_not_export(self):
        d = load_dashboard()
        exported = {"hearsay_peers"}
        d["panels"].append({"type": "row", "panels": [
            {"title": "bogus", "targets": [{"refId": "A", "expr": "rate(hearsay_bogus_total[5m])"},
                                           {"refId": "B", "expr": "hearsay_peers"}]}]})
        bad = unknown_metrics(d, exported)
        self.assertIn("panel 'bogus' target A: hearsay_bogus_total", bad)
        self.assertNotIn("panel 'bogus' target B: hearsay_peers", bad)


class DashboardTest(unittest.TestCase):
    def test_importable_shape(self):
        d = load_dashboard()
        self.assertTrue(d["uid"] and d["title"])
        variables = {v["name"]: v for v in d["templating"]["list"]}
        self.assertEqual(variables["datasource"]["type"], "datasource")
        self.assertEqual(variables["datasource"]["query"], "prometheus")
        self.assertEqual(variables["instance"]["type"], "query")
        ids = [p["id"] for p in panels_of(d["panels"])]
        self.assertEqual(len(ids), len(set(ids)), "panel ids are unique")
        for p in panels_of(d["panels"]):
            if p["type"] != "row":
                self.assertEqual(p["datasource"]["uid"], "${datasource}", p["title"])
                for t in p["targets"]:
                    self.assertIn('instance=~"$instance"', t["expr"], p["title"])

    def test_every_query_is_valid_promql(self):
        self.assertIsNotNone(shutil.which("promtool"),
                             "promtool is not installed: contrib/install-deps.sh installs it")
        d = load_dashboard()
        rules = []
        for i, (where, expr) in enumerate(dashboard_exprs(d)):
            if expr.startswith("label_values("):
                continue  # Grafana's, not PromQL
            e = expr.replace("$__rate_interval", "5m").replace("$instance", ".*")
            rules.append({"record": f"dashboard:expr_{i}", "expr": e})
        self.assertGreater(len(rules), 20)
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "rules.json")
            with open(path, "w", encoding="utf-8") as f:  # YAML is a superset of JSON
                json.dump({"groups": [{"name": "dashboard", "rules": rules}]}, f)
            p = subprocess.run(["promtool", "check", "rules", path], capture_output=True,
                               text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)

    def test_covers_the_node_families(self):
        used = set()
        for _, expr in dashboard_exprs(load_dashboard()):
            used |= metric_names(expr)
        for family in ["hearsay_peers", "hearsay_messages_total", "hearsay_message_bytes_total",
                       "hearsay_transactions_accepted_total",
                       "hearsay_transactions_rejected_total", "hearsay_mempool_transactions",
                       "hearsay_mempool_bytes", "hearsay_seen_set_entries",
                       "hearsay_verify_queue_depth", "hearsay_relay_latency_seconds_bucket",
                       "hearsay_chain_height", "hearsay_blocks_connected_total",
                       "hearsay_blocks_produced_total", "hearsay_blocks_rejected_total",
                       "hearsay_block_reconstructions_total", "hearsay_block_collisions_total",
                       "hearsay_build_info", "process_cpu_seconds_total",
                       "process_resident_memory_bytes", "process_open_fds",
                       "process_max_fds"]:
            self.assertIn(family, used)


class LiveNodeTest(unittest.TestCase):
    """A real hearsayd: the dashboard names only metrics it exports."""

    def setUp(self):
        for b in ("hearsayd", "hearsay-cli"):
            self.assertTrue(os.access(os.path.join(BIN_DIR, b), os.X_OK),
                            f"{BIN_DIR}/{b} is missing: build it or pass --bin DIR")
        self.tmp = tempfile.TemporaryDirectory(prefix="grafana-test-")
        self.addCleanup(self.tmp.cleanup)
        self.datadir = os.path.join(self.tmp.name, "node")
        self.p2p_port, self.rpc_port = pick_ports(2)
        self.log = os.path.join(self.tmp.name, "hearsayd.log")
        with open(self.log, "wb") as log:
            self.node = subprocess.Popen(
                [os.path.join(BIN_DIR, "hearsayd"), "--datadir", self.datadir,
                 "--listen", f"127.0.0.1:{self.p2p_port}", "--rpc", f"127.0.0.1:{self.rpc_port}",
                 "--metrics-public", "--max-outbound", "0"],
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                preexec_fn=_die_with_parent)
        self.addCleanup(self.stop_node)

    def node_log(self) -> str:
        with open(self.log, encoding="utf-8", errors="replace") as f:
            return f.read()[-3000:]

    def stop_node(self):
        if self.node.poll() is None:
            self.node.send_signal(signal.SIGTERM)
            try:
                self.node.wait(timeout=STOP_GRACE_S)
            except subprocess.TimeoutExpired:
                os.killpg(self.node.pid, signal.SIGKILL)
                self.node.wait(timeout=5)

    def scrape(self) -> str:
        url = f"http://127.0.0.1:{self.rpc_port}/metrics"
        deadline = time.monotonic() + READY_TIMEOUT_S
        while True:
            if self.node.poll() is not None:
                self.fail(f"hearsayd exited ({self.node.returncode}):\n{self.node_log()}")
            try:
                with urllib.request.urlopen(url, timeout=10) as r:
                    return r.read().decode()
            except OSError as e:
                if time.monotonic() > deadline:
                    self.fail(f"no answer on {url} within {READY_TIMEOUT_S:.0f} s: {e}")
                time.sleep(POLL_S)

    def cli(self, *args: str) -> str:
        p = subprocess.run([os.path.join(BIN_DIR, "hearsay-cli"), "--datadir", self.datadir,
                            "--rpc", f"127.0.0.1:{self.rpc_port}", *args],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, f"hearsay-cli {' '.join(args)}: {p.stderr}")
        return p.stdout

    def test_dashboard_metrics_are_exported(self):
        self.scrape()  # up and answering
        key = os.path.join(self.tmp.name, "sender.key")
        self.cli("keygen", "--out", key)
        self.cli("sendtx", "--key", key, "--size", "200")
        scrape = self.scrape()
        exported = exported_names(scrape)
        self.assertIn("hearsay_relay_latency_seconds_bucket", exported)
        self.assertIn("process_open_fds", exported)
        self.assertRegex(scrape, r'(?m)^hearsay_build_info\{version="0\.1\.0",network="devnet",'
                                 r'compiler="[^"]+"\} 1$')
        # The RPC submission was timed (signature check and admission: more than 0 s).
        self.assertRegex(scrape, r'(?m)^hearsay_relay_latency_seconds_count\{source="rpc"\} 1$')
        rpc_sum = re.search(r'(?m)^hearsay_relay_latency_seconds_sum\{source="rpc"\} (\S+)$',
                            scrape)
        self.assertGreater(float(rpc_sum.group(1)), 0)
        bad = unknown_metrics(load_dashboard(), exported)
        self.assertEqual(bad, [], "the dashboard names metrics hearsayd does not export")


if __name__ == "__main__":
    BIN_DIR, argv = take_bin_arg(BIN_DIR)
    unittest.main(argv=argv)
