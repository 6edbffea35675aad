"""The console's routes, composed: each page module's `routes(console)`, then the static files.

To add a page, write a module with `routes(console: Console) -> list[Route]`, list it in PAGES
and, for the header's menu, in NAV (docs/console.md, "Adding a page").
"""

from __future__ import annotations

from pathlib import Path

from starlette.routing import BaseRoute, Mount
from starlette.staticfiles import StaticFiles

from escalatord.console import (
    actions,
    board,
    incident,
    oncall,
    plan,
    reports,
    signin,
    silences,
    status,
)
from escalatord.console.base import Console
from escalatord.console.services import ConsoleServices

STATIC = Path(__file__).parent / "static"
PAGES = (signin, board, status, incident, actions, oncall, silences, plan, reports)
# The header's menu: (label, path, the role that sees it).
NAV = (
    ("Board", "/", "viewer"),
    ("Incidents", "/incidents", "viewer"),
    ("On call", "/oncall", "viewer"),
    ("Silences", "/silences", "viewer"),
    ("Plan", "/plan", "viewer"),
    ("Reports", "/reports", "viewer"),
)


def routes(services: ConsoleServices) -> list[BaseRoute]:
    """Every console route, bound to one Console (one limiter, one board feed)."""
    console = Console(services)
    console.nav.extend(NAV)
    found: list[BaseRoute] = []
    for page in PAGES:
        found.extend(page.routes(console))
    found.append(Mount("/static", StaticFiles(directory=STATIC), name="static"))
    return found
