"""Root-cause incidents: a down check's incident lists the dependants it makes unreachable.

The list lives in the incident (`affected`), its title says how many and which ("boston-wan is
CRITICAL — 3 checks unreachable (site boston): a, b, c"), and every change of the list leaves a
timeline entry. Only open incidents are updated: a resolved incident keeps the list it had.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import datetime

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncConnection

from escalatord.incidents.rows import find_open
from escalatord.incidents.timeline import add_timeline
from escalatord.store.tables import incidents

SEPARATOR = " — "  # check names cannot contain it, so the base title is what comes before
SHOWN = 5  # names in a title before "+N more"


def entries(names: Sequence[str], sites: Mapping[str, str]) -> list[dict[str, str]]:
    """The stored/payload form of an affected list: [{"check", "site"}], sorted by name."""
    return [{"check": n, "site": sites.get(n, "")} for n in sorted(names)]


def title(base: str, affected: Sequence[Mapping[str, str]]) -> str:
    """The incident title with the affected checks: count, sites, the first few names."""
    base = base.split(SEPARATOR, 1)[0]
    if not affected:
        return base
    count = len(affected)
    noun = "check" if count == 1 else "checks"
    by_site = Counter(a.get("site", "") for a in affected if a.get("site"))
    where = ""
    if by_site:
        where = " (" + ", ".join(f"site {s}" for s in sorted(by_site)) + ")"
    names = [a["check"] for a in affected[:SHOWN]]
    more = f" +{count - SHOWN} more" if count > SHOWN else ""
    return f"{base}{SEPARATOR}{count} {noun} unreachable{where}: {', '.join(names)}{more}"


async def set_affected(
    conn: AsyncConnection,
    key: str,
    affected: list[dict[str, str]],
    *,
    now: datetime,
) -> int | None:
    """Make the open incident of `key` list `affected`; returns its id, or None if none is
    open. A change in the list updates the title and leaves one timeline entry."""
    row = await find_open(conn, key)
    if row is None:
        return None
    before = {a["check"] for a in row.affected or ()}
    after = {a["check"] for a in affected}
    if before == after:
        return row.id
    await conn.execute(
        update(incidents)
        .where(incidents.c.id == row.id)
        .values(affected=affected, title=title(row.title, affected))
    )
    added, gone = sorted(after - before), sorted(before - after)
    parts = []
    if added:
        parts.append(f"unreachable because of {row.check}: {', '.join(added)}")
    if gone:
        parts.append(f"no longer unreachable: {', '.join(gone)}")
    await add_timeline(
        conn,
        row.id,
        now,
        "affected",
        "; ".join(parts) + f" ({len(after)} affected)",
        data={"added": added, "removed": gone, "affected": sorted(after)},
    )
    return row.id
