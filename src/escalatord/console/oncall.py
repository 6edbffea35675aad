"""GET /oncall: who is on call now in each schedule and until when, and each schedule's rota
for the next two weeks, as `escalatord oncall` and `escalatord oncall show S --weeks 2` print
them: the config's [[schedule]]s and the overrides stored with `oncall override`, resolved by
core/oncall.py as the daemon resolves them when a level fires.

Times are shown in each schedule's own zone (named). `?at=TIME` answers for another instant,
as the command's `--at`: "2026-03-29T09:00" is read in each schedule's zone,
"2026-03-29T09:00+02:00" or "…Z" is that instant.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from escalatord.console import shown
from escalatord.console.base import Console, Visitor
from escalatord.core.oncall import HORIZON, Decision, Segment, decide, next_change, rota
from escalatord.core.timewindows import local_instant
from escalatord.people.overrides import in_force

WEEKS = 2  # the rota shown under each schedule


@dataclass(frozen=True)
class Answer:
    """One schedule: who is on call at `at`, until when, what decided, and its rota."""

    name: str
    timezone: str
    zone: Any
    at: datetime
    decision: Decision
    until: datetime | None
    by: str
    segments: list[Segment]


class BadTime(ValueError):
    """An `at` that is not a time; the message says how to write one."""


def _at(text: str) -> datetime:
    """The time in `text`: aware (an instant), or naive (a wall time, read in each schedule's
    own zone)."""
    try:
        parsed = datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace(" ", "T"))
    except ValueError:
        raise BadTime(
            f"at: {text!r} is not a time; write 2026-03-29T09:00 (each schedule's own zone) "
            "or 2026-03-29T09:00+02:00 (that instant)"
        ) from None
    return parsed


def _decided(decision: Decision, config_overrides: tuple[Any, ...], stored: Sequence[Any]) -> str:
    """What decided, as `escalatord oncall` names it: layer[i], a stored override
    (`escalatord oncall overrides` lists them; it wins over an equal one from config, as in
    commands/rota_views.py `decided_by`) or override[i] (in config)."""
    if decision.layer is not None:
        return f"layer[{decision.layer}]"
    if decision.override is None:
        return "-"
    if decision.override not in stored and decision.override in config_overrides:
        return f"override[{config_overrides.index(decision.override)}]"
    return "stored override"


def routes(console: Console) -> list[Route]:
    """/oncall for every signed-in role."""
    shown.install(console.templates)
    services = console.services

    @console.require("viewer")
    async def oncall(request: Request, visitor: Visitor) -> Response:
        text = request.query_params.get("at", "").strip()
        try:
            given = _at(text) if text else services.now()
        except BadTime as bad:
            return console.refuse(400, str(bad), visitor)
        config = services.config()
        schedules = list(config.schedules)
        instants = {
            s.name: given if given.tzinfo else local_instant(given, s.zone) for s in schedules
        }
        found: dict[str, tuple[Any, ...]] = {}
        if schedules:
            low = min(instants.values())
            async with services.listings.store.read() as conn:
                found = await in_force(conn, instants, low, max(instants.values()) + HORIZON)
        answers = []
        for s in schedules:
            at, pure, stored = instants[s.name], s.rota(), found.get(s.name, ())
            decision = decide(pure, at, stored)
            # Whole weeks on the wall clock, as `oncall show --weeks 2` counts them.
            wall = at.astimezone(s.zone).replace(tzinfo=None)
            end = local_instant(wall + timedelta(weeks=WEEKS), s.zone)
            until, segments = next_change(pure, at, stored), rota(pure, at, end, stored)
            by = _decided(decision, pure.overrides, stored)
            answers.append(Answer(s.name, s.timezone, s.zone, at, decision, until, by, segments))
        return console.render(
            "oncall.html.j2", visitor=visitor, answers=answers, at=text, weeks=WEEKS,
            persons=config.person_by_name,
        )  # fmt: skip

    return [Route("/oncall", oncall, methods=["GET"])]
