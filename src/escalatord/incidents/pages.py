"""What an incident's pages do to it: acknowledgement from the link in a page, and a page that
reached nobody, which escalates to the next level at once.

Like service.py, every function takes a connection inside a write transaction and the
current time, and leaves timeline entries.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from escalatord.core import planning
from escalatord.core.lifecycle import IncidentStatus
from escalatord.errors import InvalidTransition, NotFound
from escalatord.incidents.ladder import Resolver, base, ladder_id, page_now, parse_tag
from escalatord.incidents.rows import get
from escalatord.incidents.timeline import add_timeline
from escalatord.incidents.transitions import acknowledge
from escalatord.store.tables import ack_tokens, incidents, outbox

# ---- acknowledgement from the page ---------------------------------------------------------


@dataclass(frozen=True)
class AckLink:
    """What an ack link points at: the incident, who it was sent to (the person of a page to
    a person, else the notifier), and its use, if any."""

    incident: Any
    recipient: str
    used: Any | None  # the ack_tokens row once the link was used
    person: str | None = None  # set when the page was to a person: the link is theirs
    notifier: str = ""


async def ack_link(
    conn: AsyncConnection, incident_id: int, outbox_id: int, token_id: str
) -> AckLink:
    """Look up a (correctly signed) link. NotFound when its incident or page is gone."""
    incident = await get(conn, incident_id)
    page = (
        await conn.execute(
            select(outbox.c.notifier, outbox.c.person, outbox.c.incident_id).where(
                outbox.c.id == outbox_id
            )
        )
    ).first()
    if page is None or page.incident_id != incident_id:
        raise NotFound(f"no page {outbox_id} for incident {incident_id}")
    used = (await conn.execute(select(ack_tokens).where(ack_tokens.c.token_id == token_id))).first()
    return AckLink(
        incident=incident,
        recipient=page.person or page.notifier,
        used=used,
        person=page.person,
        notifier=page.notifier,
    )


async def acknowledge_by_link(
    conn: AsyncConnection,
    incident_id: int,
    outbox_id: int,
    token_id: str,
    *,
    now: datetime,
    name: str = "",
) -> Any:
    """Acknowledge from an ack link: the link is marked used and the incident acknowledged, in
    one transaction. A person's link acknowledges as that person (`acknowledged_by` is their
    name); a channel's as `name` typed on the page, with the channel it came in.
    InvalidTransition when the link was used or the incident is no longer triggered; then
    nothing changes (the caller's transaction is rolled back)."""
    # Lock the incident first (as every change does): two clicks on one link on PostgreSQL
    # then queue, and the second sees the link used instead of failing on the insert.
    await get(conn, incident_id, lock=True)
    link = await ack_link(conn, incident_id, outbox_id, token_id)
    if link.used is not None:
        raise InvalidTransition(
            f"this link was already used by {link.used.used_by} at "
            f"{link.used.used_at:%Y-%m-%d %H:%M:%S} UTC"
        )
    if link.person is not None:
        by = link.person
        how = f"from the ack link sent to {link.person} ({link.notifier})"
    else:
        by = f"{name} ({link.recipient})" if name else link.recipient
        how = f"from the ack link sent to {link.recipient}"
    await conn.execute(
        insert(ack_tokens).values(
            token_id=token_id,
            incident_id=incident_id,
            recipient=link.recipient,
            used_at=now,
            used_by=by,
        )
    )
    return await acknowledge(conn, incident_id, by=by, now=now, how=how)


# ---- pages that reach nobody ---------------------------------------------------------------


def step_prefix(key: str) -> str:
    """The part of an outbox key shared by every page of one escalation step (fallbacks too):
    keys are "<incident>:<tag>:<event>:<notifier>[@<person>#<n>][>fallback...]" (outbox.py)."""
    incident, step, *_ = key.split(":", 2)
    return f"{incident}:{step}:"


async def nobody_reached(
    conn: AsyncConnection,
    incident_id: int,
    key: str,
    *,
    now: datetime,
    error: str,
    resolver: Resolver | None = None,
) -> bool:
    """A page (`key`) has failed for good and has no fallback left. If no other page of its
    step was delivered or is still being tried (a person's later contact still to come
    counts), nobody was reached: the next step of the policy is paged now instead of at its
    time, its names resolved by `resolver` (default: all notifiers). Returns True when that
    happened.

    The incident row is locked first, so two last pages failing together on PostgreSQL cannot
    each see the other as still pending: the second waits and then sees the first failed.
    """
    row = (
        await conn.execute(select(incidents).where(incidents.c.id == incident_id).with_for_update())
    ).first()
    if row is None or row.status != IncidentStatus.TRIGGERED.value or row.policy is None:
        return False
    alive = (
        await conn.execute(
            select(func.count())
            .select_from(outbox)
            .where(
                and_(
                    outbox.c.incident_id == incident_id,
                    outbox.c.key.like(step_prefix(key) + "%"),
                    outbox.c.key != key,
                    outbox.c.status.in_(("pending", "delivered")),
                )
            )
        )
    ).scalar()
    if alive:
        return False
    index, ladder = parse_tag(key.split(":", 2)[1])
    if index is None or ladder != ladder_id(row) or index != row.next_step - 1:
        # A page of an older step failed late (max_age is long): a later level was paged
        # since, or the ladder was restarted (ack_timeout, snooze), or it was no step's page
        # (a reassignment's: the ladder keeps its times). Say so; do not skip ahead again.
        since = (
            "it was a reassignment's page; the ladder keeps its times"
            if index is None
            else "the ladder has restarted since"
            if ladder != ladder_id(row)
            else "a later level has been paged since"
        )
        await add_timeline(
            conn,
            incident_id,
            now,
            "unreached",
            f"this page reached nobody ({error}); {since}",
            data={"key": key},
        )
        return False
    steps = planning.plan(row.policy, base(row))
    if row.next_step >= len(steps):
        await add_timeline(
            conn,
            incident_id,
            now,
            "unreached",
            f"this page reached nobody ({error}) and the policy has no further level",
            data={"key": key},
        )
        return False
    step = steps[row.next_step]
    await add_timeline(
        conn,
        incident_id,
        now,
        "unreached",
        f"this page reached nobody ({error}): escalating to the next level now",
        data={"key": key, "was_due": step.due_at.isoformat()},
    )
    following = steps[row.next_step + 1] if row.next_step + 1 < len(steps) else None
    await page_now(conn, row, step, following, now, resolver)
    return True
