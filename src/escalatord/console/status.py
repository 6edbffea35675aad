"""GET /status: the public status page, when `[web] public_status = true` (404 otherwise).

Per site (a check's `labels.site`) and per category (the `category` of the rule that pages for
a check), one word: up, degraded, down or in maintenance. Nothing else leaves: no check names
(they often hold host names), no summaries, URLs, hosts, runbooks, owners, persons or
incidents. Site and category names are shown; checks with neither are in no line.

A group's word, from its enabled checks' hard states and the quiet times now:
- in maintenance: some check is in a maintenance window or silence, and every other is ok;
- down: every check not in maintenance is critical or unreachable;
- degraded: some check not in maintenance is not ok (but not all down);
- up: every check is ok and none is in maintenance.
It reads the board's shared snapshot path (one read per REFRESH for every visitor), so the
public page cannot be used to load the database.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from escalatord.console.base import Console
from escalatord.console.feed import NO_SITE

UP, DEGRADED, DOWN, MAINTENANCE = "up", "degraded", "down", "in maintenance"
_DOWN = frozenset({"critical", "unreachable"})


@dataclass(frozen=True)
class Line:
    name: str
    state: str


def state_of(checks: Iterable[tuple[str, bool]]) -> str:
    """The word for a group of (hard status, quiet now) pairs."""
    loud = []
    quiet = False
    for status, is_quiet in checks:
        if is_quiet:
            quiet = True
        else:
            loud.append(status)
    if loud and all(s in _DOWN for s in loud):
        return DOWN
    if any(s != "ok" for s in loud):
        return DEGRADED
    return MAINTENANCE if quiet else UP


def summary(
    checks: Iterable[tuple[str, str | None, str, bool]],
    categories: Mapping[str, str],
) -> tuple[list[Line], list[Line]]:
    """(sites, categories), each line sorted by name, from (check, site, hard status, quiet)."""
    by_site: dict[str, list[tuple[str, bool]]] = {}
    by_category: dict[str, list[tuple[str, bool]]] = {}
    for name, site, status, quiet in checks:
        if site:
            by_site.setdefault(site, []).append((status, quiet))
        if category := categories.get(name):
            by_category.setdefault(category, []).append((status, quiet))

    def lines(groups: Mapping[str, Sequence[tuple[str, bool]]]) -> list[Line]:
        return [Line(name, state_of(groups[name])) for name in sorted(groups)]

    return lines(by_site), lines(by_category)


def routes(console: Console) -> list[Route]:
    """/status: public, read-only, no session needed (and none is set)."""

    async def status(request: Request) -> Response:
        if not console.services.settings().public_status:
            return console.refuse(404, "There is no public status page here.")
        board = await console.feed.snapshot()
        rows = (
            (row.name, None if site.name == NO_SITE else site.name, row.status,
             row.quiet is not None)
            for site in board.sites
            for row in site.checks
        )  # fmt: skip
        sites, categories = summary(rows, console.services.check_categories())
        at: datetime = board.at
        return console.render("status.html.j2", sites=sites, categories=categories, at=at)

    return [Route("/status", status, methods=["GET"])]
