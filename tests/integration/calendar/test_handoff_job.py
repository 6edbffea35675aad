"""Handoff notices end to end in the daemon's loop: an APScheduler job fires at a handoff a
second or two ahead, a webhook receiver on loopback gets one "handoff" message for the
incoming person, and a restart just after does not send it again."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from escalatord.calendar.handoffs import wall
from escalatord.people import overrides
from escalatord.store.db import Store
from escalatord.store.tables import outbox
from tests.support.app import eventually, running_app
from tests.support.http_target import HttpTarget

PARIS = ZoneInfo("Europe/Paris")


def body(url: str) -> str:
    return f"""
        [[notifier]]
        name = "hook"
        type = "webhook"
        url = "{url}"

        [[person]]
        name = "alice"
          [[person.contact]]
          notifier = "hook"
          to = "alice-desk"

        [[person]]
        name = "bob"
        full_name = "Bob Martin"
          [[person.contact]]
          notifier = "hook"
          to = "bob-desk"
          [[person.contact]]
          notifier = "hook"
          to = "bob-phone"
          after = "5m"

        [[schedule]]
        name = "network-oncall"
        timezone = "Europe/Paris"
        handoff_notice = true
          [[schedule.layer]]
          members = ["alice"]
          start = "2026-01-05 09:00"
          rotation = "1w"
    """


@pytest.fixture
def target() -> Iterator[HttpTarget]:
    with HttpTarget() as t:
        yield t


def handoffs(target: HttpTarget) -> list[dict]:
    return [r.json() for r in target.requests if r.json().get("event") == "handoff"]


async def test_a_handoff_job_tells_the_incoming_person_once_even_across_a_restart(
    tmp_path: Path, target: HttpTarget
) -> None:
    """bob's stored override starts 1.5 s after the daemon starts: at that instant the
    webhook gets one handoff message for bob at his first contact saying until when (Paris
    time); alice, who leaves, gets none; a restart announces the missed-or-not handoff again
    only to find its outbox key there, so nothing is sent twice."""
    database = tmp_path / "escalatord.db"
    start = datetime.now(UTC) + timedelta(seconds=1.5)
    end = start + timedelta(hours=1)
    async with Store(f"sqlite:///{database}") as store, store.write() as conn:
        await overrides.add(conn, "network-oncall", "bob", start, end, now=start, by="test")

    async with running_app(database, body(target.url("/hook"))) as app:
        await eventually(lambda: len(handoffs(target)) == 1, what="the handoff message")
        await eventually(lambda: app.calendar.handoff_runs >= 1, what="the handoff run")
        [message] = handoffs(target)
        arrived = next(r.at for r in target.requests if r.json().get("event") == "handoff")
        assert arrived >= start.timestamp()  # fired at the handoff, not before
        assert message["person"] == {"name": "bob", "full_name": "Bob Martin"}
        assert message["to"] == "bob-desk"
        until = wall(end, PARIS)
        assert message["incident"]["title"] == (f"You are on call for network-oncall until {until}")
        assert message["incident"]["labels"] == {"schedule": "network-oncall"}
        # The job is placed at the next handoff: bob's override ends, alice is back.
        assert app.calendar.jobs()["handoff:network-oncall"] == end

    async with running_app(database, body(target.url("/hook"))) as app:
        # Started within the look-back: the handoff is announced again, and inserts nothing.
        await eventually(lambda: app.calendar.handoff_runs >= 1, what="the handoff rerun")
        assert app.calendar.notices == 0
        async with app.store.read() as conn:
            rows = (await conn.execute(select(outbox).where(outbox.c.event == "handoff"))).all()
    assert [(r.person, r.address, r.status) for r in rows] == [("bob", "bob-desk", "delivered")]
    assert len(handoffs(target)) == 1
    assert all(m["person"]["name"] == "bob" for m in handoffs(target))
