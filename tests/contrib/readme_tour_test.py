#!/usr/bin/env python3
"""The README's "A five-minute tour", run as written: executable documentation.

  python3 tests/contrib/readme_tour_test.py [--bin DIR] [unittest options]

It takes the ```sh blocks of the section "## A five-minute tour" (nothing else) and runs each
command with bash, in order, changing only what a reader's machine changes:
  - the tour's `export PATH=...` line: DIR (--bin, or $HEARSAY_BIN; default build/release/bin)
    goes first on PATH instead;
  - every 127.0.0.1:PORT: a free port of this machine (the same README port, the same free port);
  - every /tmp/ path: a fresh temporary folder;
  - the values the programs print that the reader copies: a placeholder such as `6f1c…e2` (hex,
    an ellipsis, hex) or a `0x…` magic in a "# ..." output line of the README is read from the
    real output at the same place (the line that starts with the same word), and replaces the
    placeholder in every later command.
A command ending in `&` runs in the background, in its own process group, and is stopped at the
end (SIGTERM, then SIGKILL), also on a failure, a timeout or Ctrl-C. Between commands it waits,
with a deadline, for what a human's typing speed gives: a started node's output and RPC, a peer
before getpeerinfo, the transaction at a node before looking for it there, the block at a node
before getchaininfo. It checks every command's exit status and the claims of the README's
comments where they can be checked: the output lines the comments show (their first word, the
paths and ports in them, the placeholders), `"key": number` pairs against the JSON printed,
getpeerinfo shows a peer, getrawmempool holds the transaction, inject rejected nothing, a mempool
said to be empty is empty, and the nodes exit 0 when stopped.
"""

from __future__ import annotations

import ctypes
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "contrib", "testnet"))

from cluster import pick_ports  # noqa: E402

README = os.path.join(ROOT, "README.md")
SECTION = "## A five-minute tour"
from harness import DEFAULT_BIN_DIR, take_bin_arg  # noqa: E402

BIN_DIR = DEFAULT_BIN_DIR

# The whole tour's limit (ctest allows 300 s; the ASan build is slow): every wait and command
# ends by then.
TOUR_TIMEOUT_S = 240
# One condition (a node's RPC, a peer, a transaction arriving) may take this long.
WAIT_S = 60
# Grace after SIGTERM before SIGKILL (hearsayd stops within 5 s).
STOP_GRACE_S = 15
POLL_S = 0.1
PR_SET_PDEATHSIG = 1  # linux/prctl.h

# A value the reader copies from an output line: hex, an ellipsis, hex (6f1c…e2), or a magic.
PLACEHOLDER = re.compile(r"[0-9a-f]+…[0-9a-f]+|0x[0-9a-f]{6,}")
# `"key": 1` in a trailing comment: a claim about the JSON the command prints.
JSON_CLAIM = re.compile(r'"(\w+)":\s*(\d+)')
PORT = re.compile(r"127\.0\.0\.1:(\d+)")
TXID = re.compile(r"^[0-9a-f]{64}$")


class TourError(AssertionError):
    pass


# --- reading the README -------------------------------------------------------------------

def tour_section(text: str) -> str:
    start = text.find("\n" + SECTION + "\n")
    if start < 0:
        raise TourError(f"README.md has no section {SECTION!r}")
    end = text.find("\n## ", start + 1)
    return text[start:end if end >= 0 else len(text)]


def sh_blocks(section: str) -> list[str]:
    return re.findall(r"^```sh\n(.*?)^```", section, re.S | re.M)


class Command:
    """One command of a block: its text (continuation lines kept), the trailing comment of its
    last line, and the README's "# ..." lines after it (what it prints)."""

    def __init__(self, text: str):
        self.text = text
        self.output_lines: list[str] = []

    @property
    def last_line_comment(self) -> str:
        m = _trailing_comment(self.text.splitlines()[-1])
        return m.group(1) if m else ""

    @property
    def code(self) -> str:
        """The text without the trailing comment."""
        lines = self.text.splitlines()
        m = _trailing_comment(lines[-1])
        if m:
            lines[-1] = lines[-1][:m.start()].rstrip()
        return "\n".join(lines)

    @property
    def background(self) -> bool:
        return self.code.rstrip().endswith("&")


def _trailing_comment(line: str):
    for m in re.finditer(r"\s+#\s?(.*)$", line):
        if line[:m.start()].count('"') % 2 == 0 and line[:m.start()].count("'") % 2 == 0:
            return m
    return None


def parse_block(block: str) -> list[Command]:
    cmds: list[Command] = []
    continued = False
    for line in block.splitlines():
        stripped = line.strip()
        if not stripped:
            continued = False
            continue
        if continued:
            cmds[-1].text += "\n" + line
        elif stripped.startswith("#"):
            if cmds:
                cmds[-1].output_lines.append(stripped[1:].strip())
            continue
        else:
            cmds.append(Command(line))
        continued = line.rstrip().endswith("\\")
    return cmds


def substitute_machine(text: str, ports: dict[str, int], tmp: str) -> str:
    """The README's ports and /tmp paths → this run's."""
    text = PORT.sub(lambda m: f"127.0.0.1:{ports[m.group(1)]}", text)
    return text.replace("/tmp/", tmp + "/")


def load_tour(readme: str, tmp: str) -> tuple[list[list[Command]], dict[str, int]]:
    with open(readme, encoding="utf-8") as f:
        section = tour_section(f.read())
    blocks = sh_blocks(section)
    readme_ports = sorted({p for b in blocks for p in PORT.findall(b)})
    ports = dict(zip(readme_ports, pick_ports(len(readme_ports))))
    return [parse_block(substitute_machine(b, ports, tmp)) for b in blocks], ports


# --- running it ---------------------------------------------------------------------------

def _argv(cmd: Command) -> list[str]:
    try:
        return shlex.split(cmd.code.replace("\\\n", " ").rstrip().rstrip("&"))
    except ValueError:
        return []


def _option(argv: list[str], name: str) -> str | None:
    for i, a in enumerate(argv[:-1]):
        if a == name:
            return argv[i + 1]
    return None


def _cli_method(argv: list[str]) -> str | None:
    """The hearsay-cli command of argv (the first word that is not an option or its value)."""
    i = 1
    while i < len(argv):
        if argv[i].startswith("--"):
            i += 2 if "=" not in argv[i] else 1
            continue
        return argv[i]
    return None


def _json(text: str):
    try:
        return json.loads(text)
    except ValueError:
        pass
    for line in reversed(text.splitlines()):  # a summary after progress lines
        try:
            return json.loads(line)
        except ValueError:
            continue
    return None


class Tour:
    def __init__(self, bin_dir: str, tmp: str):
        self.bin_dir = os.path.abspath(bin_dir)
        self.tmp = tmp
        self.deadline = time.monotonic() + TOUR_TIMEOUT_S
        self.env = dict(os.environ, HOME=os.path.join(tmp, "home"), LC_ALL="C")
        os.makedirs(self.env["HOME"], exist_ok=True)
        self.path_set = False
        self.values: dict[str, str] = {}  # README placeholder → the value printed
        self.background: list[tuple[str, subprocess.Popen, str]] = []  # (command, proc, log)
        self.last_txid: str | None = None
        self.last_height: int | None = None
        self.ran: list[str] = []
        self.count = 0

    # waiting -----------------------------------------------------------------------------

    def wait(self, what: str, cond, limit: float = WAIT_S):
        """Polls cond() until it returns something true; fails with `what` at the deadline."""
        end = min(time.monotonic() + limit, self.deadline)
        while True:
            self.check_background()
            v = cond()
            if v:
                return v
            if time.monotonic() > end:
                raise TourError(f"waited {limit:.0f} s in vain for {what}")
            time.sleep(POLL_S)

    def check_background(self) -> None:
        for text, p, log in self.background:
            if p.poll() is not None:
                raise TourError(f"background command exited with {p.returncode}: {text}\n"
                                f"{_tail(log)}")

    def cli(self, argv: list[str], *args: str) -> tuple[int, str]:
        """hearsay-cli with the --datadir and --rpc of argv, then args."""
        cmd = [os.path.join(self.bin_dir, "hearsay-cli")]
        for opt in ("--datadir", "--rpc"):
            v = _option(argv, opt)
            if v is not None:
                cmd += [opt, v]
        try:
            p = subprocess.run(cmd + list(args), capture_output=True, text=True, timeout=30,
                               env=self.env)
        except subprocess.TimeoutExpired:
            return 124, ""
        return p.returncode, p.stdout

    def cli_json(self, argv: list[str], *args: str):
        rc, out = self.cli(argv, *args)
        return _json(out) if rc == 0 else None

    # the commands ------------------------------------------------------------------------

    def prepare(self, cmd: Command) -> str:
        """The command with the values printed so far in place of the README's placeholders."""
        text = cmd.text
        for k, v in self.values.items():
            text = text.replace(k, v)
        for x in PLACEHOLDER.findall(text):
            if "…" in x:
                raise TourError(f"{x} in `{cmd.text}`: no earlier command printed it")
        return text

    def run(self, cmd: Command) -> None:
        if cmd.code.startswith("export PATH="):
            self.env["PATH"] = self.bin_dir + os.pathsep + self.env.get("PATH", "")
            self.path_set = True
            return
        if not self.path_set:
            raise TourError(f"`{cmd.text}` runs before the tour puts the programs on PATH")
        text = self.prepare(cmd)
        argv = _argv(Command(text))
        self.before(argv)
        self.count += 1
        self.ran.append(text)
        if cmd.background:
            self.start(cmd, text, argv)
            return
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise TourError("the tour ran out of time")
        try:
            p = subprocess.run(["bash", "-c", text], capture_output=True, text=True,
                               timeout=left, env=self.env, cwd=self.tmp,
                               start_new_session=True)
        except subprocess.TimeoutExpired:
            raise TourError(f"`{text}` still ran at the tour's deadline") from None
        if p.returncode != 0:
            raise TourError(f"`{text}` exited with {p.returncode}:\n{p.stdout[-2000:]}\n"
                            f"{p.stderr[-2000:]}")
        self.read_output(cmd, p.stdout + "\n" + p.stderr, text)
        self.after(cmd, argv, p.stdout, text)

    def start(self, cmd: Command, text: str, argv: list[str]) -> None:
        log = os.path.join(self.tmp, f"command-{self.count}.log")
        with open(log, "wb") as f:
            p = subprocess.Popen(["bash", "-c", Command(text).code.rstrip().rstrip("&")],
                                 stdout=f, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                 env=self.env, cwd=self.tmp, start_new_session=True,
                                 preexec_fn=_die_with_parent)
        self.background.append((text, p, log))

        def printed():
            try:
                self.read_output(cmd, _read(log), text)
                return True
            except TourError:
                return False
        self.wait(f"the output the README shows for `{text}`:\n{_tail(log)}", printed)
        if argv and os.path.basename(argv[0]) == "hearsayd":
            self.wait(f"the RPC of `{text}`", lambda: self.cli(argv, "getinfo")[0] == 0)

    def read_output(self, cmd: Command, out: str, text: str) -> None:
        """Checks the README's output lines of cmd against out and reads the placeholders."""
        lines = [x.strip() for x in out.splitlines() if x.strip()]
        for claim in cmd.output_lines:
            words = claim.split()
            if not words:
                continue
            holders = [w for w in words if PLACEHOLDER.search(w)]
            label = None if PLACEHOLDER.search(words[0]) else words[0]
            # Paths and ports of this run must appear as shown.
            literal = [w.strip("()") for w in words[1:] if (self.tmp in w or "127.0.0.1:" in w)
                       and not PLACEHOLDER.search(w)]
            found = None
            for line in lines:
                lw = line.split()
                if label is not None and (not lw or lw[0] != label):
                    continue
                if any(x not in line for x in literal):
                    continue
                got = {}
                for h in holders:
                    pat = _word_pattern(h)
                    m = next((pat.fullmatch(x) for x in lw if pat.fullmatch(x)), None)
                    if m is None:
                        break
                    got[PLACEHOLDER.search(h).group(0)] = m.group(1)
                else:
                    found = got
                    break
            if found is None:
                raise TourError(f"`{text}` printed no line like the README's `# {claim}`; it "
                                f"printed:\n{out[-2000:]}")
            for k, v in found.items():
                if self.values.setdefault(k, v) != v:
                    raise TourError(f"{k} stands for {self.values[k]} and {v}")

    def before(self, argv: list[str]) -> None:
        """Waits for what a human's typing gives the command."""
        if not argv or os.path.basename(argv[0]) != "hearsay-cli":
            return
        method = _cli_method(argv)
        if method == "getpeerinfo":
            self.wait("a peer at the node", lambda: self.cli_json(argv, "getpeerinfo"))
        elif method in ("getrawmempool", "gettransaction") and self.last_txid:
            self.wait(f"transaction {self.last_txid} at the node",
                      lambda: self.last_txid in (self.cli_json(argv, "getrawmempool") or []))
        elif method == "getchaininfo" and self.last_height is not None:
            self.wait(f"block {self.last_height} at the node",
                      lambda: (self.cli_json(argv, "getchaininfo") or {}).get("blocks", -1)
                      >= self.last_height)

    def after(self, cmd: Command, argv: list[str], out: str, text: str) -> None:
        """The README's claims about what the command printed."""
        comment = cmd.last_line_comment
        result = _json(out)
        for key, value in JSON_CLAIM.findall(comment):
            if not isinstance(result, dict) or result.get(key) != int(value):
                raise TourError(f"`{text}`: the README says \"{key}\": {value}, it printed:\n"
                                f"{out[-2000:]}")
        if not argv or os.path.basename(argv[0]) != "hearsay-cli":
            return
        method = _cli_method(argv)
        if method == "sendtx":
            first = (out.split() or [""])[0]
            if not TXID.match(first):
                raise TourError(f"`{text}` printed no transaction id:\n{out}")
            self.last_txid = first
        elif method == "getpeerinfo":
            if not isinstance(result, list) or not result:
                raise TourError(f"`{text}`: the README promises a peer, it printed:\n{out}")
        elif method == "getrawmempool" and self.last_txid:
            if self.last_txid not in (result or []):
                raise TourError(f"`{text}` does not list {self.last_txid}:\n{out}")
        elif method == "inject":
            count = int(_option(argv, "--count") or 0)
            if not isinstance(result, dict) or result.get("rejected") != 0 or \
                    result.get("accepted", 0) + result.get("already_held", 0) != count:
                raise TourError(f"`{text}`: not all {count} transactions were accepted:\n{out}")
        elif method == "generateblock":
            self.last_height = (result or {}).get("height")
        if "mempool is empty" in comment:
            self.wait("an empty mempool at the node",
                      lambda: self.cli_json(argv, "getrawmempool") == [], limit=10)

    def stop(self) -> list[str]:
        """Stops every background command; returns what did not exit 0."""
        bad = []
        for _, p, _ in self.background:
            if p.poll() is None:
                try:
                    os.killpg(p.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        end = time.monotonic() + STOP_GRACE_S
        for text, p, log in self.background:
            try:
                p.wait(timeout=max(0.1, end - time.monotonic()))
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(p.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                p.wait()
                bad.append(f"`{text}` ignored SIGTERM for {STOP_GRACE_S} s")
                continue
            if p.returncode != 0:
                bad.append(f"`{text}` exited with {p.returncode} on SIGTERM:\n{_tail(log)}")
        self.background = []
        return bad


def _word_pattern(word: str) -> re.Pattern:
    """A README output word holding a placeholder → a pattern capturing the real value."""
    m = PLACEHOLDER.search(word)
    value = r"(0x[0-9a-f]+)" if m.group(0).startswith("0x") else r"([0-9a-f]{8,})"
    return re.compile(re.escape(word[:m.start()]) + value + re.escape(word[m.end():]))


def _read(path: str) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()
    except OSError:
        return ""


def _tail(path: str, n: int = 20) -> str:
    return "\n".join(_read(path).splitlines()[-n:])


def _die_with_parent() -> None:
    """In the child before exec: SIGKILL when this test dies, even by kill -9 (Linux
    PR_SET_PDEATHSIG, kept across bash's exec of the program)."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        pass


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


class ReadmeTourTest(unittest.TestCase):
    def test_the_tour_is_the_sh_blocks_of_its_section(self):
        blocks, ports = load_tour(README, "/nonexistent/tour")  # writes nothing
        cmds = [c for b in blocks for c in b]
        texts = [c.text for c in cmds]
        self.assertTrue(any(t.startswith("export PATH=") for t in texts), texts)
        self.assertFalse(any(t.startswith("make ") for t in texts), "Quick start leaked in")
        methods = [_cli_method(_argv(c)) for c in cmds if _argv(c)[:1] == ["hearsay-cli"]]
        # Every step of the tour is a block that runs, the load included.
        for m in ("getpeerinfo", "keygen", "sendtx", "getrawmempool", "inject", "generateblock",
                  "getchaininfo"):
            self.assertIn(m, methods)
        self.assertEqual(sum(c.background for c in cmds), 4, "four nodes: a, b, p, q")
        self.assertTrue(ports and all(1024 < p < 65536 for p in ports.values()))
        self.assertFalse(any("/tmp/" in t for t in texts))

    def test_placeholders_are_read_from_the_output(self):
        tour = Tour(BIN_DIR, "/nonexistent")
        cmd = parse_block("hearsayd --x &\n# identity 6f1c…e2 (new key)\n"
                          "# p2p      127.0.0.1:1 (peers dial 6f1c…e2@127.0.0.1:1)\n")[0]
        ident = "ab" * 32
        tour.read_output(cmd, f"hearsayd 0.1.0\nidentity {ident} (new key)\n"
                              f"p2p 127.0.0.1:1 (peers dial {ident}@127.0.0.1:1)\n", "t")
        self.assertEqual(tour.values, {"6f1c…e2": ident})
        with self.assertRaises(TourError):
            tour.read_output(cmd, "identity (no key)\n", "t")
        nxt = parse_block("hearsayd --connect 6f1c…e2@127.0.0.1:1 &")[0]
        self.assertIn(ident + "@", tour.prepare(nxt))
        with self.assertRaisesRegex(TourError, "no earlier command"):
            Tour(BIN_DIR, "/nonexistent").prepare(nxt)

    def test_tour(self):
        for b in ("hearsayd", "hearsay-cli"):
            self.assertTrue(os.access(os.path.join(BIN_DIR, b), os.X_OK),
                            f"{BIN_DIR}/{b} is missing: build it or pass --bin DIR")
        self.assertTrue(shutil.which("curl"), "the tour uses curl")
        old = {s: signal.signal(s, _raise_interrupt) for s in (signal.SIGTERM, signal.SIGHUP)}
        tmp = tempfile.mkdtemp(prefix="readme-tour-")
        tour = Tour(BIN_DIR, tmp)
        failure = None
        try:
            blocks, _ = load_tour(README, tmp)
            for block in blocks:
                for cmd in block:
                    tour.run(cmd)
            bad = tour.stop()
            if bad:
                failure = "\n".join(bad)
        except TourError as e:
            failure = (f"{e}\n(commands run: {len(tour.ran)}; the last: "
                       f"{tour.ran[-1] if tour.ran else 'none'})")
        finally:
            tour.stop()
            for s, h in old.items():
                signal.signal(s, h)
            if failure is None:
                shutil.rmtree(tmp, ignore_errors=True)
            else:
                print(f"readme tour: its files are kept in {tmp}", file=sys.stderr)
        if failure is not None:
            self.fail(failure)


if __name__ == "__main__":
    BIN_DIR, argv = take_bin_arg(BIN_DIR)
    unittest.main(argv=argv)
