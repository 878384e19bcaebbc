#!/usr/bin/env python3
"""The Wireshark dissector (contrib/wireshark/hearsay.lua) against a real capture.

  python3 tests/contrib/wireshark_test.py [--bin DIR] [unittest options]

Captures the loopback traffic of two hearsayd processes (SSLKEYLOGFILE set) while a
transaction and a block travel from one to the other, then decodes the capture with tshark and
the dissector and checks the decoded messages: `sendshortids` both ways, the transaction in
`txinv`, `gettx` and `tx` (its id), the block's id in `cmpctblock`, no frame flagged malformed.

--bin (or $HEARSAY_BIN) names the folder holding hearsayd and hearsay-cli (default
build/release/bin). Without tshark and dumpcap the test is skipped (exit code 77), or fails
when $CI is set (contrib/install-deps.sh installs tshark). Capturing on the loopback interface
needs root or CAP_NET_RAW: without it the test fails and says so.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import xml.etree.ElementTree as ET

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "contrib", "testnet"))

from cluster import pick_ports  # noqa: E402
from rpc import RpcClient, RpcError  # noqa: E402

from harness import DEFAULT_BIN_DIR, take_bin_arg  # noqa: E402

BIN_DIR = DEFAULT_BIN_DIR
DISSECTOR = os.path.join(ROOT, "contrib", "wireshark", "hearsay.lua")
SKIP = 77
# Deadlines of the waits below (the whole test must stay well under ctest's 300 s).
START_TIMEOUT_S = 60.0
RELAY_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 20.0
TSHARK_TIMEOUT_S = 120.0
POLL_S = 0.1
# Bytes of the second transaction: more than one TLS record's 16 KiB of plaintext.
BIG_TX_SIZE = 40000


def wait_for(what: str, condition, timeout: float):
    """Polls `condition` until it returns a true value (returned) or the deadline passes."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(POLL_S)


class Processes:
    """The processes a test started; stop_all() ends them all (SIGTERM, then SIGKILL)."""

    def __init__(self):
        self.procs: list[subprocess.Popen] = []

    def start(self, argv: list[str], **kwargs) -> subprocess.Popen:
        p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, start_new_session=True, **kwargs)
        self.procs.append(p)
        return p

    @staticmethod
    def stop(p: subprocess.Popen, timeout: float = STOP_TIMEOUT_S) -> None:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait(timeout=10)

    def stop_all(self) -> None:
        for p in reversed(self.procs):
            self.stop(p)


class Capture:
    """dumpcap on the loopback interface, filtered to the given ports and a marker port.

    dumpcap drops what it has not yet written when it is stopped, so stop() first makes
    traffic on the marker port (a port nobody listens on: a SYN and its RST) and waits until
    the capture file holds it: the packets before it are written by then.
    """

    def __init__(self, procs: Processes, path: str, ports: list[int], marker_port: int):
        self.path = path
        self.marker_port = marker_port
        self.stderr_lines: list[str] = []
        self.ready = threading.Event()
        bpf = " or ".join(f"tcp port {p}" for p in [*ports, marker_port])
        self.proc = procs.start([shutil.which("dumpcap"), "-i", "lo", "-f", bpf, "-w", path],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self.reader = threading.Thread(target=self._read_stderr, daemon=True)
        self.reader.start()

    def _read_stderr(self) -> None:
        for line in self.proc.stderr:
            self.stderr_lines.append(line.rstrip("\n"))
            if line.startswith("File:"):
                self.ready.set()
        self.ready.set()  # dumpcap ended: wait_running() reports why

    def wait_running(self) -> None:
        """Returns once dumpcap captures (it prints "File: ..."), else fails saying why."""
        self.ready.wait(START_TIMEOUT_S)
        if self.proc.poll() is not None or not any(l.startswith("File:")
                                                   for l in self.stderr_lines):
            text = "\n".join(self.stderr_lines)
            hint = ""
            if "permission" in text.lower() or "not permitted" in text.lower():
                hint = ("\ncapturing on the loopback interface needs root or CAP_NET_RAW "
                        "(setcap cap_net_raw,cap_net_admin+eip $(command -v dumpcap))")
            raise AssertionError(f"dumpcap did not start capturing:\n{text}{hint}")

    def _marker_written(self) -> bool:
        try:
            socket.create_connection(("127.0.0.1", self.marker_port), timeout=1).close()
        except OSError:
            pass  # refused: the SYN and the RST are the marker
        p = subprocess.run([shutil.which("tshark"), "-n", "-r", self.path, "-Y",
                            f"tcp.port=={self.marker_port}", "-T", "fields", "-e",
                            "frame.number"], capture_output=True, text=True, timeout=60)
        return bool(p.stdout.strip())

    def stop(self) -> None:
        wait_for("dumpcap to write the capture", self._marker_written, START_TIMEOUT_S)
        Processes.stop(self.proc)
        self.reader.join(timeout=10)
        self.proc.stderr.close()


def frames_from_pdml(pdml: str) -> list[dict]:
    """Every decoded hearsay frame: its command, fields ({name: [shown value, ...]}) and the
    messages of its expert infos."""
    frames = []
    root = ET.fromstring(pdml)
    for packet in root.iter("packet"):
        for proto in packet.iter():
            if proto.get("name") != "hearsay" or proto.find("field[@name='hearsay.command']") \
                    is None:
                continue
            fields: dict[str, list[str]] = {}
            for f in proto.iter("field"):
                name = f.get("name", "")
                if name.startswith("hearsay."):
                    fields.setdefault(name, []).append(f.get("show", ""))
            experts = [f.get("showname", "") for f in proto.iter("field")
                       if f.get("name") in ("hearsay.malformed", "hearsay.bad_checksum")]
            command = proto.find("field[@name='hearsay.command']").get("show")
            frames.append({"command": command, "fields": fields, "experts": experts})
    return frames


def hex_of(values: list[str]) -> list[str]:
    return [v.replace(":", "").lower() for v in values]


class WiresharkDissectorTest(unittest.TestCase):
    def setUp(self):
        self.tshark = shutil.which("tshark")
        self.dumpcap = shutil.which("dumpcap")
        if not (self.tshark and self.dumpcap):
            message = ("tshark and dumpcap are not installed (contrib/install-deps.sh installs "
                       "the tshark package)")
            if os.environ.get("CI"):
                self.fail(message)
            raise unittest.SkipTest(message)
        for b in ("hearsayd", "hearsay-cli"):
            self.assertTrue(os.access(os.path.join(BIN_DIR, b), os.X_OK),
                            f"{BIN_DIR}/{b} is missing: build it or pass --bin DIR")
        self.tmp = tempfile.mkdtemp(prefix="hearsay-wireshark-")
        self.addCleanup(shutil.rmtree, self.tmp, ignore_errors=True)
        self.procs = Processes()
        self.addCleanup(self.procs.stop_all)  # cleanups run last first: before the rmtree

    def cli(self, *args: str) -> str:
        p = subprocess.run([os.path.join(BIN_DIR, "hearsay-cli"), *args], capture_output=True,
                           text=True, timeout=60)
        self.assertEqual(p.returncode, 0, f"hearsay-cli {' '.join(args)}:\n{p.stderr}")
        return p.stdout

    def start_node(self, name: str, p2p: int, rpc: int, extra: list[str]) -> tuple:
        datadir = os.path.join(self.tmp, name)
        os.makedirs(datadir)
        log = open(os.path.join(self.tmp, f"{name}.log"), "w")
        self.addCleanup(log.close)
        env = dict(os.environ, SSLKEYLOGFILE=self.keys)
        argv = [os.path.join(BIN_DIR, "hearsayd"), "--datadir", datadir,
                "--network", self.network, "--listen", f"127.0.0.1:{p2p}",
                "--rpc", f"127.0.0.1:{rpc}", *extra]
        proc = self.procs.start(argv, stdout=log, stderr=subprocess.STDOUT, env=env)

        def client():
            if proc.poll() is not None:
                raise AssertionError(f"{name} exited with {proc.returncode}:\n{self.log(name)}")
            try:
                c = RpcClient.from_datadir("127.0.0.1", rpc, datadir, timeout=10)
                c.call("getchaininfo")
                return c
            except (OSError, RpcError):
                return None

        c = wait_for(f"{name} to answer RPC", client, START_TIMEOUT_S)
        self.addCleanup(c.close)
        return proc, c, datadir

    def log(self, name: str) -> str:
        with open(os.path.join(self.tmp, f"{name}.log"), encoding="utf-8",
                  errors="replace") as f:
            return f.read()

    def test_decodes_a_transaction_and_a_block(self):
        self.keys = os.path.join(self.tmp, "keys.log")
        out = os.path.join(self.tmp, "net")
        # A long block interval: the only block is the one generateblock makes.
        self.cli("network", "new", "--producers", "1", "--out", out, "--block-interval", "86400")
        self.network = os.path.join(out, "network.json")
        with open(self.network, encoding="utf-8") as f:
            magic = int(json.load(f)["magic"], 16)
        p2p_a, p2p_b, rpc_a, rpc_b, marker = pick_ports(5)

        capture_file = os.path.join(self.tmp, "hearsay.pcapng")
        capture = Capture(self.procs, capture_file, [p2p_a, p2p_b], marker)
        capture.wait_running()

        node_a, rpc_client_a, datadir_a = self.start_node(
            "a", p2p_a, rpc_a, ["--producer-key", os.path.join(out, "producer-0.key")])
        node_b, rpc_client_b, _ = self.start_node(
            "b", p2p_b, rpc_b, ["--connect", f"127.0.0.1:{p2p_a}"])
        self.assertIn("SSLKEYLOGFILE", self.log("a"), "the key log warning is missing")
        self.assertIn(self.keys, self.log("a"), "the key log warning does not name the file")

        wait_for("the nodes to connect",
                 lambda: rpc_client_a.call("getpeerinfo") and rpc_client_b.call("getpeerinfo"),
                 RELAY_TIMEOUT_S)

        key = os.path.join(self.tmp, "sender.key")
        self.cli("keygen", "--out", key)
        txid = self.cli("--rpc", f"127.0.0.1:{rpc_a}", "--datadir", datadir_a, "sendtx",
                        "--key", key, "--network", str(magic), "--payload", "c0ffee").strip()
        self.assertRegex(txid, r"^[0-9a-f]{64}$")
        # A transaction larger than a TLS record (16 KiB): its frame spans several records,
        # which the dissector has TLS reassemble.
        big_txid = self.cli("--rpc", f"127.0.0.1:{rpc_a}", "--datadir", datadir_a, "sendtx",
                            "--key", key, "--network", str(magic), "--size",
                            str(BIG_TX_SIZE)).strip()

        def holds(txid):
            def check():
                try:
                    return rpc_client_b.call("gettransaction", [txid])
                except RpcError:
                    return None
            return check
        wait_for("node b to hold the transactions",
                 lambda: holds(txid)() and holds(big_txid)(), RELAY_TIMEOUT_S)

        block = rpc_client_a.call("generateblock")
        self.assertEqual(block["txs"], 2)
        wait_for("node b to connect the block",
                 lambda: rpc_client_b.call("getbestblock")["hash"] == block["hash"],
                 RELAY_TIMEOUT_S)

        self.procs.stop(node_b)
        self.procs.stop(node_a)
        capture.stop()
        with open(self.keys, encoding="ascii") as f:
            keylog = f.read()
        for label in ("CLIENT_HANDSHAKE_TRAFFIC_SECRET", "SERVER_HANDSHAKE_TRAFFIC_SECRET",
                      "CLIENT_TRAFFIC_SECRET_0", "SERVER_TRAFFIC_SECRET_0"):
            self.assertIn(label, keylog)

        p = subprocess.run(
            [self.tshark, "-n", "-r", capture_file, "-X", f"lua_script:{DISSECTOR}",
             "-o", f"tls.keylog_file:{self.keys}", "-o", f"hearsay.magic:{magic}",
             "-d", f"tcp.port=={p2p_a},tls", "-d", f"tcp.port=={p2p_b},tls", "-T", "pdml"],
            capture_output=True, text=True, encoding="utf-8", errors="replace",
            timeout=TSHARK_TIMEOUT_S)
        self.assertEqual(p.returncode, 0, f"tshark failed:\n{p.stderr}")
        self.assertNotIn("Lua", p.stderr, f"the dissector raised an error:\n{p.stderr}")
        errors = sorted({l.strip()[:300] for l in p.stdout.splitlines() if "Lua Error" in l})
        self.assertEqual(errors, [], "the dissector raised errors")
        frames = frames_from_pdml(p.stdout)
        experts = [f"{f['command']}: {m}" for f in frames for m in f["experts"]]
        self.assertEqual(experts, [], "frames decoded as malformed")
        commands = [f["command"] for f in frames]

        def with_command(name: str) -> list[dict]:
            found = [f for f in frames if f["command"] == name]
            self.assertTrue(found, f"no {name} decoded; decoded: {sorted(set(commands))}")
            return found

        def field(frame: dict, name: str) -> list[str]:
            return frame["fields"].get(name, [])

        # The handshake, in both directions, on this network.
        versions = with_command("version")
        self.assertGreaterEqual(len(versions), 2)
        for v in versions:
            self.assertEqual([int(x, 16) for x in field(v, "hearsay.magic")], [magic])
            self.assertEqual([int(x, 16) for x in field(v, "hearsay.version.network")], [magic])
        self.assertGreaterEqual(len(with_command("verack")), 2)
        for f in frames:
            self.assertEqual(field(f, "hearsay.checksum.status"), ["good"],
                             f"{f['command']}: checksum status {field(f, 'hearsay.checksum.status')}")

        # Both nodes speak short ids: each side's sendshortids, then the transaction announced and
        # requested by 6-byte ids, and sent, with its id computed by the dissector.
        offers = with_command("sendshortids")
        self.assertEqual(len(offers), 2)
        for f in offers:
            self.assertEqual(field(f, "hearsay.sendshortids.version"), ["1"])
        self.assertTrue(any(int(n) >= 1 for f in with_command("txinv")
                            for n in field(f, "hearsay.shortids.count")),
                        "no txinv announces a transaction")
        self.assertTrue(any(field(f, "hearsay.shortids.id") for f in with_command("gettx")),
                        "no gettx requests a transaction")
        txs = [f for f in with_command("tx") if txid in hex_of(field(f, "hearsay.tx.id"))]
        self.assertTrue(txs, "no tx frame carries the transaction id")
        self.assertEqual(hex_of(field(txs[0], "hearsay.tx.payload")), ["c0ffee"])
        self.assertEqual([int(x, 16) for x in field(txs[0], "hearsay.tx.network")], [magic])
        self.assertEqual(field(txs[0], "hearsay.tx.nonce"), ["0"])
        big = [f for f in with_command("tx") if big_txid in field(f, "hearsay.tx.id")]
        self.assertTrue(big, "the transaction spanning several TLS records was not reassembled")
        self.assertEqual(field(big[0], "hearsay.tx.size"), [str(BIG_TX_SIZE)])
        self.assertEqual(field(big[0], "hearsay.tx.nonce"), ["1"])

        # The block: announced as a compact block with a short id per transaction (the producer
        # prefills nothing), its id computed from the header.
        cmpct = [f for f in with_command("cmpctblock")
                 if block["hash"] in hex_of(field(f, "hearsay.header.id"))]
        self.assertTrue(cmpct, "no cmpctblock carries the block id")
        self.assertEqual(field(cmpct[0], "hearsay.cmpctblock.shortid_count"), ["2"])
        self.assertEqual(len(field(cmpct[0], "hearsay.cmpctblock.shortid")), 2)
        self.assertEqual(field(cmpct[0], "hearsay.cmpctblock.prefilled_count"), ["0"])
        self.assertEqual(field(cmpct[0], "hearsay.header.height"), ["1"])

        # The block relay's opening (docs/protocol.md 9.1) on both sides.
        self.assertGreaterEqual(len(with_command("sendcmpct")), 2)
        self.assertGreaterEqual(len(with_command("getheaders")), 2)


def main() -> int:
    global BIN_DIR
    BIN_DIR, argv = take_bin_arg(BIN_DIR)
    result = unittest.main(argv=argv, exit=False).result
    if not result.wasSuccessful():
        return 1
    if result.skipped and result.testsRun == len(result.skipped):
        return SKIP
    return 0


if __name__ == "__main__":
    sys.exit(main())
