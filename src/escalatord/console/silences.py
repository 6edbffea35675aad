"""GET /silences: the silences in force or still to come (`?all=1`: ended and removed ones
too); POST /silences adds one, POST /silences/<id>/remove ends one now (responder and up).

Through the functions `escalatord silence` and the API use (quiet/silences.py `listed`, `add`,
`remove`) with `by` the signed-in person, so the silence's record and the timeline of every
open incident it touches name who did it. The form's fields are checked as the command checks
its options: "match" holds LABEL=VALUE pairs (spaces or commas between them; a value may list
alternatives, a|b), "checks" configured check names; "for" a duration or "until" a time (one
of the two: a wall time in this machine's zone, or with an offset); "reason" is required. A
bad field answers 400 with the form as it was filled and what to change.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

import tzlocal
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from escalatord.console import shown
from escalatord.console.base import Console, Visitor
from escalatord.core.durations import parse_duration
from escalatord.core.quiet import Cover
from escalatord.core.timewindows import local_instant
from escalatord.errors import NotFound
from escalatord.quiet import silences

_SPLIT = re.compile(r"[\s,]+")


class BadField(ValueError):
    """A form field that cannot be used; the message names it and the fix."""


def _matchers(text: str) -> dict[str, str | tuple[str, ...]]:
    found: dict[str, str | tuple[str, ...]] = {}
    for pair in filter(None, _SPLIT.split(text.strip())):
        key, sep, wanted = pair.partition("=")
        if not sep or not key or not wanted:
            raise BadField(
                f"Labels: {pair!r} is not a label matcher; write LABEL=VALUE, e.g. site=boston "
                "(several separated by spaces; a value may list alternatives: a|b)"
            )
        parts = tuple(wanted.split("|"))
        found[key] = parts[0] if len(parts) == 1 else parts
    return found


def _until(text: str, now: datetime, zone: tzinfo) -> datetime:
    try:
        when = datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace(" ", "T"))
    except ValueError:
        raise BadField(
            f"Until: {text!r} is not a time; write 2026-12-24T18:00 (this machine's zone, "
            f"{zone}) or 2026-12-24T18:00+01:00"
        ) from None
    # A wall time the DST change skips or repeats is placed as the rota places it.
    end = when if when.tzinfo else local_instant(when, zone)
    if end <= now:
        raise BadField(
            f"Until: {shown.at_zone(end, zone)} is already past; give a later time, or a "
            "duration in For"
        )
    return end.astimezone(UTC)


def _end(form: dict[str, str], now: datetime, zone: tzinfo) -> datetime:
    length, until = form.get("for", "").strip(), form.get("until", "").strip()
    if bool(length) == bool(until):
        raise BadField(
            "Say how long: fill in For (a duration, e.g. 2h) or Until (a time, e.g. "
            "2026-12-24T18:00), one of the two"
        )
    if until:
        return _until(until, now, zone)
    try:
        duration = parse_duration(length)
    except ValueError as exc:
        raise BadField(f"For: {exc}; e.g. 2h or 30m") from None
    if duration <= timedelta(0):
        raise BadField("For: must be longer than 0s, e.g. 2h")
    return now + duration


def _cover(form: dict[str, str], known: list[str]) -> Cover:
    match = _matchers(form.get("match", ""))
    checks = tuple(dict.fromkeys(filter(None, _SPLIT.split(form.get("checks", "").strip()))))
    if not match and not checks:
        raise BadField(
            "Say what to silence: labels (e.g. site=boston) or check names (e.g. router-a)"
        )
    for name in checks:
        if name not in known:
            listed = ", ".join(known[:20]) + (", …" if len(known) > 20 else "")
            raise BadField(f"Checks: no check named {name!r}; configured: {listed or 'none'}")
    return Cover(match, {}, checks)


def routes(console: Console) -> list[Route]:
    """The list for every signed-in role; adding and removing for responders and admins."""
    shown.install(console.templates)
    services = console.services

    async def page(
        visitor: Visitor, everything: bool, *, status: int = 200, error: str = "",
        form: dict[str, str] | None = None,
    ) -> Response:  # fmt: skip
        now = services.now()
        async with services.listings.store.read() as conn:
            rows = await silences.listed(conn, now=now, everything=everything)
        return console.render(
            "silences.html.j2", visitor=visitor, status=status, rows=rows, now=now,
            everything=everything, error=error, form=form or {}, zone=tzlocal.get_localzone(),
        )  # fmt: skip

    def writer() -> Any:
        if services.writer is None:
            raise RuntimeError("the console was started without the store's writer")
        return services.writer

    @console.require("viewer")
    async def listing(request: Request, visitor: Visitor) -> Response:
        everything = request.query_params.get("all", "") in ("1", "true", "yes")
        return await page(visitor, everything)

    @console.require("responder")
    async def add(request: Request, visitor: Visitor) -> Response:
        form: dict[str, str] = request.state.form
        now = services.now()
        try:
            cover = _cover(form, [c.name for c in services.config().checks])
            end = _end(form, now, tzlocal.get_localzone())
            reason = form.get("reason", "").strip()
            if not reason:
                raise BadField("Reason: required; say why, e.g. fibre works (it is stored)")
            async with writer().write() as conn:
                await silences.add(conn, cover, now, end, reason=reason, now=now,
                                   by=visitor.name)  # fmt: skip
        except ValueError as bad:  # BadField, or quiet/silences.py's own refusals
            return await page(visitor, False, status=400, error=str(bad), form=form)
        return console.redirect("/silences")

    @console.require("responder")
    async def remove(request: Request, visitor: Visitor) -> Response:
        raw = request.path_params["silence_id"]
        if not raw.isdigit():
            return console.refuse(404, f"No silence {raw!r}: ids are numbers.", visitor)
        try:
            async with writer().write() as conn:
                await silences.remove(conn, int(raw), now=services.now(), by=visitor.name)
        except NotFound as exc:
            return console.refuse(404, f"{str(exc).capitalize()}.", visitor)
        return console.redirect("/silences")

    return [
        Route("/silences", listing, methods=["GET"]),
        Route("/silences", add, methods=["POST"]),
        Route("/silences/{silence_id}/remove", remove, methods=["POST"]),
    ]
