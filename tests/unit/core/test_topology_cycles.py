"""Cycle detection in the dependency graph between checks (config validation)."""

from escalatord.core.topology import find_cycles


def test_chains_and_diamonds_have_no_cycles():
    """A chain and a diamond (two paths to one parent) are valid dependency graphs."""
    graph = {
        "host": ["switch"],
        "switch": ["router"],
        "router": [],
        "app": ["db-a", "db-b"],
        "db-a": ["san"],
        "db-b": ["san"],
        "san": [],
    }
    assert find_cycles(graph) == []


def test_each_cycle_is_reported_once_from_its_first_listed_check():
    """Two separate loops are both found, each once, starting at the check listed first."""
    graph = {"a": ["b"], "b": ["c"], "c": ["a"], "x": ["y"], "y": ["x"], "z": ["a"]}
    assert find_cycles(graph) == [["a", "b", "c"], ["x", "y"]]


def test_a_long_chain_does_not_hit_the_recursion_limit():
    """10,000 checks in one chain are walked without recursion."""
    graph = {f"c{i}": [f"c{i + 1}"] for i in range(10_000)}
    graph["c10000"] = ["c0"]
    assert len(find_cycles(graph)[0]) == 10_001
