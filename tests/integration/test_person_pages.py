"""The ladder pages people, on SQLite and PostgreSQL with webhooks on loopback: a schedule
resolved when its level fires, a person's contacts in order with `after`, later contacts muted
by an ack, a level that reaches nobody escalating at once, the link naming the person, and
notices to the contacts a page went out on."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from escalatord import plugins
from escalatord.config.loader import load_text
from escalatord.config.model import Config, PolicyConfig
from escalatord.core.planning import snapshot
from escalatord.escalation.recipients import ConfigResolver
from escalatord.incidents import service
from escalatord.incidents.pages import acknowledge_by_link
from escalatord.notify.dispatcher import Dispatcher
from escalatord.store.tables import ack_tokens, outbox
from tests.support.http_target import HttpTarget
from tests.support.outbox import DECISION, run_until

# Tuesday 24 November 2026, 10:00 UTC: alice's week in "oncall" (weekly turns from 5 January).
T0 = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
SATURDAY = datetime(2026, 11, 28, 10, 0, tzinfo=UTC)


@pytest.fixture
def hooks() -> Iterator[HttpTarget]:
    with HttpTarget() as target:
        yield target


def people(hooks: HttpTarget) -> Config:
    return load_text(
        textwrap.dedent(f"""
        [[notifier]]
        name = "hook"
        type = "webhook"
        url = "{hooks.url("/hook")}"

        [[notifier]]
        name = "pager"
        type = "webhook"
        url = "{hooks.url("/pager")}"

        [[notifier]]
        name = "ops"
        type = "webhook"
        url = "{hooks.url("/ops")}"

        [[person]]
        name = "alice"
        full_name = "Alice Moreau"
          [[person.contact]]
          notifier = "hook"
          to = "alice@example.org"
          [[person.contact]]
          notifier = "pager"
          to = "+33612345678"
          after = "5m"

        [[person]]
        name = "bob"
          [[person.contact]]
          notifier = "hook"
          to = "bob@example.org"

        [[team]]
        name = "network"
        members = ["alice", "bob"]

        [[schedule]]
        name = "oncall"
        timezone = "UTC"
          [[schedule.layer]]
          members = ["alice", "bob"]
          start = "2026-01-05 09:00"
          rotation = "1w"

        [[schedule]]
        name = "desk"
        timezone = "UTC"
          [[schedule.layer]]
          members = ["bob"]
          start = "2026-01-05 08:00"
          rotation = "1w"
          restrict = ["mon-fri 08:00-18:00"]
        """),
        env={},
    )


async def open_at(store: Any, config: Config, levels: list[dict[str, Any]], now: datetime) -> int:
    """Open an incident under a policy of `levels` and fire what is due at `now`."""
    policy = snapshot(PolicyConfig.model_validate({"name": "p", "level": levels}))
    async with store.write() as conn:
        incident_id, _ = await service.open_incident(
            conn,
            key="core-switch",
            check="core-switch",
            labels={},
            status="critical",
            summary="down",
            decision=DECISION,
            policy_snapshot=policy,
            now=now,
        )
        await service.fire_due_steps(conn, now, resolver=ConfigResolver(lambda: config))
    return incident_id


async def rows(store: Any, incident_id: int) -> list[Any]:
    async with store.read() as conn:
        found = await conn.execute(
            select(outbox).where(outbox.c.incident_id == incident_id).order_by(outbox.c.id)
        )
        return list(found.all())


async def timeline(store: Any, incident_id: int) -> list[tuple[str, str]]:
    async with store.read() as conn:
        return [(e.kind, e.message) for e in await service.get_timeline(conn, incident_id)]


class Clock:
    """A virtual clock for the dispatcher: `after` and retries are timed by it."""

    def __init__(self, now: datetime):
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def dispatcher(store: Any, config: Config, clock: Clock) -> Dispatcher:
    notifiers = {n.name: plugins.load("notifiers", n.type)(n) for n in config.notifiers}
    return Dispatcher(
        store, notifiers, poll=0.05, clock=clock, resolver=ConfigResolver(lambda: config)
    )


async def settled(store: Any, incident_id: int, statuses: dict[str, str]) -> bool:
    """Whether the rows with these keys' last parts have these statuses."""
    by_label = {r.key.split(":", 3)[3]: r.status for r in await rows(store, incident_id)}
    return all(by_label.get(label) == status for label, status in statuses.items())


def pages(hooks: HttpTarget) -> list[tuple[str, str, str | None, str | None]]:
    """(path, event, person, to) of every message the hooks received, in order."""
    found = []
    for request in hooks.requests:
        body = request.json()
        found.append(
            (request.path, body["event"], (body.get("person") or {}).get("name"), body.get("to"))
        )
    return found


async def test_a_schedule_pages_the_person_on_call_at_each_contact_in_order(store, hooks):
    """The level names a schedule: alice, on call at that instant, is one row per contact,
    each due at the fired time + its `after` with her address; the first goes out at once
    with her name and address in the payload, the second only once its `after` has come."""
    config = people(hooks)
    incident_id = await open_at(store, config, [{"after": "0m", "notify": ["oncall"]}], T0)
    first, second = await rows(store, incident_id)
    assert (first.key, first.notifier, first.person, first.address) == (
        f"{incident_id}:0:triggered:hook@alice#0",
        "hook",
        "alice",
        "alice@example.org",
    )
    assert (second.key, second.notifier, second.person, second.address) == (
        f"{incident_id}:0:triggered:pager@alice#1",
        "pager",
        "alice",
        "+33612345678",
    )
    assert (first.next_attempt_at, second.next_attempt_at) == (T0, T0 + timedelta(minutes=5))
    assert ("paged", "level 0 (triggered): notified alice") in await timeline(store, incident_id)

    clock = Clock(T0 + timedelta(seconds=1))
    sender = dispatcher(store, config, clock)
    await run_until(sender, lambda: settled(store, incident_id, {"hook@alice#0": "delivered"}))
    assert pages(hooks) == [("/hook", "triggered", "alice", "alice@example.org")]
    assert hooks.requests[0].json()["person"] == {"name": "alice", "full_name": "Alice Moreau"}
    assert await settled(store, incident_id, {"pager@alice#1": "pending"})

    clock.now = T0 + timedelta(minutes=5)
    await run_until(sender, lambda: settled(store, incident_id, {"pager@alice#1": "delivered"}))
    assert pages(hooks)[1:] == [("/pager", "triggered", "alice", "+33612345678")]
    assert ("delivered", "triggered delivered to alice (pager)") in await timeline(
        store, incident_id
    )


async def test_an_ack_mutes_later_contacts_and_notices_go_where_pages_went(store, hooks):
    """bob acknowledges from his link: acknowledged_by is "bob"; alice's second contact, not
    yet due, is muted (never sent, and no "reached nobody"); the acknowledged notice goes to
    alice and bob at the contacts their pages went out on and to the channel, not to her
    second contact."""
    config = people(hooks)
    incident_id = await open_at(
        store, config, [{"after": "0m", "notify": ["network", "ops", "alice"]}], T0
    )
    clock = Clock(T0 + timedelta(seconds=1))
    sender = dispatcher(store, config, clock)
    first = {"hook@alice#0": "delivered", "hook@bob#0": "delivered", "ops": "delivered"}
    await run_until(sender, lambda: settled(store, incident_id, first))
    bobs = next(r for r in await rows(store, incident_id) if r.person == "bob")

    async with store.write() as conn:
        row = await acknowledge_by_link(
            conn, incident_id, bobs.id, f"{incident_id}.{bobs.id}", now=clock.now, name="Robert"
        )
    assert row.acknowledged_by == "bob"
    async with store.read() as conn:
        used = (await conn.execute(select(ack_tokens))).one()
    assert (used.recipient, used.used_by) == ("bob", "bob")

    clock.now = T0 + timedelta(minutes=10)
    told = {"hook@alice#0": "delivered", "hook@bob#0": "delivered", "ops": "delivered"}
    await run_until(
        sender,
        lambda: _notices_settled(store, incident_id, told),
    )
    by_key = {r.key: r for r in await rows(store, incident_id)}
    assert by_key[f"{incident_id}:0:triggered:pager@alice#1"].status == "muted"
    notices = sorted(p for p in pages(hooks) if p[1] == "acknowledged")
    assert notices == [
        ("/hook", "acknowledged", "alice", "alice@example.org"),
        ("/hook", "acknowledged", "bob", "bob@example.org"),
        ("/ops", "acknowledged", None, None),
    ]
    assert all(r.json()["incident"]["acknowledged_by"] == "bob" for r in hooks.requests[3:])
    assert not [p for p in pages(hooks) if p[0] == "/pager"]
    entries = await timeline(store, incident_id)
    assert ("acknowledged", "acknowledged by bob from the ack link sent to bob (hook)") in entries
    assert not [e for e in entries if e[0] == "unreached"]


async def _notices_settled(store: Any, incident_id: int, statuses: dict[str, str]) -> bool:
    found = {
        r.key.split(":", 3)[3]: r.status
        for r in await rows(store, incident_id)
        if r.event == "acknowledged"
    }
    return found == statuses


async def test_a_level_that_reaches_nobody_pages_the_next_level_at_once(store, hooks):
    """On a Saturday the desk has nobody on call: level 0 reaches nobody, so level 1 (the
    team) is paged at once, not at its time, and the timeline says why."""
    config = people(hooks)
    levels = [
        {"after": "0m", "notify": ["desk"]},
        {"after": "30m", "notify": ["network"]},
        {"after": "1h", "notify": ["ops"]},
    ]
    incident_id = await open_at(store, config, levels, SATURDAY)
    assert [(r.level, r.person, r.notifier) for r in await rows(store, incident_id)] == [
        (1, "alice", "hook"),
        (1, "alice", "pager"),
        (1, "bob", "hook"),
    ]
    assert (await timeline(store, incident_id))[1:] == [
        (
            "unreached",
            "level 0 (triggered) reached nobody (desk: nobody on call): "
            "escalating to the next level now",
        ),
        ("paged", "level 1 (escalated): notified alice, bob"),
    ]
    async with store.read() as conn:
        row = await service.get(conn, incident_id)
    assert (row.next_step, row.next_step_at) == (2, SATURDAY + timedelta(hours=1))


async def test_a_person_whose_contacts_all_fail_escalates_to_the_next_level(store, hooks):
    """alice's first contact failing for good is not "nobody reached" while her second is
    still to come; once that fails too, the next level (resolved then) is paged at once."""
    config = people(hooks)
    hooks.respond(400, "no such address")
    levels = [{"after": "0m", "notify": ["alice"]}, {"after": "1h", "notify": ["bob"]}]
    incident_id = await open_at(store, config, levels, T0)
    clock = Clock(T0 + timedelta(seconds=1))
    sender = dispatcher(store, config, clock)
    await run_until(sender, lambda: settled(store, incident_id, {"hook@alice#0": "failed"}))
    assert sender.unreached == 0
    assert await settled(store, incident_id, {"pager@alice#1": "pending"})

    clock.now = T0 + timedelta(minutes=5)
    await run_until(sender, lambda: settled(store, incident_id, {"pager@alice#1": "failed"}))
    by_label = {r.key.split(":", 3)[3]: r for r in await rows(store, incident_id)}
    assert by_label["hook@bob#0"].level == 1 and by_label["hook@bob#0"].person == "bob"
    assert sender.unreached == 1
