"""The board (GET /): every check by site with its state and since when, open incidents first
by priority, and GET /board/fragment, the same content without the page around it, which the
page's script (static/console.js) fetches every few seconds to replace it: live without
reloading. The data is console/feed.py's shared snapshot: one read per refresh for everyone.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from escalatord.console.base import Console, Visitor


def routes(console: Console) -> list[Route]:
    """The board and its live fragment, for every signed-in role."""
    feed = console.feed
    every = int(feed.refresh.total_seconds())

    @console.require("viewer")
    async def board(request: Request, visitor: Visitor) -> Response:
        snapshot = await feed.snapshot()
        return console.render("board.html.j2", visitor=visitor, board=snapshot, every=every)

    @console.require("viewer", fragment=True)
    async def fragment(request: Request, visitor: Visitor) -> Response:
        snapshot = await feed.snapshot()
        return console.render("board_fragment.html.j2", visitor=visitor, board=snapshot)

    return [
        Route("/", board, methods=["GET"]),
        Route("/board/fragment", fragment, methods=["GET"]),
    ]
