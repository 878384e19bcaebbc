#!/usr/bin/env python3
"""Tests of contrib/peer/hearsay_peer.py, the peer written from docs/protocol.md.

  python3 tests/contrib/peer_test.py [--bin DIR] [unittest options]

--bin (or $HEARSAY_BIN) names the folder holding hearsayd and hearsay-cli (default
build/release/bin). Missing binaries fail the live tests: they are never skipped.

Offline: the peer's encodings against docs/protocol.md's hex examples, its frame and payload
parsers' refusals (the header checks of "Framing" before any payload byte, §1's CompactSize,
§6.9's errors), key files, certificates and signature checks.

Live, each test with its own hearsayd on free 127.0.0.1 ports in a temporary datadir (stopped
at the end whatever happens), the peer pinning the node's identity:
  (a) the peer announces a transaction it signed, serves the node's getdata, and the node's
      mempool holds exactly its bytes;
  (b) a transaction sent to the node with hearsay-cli reaches the peer (inv, getdata, tx), which
      checks its id and signature itself;
  (c) a forged transaction (a bad signature) gets the peer disconnected and its identity banned
      (§7.4): a new connection with that identity ends before the node's version;
  (d) a frame with a bad checksum gets the peer disconnected but not banned (§6.9);
and the command line: sendtx, then listen --fetch receiving that transaction; a pinned identity
the node does not prove; --help and bad arguments.
"""

from __future__ import annotations

import datetime
import json
import os
import re
import select
import struct
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
PEER = os.path.join(ROOT, "contrib", "peer", "hearsay_peer.py")
sys.path.insert(0, os.path.join(ROOT, "contrib", "peer"))
sys.path.insert(0, os.path.join(ROOT, "contrib", "testnet"))

import hearsay_peer as hp  # noqa: E402
from cryptography import x509  # noqa: E402
from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec  # noqa: E402
from cryptography.x509.oid import NameOID  # noqa: E402
from cluster import check_binaries, pick_ports, spawn, stop_all_children  # noqa: E402
from rpc import RpcClient, RpcError  # noqa: E402

from harness import DEFAULT_BIN_DIR, take_bin_arg  # noqa: E402

BIN_DIR = DEFAULT_BIN_DIR
# How long one condition may take: the node answering RPC (ASan builds start slowly), its
# getdata (2 s after an announcement from a peer it did not dial), a transaction arriving.
WAIT_S = 60.0
POLL_S = 0.1
DOC = os.path.join(ROOT, "docs", "protocol.md")
# The Ed25519 key of the 32-byte seed 01 01 … 01, the sender of docs/protocol.md's tx example.
SEED1_PUBLIC = "8a88e3dd7409f195fd52db2d3cba5d72ca6709bf1d94121bf3748801b40f6f5c"


def doc_examples() -> dict[str, bytes]:
    """docs/protocol.md's `<!-- example: NAME -->` hex blocks."""
    with open(DOC, encoding="utf-8") as f:
        text = f.read()
    return {m.group(1): bytes.fromhex(re.sub(r"\s", "", m.group(2)))
            for m in re.finditer(r"<!-- example: (\S+) -->\n```hex\n(.*?)```", text, re.S)}


def decode_frames(magic: int, data: bytes, chunk: int = 0) -> list[hp.Message]:
    """Every message of `data`, fed whole or `chunk` bytes at a time."""
    d = hp.FrameDecoder(magic)
    out = []
    for i in range(0, len(data), chunk or len(data)):
        d.feed(data[i:i + (chunk or len(data))])
        while (frame := d.next()) is not None:
            out.append(hp.decode_message(*frame))
    return out


class DocExamplesTest(unittest.TestCase):
    """The peer encodes and decodes docs/protocol.md §10's examples byte for byte."""

    @classmethod
    def setUpClass(cls):
        cls.ex = doc_examples()

    def test_ping_frame(self):
        frame = hp.frame_of(hp.DEVNET_MAGIC, hp.ping_msg(0x0123456789abcdef))
        self.assertEqual(frame.hex(), self.ex["ping-frame"].hex())
        msg, = decode_frames(hp.DEVNET_MAGIC, frame)
        self.assertEqual(msg.fields, {"nonce": 0x0123456789abcdef})

    def test_tx_frame_sighash_and_id(self):
        key = hp.key_from_seed(bytes([1]) * 32)
        self.assertEqual(hp.public_bytes(key).hex(), SEED1_PUBLIC)
        tx = hp.Transaction.sign(key, hp.DEVNET_MAGIC, bytes.fromhex("deadbeef"), nonce=0,
                                 fee=1000, expiry=0)
        self.assertEqual(hp.frame_of(hp.DEVNET_MAGIC, hp.tx_msg(tx)).hex(),
                         self.ex["tx-frame"].hex())
        self.assertEqual(tx.sighash().hex(), self.ex["tx-sighash"].hex())
        self.assertEqual(tx.txid().hex(), self.ex["tx-id"].hex())
        msg, = decode_frames(hp.DEVNET_MAGIC, self.ex["tx-frame"], chunk=7)
        self.assertEqual(msg.fields["tx"], tx)
        self.assertTrue(msg.fields["tx"].verify())
        self.assertFalse(tx.forged().verify())

    def test_every_example_frame_passes_the_frame_checks(self):
        frames = {k: v for k, v in self.ex.items() if k.endswith("-frame")}
        self.assertGreaterEqual(len(frames), 10)
        for name, data in frames.items():
            msg, = decode_frames(hp.DEVNET_MAGIC, data, chunk=5)
            self.assertEqual(len(msg.payload) + hp.HEADER_SIZE, len(data), name)


class FrameDecoderTest(unittest.TestCase):
    """"Framing": header checks in order, as soon as the 24 header bytes are in."""

    def refusal(self, data: bytes) -> str:
        d = hp.FrameDecoder(hp.DEVNET_MAGIC)
        d.feed(data)
        with self.assertRaises(hp.DecodeError) as cm:
            d.next()
        return cm.exception.code

    def header(self, command: bytes, length: int, magic: int = hp.DEVNET_MAGIC) -> bytes:
        return struct.pack("<I", magic) + command.ljust(12, b"\0") + struct.pack("<I", length) + \
            bytes(4)

    def test_header_refusals_need_no_payload(self):
        self.assertEqual(self.refusal(self.header(b"ping", 8, magic=0x0a0b0c0d)), "kBadMagic")
        self.assertEqual(self.refusal(self.header(b"pi ng", 8)), "kBadCommand")
        self.assertEqual(self.refusal(self.header(b"pi\0ng", 8)), "kBadCommand")
        self.assertEqual(self.refusal(self.header(b"", 0)), "kBadCommand")
        self.assertEqual(self.refusal(self.header(b"pong2", 8)), "kUnknownCommand")
        self.assertEqual(self.refusal(self.header(b"ping", 9)), "kOversizePayload")
        self.assertEqual(self.refusal(self.header(b"verack", 1)), "kOversizePayload")
        self.assertEqual(self.refusal(self.header(b"block", hp.MAX_MESSAGE_PAYLOAD + 1)),
                         "kOversizePayload")
        self.assertEqual(self.refusal(self.header(b"tx", 0xffffffff)), "kOversizePayload")

    def test_a_header_alone_waits_for_its_payload(self):
        d = hp.FrameDecoder(hp.DEVNET_MAGIC)
        d.feed(self.header(b"block", hp.MAX_MESSAGE_PAYLOAD))
        self.assertIsNone(d.next())
        self.assertEqual(d.wanted(), hp.MAX_MESSAGE_PAYLOAD)

    def test_bad_checksum_is_refused_and_sticky(self):
        good = hp.frame_of(hp.DEVNET_MAGIC, hp.ping_msg(7))
        bad = good[:20] + bytes(b ^ 0xff for b in good[20:24]) + good[24:]
        d = hp.FrameDecoder(hp.DEVNET_MAGIC)
        d.feed(bad + good)
        for _ in range(2):
            with self.assertRaises(hp.DecodeError) as cm:
                d.next()
            self.assertEqual(cm.exception.code, "kBadChecksum")

    def test_frames_split_anywhere(self):
        stream = b"".join(hp.frame_of(hp.DEVNET_MAGIC, m) for m in (
            hp.ping_msg(1), hp.Message("verack"), hp.version_msg(hp.DEVNET_MAGIC),
            hp.inv_list_msg("inv", [hp.InvEntry(hp.INV_TX, bytes(32))])))
        for chunk in (1, 3, 24, 1000):
            self.assertEqual([m.command for m in decode_frames(hp.DEVNET_MAGIC, stream, chunk)],
                             ["ping", "verack", "version", "inv"], chunk)


class PayloadTest(unittest.TestCase):
    """§1, §4, §5: canonical, bounded, exact payloads."""

    def code(self, command: str, payload: bytes) -> str:
        with self.assertRaises(hp.DecodeError) as cm:
            hp.decode_message(command, payload)
        return cm.exception.code

    def test_compact_size_and_counts(self):
        entry = struct.pack("<I", hp.INV_TX) + bytes(32)
        self.assertEqual(len(hp.decode_message("inv", b"\x01" + entry).fields["entries"]), 1)
        self.assertEqual(self.code("inv", b"\xfd\x01\x00" + entry), "kNonCanonical")
        self.assertEqual(self.code("inv", b"\xfe\xff\xff\x00\x00"), "kNonCanonical")
        self.assertEqual(self.code("inv", hp.compact_size(50_001)), "kTooLarge")
        self.assertEqual(self.code("inv", b"\x02" + entry), "kTruncated")
        self.assertEqual(self.code("inv", b"\x01" + entry + b"\x00"), "kTrailingBytes")
        self.assertEqual(self.code("getdata", b"\x01" + struct.pack("<I", 3) + bytes(32)),
                         "kBadValue")

    def test_transaction_bounds(self):
        tx = hp.Transaction.sign(hp.generate_key(), hp.DEVNET_MAGIC, b"x")
        self.assertEqual(hp.decode_message("tx", tx.encode()).fields["tx"], tx)
        self.assertEqual(self.code("tx", tx.encode() + b"\x00"), "kTrailingBytes")
        self.assertEqual(self.code("tx", tx.encode()[:-1]), "kTruncated")
        big = tx.encode()[:60] + hp.compact_size(hp.MAX_TX_PAYLOAD + 1)
        self.assertEqual(self.code("tx", big), "kTooLarge")
        self.assertEqual(self.code("tx", bytes(hp.COMMAND_LIMITS["tx"] + 1)), "kOversizePayload")
        with self.assertRaises(ValueError):
            hp.Transaction.sign(hp.generate_key(), hp.DEVNET_MAGIC, bytes(hp.MAX_TX_PAYLOAD + 1))
        biggest = hp.Transaction.sign(hp.generate_key(), hp.DEVNET_MAGIC, bytes(hp.MAX_TX_PAYLOAD))
        self.assertEqual(biggest.size(), hp.MAX_TX_SIZE)
        self.assertEqual(hp.Transaction.sign(hp.generate_key(), 1, b"").size(), hp.MIN_TX_SIZE)

    def test_version_and_sendcmpct_values(self):
        v = hp.version_msg(hp.DEVNET_MAGIC, services=0, best_height=3)
        self.assertEqual(v.fields["protocol_version"], hp.PROTOCOL_VERSION)
        self.assertEqual(v.fields["best_height"], 3)
        bad_agent = v.payload[:-len(hp.USER_AGENT)] + b"\x07" + hp.USER_AGENT.encode()[1:]
        self.assertEqual(self.code("version", bad_agent), "kBadValue")
        self.assertEqual(self.code("sendcmpct", b"\x02" + bytes(8)), "kBadValue")
        self.assertEqual(self.code("ping", bytes(7)), "kTruncated")

    def test_default_fee_meets_the_devnet_floor(self):
        for n in (0, 1, 100, 999, 5000):
            tx = hp.Transaction.sign(hp.generate_key(), hp.DEVNET_MAGIC, bytes(n))
            self.assertGreaterEqual(tx.fee_rate(), hp.DEVNET_MIN_FEE_RATE)
            self.assertLess((tx.fee - 1) * 1000 // tx.size(), hp.DEVNET_MIN_FEE_RATE)


class KeysAndCertificatesTest(unittest.TestCase):
    def test_key_file_format(self):
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "k")
            with open(path, "w") as f:
                f.write("01" * 32 + "\n")
            self.assertEqual(hp.public_bytes(hp.load_key(path)).hex(), SEED1_PUBLIC)
            for bad in ("01" * 31, "zz" * 32, "01" * 33, "01" * 200):
                with open(path, "w") as f:
                    f.write(bad + "\n")
                with self.assertRaisesRegex(ValueError, "key file"):
                    hp.load_key(path)
            saved = os.path.join(d, "saved")
            key = hp.generate_key()
            hp.save_key(saved, key)
            self.assertEqual(os.stat(saved).st_mode & 0o777, 0o600)
            self.assertEqual(hp.seed_bytes(hp.load_key(saved)), hp.seed_bytes(key))

    def test_certificate_proves_its_key_and_nothing_else(self):
        key = hp.generate_key()
        der = hp.make_certificate(key).public_bytes(serialization.Encoding.DER)
        self.assertEqual(hp.identity_from_certificate(der), hp.public_bytes(key))

        def self_issued(public_key, signer, algorithm=None, issuer: str = "x") -> bytes:
            name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "x")])
            by = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)])
            now = datetime.datetime.now(datetime.timezone.utc)
            cert = x509.CertificateBuilder(by, name, public_key, 1, now,
                                           now + datetime.timedelta(days=1))
            return cert.sign(signer, algorithm).public_bytes(serialization.Encoding.DER)

        # A node refuses a certificate whose issuer is not its subject (OpenSSL: unknown CA).
        with self.assertRaisesRegex(hp.ProtocolError, "not self-signed"):
            hp.identity_from_certificate(self_issued(key.public_key(), key, issuer="y"))
        with self.assertRaisesRegex(hp.ProtocolError, "not valid DER"):
            hp.identity_from_certificate(der + b"\x00")

        with self.assertRaisesRegex(hp.ProtocolError, "not signed by its own"):
            hp.identity_from_certificate(self_issued(key.public_key(), hp.generate_key()))
        ecdsa = ec.generate_private_key(ec.SECP256R1())
        with self.assertRaisesRegex(hp.ProtocolError, "not Ed25519"):
            hp.identity_from_certificate(self_issued(ecdsa.public_key(), ecdsa, hashes.SHA256()))

    def test_small_order_keys_are_refused_as_libsodium_does(self):
        # y of the points of order 1, 2, 4 and 8 (and two non-canonical encodings of 0 and 1).
        y8 = 2707385501144840649318225287225658788936804267575313519463743609750303402022
        for y in (1, hp._P - 1, 0, y8, hp._P - y8, hp._P, hp._P + 1):
            for sign in (0, 1 << 255):
                point = (y | sign).to_bytes(32, "little")
                self.assertFalse(hp.verify_signature(point, bytes(32), bytes(64)), y)
                self.assertTrue(hp._small_order(point), y)
        key = hp.generate_key()
        good = key.sign(bytes(32))
        self.assertTrue(hp.verify_signature(hp.public_bytes(key), bytes(32), good))
        # R of small order: refused before OpenSSL is asked.
        self.assertFalse(hp.verify_signature(hp.public_bytes(key), bytes(32),
                                             (1).to_bytes(32, "little") + good[32:]))


class LiveNodeTest(unittest.TestCase):
    """A real hearsayd and the Python peer."""

    def setUp(self):
        self.bins = check_binaries(BIN_DIR)
        self.tmp = tempfile.TemporaryDirectory(prefix="peer-test-")
        self.addCleanup(self.tmp.cleanup)
        self.datadir = os.path.join(self.tmp.name, "node")
        os.makedirs(self.datadir, mode=0o700)
        self.p2p_port, self.rpc_port = pick_ports(2)
        self.log = os.path.join(self.datadir, "hearsayd.log")
        with open(os.path.join(self.datadir, "stderr.log"), "wb") as err:
            self.node = spawn([self.bins["hearsayd"], "--datadir", self.datadir,
                               "--listen", f"127.0.0.1:{self.p2p_port}",
                               "--rpc", f"127.0.0.1:{self.rpc_port}", "--max-outbound", "0",
                               "--log-file", self.log, "--log-stderr", "0"],
                              subprocess.DEVNULL, err)
        self.addCleanup(stop_all_children)
        self.rpc = self.wait_until(self.connect_rpc, "the node answers RPC")
        self.addCleanup(self.rpc.close)
        self.node_identity = bytes.fromhex(self.rpc.call("getinfo")["identity"])

    def node_log(self) -> str:
        try:
            with open(self.log, encoding="utf-8", errors="replace") as f:
                return f.read()[-3000:]
        except OSError:
            return "(no log)"

    def wait_until(self, condition, what: str, timeout: float | None = None):
        timeout = WAIT_S if timeout is None else timeout
        deadline = time.monotonic() + timeout
        while True:
            if self.node.poll() is not None:
                self.fail(f"hearsayd exited ({self.node.returncode}):\n{self.node_log()}")
            value = condition()
            if value:
                return value
            if time.monotonic() > deadline:
                self.fail(f"{what}: not within {timeout:.0f} s\n{self.node_log()}")
            time.sleep(POLL_S)

    def connect_rpc(self) -> RpcClient | None:
        if not os.path.exists(os.path.join(self.datadir, ".cookie")):
            return None
        client = RpcClient.from_datadir("127.0.0.1", self.rpc_port, self.datadir)
        try:
            client.call("getinfo")
            return client
        except RpcError:
            client.close()
            return None

    def connect(self, key=None) -> hp.Peer:
        """A peer with `key` (default: a new one), pinning the node's identity, handshake done."""
        peer = hp.Peer.connect("127.0.0.1", self.p2p_port, hp.DEVNET_MAGIC, key,
                               self.node_identity, WAIT_S)
        self.addCleanup(peer.close)
        version = peer.handshake(WAIT_S)
        self.assertEqual(version.fields["network_magic"], hp.DEVNET_MAGIC)
        return peer

    def cli(self, *args: str) -> str:
        p = subprocess.run([self.bins["hearsay-cli"], "--datadir", self.datadir,
                            "--rpc", f"127.0.0.1:{self.rpc_port}", *args],
                           capture_output=True, text=True, timeout=WAIT_S)
        self.assertEqual(p.returncode, 0, f"hearsay-cli {' '.join(args)}: {p.stderr}")
        return p.stdout

    def mempool(self) -> list[str]:
        return self.rpc.call("getrawmempool")

    def banned(self) -> list[str]:
        return [b["target"] for b in self.rpc.call("listbanned")]

    def assert_closed_by_node(self, peer: hp.Peer) -> str:
        try:
            return peer.wait_closed(WAIT_S)
        except TimeoutError:
            pass
        self.fail(f"the node kept the connection open for {WAIT_S:.0f} s\n{self.node_log()}")

    def test_a_node_accepts_a_transaction_the_peer_announces(self):
        peer = self.connect()
        tx = peer.make_tx(b"from the python peer")
        txid = tx.txid().hex()
        self.assertNotIn(txid, self.mempool())
        peer.send_tx(tx, WAIT_S)  # inv, the node's getdata, tx
        self.wait_until(lambda: txid in self.mempool(), "the node's mempool holds the transaction")
        held = self.rpc.call("gettransaction", [txid])
        self.assertEqual(held["hex"], tx.encode().hex())
        self.assertEqual(held["sender"], peer.identity.hex())

    def test_b_peer_receives_and_verifies_a_transaction_the_node_announces(self):
        peer = self.connect()
        key_file = os.path.join(self.tmp.name, "alice.key")
        self.cli("keygen", "--out", key_file)
        txid = self.cli("sendtx", "--key", key_file, "--size", "200").strip()
        tx = peer.wait_for_tx(bytes.fromhex(txid), WAIT_S)  # inv, our getdata, tx; verified
        self.assertEqual(tx.txid().hex(), txid)
        self.assertTrue(tx.verify())
        self.assertEqual(tx.sender, hp.public_bytes(hp.load_key(key_file)))
        self.assertEqual(tx.network, hp.DEVNET_MAGIC)
        self.assertEqual(tx.encode().hex(), self.rpc.call("gettransaction", [txid])["hex"])

    def test_c_forged_transaction_bans_the_peer(self):
        key = hp.generate_key()
        peer = self.connect(key)
        forged = peer.make_tx(b"forged").forged()
        self.assertFalse(forged.verify())
        peer.send_tx(forged, WAIT_S)
        self.assert_closed_by_node(peer)
        self.wait_until(lambda: peer.identity.hex() in self.banned(),
                        "the node lists the peer's identity as banned")
        self.assertNotIn(forged.txid().hex(), self.mempool())
        # The banned identity gets no handshake; another identity still does.
        with self.assertRaises(hp.PeerClosed):
            self.connect(key)
        self.assertTrue(self.connect().ready)

    def test_d_bad_checksum_disconnects_without_a_ban(self):
        key = hp.generate_key()
        peer = self.connect(key)
        good = hp.frame_of(hp.DEVNET_MAGIC, hp.ping_msg(7))
        peer.send_raw(good[:20] + bytes(b ^ 0xff for b in good[20:24]) + good[24:])
        self.assert_closed_by_node(peer)
        self.assertNotIn(peer.identity.hex(), self.banned())
        self.assertTrue(self.connect(key).ready)

    def test_pinned_identity_the_node_does_not_prove_is_refused(self):
        with self.assertRaisesRegex(hp.ProtocolError, "proved identity"):
            hp.Peer.connect("127.0.0.1", self.p2p_port, hp.DEVNET_MAGIC, None, bytes(32), WAIT_S)

    def run_peer(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, PEER, *args], capture_output=True, text=True,
                              timeout=WAIT_S * 2)

    def read_until_tx(self, listener: subprocess.Popen) -> list[dict]:
        """listen's JSON lines up to the first tx line (read unbuffered: select sees it all)."""
        lines: list[dict] = []
        pending = b""
        fd = listener.stdout.fileno()
        deadline = time.monotonic() + WAIT_S
        while not any(m.get("command") == "tx" for m in lines):
            ready, _, _ = select.select([fd], [], [], max(deadline - time.monotonic(), 0))
            if not ready:
                self.fail(f"no tx line from listen within {WAIT_S:.0f} s: {lines}")
            data = os.read(fd, 1 << 16)
            if not data:
                self.fail(f"listen ended: {listener.stderr.read().decode(errors='replace')}")
            *complete, pending = (pending + data).split(b"\n")
            lines += [json.loads(x) for x in complete]
        return lines

    def test_command_line_sendtx_then_listen_fetches_it(self):
        target = f"{self.node_identity.hex()}@127.0.0.1:{self.p2p_port}"
        key_file = os.path.join(self.tmp.name, "peer.key")
        self.cli("keygen", "--out", key_file)
        p = self.run_peer("--connect", target, "--network", "devnet", "--key", key_file,
                          "--timeout", str(WAIT_S), "sendtx", "--payload", "hello")
        self.assertEqual(p.returncode, 0, p.stderr)
        sent = json.loads(p.stdout)
        self.assertEqual(sent["sender"], hp.public_bytes(hp.load_key(key_file)).hex())
        self.wait_until(lambda: sent["txid"] in self.mempool(), "the node holds sendtx's tx")

        # Another peer listens: the node's catch-up announces the transaction, --fetch asks.
        with subprocess.Popen(
                [sys.executable, PEER, "--connect", target, "--magic", f"{hp.DEVNET_MAGIC:x}",
                 "--timeout", str(WAIT_S), "listen", "--fetch"],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE) as listener:
            try:
                lines = self.read_until_tx(listener)
            finally:
                listener.kill()
        commands = [m["command"] for m in lines]
        self.assertEqual(commands.count("version"), 0, "the handshake is not printed")
        tx = next(m for m in lines if m["command"] == "tx")
        self.assertEqual((tx["txid"], tx["signature_valid"], tx["payload"]),
                         (sent["txid"], True, b"hello".hex()))
        self.assertIn("inv", commands)

    def test_command_line_help_and_refusals(self):
        p = self.run_peer("--help")
        self.assertEqual(p.returncode, 0, p.stderr)
        for word in ("--connect", "--magic", "--network", "--key", "--timeout", "sendtx",
                     "listen", "Exit codes"):
            self.assertIn(word, p.stdout)
        for sub, words in (("sendtx", ("--payload", "--payload-hex", "--nonce", "--fee",
                                       "--expiry", "--sender-key", "--forge")),
                           ("listen", ("--count", "--fetch"))):
            p = self.run_peer("--connect", "127.0.0.1:1", sub, "--help")
            self.assertEqual(p.returncode, 0, p.stderr)
            for word in words:
                self.assertIn(word, p.stdout, sub)
        for args in (["--connect", "nohost", "listen"],
                     ["--connect", "127.0.0.1:1", "--magic", "zz", "listen"],
                     ["--connect", "127.0.0.1:1", "sendtx"],
                     ["--connect", "127.0.0.1:1", "--key", "/nonexistent", "listen"]):
            p = self.run_peer(*args)
            self.assertEqual(p.returncode, 2, args)
            self.assertIn("error", p.stderr, args)
        # A node that is not there: exit 1 and a line that says so.
        p = self.run_peer("--connect", f"127.0.0.1:{pick_ports(1)[0]}", "--timeout", "5",
                          "listen")
        self.assertEqual(p.returncode, 1)
        self.assertIn("cannot connect", p.stderr)


if __name__ == "__main__":
    BIN_DIR, argv = take_bin_arg(BIN_DIR)
    unittest.main(argv=argv)
