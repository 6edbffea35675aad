"""The dependency graph between checks, as pure functions.

Today: cycle detection for config validation. Suppression behind a down parent and root-cause
roll-up build on this module.
"""

from __future__ import annotations


def find_cycles(graph: dict[str, list[str]]) -> list[list[str]]:
    """Cycles found by depth-first search, each once, rotated to start at its earliest node.

    Iterative, so a long dependency chain cannot hit the recursion limit.
    """
    order = {node: i for i, node in enumerate(graph)}
    state: dict[str, int] = {}  # 1: on the current path, 2: finished
    found: list[list[str]] = []
    for root in graph:
        if root in state:
            continue
        path, stack = [root], [iter(graph[root])]
        state[root] = 1
        while stack:
            node = next(stack[-1], None)
            if node is None:
                state[path.pop()] = 2
                stack.pop()
            elif state.get(node) == 1:
                cycle = path[path.index(node) :]
                start = min(range(len(cycle)), key=lambda i: order[cycle[i]])
                if (cycle := cycle[start:] + cycle[:start]) not in found:
                    found.append(cycle)
            elif node not in state:
                state[node] = 1
                path.append(node)
                stack.append(iter(graph[node]))
    return found
