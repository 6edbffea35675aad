"""Handoff notices: at each instant the answer of core/oncall.py changes, the persons who come
on call get one message on their first contact ("You are on call for network-oncall until
Mon 09:00", the time in the schedule's zone).

Which instant, which persons and which text is decided here by pure functions of (schedule,
overrides, instant), so it is tested on a virtual clock; `enqueue` writes the outbox rows.
A notice is an outbox row without an incident, like a test message (`incident_id` NULL, event
`handoff`, `person` and `address` set), with the idempotency key
"handoff:<schedule>:<instant>:<person>": announcing one handoff twice, after a restart or a
reload, inserts nothing the second time.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from escalatord.core.events import Event, IncidentView
from escalatord.core.oncall import Override, Schedule, next_change, on_call
from escalatord.store import upsert
from escalatord.store.tables import outbox

# The instants next_change returns are exact boundaries: one microsecond earlier is still the
# stretch before the handoff.
_JUST_BEFORE = timedelta(microseconds=1)
_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


@dataclass(frozen=True)
class Recipient:
    """Where a person's handoff notice goes: their first contact (notifier and address)."""

    name: str
    full_name: str | None
    notifier: str
    to: str


@dataclass(frozen=True)
class Rota:
    """A schedule whose handoffs are announced, and each member's first contact (a person
    without contacts is absent: nobody can tell them)."""

    schedule: Schedule
    recipients: Mapping[str, Recipient]


@dataclass(frozen=True)
class Notice:
    """One person told that they are on call in `schedule` from `at` until `until` (UTC; None
    when nothing changes within core/oncall.py's horizon)."""

    schedule: str
    person: str
    at: datetime
    until: datetime | None
    text: str

    @property
    def key(self) -> str:
        """The outbox idempotency key: one notice per (schedule, handoff instant, person)."""
        return f"handoff:{self.schedule}:{self.at.astimezone(UTC).isoformat()}:{self.person}"


def wall(at: datetime, zone: tzinfo, *, date: bool = False) -> str:
    """`at` as a short local time in `zone`: "Mon 09:00", with `date` "Mon 5 Jan 09:00".
    English names whatever the process's locale, as the rest of the messages."""
    local = at.astimezone(zone)
    day = _DAYS[local.weekday()]
    if date:
        day = f"{day} {local.day} {_MONTHS[local.month - 1]}"
    return f"{day} {local:%H:%M}"


def text(name: str, at: datetime, until: datetime | None, zone: tzinfo) -> str:
    """The message: "You are on call for <name> until Mon 09:00", the weekday alone when the
    turn ends within a week of local days (a weekly rota's "Mon" is the next Monday), else
    with its date; "until further notice" when no change is ahead."""
    if until is None:
        return f"You are on call for {name} until further notice"
    days = (until.astimezone(zone).date() - at.astimezone(zone).date()).days
    return f"You are on call for {name} until {wall(until, zone, date=days > 7)}"


def notices_at(
    schedule: Schedule, at: datetime, overrides: Sequence[Override] = ()
) -> list[Notice]:
    """The notices of a handoff at the instant `at`: one for each person on call from `at`
    who was not on call just before (none when nothing changes at `at`, or nobody comes)."""
    at = at.astimezone(UTC)
    before = on_call(schedule, at - _JUST_BEFORE, overrides)
    after = on_call(schedule, at, overrides)
    if before == after:
        return []
    until = next_change(schedule, at, overrides)
    line = text(schedule.name, at, until, schedule.zone)
    return [
        Notice(schedule.name, person, at, until, line) for person in after if person not in before
    ]


def next_handoff(
    schedule: Schedule, after: datetime, overrides: Sequence[Override] = ()
) -> datetime | None:
    """The first instant after `after` at which the persons on call change (UTC), or None."""
    return next_change(schedule, after, overrides)


def view(notice: Notice, zone: tzinfo) -> IncidentView:
    """What the message says, in the payload's `incident` object (no incident is behind it):
    id "handoff", status "handoff", severity "info", the schedule as a label."""
    since = wall(notice.at, zone, date=True)
    until = wall(notice.until, zone, date=True) if notice.until else "further notice"
    return IncidentView(
        id="handoff",
        key=notice.key,
        title=notice.text,
        status="handoff",
        severity="info",
        check="",
        labels={"schedule": notice.schedule},
        summary=f"On call for {notice.schedule} from {since} until {until} ({zone}).",
    )


async def enqueue(
    conn: AsyncConnection,
    notices: Iterable[Notice],
    recipients: Mapping[str, Recipient],
    zone: tzinfo,
    now: datetime,
) -> int:
    """Insert one outbox row per notice whose person has a first contact; a key already there
    inserts nothing. Returns how many rows were inserted."""
    inserted = 0
    for notice in notices:
        recipient = recipients.get(notice.person)
        if recipient is None:
            continue
        payload: dict[str, Any] = view(notice, zone).to_json()
        # The dispatcher names the person from the row; their full name travels here.
        payload["person"] = {"name": recipient.name, "full_name": recipient.full_name}
        stmt = (
            upsert.insert(conn, outbox)
            .values(
                key=notice.key,
                incident_id=None,
                notifier=recipient.notifier,
                event=str(Event.HANDOFF),
                level=0,
                payload=payload,
                status="pending",
                attempts=0,
                created_at=now,
                next_attempt_at=now,
                person=recipient.name,
                address=recipient.to,
            )
            .on_conflict_do_nothing(index_elements=["key"])
        )
        inserted += (await conn.execute(stmt)).rowcount or 0
    return inserted
