"""The incident pages: GET /incidents (open ones, or the closed or all with ?show=), GET
/incidents/<id> (everything about one: owner, runbook, steps, affected checks, its group,
maintenance, the whole timeline and every page with how it went) and its live fragment, GET
/incidents/<id>/fragment, which the page's script (static/console.js) fetches every few
seconds, so an acknowledgement made elsewhere (the CLI, an ack link) shows without a reload.

Responders and admins also get the action forms; console/actions.py handles them.
"""

from __future__ import annotations

from collections.abc import Mapping

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from escalatord.console.base import Console, Visitor
from escalatord.console.incident_data import SHOWN, list_incidents, read_incident
from escalatord.errors import NotFound

REFRESH = 5  # seconds between the page's fetches of its fragment


async def render_incident(
    console: Console,
    visitor: Visitor,
    incident_id: int,
    *,
    status: int = 200,
    error: str | None = None,
    form: Mapping[str, str] | None = None,
) -> Response:
    """The incident's page; with `error`, the message an action was refused with above it
    and the form's values kept (a close note is not typed twice)."""
    try:
        page = await read_incident(console.services, incident_id, console.services.now())
    except NotFound:
        return console.refuse(404, f"There is no incident {incident_id}.", visitor)
    return console.render(
        "incident.html.j2",
        visitor=visitor,
        status=status,
        page=page,
        every=REFRESH,
        error=error,
        form=form or {},
    )


def routes(console: Console) -> list[Route]:
    """The incident list, the incident page and its live fragment, for every signed-in role."""

    @console.require("viewer")
    async def listing(request: Request, visitor: Visitor) -> Response:
        show = request.query_params.get("show", "open")
        if show not in SHOWN:
            return console.refuse(
                400, f"show={show!r} is not a list; use one of {', '.join(SHOWN)}.", visitor
            )
        found = await list_incidents(console.services, show)
        return console.render("incidents.html.j2", visitor=visitor, incidents=found, show=show,
                              choices=tuple(SHOWN))  # fmt: skip

    @console.require("viewer")
    async def incident(request: Request, visitor: Visitor) -> Response:
        return await render_incident(console, visitor, request.path_params["id"])

    @console.require("viewer", fragment=True)
    async def fragment(request: Request, visitor: Visitor) -> Response:
        incident_id = request.path_params["id"]
        try:
            page = await read_incident(console.services, incident_id, console.services.now())
        except NotFound:
            return console.refuse(404, f"There is no incident {incident_id}.", visitor)
        return console.render("incident_fragment.html.j2", visitor=visitor, page=page)

    return [
        Route("/incidents", listing, methods=["GET"]),
        Route("/incidents/{id:int}", incident, methods=["GET"]),
        Route("/incidents/{id:int}/fragment", fragment, methods=["GET"]),
    ]
