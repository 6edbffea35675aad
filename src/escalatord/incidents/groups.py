"""Storms in the store: incidents paged together as one group (a rule's `group_by`).

The pure choice of a group is core/grouping.py. Here it is stored and applied:

- `group_key` holds the group's key and `group_id` its leader's id on every incident of the
  group, the leader included (`group_id == id`). NULL: not grouped.
- The leader carries the escalation ladder; its level 0 waits `group_wait` after it opened,
  so the storm gathers before the first page. A member joins with no ladder of its own
  (`next_step_at` NULL): the leader's pages list every incident of the group (`describe`, the
  payload's `incident.group`), at its levels' times.
- One acknowledgement (link, CLI, an ingested ack) acknowledges the group: the leader as
  usual (its notice to everyone paged), the triggered members quietly with it.
- Each incident resolves on its own; its notice goes to everyone the group paged. When the
  leader ends while members are open, the ladder is handed on to the oldest open member
  (`hand_over`): same policy, same times, the next level still to come; every row of the
  group then names the new leader. A group ends when its last incident does.
- A leader re-triggered (ack_timeout, a snooze ending) re-triggers its acknowledged members.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from escalatord.core.grouping import Grouping, Membership, OpenGroup, join
from escalatord.core.lifecycle import IncidentStatus
from escalatord.incidents.rows import OPEN
from escalatord.incidents.timeline import add_timeline
from escalatord.store.tables import incidents

_T, _A = IncidentStatus.TRIGGERED.value, IncidentStatus.ACKNOWLEDGED.value


async def place(
    conn: AsyncConnection,
    grouping: Grouping,
    labels: Mapping[str, str],
    check: str,
    now: datetime,
) -> Membership:
    """The group a new incident of `grouping`'s rule opening at `now` belongs to: one still
    paging (its leader triggered) whose first incident opened within `group_wait`."""
    probe = join([], grouping, labels, check, now)  # just its key
    rows = (
        await conn.execute(
            select(incidents.c.group_id, func.min(incidents.c.opened_at))
            .where(
                and_(
                    incidents.c.group_key == probe.key,
                    incidents.c.group_id.is_not(None),
                    incidents.c.opened_at >= now - grouping.wait,
                )
            )
            .group_by(incidents.c.group_id)
        )
    ).all()
    if not rows:
        return probe
    paging = set(
        (
            await conn.execute(
                select(incidents.c.id).where(
                    and_(incidents.c.id.in_([r[0] for r in rows]), incidents.c.status == _T)
                )
            )
        ).scalars()
    )
    groups = [OpenGroup(r[0], probe.key, r[1]) for r in rows if r[0] in paging]
    return join(groups, grouping, labels, check, now)


def first_page_at(planned: datetime | None, group: Membership, now: datetime) -> datetime | None:
    """When a new incident's ladder fires first: a member has none; a leader's level 0 waits
    until `group_wait` has passed (later levels keep their times)."""
    if planned is None or group.leader is not None:
        return None
    return max(planned, now + group.wait)


async def enter(conn: AsyncConnection, incident_id: int, group: Membership, now: datetime) -> None:
    """Store a new incident's place in its group, with a timeline entry."""
    leader = group.leader if group.leader is not None else incident_id
    await conn.execute(
        update(incidents)
        .where(incidents.c.id == incident_id)
        .values(group_key=group.key, group_id=leader)
    )
    if group.leader is None:
        message = f"leads group {group.key}: its first page waits for others to join"
    else:
        message = f"joined group {group.key} of incident {leader}: paged with it"
    await add_timeline(
        conn, incident_id, now, "grouped", message, data={"group": group.key, "leader": leader}
    )


async def rows_of(conn: AsyncConnection, leader: int) -> list[Any]:
    """Every incident of the group led by `leader`, in order of id."""
    stmt = select(incidents).where(incidents.c.group_id == leader).order_by(incidents.c.id)
    return list((await conn.execute(stmt)).all())


async def describe(conn: AsyncConnection, row: Any) -> dict[str, Any] | None:
    """The payload's `incident.group` for incident `row`: None when it is not grouped, else
    {"id", "key", "size", "members": [{"id", "check", "title", "status", "summary"}, ...]}
    with every incident of the group (resolved ones too), leader first."""
    if row.group_id is None:
        return None
    members = await rows_of(conn, row.group_id)
    members.sort(key=lambda m: (m.id != row.group_id, m.id))
    return {
        "id": str(row.group_id),
        "key": row.group_key,
        "size": len(members),
        "members": [
            {
                "id": str(m.id),
                "check": m.check,
                "title": m.title,
                "status": m.status,
                "summary": m.summary or "",
            }
            for m in members
        ],
    }


async def page_holders(conn: AsyncConnection, row: Any) -> list[int]:
    """The incidents whose outbox rows are the pages for `row`: itself, and every incident of
    its group (a leader before a hand-over holds the group's earlier pages)."""
    if row.group_id is None:
        return [row.id]
    ids = (
        await conn.execute(select(incidents.c.id).where(incidents.c.group_id == row.group_id))
    ).scalars()
    return sorted({row.id, *ids})


async def ack_target(conn: AsyncConnection, incident_id: int) -> int:
    """Which incident an acknowledgement of `incident_id` goes to: its group's leader while
    that is triggered (the group is acknowledged through it), else the incident itself."""
    row = (
        await conn.execute(select(incidents.c.group_id).where(incidents.c.id == incident_id))
    ).first()
    if row is None or row.group_id is None or row.group_id == incident_id:
        return incident_id
    leader = (
        await conn.execute(select(incidents.c.status).where(incidents.c.id == row.group_id))
    ).scalar()
    return row.group_id if leader == _T else incident_id


async def acknowledge_members(
    conn: AsyncConnection, leader: int, *, by: str, now: datetime
) -> list[int]:
    """Acknowledge the group's other triggered incidents with its leader, quietly: the
    leader's notice already told everyone paged. Returns their ids."""
    ids = list(
        (
            await conn.execute(
                select(incidents.c.id).where(
                    and_(
                        incidents.c.group_id == leader,
                        incidents.c.id != leader,
                        incidents.c.status == _T,
                    )
                )
            )
        ).scalars()
    )
    if not ids:
        return []
    await conn.execute(
        update(incidents)
        .where(incidents.c.id.in_(ids))
        .values(
            status=_A,
            acknowledged_at=now,
            acknowledged_by=by,
            snoozed_until=None,
            next_step_at=None,
        )
    )
    for member in ids:
        await add_timeline(
            conn,
            member,
            now,
            "acknowledged",
            f"acknowledged by {by} with its group (incident {leader})",
            actor=by,
        )
    return ids


async def retrigger_members(conn: AsyncConnection, leader: int, now: datetime) -> list[int]:
    """The leader was re-triggered: its acknowledged members are triggered again with it (the
    leader's restarted ladder pages for them all). Returns their ids."""
    stmt = select(incidents.c.id).where(
        and_(incidents.c.group_id == leader, incidents.c.id != leader, incidents.c.status == _A)
    )
    ids = list((await conn.execute(stmt)).scalars())
    if ids:
        await conn.execute(
            update(incidents)
            .where(incidents.c.id.in_(ids))
            .values(status=_T, acknowledged_at=None, acknowledged_by=None, snoozed_until=None)
        )
        for member in ids:
            message = f"triggered again with its group (incident {leader})"
            await add_timeline(conn, member, now, "retriggered", message)
    return ids


async def hand_over(conn: AsyncConnection, old: Any, now: datetime) -> int | None:
    """The leader `old` (the row as it was before it ended) resolved or closed: the oldest
    open member takes the ladder on, with the policy and times it had, and every row of the
    group names it as leader. Returns the new leader's id, None when no member is open."""
    if old.group_id != old.id:
        return None
    stmt = (
        select(incidents.c.id)
        .where(
            and_(
                incidents.c.group_id == old.id,
                incidents.c.id != old.id,
                incidents.c.status.in_(OPEN),
            )
        )
        .order_by(incidents.c.id)
        .limit(1)
    )
    heir = (await conn.execute(stmt)).scalar()
    if heir is None:
        return None
    # The ladder keeps its start (`ladder_at`, so every later level keeps its time) and its
    # place: the heir's own outbox keys begin with its id, so they never meet the old ones.
    await conn.execute(
        update(incidents)
        .where(incidents.c.id == heir)
        .values(
            policy=old.policy,
            next_step=old.next_step,
            next_step_at=old.next_step_at,
            ladder_at=old.ladder_at or old.opened_at,
        )
    )
    await conn.execute(
        update(incidents).where(incidents.c.group_id == old.id).values(group_id=heir)
    )
    await add_timeline(
        conn,
        heir,
        now,
        "grouped",
        f"leads group {old.group_key} now: incident {old.id} ended, its ladder continues here",
        data={"group": old.group_key, "leader": heir, "previous": old.id},
    )
    return heir


async def with_group(conn: AsyncConnection, row: Any, data: dict[str, Any]) -> dict[str, Any]:
    """`data` (an incident's payload) with `group` added when the incident is grouped, so a
    page or notice about it lists every incident of its group."""
    if getattr(row, "group_id", None) is None:
        return data
    return {**data, "group": await describe(conn, row)}


async def lead(conn: AsyncConnection, incident_id: int) -> int:
    """The incident whose timers stand for `incident_id` (a snooze's end): its group's leader
    while that is open, else the incident itself. A member has no ladder to restart."""
    row = (
        await conn.execute(select(incidents.c.group_id).where(incidents.c.id == incident_id))
    ).first()
    if row is None or row.group_id is None or row.group_id == incident_id:
        return incident_id
    status = (
        await conn.execute(select(incidents.c.status).where(incidents.c.id == row.group_id))
    ).scalar()
    return row.group_id if status in OPEN else incident_id
