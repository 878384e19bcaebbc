#!/usr/bin/env python3
"""hearsay_peer: a minimal hearsay peer written from docs/protocol.md, and a tool to script
experiments against a node.

It speaks TLS 1.3 with a self-signed Ed25519 certificate (both sides present one; the node
requires ours), the version/verack handshake, ping/pong, and transaction relay by full id:
`inv`, `getdata`, `notfound`, `tx`. It sets no service bit, so a node relays to it by full id
and requests what it announces (no short ids, tree relay or reconciliation, which need the bits).
Every frame is checked as docs/protocol.md's "Framing" says (magic, command, the command's
payload limit before any payload byte is buffered, checksum); the payloads of version, verack,
ping, pong, inv, getdata, notfound, tx, getaddr, addr, feefilter, sendheaders, sendcmpct and
getheaders are decoded as §4 and §5 say (canonical CompactSize, every count and length bounded,
no trailing bytes); the other commands are handed up undecoded. The first error ends the
connection.

As a library (standard library plus `cryptography`):

    import hearsay_peer as hp
    peer = hp.Peer.connect("127.0.0.1", 18733, magic=hp.DEVNET_MAGIC, key=hp.load_key("me.key"))
    peer.handshake()
    tx = peer.make_tx(b"hello")      # signed by the peer's key: nonce 0, fee at the devnet floor
    peer.send_tx(tx)                  # inv; waits for the node's getdata and answers it with tx
    # The next transaction the node announces (never back to the peer that sent it: submit one
    # with `hearsay-cli sendtx` meanwhile), fetched with getdata, its id and signature checked.
    got = peer.wait_for_tx(timeout=60)
    peer.close()

Reading (recv, wait_for, send_tx, wait_for_tx) answers `ping` with `pong` and `getdata` for the
transactions this peer announced. A node drops a peer it has heard nothing from for a few minutes
(it pings every 5 s), so a script that holds a connection should read at least once a minute.

As a program: `hearsay_peer.py --help`.
"""

from __future__ import annotations

import argparse
import collections
import dataclasses
import datetime
import hashlib
import json
import os
import secrets
import socket
import ssl
import struct
import sys
import tempfile
import time
from typing import Callable, Iterable, NoReturn

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from cryptography.x509.oid import NameOID, SignatureAlgorithmOID

# --- constants (docs/protocol.md) -------------------------------------------------------------

DEVNET_MAGIC = 0x68727364  # "hrsd"
PROTOCOL_VERSION = 1  # version.protocol_version; the node refuses any other value
HEADER_SIZE = 24  # a frame's header ("Framing")
MAX_MESSAGE_PAYLOAD = 4_000_000  # kMaxMessagePayload
EMPTY_CHECKSUM = bytes.fromhex("5df6e0e2")

# §3: every command and its payload limit, in bytes.
COMMAND_LIMITS = {
    "version": 309, "verack": 0, "ping": 8, "pong": 8,
    "inv": 1_800_005, "getdata": 1_800_005, "notfound": 1_800_005, "tx": 102_400,
    "getheaders": 3_269, "headers": 360_005, "block": 4_000_000, "sendcmpct": 9,
    "cmpctblock": 4_000_000, "getblocktxn": 96_031, "blocktxn": 4_000_000, "addr": 122_005,
    "getaddr": 0, "feefilter": 8, "sendheaders": 0, "sendshortids": 17,
    "txinv": 300_005, "gettx": 300_005, "txnotfound": 300_005, "treetx": 102_404,
    "prune": 4_003, "graft": 4_003, "reqrecon": 1_040, "recondiff": 1_041,
}
MAX_USER_AGENT = 256
MAX_INV_ENTRIES = 50_000
MAX_ADDR_RECORDS = 1_000
MAX_LOCATOR_HASHES = 101
MAX_TX_PAYLOAD = 65_536
MIN_TX_SIZE = 125
MAX_TX_SIZE = 65_665
INV_TX, INV_BLOCK, INV_CMPCT_BLOCK = 1, 2, 4  # §5.4
INV_TYPE_NAMES = {INV_TX: "tx", INV_BLOCK: "block", INV_CMPCT_BLOCK: "cmpctblock"}
PEER_RECORD_SIZE = 122  # §5.6
# §7.1: entries per inv we send; §7.3: getdata tx entries a node answers.
MAX_INV_PER_MESSAGE = 1_000
# The devnet's minimum relay fee rate, per 1,000 bytes (chainstub/params.h; mempool policy).
DEVNET_MIN_FEE_RATE = 100
# A key file: the 32-byte Ed25519 seed as 64 hex digits on one line (crypto/keyfile.h).
MAX_KEY_FILE_BYTES = 256
MAX_NETWORK_FILE_BYTES = 1 << 20
USER_AGENT = "/hearsay_peer.py:0.1/"

# What this peer keeps while it runs: announced transactions it may be asked for, and messages
# read while waiting for another one (recv returns them later), each bounded.
MAX_OFFERED_TXS = 5_000
MAX_INBOX_BYTES = 64 << 20
READ_CHUNK = 64 << 10

# Ed25519 (RFC 8032) field and curve constant, for libsodium's extra checks (Transaction.verify).
_P = 2**255 - 19
_D = (-121665 * pow(121666, _P - 2, _P)) % _P


# --- errors -----------------------------------------------------------------------------------

class DecodeError(ValueError):
    """A frame or payload that docs/protocol.md §6.9 refuses; `code` is the doc's name."""

    def __init__(self, code: str, what: str):
        super().__init__(f"{code}: {what}")
        self.code = code


class ProtocolError(RuntimeError):
    """The node did something the spec forbids (or this peer cannot go on)."""


class PeerClosed(ConnectionError):
    """The connection is closed (by the node, or after an error here)."""


# --- hashing and encoding primitives (§1) ------------------------------------------------------

def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def sha256d(data: bytes) -> bytes:
    return sha256(sha256(data))


def tagged_hash(tag: str, data: bytes) -> bytes:
    t = sha256(tag.encode("ascii"))
    return sha256(t + t + data)


def compact_size(n: int) -> bytes:
    """The shortest CompactSize of n."""
    if n < 0xfd:
        return bytes([n])
    if n <= 0xffff:
        return b"\xfd" + struct.pack("<H", n)
    if n <= 0xffffffff:
        return b"\xfe" + struct.pack("<I", n)
    return b"\xff" + struct.pack("<Q", n)


class Reader:
    """Consumes one payload; never reads past it; each fault raises its own DecodeError."""

    def __init__(self, data: bytes):
        self._data = bytes(data)
        self._pos = 0

    def remaining(self) -> int:
        return len(self._data) - self._pos

    def take(self, n: int, what: str) -> bytes:
        if n > self.remaining():
            raise DecodeError("kTruncated", f"{what}: needs {n} bytes, {self.remaining()} left")
        out = self._data[self._pos:self._pos + n]
        self._pos += n
        return out

    def u8(self, what: str) -> int:
        return self.take(1, what)[0]

    def u16(self, what: str) -> int:
        return struct.unpack("<H", self.take(2, what))[0]

    def u32(self, what: str) -> int:
        return struct.unpack("<I", self.take(4, what))[0]

    def u64(self, what: str) -> int:
        return struct.unpack("<Q", self.take(8, what))[0]

    def i64(self, what: str) -> int:
        return struct.unpack("<q", self.take(8, what))[0]

    def compact_size(self, limit: int, what: str) -> int:
        first = self.u8(what)
        if first < 0xfd:
            value, smallest = first, 0
        elif first == 0xfd:
            value, smallest = self.u16(what), 0xfd
        elif first == 0xfe:
            value, smallest = self.u32(what), 0x10000
        else:
            value, smallest = self.u64(what), 0x100000000
        if value < smallest:
            raise DecodeError("kNonCanonical",
                              f"{what}: CompactSize {value} not in its shortest form")
        if value > limit:
            raise DecodeError("kTooLarge", f"{what}: {value} is over the limit {limit}")
        return value

    def count(self, limit: int, entry_size: int, what: str) -> int:
        """A CompactSize count of fixed-size entries, refused before anything is allocated when
        the bytes left cannot hold them."""
        n = self.compact_size(limit, what)
        if n * entry_size > self.remaining():
            raise DecodeError("kTruncated", f"{what}: {n} entries of {entry_size} bytes, "
                                            f"{self.remaining()} bytes left")
        return n

    def var_bytes(self, limit: int, what: str) -> bytes:
        return self.take(self.compact_size(limit, what), what)

    def finish(self, what: str) -> None:
        if self.remaining():
            raise DecodeError("kTrailingBytes", f"{what}: {self.remaining()} bytes left over")


# --- keys, signatures and the certificate -----------------------------------------------------

def generate_key() -> ed25519.Ed25519PrivateKey:
    return ed25519.Ed25519PrivateKey.generate()


def key_from_seed(seed: bytes) -> ed25519.Ed25519PrivateKey:
    return ed25519.Ed25519PrivateKey.from_private_bytes(seed)


def public_bytes(key: ed25519.Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.Raw,
                                         serialization.PublicFormat.Raw)


def seed_bytes(key: ed25519.Ed25519PrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                             serialization.NoEncryption())


def load_key(path: str) -> ed25519.Ed25519PrivateKey:
    """A key file as `hearsay-cli keygen --out FILE` writes it: 64 hex digits (the seed), then a
    newline."""
    with open(path, "rb") as f:
        data = f.read(MAX_KEY_FILE_BYTES + 1)
    if len(data) > MAX_KEY_FILE_BYTES:
        raise ValueError(f"key file {path} is over {MAX_KEY_FILE_BYTES} bytes: is it a key file?")
    text = data.rstrip(b"\r\n ")
    try:
        if len(text) != 64:
            raise ValueError
        return key_from_seed(bytes.fromhex(text.decode("ascii")))
    except ValueError:
        raise ValueError(f"key file {path} is malformed: expected 64 hex digits on one line "
                         f"(hearsay-cli keygen --out FILE writes one)") from None


def save_key(path: str, key: ed25519.Ed25519PrivateKey) -> None:
    """Writes a key file (mode 0600), refusing to overwrite one."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as f:
        f.write(seed_bytes(key).hex() + "\n")


def _small_order(point: bytes) -> bool:
    """libsodium refuses public keys and signature R values of small order: the points of order
    1 (y = 1), 2 (y = -1), 4 (y = 0) and 8 (doubled, y = 0: x² = -y², so d·y⁴ + 2·y² - 1 = 0
    on -x² + y² = 1 + d·x²·y²), whatever the sign bit."""
    y = (int.from_bytes(point, "little") & ((1 << 255) - 1)) % _P
    return y in (0, 1, _P - 1) or (_D * pow(y, 4, _P) + 2 * y * y - 1) % _P == 0


def _canonical_point(point: bytes) -> bool:
    return int.from_bytes(point, "little") & ((1 << 255) - 1) < _P


def verify_signature(public_key: bytes, digest: bytes, signature: bytes) -> bool:
    """Ed25519 as libsodium checks it (§1): OpenSSL's verification (which refuses a
    non-canonical S) plus libsodium's refusal of a non-canonical or small-order key and of a
    small-order R."""
    if len(public_key) != 32 or len(signature) != 64:
        return False
    if not _canonical_point(public_key) or _small_order(public_key) or _small_order(signature[:32]):
        return False
    try:
        ed25519.Ed25519PublicKey.from_public_bytes(public_key).verify(signature, digest)
        return True
    except (InvalidSignature, ValueError):
        return False


def make_certificate(key: ed25519.Ed25519PrivateKey) -> x509.Certificate:
    """A self-signed X.509 certificate of `key`, as hearsayd makes its own: issuer = subject =
    CN of the public key in hex, signed by the key, valid from a day ago for a century (dates
    carry no meaning: the identity is the key)."""
    pub = public_bytes(key)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, pub.hex())])
    now = datetime.datetime.now(datetime.timezone.utc)
    serial = int.from_bytes(pub[:8], "big") & 0x7fffffffffffffff or 1
    return (x509.CertificateBuilder()
            .subject_name(name).issuer_name(name)
            .public_key(key.public_key())
            .serial_number(serial)
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=100 * 365))
            .sign(key, None))  # Ed25519 signs the message itself: no digest (RFC 8410)


def identity_from_certificate(der: bytes) -> bytes:
    """The Ed25519 identity a peer's certificate proves: its key, if the certificate is
    self-signed by it. (The TLS handshake itself proves possession of the private key.)"""
    try:
        cert = x509.load_der_x509_certificate(der)
        key = cert.public_key()
    except ValueError:
        raise ProtocolError("certificate is not valid DER X.509 with a readable key") from None
    if not isinstance(key, ed25519.Ed25519PublicKey):
        kind = {rsa.RSAPublicKey: "RSA", ec.EllipticCurvePublicKey: "ECDSA",
                ed448.Ed448PublicKey: "Ed448"}
        name = next((v for k, v in kind.items() if isinstance(key, k)), "of another type")
        raise ProtocolError(f"certificate key is {name}, not Ed25519")
    if cert.issuer != cert.subject or cert.signature_algorithm_oid != SignatureAlgorithmOID.ED25519:
        raise ProtocolError("certificate is not self-signed with Ed25519")
    try:
        key.verify(cert.signature, cert.tbs_certificate_bytes)
    except InvalidSignature:
        raise ProtocolError("certificate is not signed by its own Ed25519 key") from None
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def tls_context(key: ed25519.Ed25519PrivateKey) -> ssl.SSLContext:
    """TLS 1.3 only, presenting `key`'s certificate; the node's certificate is checked by key
    after the handshake (identity_from_certificate), not against a CA."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ctx.maximum_version = ssl.TLSVersion.TLSv1_3
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE  # self-signed: no chain to check; the key is the identity
    ctx.options |= ssl.OP_NO_TICKET
    cert_pem = make_certificate(key).public_bytes(serialization.Encoding.PEM)
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    # The ssl module loads certificates from files only: a private folder, gone at once.
    with tempfile.TemporaryDirectory(prefix="hearsay-peer-") as d:
        cert_path, key_path = os.path.join(d, "cert.pem"), os.path.join(d, "key.pem")
        for path, data in ((cert_path, cert_pem), (key_path, key_pem)):
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(data)
        ctx.load_cert_chain(cert_path, key_path)
    return ctx


# --- items (§5) -------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Transaction:
    """§5.1. Size 125 to 65,665 bytes; id SHA256d of the encoding; signed over
    TaggedHash("hearsay/tx", every byte before the signature)."""
    network: int
    sender: bytes
    nonce: int
    fee: int
    expiry: int
    payload: bytes
    signature: bytes = bytes(64)

    def unsigned_bytes(self) -> bytes:
        if len(self.sender) != 32 or len(self.signature) != 64:
            raise ValueError("a sender is 32 bytes and a signature 64")
        if len(self.payload) > MAX_TX_PAYLOAD:
            raise ValueError(f"payload of {len(self.payload)} bytes is over {MAX_TX_PAYLOAD}")
        return (struct.pack("<I", self.network) + self.sender +
                struct.pack("<QQQ", self.nonce, self.fee, self.expiry) +
                compact_size(len(self.payload)) + self.payload)

    def encode(self) -> bytes:
        return self.unsigned_bytes() + self.signature

    def sighash(self) -> bytes:
        return tagged_hash("hearsay/tx", self.unsigned_bytes())

    def txid(self) -> bytes:
        return sha256d(self.encode())

    def size(self) -> int:
        return len(self.encode())

    def fee_rate(self) -> int:
        return min(self.fee * 1000 // self.size(), 2**64 - 1)

    def verify(self) -> bool:
        return verify_signature(self.sender, self.sighash(), self.signature)

    def forged(self) -> "Transaction":
        """A copy whose signature no longer verifies (its last bit flipped): a forgery."""
        sig = bytearray(self.signature)
        sig[-1] ^= 1
        return dataclasses.replace(self, signature=bytes(sig))

    @staticmethod
    def sign(key: ed25519.Ed25519PrivateKey, network: int, payload: bytes, nonce: int = 0,
             fee: int | None = None, expiry: int = 0) -> "Transaction":
        """Signed by `key`; fee None: the least that meets the devnet's minimum fee rate."""
        tx = Transaction(network, public_bytes(key), nonce, fee or 0, expiry, bytes(payload))
        if fee is None:  # the fee field has a fixed width: the size does not depend on it
            tx = dataclasses.replace(tx, fee=-(-DEVNET_MIN_FEE_RATE * tx.size() // 1000))
        return dataclasses.replace(tx, signature=key.sign(tx.sighash()))

    @staticmethod
    def read(r: Reader) -> "Transaction":
        return Transaction(network=r.u32("tx.network"), sender=r.take(32, "tx.sender"),
                           nonce=r.u64("tx.nonce"), fee=r.u64("tx.fee"), expiry=r.u64("tx.expiry"),
                           payload=r.var_bytes(MAX_TX_PAYLOAD, "tx.payload"),
                           signature=r.take(64, "tx.signature"))

    @staticmethod
    def decode(data: bytes) -> "Transaction":
        r = Reader(data)
        tx = Transaction.read(r)
        r.finish("tx")
        return tx


@dataclasses.dataclass(frozen=True)
class InvEntry:
    type: int
    hash: bytes

    def encode(self) -> bytes:
        return struct.pack("<I", self.type) + self.hash


def _read_net_address(r: Reader, what: str) -> dict:
    ip = r.take(16, what + ".ip")
    port = r.u16(what + ".port")  # little-endian, unlike Bitcoin
    if ip[:12] == bytes(10) + b"\xff\xff":
        host = ".".join(str(b) for b in ip[12:])
    else:
        host = socket.inet_ntop(socket.AF_INET6, ip)
    return {"ip": host, "port": port}


# --- messages (§4) ----------------------------------------------------------------------------

@dataclasses.dataclass
class Message:
    """One message: its command, its payload bytes and, for the commands this peer decodes, the
    payload's fields (`tx` a Transaction, `entries` InvEntry values, other values plain)."""
    command: str
    payload: bytes = b""
    fields: dict = dataclasses.field(default_factory=dict)


def version_msg(magic: int, services: int = 0, best_height: int = 0,
                user_agent: str = USER_AGENT, listen: tuple[bytes, int] = (bytes(16), 0),
                protocol_version: int = PROTOCOL_VERSION) -> Message:
    """§4 `version`; `listen` (16-byte IPv6 address, port) port 0: this peer does not listen."""
    ua = user_agent.encode("ascii")
    payload = (struct.pack("<IIQq", protocol_version, magic, services, int(time.time())) +
               listen[0] + struct.pack("<HQ", listen[1], best_height) +
               compact_size(len(ua)) + ua)
    return decode_message("version", payload)


def ping_msg(nonce: int | None = None) -> Message:
    return decode_message("ping", struct.pack("<Q", secrets.randbits(64) if nonce is None
                                              else nonce))


def inv_list_msg(command: str, entries: Iterable[InvEntry]) -> Message:
    """`inv`, `getdata` or `notfound` with these entries."""
    entries = list(entries)
    return decode_message(command, compact_size(len(entries)) +
                          b"".join(e.encode() for e in entries))


def tx_msg(tx: Transaction) -> Message:
    return Message("tx", tx.encode(), {"tx": tx})


def _decode_version(r: Reader) -> dict:
    f = {"protocol_version": r.u32("version.protocol_version"),
         "network_magic": r.u32("version.network_magic"), "services": r.u64("version.services"),
         "time": r.i64("version.time"), "addr_from": _read_net_address(r, "version.addr_from"),
         "best_height": r.u64("version.best_height")}
    ua = r.var_bytes(MAX_USER_AGENT, "version.user_agent")
    if any(c < 0x20 or c > 0x7e for c in ua):
        raise DecodeError("kBadValue", "version.user_agent: not printable ASCII")
    f["user_agent"] = ua.decode("ascii")
    return f


def _decode_inv_list(r: Reader) -> dict:
    n = r.count(MAX_INV_ENTRIES, 36, "entries")
    entries = []
    for _ in range(n):
        t = r.u32("entry.type")
        if t not in INV_TYPE_NAMES:
            raise DecodeError("kBadValue", f"inv entry type {t}")
        entries.append(InvEntry(t, r.take(32, "entry.hash")))
    return {"entries": entries}


def _decode_addr(r: Reader) -> dict:
    records = []
    for _ in range(r.count(MAX_ADDR_RECORDS, PEER_RECORD_SIZE, "addr.records")):
        start = r.take(58, "record")
        sig = r.take(64, "record.signature")
        rr = Reader(start)
        identity = rr.take(32, "record.identity")
        address = _read_net_address(rr, "record.address")
        signed_at = rr.u64("record.time")
        valid = verify_signature(identity, tagged_hash("hearsay/peer-record", start), sig)
        records.append({"identity": identity.hex(), "address": address, "time": signed_at,
                        "signature_valid": valid})
    return {"records": records}


def _decode_sendcmpct(r: Reader) -> dict:
    hb = r.u8("sendcmpct.high_bandwidth")
    if hb > 1:
        raise DecodeError("kBadValue", f"sendcmpct.high_bandwidth {hb}")
    return {"high_bandwidth": hb, "version": r.u64("sendcmpct.version")}


def _decode_getheaders(r: Reader) -> dict:
    n = r.count(MAX_LOCATOR_HASHES, 32, "getheaders.locator")
    return {"locator": [r.take(32, "locator").hex() for _ in range(n)],
            "stop": r.take(32, "getheaders.stop").hex()}


_DECODERS: dict[str, Callable[[Reader], dict]] = {
    "version": _decode_version,
    "verack": lambda r: {}, "getaddr": lambda r: {}, "sendheaders": lambda r: {},
    "ping": lambda r: {"nonce": r.u64("nonce")}, "pong": lambda r: {"nonce": r.u64("nonce")},
    "feefilter": lambda r: {"fee_rate": r.u64("fee_rate")},
    "inv": _decode_inv_list, "getdata": _decode_inv_list, "notfound": _decode_inv_list,
    "tx": lambda r: {"tx": Transaction.read(r)},
    "addr": _decode_addr, "sendcmpct": _decode_sendcmpct, "getheaders": _decode_getheaders,
}


def decode_message(command: str, payload: bytes) -> Message:
    """The message a frame carries; raises DecodeError as §6.9 says. Commands this peer does not
    decode keep only their payload."""
    if command not in COMMAND_LIMITS:
        raise DecodeError("kUnknownCommand", command)
    if len(payload) > COMMAND_LIMITS[command]:
        raise DecodeError("kOversizePayload", f"{command}: {len(payload)} bytes, the limit is "
                                              f"{COMMAND_LIMITS[command]}")
    decoder = _DECODERS.get(command)
    if decoder is None:
        return Message(command, bytes(payload))
    r = Reader(payload)
    fields = decoder(r)
    r.finish(command)
    return Message(command, bytes(payload), fields)


def describe(msg: Message) -> dict:
    """A message as a JSON-able object (what `listen` prints)."""
    out: dict = {"command": msg.command, "size": len(msg.payload)}
    for k, v in msg.fields.items():
        if k == "tx":
            out.update(txid=v.txid().hex(), network=f"0x{v.network:08x}", sender=v.sender.hex(),
                       nonce=v.nonce, fee=v.fee, expiry=v.expiry, payload=v.payload.hex(),
                       signature_valid=v.verify())
        elif k == "entries":
            out[k] = [{"type": INV_TYPE_NAMES[e.type], "hash": e.hash.hex()} for e in v]
        elif k == "network_magic":
            out[k] = f"0x{v:08x}"
        else:
            out[k] = v
    if not msg.fields and msg.payload and msg.command not in _DECODERS:
        out["payload"] = msg.payload.hex()
    return out


# --- framing ("Framing") ----------------------------------------------------------------------

def encode_frame(magic: int, command: str, payload: bytes, checksum: bytes | None = None) -> bytes:
    """One frame; `checksum` overrides the real one (to send a malformed frame on purpose)."""
    name = command.encode("ascii")
    if not 1 <= len(name) <= 12:
        raise ValueError(f"command {command!r} is not 1 to 12 characters")
    real = sha256d(payload)[:4]
    return (struct.pack("<I", magic) + name.ljust(12, b"\0") +
            struct.pack("<I", len(payload)) + (real if checksum is None else checksum) + payload)


def frame_of(magic: int, msg: Message) -> bytes:
    return encode_frame(magic, msg.command, msg.payload)


def _check_command(field: bytes) -> str:
    name = field.rstrip(b"\0")
    if not name or b"\0" in name or any(c < 0x21 or c > 0x7e for c in name):
        raise DecodeError("kBadCommand", f"command field {field.hex()}")
    return name.decode("ascii")


class FrameDecoder:
    """The receiver of "Framing": bytes in, (command, payload) out. Each header is checked as
    soon as its 24 bytes are in, before any payload byte is kept, so it holds at most the header
    and the limit of the command it names. The first error is sticky: nothing more is decoded
    after it."""

    def __init__(self, magic: int):
        self._magic = magic
        self._buf = bytearray()
        self._error: DecodeError | None = None
        self._header: tuple[str, int, bytes] | None = None  # command, length, checksum

    def feed(self, data: bytes) -> None:
        self._buf += data

    def next(self) -> tuple[str, bytes] | None:
        if self._error:
            raise self._error
        try:
            return self._next()
        except DecodeError as e:
            self._error = e
            raise

    def _next(self) -> tuple[str, bytes] | None:
        if self._header is None:
            if len(self._buf) < HEADER_SIZE:
                return None
            magic, = struct.unpack_from("<I", self._buf, 0)
            if magic != self._magic:
                raise DecodeError("kBadMagic", f"frame magic 0x{magic:08x}, this network's is "
                                               f"0x{self._magic:08x}")
            command = _check_command(bytes(self._buf[4:16]))
            if command not in COMMAND_LIMITS:
                raise DecodeError("kUnknownCommand", command)
            length, = struct.unpack_from("<I", self._buf, 16)
            if length > COMMAND_LIMITS[command]:
                raise DecodeError("kOversizePayload", f"{command} frame of {length} bytes, the "
                                                      f"limit is {COMMAND_LIMITS[command]}")
            self._header = (command, length, bytes(self._buf[20:24]))
            del self._buf[:HEADER_SIZE]
        command, length, checksum = self._header
        if len(self._buf) < length:
            return None
        payload = bytes(self._buf[:length])
        del self._buf[:length]
        self._header = None
        if sha256d(payload)[:4] != checksum:
            raise DecodeError("kBadChecksum", f"{command} frame: checksum {checksum.hex()}, the "
                                              f"payload's is {sha256d(payload)[:4].hex()}")
        return command, payload

    def wanted(self) -> int:
        """Bytes worth reading now: what completes the current frame, or its header."""
        if self._header is None:
            return max(HEADER_SIZE - len(self._buf), 1)
        return max(self._header[1] - len(self._buf), 1)


# --- the peer ---------------------------------------------------------------------------------

def _connect_error(host: str, port: int, e: Exception) -> PeerClosed:
    return PeerClosed(f"cannot connect to {host}:{port}: {e}")


class Peer:
    """One TLS connection to a node. Not thread-safe: one thread reads and writes."""

    def __init__(self, sock: ssl.SSLSocket, magic: int, key: ed25519.Ed25519PrivateKey,
                 node_identity: bytes):
        self.sock = sock
        self.magic = magic
        self.key = key
        self.identity = public_bytes(key)
        self.node_identity = node_identity
        self.node_version: Message | None = None
        self.ready = False
        self.closed_reason: str | None = None
        self._decoder = FrameDecoder(magic)
        self._inbox: collections.deque[Message] = collections.deque()
        self._inbox_bytes = 0
        self.dropped = 0  # messages dropped from a full inbox
        self._offered: collections.OrderedDict[bytes, Transaction] = collections.OrderedDict()
        self._served: set[bytes] = set()  # offered transactions the node was sent

    @classmethod
    def connect(cls, host: str, port: int, magic: int = DEVNET_MAGIC,
                key: ed25519.Ed25519PrivateKey | None = None, identity: bytes | None = None,
                timeout: float = 10.0) -> "Peer":
        """TCP, then TLS presenting `key` (None: a fresh random identity). `identity` pins the
        node's: the connection is refused unless its certificate proves that key."""
        key = key or generate_key()
        ctx = tls_context(key)
        try:
            raw = socket.create_connection((host, port), timeout=timeout)
        except OSError as e:
            raise _connect_error(host, port, e) from e
        try:
            sock = ctx.wrap_socket(raw, server_hostname=None)
            der = sock.getpeercert(binary_form=True)
        except (OSError, ssl.SSLError) as e:
            raw.close()
            raise PeerClosed(f"TLS handshake with {host}:{port} failed: {e}") from e
        try:
            node = identity_from_certificate(der or b"")
            if identity is not None and node != identity:
                raise ProtocolError(f"the node proved identity {node.hex()}, expected "
                                    f"{identity.hex()}")
        except ProtocolError:
            sock.close()
            raise
        return cls(sock, magic, key, node)

    def __enter__(self) -> "Peer":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        if self.closed_reason is None:
            self.closed_reason = "closed by this peer"
        try:
            self.sock.close()
        except OSError:
            pass

    # -- sending --

    def send(self, msg: Message) -> None:
        self.send_raw(frame_of(self.magic, msg))

    def send_raw(self, data: bytes) -> None:
        """Bytes as they are: a frame built by hand, a malformed one, half of one."""
        if self.closed_reason is not None:
            raise PeerClosed(self.closed_reason)
        try:
            self.sock.sendall(data)
        except OSError as e:
            self._closed(f"send failed: {e}")

    # -- reading --

    def _closed(self, reason: str) -> NoReturn:
        self.closed_reason = reason
        try:
            self.sock.close()
        except OSError:
            pass
        raise PeerClosed(reason)

    def _read(self, deadline: float) -> Message:
        """The next message off the wire, with ping and getdata answered; TimeoutError at the
        deadline."""
        while True:
            if self.closed_reason is not None:
                raise PeerClosed(self.closed_reason)
            try:
                frame = self._decoder.next()
                msg = decode_message(*frame) if frame else None
            except DecodeError as e:
                hint = "; is the node on another network? (--magic, --network)" \
                    if e.code == "kBadMagic" else ""
                self._closed(f"the node sent a malformed message ({e}){hint}")
            if msg is not None:
                self._answer(msg)
                return msg
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no message from the node in time")
            self.sock.settimeout(left)
            try:
                data = self.sock.recv(min(self._decoder.wanted(), READ_CHUNK))
            except (socket.timeout, TimeoutError):
                raise TimeoutError("no message from the node in time") from None
            except (OSError, ssl.SSLError) as e:
                self._closed(f"connection lost: {e}")
            if not data:
                self._closed("the node closed the connection")
            self._decoder.feed(data)

    def _answer(self, msg: Message) -> None:
        if not self.ready:
            return
        if msg.command == "ping":
            self.send(decode_message("pong", msg.payload))
        elif msg.command == "getdata":
            missing = []
            for e in msg.fields["entries"]:
                tx = self._offered.get(e.hash) if e.type == INV_TX else None
                if tx is None:
                    missing.append(e)
                else:
                    self.send(tx_msg(tx))
                    self._served.add(e.hash)
            if missing:
                self.send(inv_list_msg("notfound", missing))

    def _keep(self, msg: Message) -> None:
        self._inbox.append(msg)
        self._inbox_bytes += len(msg.payload)
        while self._inbox_bytes > MAX_INBOX_BYTES:
            self._inbox_bytes -= len(self._inbox.popleft().payload)
            self.dropped += 1

    def recv(self, timeout: float = 10.0) -> Message:
        """The next message (kept ones first); TimeoutError if none within `timeout` s,
        PeerClosed when the connection ends."""
        if self._inbox:
            msg = self._inbox.popleft()
            self._inbox_bytes -= len(msg.payload)
            return msg
        return self._read(time.monotonic() + timeout)

    def wait_for(self, match: Callable[[Message], bool], timeout: float = 10.0) -> Message:
        """The first message (kept or new) for which `match` is true; the others read meanwhile
        are kept for recv."""
        for i, msg in enumerate(self._inbox):
            if match(msg):
                del self._inbox[i]
                self._inbox_bytes -= len(msg.payload)
                return msg
        deadline = time.monotonic() + timeout
        while True:
            msg = self._read(deadline)
            if match(msg):
                return msg
            self._keep(msg)

    def wait_closed(self, timeout: float = 10.0) -> str:
        """Reads until the node closes the connection; the reason. TimeoutError if it stays
        open."""
        deadline = time.monotonic() + timeout
        try:
            while True:
                self._keep(self._read(deadline))
        except PeerClosed as e:
            return str(e)

    # -- the handshake (§4 `version`; "Handshake") --

    def handshake(self, timeout: float = 10.0, services: int = 0, best_height: int = 0,
                  user_agent: str = USER_AGENT) -> Message:
        """Sends `version` at once; the node's `version` must come first (our network, our
        protocol version), answered with `verack`; then its `verack`. Returns its version."""
        self.send(version_msg(self.magic, services, best_height, user_agent))
        deadline = time.monotonic() + timeout
        theirs = self._read(deadline)
        if theirs.command != "version":
            raise ProtocolError(f"the node sent {theirs.command!r} before its version")
        v = theirs.fields
        if v["network_magic"] != self.magic or v["protocol_version"] != PROTOCOL_VERSION:
            raise ProtocolError(f"the node's version is for network 0x{v['network_magic']:08x}, "
                                f"protocol {v['protocol_version']}: not ours")
        self.send(Message("verack"))
        ack = self._read(deadline)
        if ack.command != "verack":
            raise ProtocolError(f"the node sent {ack.command!r} before its verack")
        self.node_version = theirs
        self.ready = True
        return theirs

    # -- transactions (§7) --

    def make_tx(self, payload: bytes, nonce: int = 0, fee: int | None = None, expiry: int = 0,
                key: ed25519.Ed25519PrivateKey | None = None) -> Transaction:
        """A transaction of this peer's network signed by `key` (default: the peer's own)."""
        return Transaction.sign(key or self.key, self.magic, payload, nonce, fee, expiry)

    def announce(self, txs: Iterable[Transaction]) -> None:
        """`inv` of these transactions; the node's getdata for them is answered while reading."""
        txs = list(txs)
        for tx in txs:
            self._offered[tx.txid()] = tx
            self._offered.move_to_end(tx.txid())
            while len(self._offered) > MAX_OFFERED_TXS:
                self._served.discard(self._offered.popitem(last=False)[0])
        for i in range(0, len(txs), MAX_INV_PER_MESSAGE):
            self.send(inv_list_msg("inv", (InvEntry(INV_TX, tx.txid())
                                           for tx in txs[i:i + MAX_INV_PER_MESSAGE])))

    def send_tx(self, tx: Transaction, timeout: float = 10.0) -> None:
        """Announces `tx` and returns once the node has requested it and been sent it (a node
        requests from a peer it did not dial after a delay, 2 s by default). Whether the node
        then accepts it is its mempool's decision: ask its RPC."""
        txid = tx.txid()
        self._served.discard(txid)
        self.announce([tx])
        self.wait_for(lambda m: txid in self._served, timeout)

    def wait_for_tx(self, txid: bytes | None = None, timeout: float = 10.0) -> Transaction:
        """The next transaction the node announces (or the one with `txid`): requested with
        getdata, checked to have the announced id and a valid signature."""
        deadline = time.monotonic() + timeout
        wanted: set[bytes] = set()

        def match(m: Message) -> bool:
            if m.command == "inv":
                fresh = [e for e in m.fields["entries"] if e.type == INV_TX and
                         (txid is None or e.hash == txid) and e.hash not in wanted]
                if fresh:
                    wanted.update(e.hash for e in fresh)
                    self.send(inv_list_msg("getdata", fresh[:MAX_INV_PER_MESSAGE]))
                return False
            if m.command == "notfound":
                wanted.difference_update(e.hash for e in m.fields["entries"])
                return False
            return m.command == "tx" and m.fields["tx"].txid() in wanted

        msg = self.wait_for(match, max(deadline - time.monotonic(), 0))
        tx = msg.fields["tx"]
        if not tx.verify():
            raise ProtocolError(f"the node sent transaction {tx.txid().hex()} with a signature "
                                f"that does not verify (a forgery: §7.4 bans its sender)")
        return tx


# --- the command line -------------------------------------------------------------------------

def parse_endpoint(text: str) -> tuple[str, int, bytes | None]:
    """[PUBKEY@]HOST:PORT (HOST may be [IPv6])."""
    identity = None
    if "@" in text:
        hex_key, text = text.split("@", 1)
        try:
            identity = bytes.fromhex(hex_key)
        except ValueError:
            identity = b""
        if len(identity) != 32:
            raise ValueError(f"{hex_key!r} is not a public key (64 hex digits)")
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"{text!r} is not HOST:PORT")
    return host.strip("[]"), int(port), identity


def network_magic(args: argparse.Namespace) -> int:
    if args.magic is not None:
        try:
            m = int(args.magic, 16)
        except ValueError:
            m = -1
        if not 0 <= m <= 0xffffffff:
            raise ValueError(f"--magic {args.magic!r} is not a u32 in hex (e.g. 0x68727364)")
        return m
    if args.network in (None, "devnet"):
        return DEVNET_MAGIC
    with open(args.network, "rb") as f:
        data = f.read(MAX_NETWORK_FILE_BYTES + 1)
    if len(data) > MAX_NETWORK_FILE_BYTES:
        raise ValueError(f"network file {args.network} is over {MAX_NETWORK_FILE_BYTES} bytes")
    m = json.loads(data).get("magic")
    m = int(m, 16) if isinstance(m, str) else m
    if not isinstance(m, int) or not 0 <= m <= 0xffffffff:
        raise ValueError(f"network file {args.network} has no valid \"magic\"")
    return m


def print_json(obj: dict) -> None:
    print(json.dumps(obj), flush=True)


def cmd_sendtx(peer: Peer, args: argparse.Namespace) -> int:
    tx = peer.make_tx(args.payload_bytes, args.nonce, args.fee, args.expiry, args.sender)
    if args.forge:
        tx = tx.forged()
    peer.send_tx(tx, args.timeout)
    print_json({"txid": tx.txid().hex(), "sender": tx.sender.hex(), "nonce": tx.nonce,
                "fee": tx.fee, "size": tx.size(), "forged": args.forge, "served": True})
    return 0


def cmd_listen(peer: Peer, args: argparse.Namespace) -> int:
    printed = 0
    while args.count == 0 or printed < args.count:
        msg = peer.recv(args.timeout)
        if args.fetch and msg.command == "inv":
            txs = [e for e in msg.fields["entries"] if e.type == INV_TX]
            if txs:
                peer.send(inv_list_msg("getdata", txs[:MAX_INV_PER_MESSAGE]))
        print_json(dict(t=round(time.time(), 3), **describe(msg)))
        printed += 1
    return 0


HELP = __doc__.split("\n\n")[0] + """

Connects to a node (TLS 1.3, this peer's Ed25519 key as its certificate; the node's certificate
must prove PUBKEY when --connect names one), does the version/verack handshake (no service bits:
the node relays to it by full id), then runs one command. Meanwhile it answers ping with pong.

  sendtx   builds and signs a transaction of the network (--magic / --network), announces it
           (inv), answers the node's getdata with it and prints {txid, sender, nonce, fee, size,
           forged, served} as one JSON line. "served" means the node requested and got it;
           whether it accepted it is its mempool's decision (hearsay-cli getrawmempool). A node
           requests from a peer it did not dial after 2 s.
  listen   prints each message the node sends as one JSON line: t (unix time), command, size
           (payload bytes) and the decoded fields (hashes, keys and payloads in hex; a tx with
           its txid and signature_valid; commands it does not decode with their payload in
           hex). With --fetch it requests every transaction announced to it, so the tx
           messages follow their inv.

Examples (a devnet node listening on 127.0.0.1:18733):
  hearsay_peer.py --connect 127.0.0.1:18733 sendtx --payload hello
  hearsay_peer.py --connect 127.0.0.1:18733 --key me.key sendtx --payload-hex deadbeef --nonce 1
  hearsay_peer.py --connect 127.0.0.1:18733 listen --count 20 --fetch

As a library: `import hearsay_peer` (class Peer; its module docstring has an example).

Exit codes: 0 done (sendtx: served; listen: --count messages printed); 1 the connection failed
or ended (listen without --count ends so), the node broke the protocol, or nothing came within
--timeout (a line on stderr says which); 2 bad command line or unreadable file; 130 Ctrl-C.
"""


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="hearsay_peer.py", description=HELP,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--connect", required=True, metavar="[PUBKEY@]HOST:PORT",
                   help="the node's P2P address; PUBKEY pins its identity (64 hex digits)")
    net = p.add_mutually_exclusive_group()
    net.add_argument("--magic", metavar="HEX", help="the network magic (default: the devnet's, "
                     f"0x{DEVNET_MAGIC:08x})")
    net.add_argument("--network", metavar="devnet|PATH",
                     help="devnet, or a network file from `hearsay-cli network new` (its magic)")
    p.add_argument("--key", metavar="FILE", help="this peer's identity key, a file from "
                   "`hearsay-cli keygen --out FILE` (default: a new random key each run); it also "
                   "signs sendtx's transaction unless --sender-key is given")
    p.add_argument("--timeout", type=float, default=30.0, metavar="S",
                   help="seconds to wait for each step: connect, handshake, the node's getdata, "
                        "each message of listen (default: 30)")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    s = sub.add_parser("sendtx", help="announce a signed transaction and serve it to the node",
                       description="Builds, signs, announces and serves one transaction.")
    body = s.add_mutually_exclusive_group(required=True)
    body.add_argument("--payload", metavar="TEXT", help="the payload: this text in UTF-8")
    body.add_argument("--payload-hex", metavar="HEX", help="the payload as hex")
    s.add_argument("--nonce", type=int, default=0, metavar="N",
                   help="the sender's nonce: its next one (hearsay-cli getnextnonce PUBKEY); "
                        "default 0, a new key's first")
    s.add_argument("--fee", type=int, default=None, metavar="N",
                   help="the fee (default: the least that meets the devnet's minimum fee rate, "
                        f"{DEVNET_MIN_FEE_RATE} per 1,000 bytes)")
    s.add_argument("--expiry", type=int, default=0, metavar="N",
                   help="0 never; below 500,000,000 the last valid height; else a unix time")
    s.add_argument("--sender-key", metavar="FILE", help="sign with this key file instead")
    s.add_argument("--forge", action="store_true",
                   help="corrupt the signature: the node must ban this peer (docs/protocol.md "
                        "§7.4)")
    listen = sub.add_parser("listen", help="print the messages the node sends as JSON lines",
                            description="Prints each message the node sends as a JSON line.")
    listen.add_argument("--count", type=int, default=0, metavar="N",
                        help="stop after N messages (default 0: until the connection ends)")
    listen.add_argument("--fetch", action="store_true",
                        help="request every announced transaction (getdata)")
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        host, port, identity = parse_endpoint(args.connect)
        magic = network_magic(args)
        key = load_key(args.key) if args.key else None
        if args.command == "sendtx":
            args.payload_bytes = bytes.fromhex(args.payload_hex) \
                if args.payload_hex is not None else args.payload.encode("utf-8")
            if len(args.payload_bytes) > MAX_TX_PAYLOAD:
                raise ValueError(f"the payload is over {MAX_TX_PAYLOAD} bytes")
            args.sender = load_key(args.sender_key) if args.sender_key else None
            if not all(0 <= v < 2**64 for v in (args.nonce, args.fee or 0, args.expiry)):
                raise ValueError("--nonce, --fee and --expiry are u64: 0 to 2^64 - 1")
        if args.command == "listen" and args.count < 0:
            raise ValueError("--count must be 0 or more")
    except (OSError, ValueError) as e:
        parser.error(str(e))
    try:
        with Peer.connect(host, port, magic, key, identity, args.timeout) as peer:
            peer.handshake(args.timeout)
            return cmd_sendtx(peer, args) if args.command == "sendtx" else cmd_listen(peer, args)
    except (PeerClosed, ProtocolError, TimeoutError, DecodeError, OSError) as e:
        print(f"hearsay_peer: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
