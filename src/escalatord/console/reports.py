"""GET /reports: the figures of `escalatord report` as html tables: incidents opened since
`?since=` (a duration, default 30d), MTTA and MTTR (p50/p90), the share escalated, pages and
pages out of hours, per `?by=` group (category, check, site or person), pages per person, the
noisiest checks and the drills apart.

The rows are read by incidents/history.py (read-only, on the store's reader connections) and
the figures computed by core/report.py, as the command does; each person's zone for working
hours is people/zones.py's. docs/report.md describes every figure.
"""

from __future__ import annotations

from datetime import timedelta

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from escalatord.console import shown
from escalatord.console.base import Console, Visitor
from escalatord.core.durations import format_duration, parse_duration
from escalatord.core.report import GROUPINGS, NONE, report
from escalatord.incidents.history import drill_steps, history
from escalatord.people.zones import zones

DEFAULT_SINCE = "30d"


def _since(text: str) -> timedelta | str:
    """The duration in `text`, or what is wrong with it."""
    try:
        since = parse_duration(text)
    except ValueError as exc:
        return f"since: {exc}; e.g. 30d, 12h or 2w"
    if since <= timedelta(0):
        return f"since: {text!r} is not a positive duration, e.g. 30d or 12h"
    return since


def routes(console: Console) -> list[Route]:
    """/reports for every signed-in role."""
    shown.install(console.templates)
    services = console.services

    @console.require("viewer")
    async def reports(request: Request, visitor: Visitor) -> Response:
        text = request.query_params.get("since", "").strip() or DEFAULT_SINCE
        by = request.query_params.get("by", "").strip() or None
        since = _since(text)
        if isinstance(since, str):
            return console.refuse(400, since, visitor)
        if by is not None and by not in GROUPINGS:
            return console.refuse(
                400, f"by: {by!r} is not a grouping; use one of {', '.join(GROUPINGS)}", visitor
            )
        now = services.now().replace(microsecond=0)
        start = now - since
        async with services.listings.store.read() as conn:
            incidents, pages = await history(conn, start)
            steps = await drill_steps(conn, start)
        found = report(incidents, pages, zones(services.config()), by, steps)  # type: ignore[arg-type]
        return console.render(
            "reports.html.j2", visitor=visitor, found=found, since=text, by=by or "",
            span=format_duration(since), start=start, now=now, groupings=GROUPINGS, none_label=NONE,
        )  # fmt: skip

    return [Route("/reports", reports, methods=["GET"])]
