"""Which node runs which check: rendezvous (highest random weight) hashing on the check name.

    owner("web-up", ["a", "b", "c"])             # "b": the same answer in every process
    assign(["web-up", "db"], ["a", "b"])         # {"a": ["db"], "b": ["web-up"]}

Every (check, node) pair gets a weight from a stable hash (BLAKE2b, never Python's `hash()`,
which is salted per process); a check goes to the node of highest weight. So each check has
exactly one owner among the live nodes, every node computes the same owner without talking
to the others, and when a node joins or leaves only the checks it wins or held move.
Pure: no IO, no clock.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from hashlib import blake2b


def weight(check: str, node: str) -> int:
    """The pair's weight: 64 bits of BLAKE2b over both names (a separator keeps
    ("ab", "c") apart from ("a", "bc"))."""
    digest = blake2b(f"{check}\x00{node}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def owner(check: str, nodes: Iterable[str]) -> str | None:
    """The node that runs `check` among `nodes`; None when there are no nodes.
    Ties (as good as impossible in 64 bits) go to the smaller name, so the answer is total."""
    best: tuple[int, str] | None = None
    for node in nodes:
        key = (weight(check, node), node)
        if best is None or key[0] > best[0] or (key[0] == best[0] and node < best[1]):
            best = key
    return None if best is None else best[1]


def assign(checks: Iterable[str], nodes: Sequence[str]) -> dict[str, list[str]]:
    """Each node of `nodes` with the checks it runs (every node listed, maybe with none)."""
    out: dict[str, list[str]] = {node: [] for node in nodes}
    for check in checks:
        node = owner(check, nodes)
        if node is not None:
            out[node].append(check)
    return out


def owned(checks: Iterable[str], node: str, nodes: Sequence[str]) -> set[str]:
    """The checks `node` runs when `nodes` are live (none if `node` is not among them)."""
    if node not in nodes:
        return set()
    return {check for check in checks if owner(check, nodes) == node}
