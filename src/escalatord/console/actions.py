"""Acting on an incident from its page (responder and admin): POST /incidents/<id>/<action>
with the action one of acknowledge, resolve, close (field `note`, required), snooze (field
`duration`, e.g. "1h") and reassign (field `to`: a person, team, schedule or notifier).

Each goes through the service function the command line uses (incidents/transitions.py,
incidents/rearm.py), as the signed-in person (`by=visitor.name`), so the timeline says who did
it; then the dispatcher is woken, so the notices go out at once, and the browser is sent back
to the incident (303). What cannot be done is said on the incident's page, with the form's
values kept: a missing note, a duration that does not parse (400), a name the config does
not know (400), an incident already resolved or closed, a name that reaches nobody now
(409). An unknown incident is a 404.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from escalatord.console.base import Console, Visitor
from escalatord.console.incident import render_incident
from escalatord.console.services import ConsoleServices
from escalatord.core.durations import parse_duration
from escalatord.errors import InvalidTransition, NotFound
from escalatord.incidents import service

SHOW_NAMES = 20  # configured names listed when a reassign target is unknown


class Refused(Exception):
    """An action that cannot be done as asked; `status` is the HTTP answer."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


def note_of(form: Mapping[str, str]) -> str:
    """The close note: required, as `escalatord close --note`."""
    note = form.get("note", "").strip()
    if not note:
        raise Refused(400, "Closing needs a note: say what was done.")
    return note


def snooze_for(form: Mapping[str, str]) -> timedelta:
    """The snooze's length, read as `escalatord snooze ID DURATION` reads it."""
    text = form.get("duration", "").strip()
    try:
        value = parse_duration(text)
    except ValueError as exc:
        raise Refused(400, f"Snooze: {exc}.") from None
    if value <= timedelta(0):
        raise Refused(400, f"Snooze: {text!r} is not longer than 0s; give e.g. 30m or 1h.")
    return value


def reassign_to(services: ConsoleServices, form: Mapping[str, str]) -> str:
    """The new owner: a configured person, team, schedule or notifier, as `escalatord
    reassign --to` accepts."""
    name = form.get("to", "").strip()
    config = services.config()
    if name and config.target_kind(name) is not None:
        return name
    known = sorted({*config.person_by_name, *config.team_by_name, *config.schedule_by_name,
                    *config.notifier_by_name})  # fmt: skip
    shown = ", ".join(known[:SHOW_NAMES]) or "none"
    if len(known) > SHOW_NAMES:
        shown += f" and {len(known) - SHOW_NAMES} more"
    if not name:
        raise Refused(400, f"Reassign: give the new owner's name (configured: {shown}).")
    raise Refused(
        400, f"Reassign: no person, team, schedule or notifier is named {name!r} "
        f"(configured: {shown})."
    )  # fmt: skip


Change = Callable[[Any, int, str, datetime], Awaitable[Any]]


def change_for(services: ConsoleServices, action: str, form: Mapping[str, str]) -> Change:
    """What `action` does with a write connection, incident, person and time; its input is
    checked here, before any transaction (Refused)."""
    if action == "acknowledge":
        return lambda conn, i, by, now: service.acknowledge(conn, i, by=by, now=now,
                                                            how="from the console")  # fmt: skip
    if action == "resolve":
        return lambda conn, i, by, now: service.resolve(conn, i, by=by, now=now)
    if action == "close":
        note = note_of(form)
        return lambda conn, i, by, now: service.close(conn, i, note=note, by=by, now=now)
    if action == "snooze":
        length = snooze_for(form)
        return lambda conn, i, by, now: service.snooze(conn, i, until=now + length, by=by,
                                                       now=now)  # fmt: skip
    to = reassign_to(services, form)
    resolver = services.resolver
    if resolver is None:
        raise Refused(503, "This console cannot reassign: the daemon gave it no resolver.")
    return lambda conn, i, by, now: service.reassign(conn, i, to=to, by=by, now=now,
                                                     resolver=resolver)  # fmt: skip


ACTIONS = ("acknowledge", "resolve", "close", "snooze", "reassign")


def routes(console: Console) -> list[Route]:
    """One POST route per action, for responders and admins."""
    services = console.services

    def handler(action: str) -> Callable[[Request], Awaitable[Response]]:
        @console.require("responder")
        async def act(request: Request, visitor: Visitor) -> Response:
            incident_id: int = request.path_params["id"]
            form = request.state.form
            try:
                change = change_for(services, action, form)
                if services.writer is None:
                    raise Refused(503, "This console is read-only: the daemon gave it no writer.")
                async with services.writer.write() as conn:
                    await change(conn, incident_id, visitor.name, services.now())
            except NotFound:
                return console.refuse(404, f"There is no incident {incident_id}.", visitor)
            except InvalidTransition as exc:
                return await render_incident(console, visitor, incident_id, status=409,
                                             error=_sentence(exc), form=form)  # fmt: skip
            except Refused as exc:
                return await render_incident(console, visitor, incident_id, status=exc.status,
                                             error=str(exc), form=form)  # fmt: skip
            services.wake()  # the notices this change enqueued go out now, not at the next poll
            return console.redirect(f"/incidents/{incident_id}")

        act.__name__ = action
        return act

    return [
        Route(f"/incidents/{{id:int}}/{action}", handler(action), methods=["POST"])
        for action in ACTIONS
    ]


def _sentence(exc: Exception) -> str:
    text = str(exc)
    return (text[:1].upper() + text[1:]).rstrip(".") + "."
