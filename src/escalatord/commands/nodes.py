"""`escalatord nodes [--json]`: the nodes sharing the database, their leases, and how many
checks each runs (docs/cluster.md).

  NODE   INSTANCE  STARTED               LAST RENEWAL          LEASE  CHECKS  LOAD           CONFIG
  esc-1  3f2a1b9c  2026-12-08 09:00:01Z  2026-12-08 09:30:12Z  live       41  keeps up       same
  esc-2  77c0e1d2  2026-12-08 09:00:02Z  2026-12-08 09:30:11Z  live       40  26.8 s behind  same

CHECKS is worked out as the daemons do it: rendezvous hashing (core/rendezvous.py) of this
config's enabled checks over the nodes whose lease holds by the database's clock. CONFIG
compares each node's config hash with that of the config given here (`differs`: that node
runs another config; the daemons log it too). LOAD is what the node wrote with its last
renewal: "keeps up", or how far behind schedule its checks run while it is overloaded
(docs/overload.md; `--json` has `behind_s` and `overload`, the reason in words).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING, Any

import click

from escalatord.commands.common import config_option, load_config, run_async, with_store
from escalatord.core import rendezvous

if TYPE_CHECKING:
    from escalatord.store.db import Store
    from escalatord.store.nodes import NodeRow


@click.command()
@config_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def nodes(config_path: str, as_json: bool) -> None:
    """List the nodes sharing the database: leases and how many checks each runs."""
    from escalatord.monitor.cluster import config_hash
    from escalatord.store import nodes as node_rows

    config = load_config(config_path)

    async def read(store: Store) -> tuple[datetime, list[NodeRow]]:
        async with store.read() as conn:
            return await node_rows.read(conn)

    now, rows = run_async(with_store(config, read))
    ours = config_hash(config)
    checks = [c.name for c in config.checks if c.enabled]
    if config.cluster is not None:
        live = [r.name for r in rows if r.live(now)]
    else:  # a single node holds no lease: the one seen last runs every check
        live = [max(rows, key=lambda r: r.seen_at).name] if rows else []
    counts = {name: len(names) for name, names in rendezvous.assign(checks, live).items()}
    listed = [_node(r, now, config.cluster is not None, counts, ours) for r in rows]
    if as_json:
        click.echo(json.dumps({"config_hash": ours, "nodes": listed}, indent=2))
        return
    if not listed:
        click.echo("no node has used this database yet")
        return
    header = ("NODE", "INSTANCE", "STARTED", "LAST RENEWAL", "LEASE", "CHECKS", "LOAD", "CONFIG")
    table = [header] + [
        (
            n["node"],
            n["instance"][:8],
            _time(n["started_at"]),
            _time(n["renewed_at"]),
            n["lease"],
            str(n["checks"]),
            _load(n),
            "same" if n["config_hash"] == ours else f"differs ({n['config_hash'] or 'unknown'})",
        )
        for n in listed
    ]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    for row in table:
        cells = [
            cell.rjust(width) if i == 5 else cell.ljust(width)
            for i, (cell, width) in enumerate(zip(row, widths, strict=True))
        ]
        click.echo("  ".join(cells).rstrip())


def _node(
    row: NodeRow, now: datetime, cluster: bool, counts: dict[str, int], ours: str
) -> dict[str, Any]:
    if cluster:
        lease = "live" if row.live(now) else "lapsed"
    else:
        lease = "single node"
    return {
        "node": row.name,
        "instance": row.instance,
        "started_at": row.started_at.isoformat(),
        "renewed_at": row.seen_at.isoformat(),
        "lease_until": row.lease_until.isoformat() if row.lease_until else None,
        "lease": lease,
        "checks": counts.get(row.name, 0),
        "config_hash": row.config_hash,
        "config_differs": row.config_hash is not None and row.config_hash != ours,
        "behind_s": row.behind_s,
        "overload": row.overload,
    }


def _load(node: dict[str, Any]) -> str:
    """The LOAD cell: "keeps up", "N s behind" while overloaded, "-" when not known."""
    if node["overload"]:
        return f"{node['behind_s'] or 0:.1f} s behind"
    return "keeps up" if node["behind_s"] is not None else "-"


def _time(text: str) -> str:
    return datetime.fromisoformat(text).strftime("%Y-%m-%d %H:%M:%SZ")
