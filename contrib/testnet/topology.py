"""Testnet topologies: which node dials which, and the graph facts the report needs.

A topology is an undirected simple graph on nodes 0..n-1 plus an orientation of every edge
(the node that dials, with --connect, and the node that listens). Each edge is dialled by one
side only: hearsayd keeps one connection per identity pair anyway, and one dial per edge keeps
the outbound counts even.

Kinds:
  random-regular   every node has exactly `degree` neighbours; uniformly random among such
                   graphs (pairing with rejection of loops and multi-edges, restarted when it
                   gets stuck), connected (resampled until it is); n * degree must be even.
  ring             a circulant ring: node i links to i±1 .. i±(degree // 2) (degree 2: a ring).
  full             every pair linked.
  file:PATH        an edge list: one "A B" pair of 0-based node indexes per line, '#' comments.

Everything is deterministic for a given seed.
"""

from __future__ import annotations

import random
from collections import deque
from dataclasses import dataclass, field

# Resampling attempts before a random-regular graph gives up (connected graphs are the common
# case for degree >= 3; degree 2 gives several cycles often, so allow many attempts).
MAX_ATTEMPTS = 1000


class TopologyError(ValueError):
    """A topology that cannot be built; the message says why and what to change."""


@dataclass
class Topology:
    nodes: int
    edges: list[tuple[int, int]]  # (dialler, listener), each unordered pair once
    kind: str = ""
    adjacency: list[set[int]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.adjacency = [set() for _ in range(self.nodes)]
        for a, b in self.edges:
            self.adjacency[a].add(b)
            self.adjacency[b].add(a)

    def dials(self, node: int) -> list[int]:
        """The nodes `node` dials (its --connect targets)."""
        return sorted(b for a, b in self.edges if a == node)

    def degrees(self) -> list[int]:
        return [len(s) for s in self.adjacency]

    def hops_from(self, origin: int) -> list[int]:
        """BFS distance in hops from `origin` to every node (-1: unreachable)."""
        dist = [-1] * self.nodes
        dist[origin] = 0
        queue = deque([origin])
        while queue:
            u = queue.popleft()
            for v in self.adjacency[u]:
                if dist[v] < 0:
                    dist[v] = dist[u] + 1
                    queue.append(v)
        return dist

    def eccentricity(self, origin: int) -> int:
        """Hops from `origin` to the farthest node; -1 when some node is unreachable."""
        d = self.hops_from(origin)
        return -1 if min(d) < 0 else max(d)

    def is_connected(self) -> bool:
        return self.nodes <= 1 or min(self.hops_from(0)) >= 0

    def diameter(self) -> int:
        return max(self.eccentricity(i) for i in range(self.nodes))

    def to_json(self) -> dict:
        return {"nodes": self.nodes, "kind": self.kind, "edges": [list(e) for e in self.edges]}

    @staticmethod
    def from_json(obj: dict) -> "Topology":
        return Topology(obj["nodes"], [(int(a), int(b)) for a, b in obj["edges"]], obj.get("kind", ""))


def _orient(nodes: int, pairs: list[tuple[int, int]], rng: random.Random) -> list[tuple[int, int]]:
    """Chooses a dialler for each pair so that outbound counts stay even (fewest dials first)."""
    pairs = list(pairs)
    rng.shuffle(pairs)
    out = [0] * nodes
    edges = []
    for a, b in pairs:
        if out[a] > out[b] or (out[a] == out[b] and rng.random() < 0.5):
            a, b = b, a
        out[a] += 1
        edges.append((a, b))
    edges.sort()
    return edges


def _random_regular_pairs(n: int, d: int, rng: random.Random) -> list[tuple[int, int]] | None:
    """One attempt of the pairing model, choosing only pairs that keep the graph simple."""
    edges: set[tuple[int, int]] = set()
    points = [v for v in range(n) for _ in range(d)]
    while points:
        rng.shuffle(points)
        stuck = True
        rest: list[int] = []
        # Pair neighbours of the shuffled list; defer the points that cannot pair now.
        i = 0
        while i + 1 < len(points):
            a, b = points[i], points[i + 1]
            e = (min(a, b), max(a, b))
            if a != b and e not in edges:
                edges.add(e)
                stuck = False
            else:
                rest += [a, b]
            i += 2
        rest += points[i:]
        points = rest
        if stuck and points:
            # No pair of this shuffle worked: check any pair still can, else restart.
            vs = set(points)
            if not any(a != b and (min(a, b), max(a, b)) not in edges for a in vs for b in vs):
                return None
    return sorted(edges)


def random_regular(n: int, d: int, seed: int) -> Topology:
    if d < 1:
        raise TopologyError("--degree must be at least 1 for random-regular")
    if d >= n:
        raise TopologyError(
            f"--degree {d} needs more than {d} nodes (with --nodes {n} use --topology full)")
    if n * d % 2:
        raise TopologyError(
            f"random-regular needs --nodes × --degree even ({n} × {d} is odd): change one of them")
    rng = random.Random(seed)
    for _ in range(MAX_ATTEMPTS):
        pairs = _random_regular_pairs(n, d, rng)
        if pairs is None:
            continue
        t = Topology(n, _orient(n, pairs, rng), "random-regular")
        if t.is_connected():
            return t
    raise TopologyError(
        f"no connected {d}-regular graph on {n} nodes after {MAX_ATTEMPTS} attempts "
        "(raise --degree, or use --topology ring)")


def ring(n: int, d: int, seed: int) -> Topology:
    if n < 2:
        raise TopologyError("a ring needs at least 2 nodes")
    k = max(1, d // 2)
    pairs = set()
    for i in range(n):
        for j in range(1, k + 1):
            a, b = i, (i + j) % n
            if a != b:
                pairs.add((min(a, b), max(a, b)))
    # Ring edges dial "forward" (i dials i+1..i+k): every node dials k, listens to k.
    edges = []
    for i in range(n):
        for j in range(1, k + 1):
            b = (i + j) % n
            e = (min(i, b), max(i, b))
            if e in pairs:
                pairs.discard(e)
                edges.append((i, b))
    return Topology(n, sorted(edges), "ring")


def full(n: int, seed: int) -> Topology:
    pairs = [(a, b) for a in range(n) for b in range(a + 1, n)]
    # Balanced tournament: i dials i+1 .. i+(n-1)//2 (mod n), and half the "opposite" pairs.
    edges = []
    for a, b in pairs:
        gap = (b - a) % n
        if gap < n - gap or (gap == n - gap and a % 2 == 0):
            edges.append((a, b))
        else:
            edges.append((b, a))
    return Topology(n, sorted(edges), "full")


def from_file(path: str, n: int | None, seed: int) -> Topology:
    pairs = set()
    top = -1
    try:
        with open(path, encoding="utf-8") as f:
            for lineno, line in enumerate(f, 1):
                line = line.split("#", 1)[0].strip()
                if not line:
                    continue
                parts = line.replace(",", " ").split()
                if len(parts) != 2 or not all(p.isdigit() for p in parts):
                    raise TopologyError(
                        f"{path}:{lineno}: expected two 0-based node indexes 'A B', got {line!r}")
                a, b = int(parts[0]), int(parts[1])
                if a == b:
                    raise TopologyError(f"{path}:{lineno}: a node cannot link to itself ({a})")
                pairs.add((min(a, b), max(a, b)))
                top = max(top, a, b)
    except OSError as e:
        raise TopologyError(f"cannot read topology file {path}: {e.strerror}") from e
    nodes = top + 1 if n is None else n
    if top >= nodes:
        raise TopologyError(f"{path} names node {top}, but --nodes is {nodes} (indexes are 0-based)")
    t = Topology(nodes, _orient(nodes, sorted(pairs), random.Random(seed)), "file")
    if not t.is_connected():
        raise TopologyError(f"{path}: the graph is not connected, so some nodes would never hear "
                            "of a transaction")
    return t


def build(spec: str, nodes: int, degree: int, seed: int) -> Topology:
    """Builds the topology named by --topology."""
    if spec.startswith("file:"):
        return from_file(spec[5:], nodes, seed)
    if nodes < 1:
        raise TopologyError("--nodes must be at least 1")
    if nodes == 1:
        return Topology(1, [], spec)
    if spec == "random-regular":
        return random_regular(nodes, degree, seed)
    if spec == "ring":
        return ring(nodes, degree, seed)
    if spec == "full":
        return full(nodes, seed)
    raise TopologyError(f"unknown --topology {spec!r}: use random-regular, ring, full or file:PATH")
