"""The calendar's jobs in a running loop (calendar/jobs.py): placed from the config at start,
moved when another process stores an override, re-synced by a reload, drained at stop."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from escalatord.calendar.handoffs import Recipient, Rota, next_handoff
from escalatord.calendar.jobs import Calendar, Plan
from escalatord.config.loader import load_text
from escalatord.core.oncall import Layer, Schedule
from escalatord.people import overrides
from escalatord.store.db import Store
from tests.support.app import config_text, eventually, running_app
from tests.support.net import free_port

PARIS = ZoneInfo("Europe/Paris")
ROTA = Rota(
    Schedule("ops", PARIS, (Layer(("alice", "bob"), datetime(2026, 1, 5, 9), timedelta(weeks=1)),)),
    {"carol": Recipient("carol", None, "hook", "carol-desk")},
)
PEOPLE = """
    [[notifier]]
    name = "hook"
    type = "webhook"
    url = "http://127.0.0.1:9/hook"

    [[person]]
    name = "alice"
      [[person.contact]]
      notifier = "hook"
      to = "alice-desk"

    [[schedule]]
    name = "ops"
    timezone = "Europe/Paris"
    handoff_notice = true
      [[schedule.layer]]
      members = ["alice", "bob"]
      start = "2026-01-05 09:00"
      rotation = "1w"

    [[person]]
    name = "bob"
"""


async def test_an_override_stored_by_another_process_moves_the_handoff_job(
    tmp_path: Path,
) -> None:
    """The job waits for the weekly handoff; an override stored meanwhile (as the CLI does,
    through its own connection) is seen by the next recheck and the job moves to its start."""
    async with Store(f"sqlite:///{tmp_path}/db.sqlite") as store:
        calendar = Calendar(store, Plan(rotas=(ROTA,)), recheck=0.2)
        calendar.start()
        try:
            now = datetime.now(UTC)
            weekly = next_handoff(ROTA.schedule, now)
            await eventually(lambda: calendar.jobs().get("handoff:ops") == weekly, what="job")
            start = now + timedelta(hours=2)
            async with Store(f"sqlite:///{tmp_path}/db.sqlite") as cli, cli.write() as conn:
                await overrides.add(conn, "ops", "carol", start, start + timedelta(hours=1),
                                    now=now, by="cli")  # fmt: skip
            await eventually(lambda: calendar.jobs().get("handoff:ops") == start, what="moved")
            assert set(calendar.jobs()) == {"retention", "handoffs-recheck", "handoff:ops"}
        finally:
            await calendar.stop(1.0)
    assert calendar.notices == 0  # nothing was due


async def test_a_reload_drops_and_restores_a_schedules_handoff_job(tmp_path: Path) -> None:
    """Turning handoff_notice off in a reload removes the schedule's job; turning it on
    again places it at the next handoff. Retention's daily job stays throughout."""
    port = free_port()
    async with running_app(tmp_path / "db.sqlite", PEOPLE, port=port) as app:
        await eventually(lambda: "handoff:ops" in app.calendar.jobs(), what="the job at start")
        placed = app.calendar.jobs()["handoff:ops"]
        assert placed is not None and placed.astimezone(PARIS).strftime("%a %H:%M") == "Mon 09:00"
        off = PEOPLE.replace("handoff_notice = true", "handoff_notice = false")
        await app.reload(load_text(config_text(tmp_path / "db.sqlite", port, off), env={}))
        await eventually(lambda: "handoff:ops" not in app.calendar.jobs(), what="the job gone")
        assert "retention" in app.calendar.jobs()
        await app.reload(load_text(config_text(tmp_path / "db.sqlite", port, PEOPLE), env={}))
        await eventually(lambda: app.calendar.jobs().get("handoff:ops") == placed, what="back")
