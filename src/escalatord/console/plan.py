"""GET /plan: the escalation plan, the same content as `escalatord plan` (plan/data.py
assembles it, plan/render.py renders the html page's body), inside the console's page.

As the command, it counts the overrides stored with `escalatord oncall override` over the
weeks shown; `?weeks=N` (1 to 52, default 2) is the command's `--weeks`.
"""

from __future__ import annotations

from datetime import timedelta

from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from escalatord.console.base import Console, Visitor
from escalatord.people.overrides import in_force
from escalatord.plan.data import assemble
from escalatord.plan.render import html_body

MAX_WEEKS = 52


def routes(console: Console) -> list[Route]:
    """/plan for every signed-in role."""
    services = console.services

    @console.require("viewer")
    async def plan(request: Request, visitor: Visitor) -> Response:
        text = request.query_params.get("weeks", "2").strip()
        if not text.isdigit() or not 1 <= int(text) <= MAX_WEEKS:
            return console.refuse(
                400, f"weeks: {text!r} is not a number of weeks from 1 to {MAX_WEEKS}, e.g. "
                "?weeks=4", visitor,
            )  # fmt: skip
        weeks = int(text)
        config = services.config()
        start = services.now().replace(second=0, microsecond=0)
        names = [s.name for s in config.schedules]
        overrides = {}
        if names:
            async with services.listings.store.read() as conn:
                overrides = await in_force(conn, names, start, start + timedelta(weeks=weeks))
        # The config is the running one (config/model.py Config), whatever Protocol types it.
        body = html_body(assemble(config, start, weeks, overrides))  # type: ignore[arg-type]
        # plan/render.py autoescapes every value of the plan: the body is safe HTML.
        html = Markup(body)
        return console.render("plan.html.j2", visitor=visitor, plan_html=html, weeks=weeks)

    return [Route("/plan", plan, methods=["GET"])]
