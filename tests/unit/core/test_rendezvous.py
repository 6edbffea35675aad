"""Rendezvous hashing of checks over nodes (core/rendezvous.py): one owner per check, only a
joining or leaving node's share moves, and the same answer in every process."""

from __future__ import annotations

import subprocess
import sys

from escalatord.core import rendezvous

CHECKS = [f"check-{i}" for i in range(2000)]
NODES = ["esc-1", "esc-2", "esc-3"]


def test_each_check_has_exactly_one_owner_among_the_nodes():
    """Every check lands on exactly one node, and the shares are roughly even."""
    shares = rendezvous.assign(CHECKS, NODES)
    assert sorted(c for names in shares.values() for c in names) == sorted(CHECKS)
    assert set(shares) == set(NODES)
    for names in shares.values():
        assert 500 < len(names) < 830  # a third is 667; BLAKE2b spreads them evenly


def test_the_order_of_the_nodes_does_not_change_the_owner():
    """Nodes listing the live nodes in another order still agree on every owner."""
    for check in CHECKS[:200]:
        assert rendezvous.owner(check, NODES) == rendezvous.owner(check, reversed(NODES))


def test_a_leaving_node_moves_only_its_own_checks():
    """When a node leaves, only the checks it ran move; the others stay where they were."""
    before = {c: rendezvous.owner(c, NODES) for c in CHECKS}
    after = {c: rendezvous.owner(c, ["esc-1", "esc-3"]) for c in CHECKS}
    moved = {c for c in CHECKS if before[c] != after[c]}
    assert moved == {c for c in CHECKS if before[c] == "esc-2"}


def test_a_joining_node_takes_checks_only_for_itself():
    """When a node joins, every check that moves moves to it, and it takes about its share."""
    before = {c: rendezvous.owner(c, NODES) for c in CHECKS}
    after = {c: rendezvous.owner(c, [*NODES, "esc-4"]) for c in CHECKS}
    moved = [c for c in CHECKS if before[c] != after[c]]
    assert all(after[c] == "esc-4" for c in moved)
    assert 380 < len(moved) < 620  # a quarter is 500


def test_owned_is_empty_for_a_node_that_is_not_live_and_none_without_nodes():
    """A node not among the live ones owns nothing; no live node means no owner."""
    assert rendezvous.owned(CHECKS, "esc-9", NODES) == set()
    assert rendezvous.owner("web", []) is None
    assert rendezvous.owned(CHECKS, "esc-1", NODES) == set(
        rendezvous.assign(CHECKS, NODES)["esc-1"]
    )


def test_the_owner_is_the_same_in_another_process():
    """The hash is stable across processes (not Python's salted hash())."""
    code = (
        "from escalatord.core.rendezvous import owner;"
        "print(','.join(owner(f'check-{i}', ['esc-1','esc-2','esc-3']) for i in range(50)))"
    )
    env = {"PYTHONHASHSEED": "12345"}
    other = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    ).stdout.strip()
    assert other.split(",") == [rendezvous.owner(f"check-{i}", NODES) for i in range(50)]
