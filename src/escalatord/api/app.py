"""The HTTP API served inside the daemon's loop. Later work adds routes here."""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from escalatord import __version__

if TYPE_CHECKING:
    from escalatord.app import App


def build(app: App) -> Starlette:
    """A Starlette application bound to a running App."""

    async def healthz(_request: Request) -> JSONResponse:
        store_ok = await app.store.healthy()
        scheduler_ok = app.monitor.scheduler.running
        body = {
            "status": "ok" if store_ok and scheduler_ok else "unhealthy",
            "store": store_ok,
            "scheduler": scheduler_ok,
            "version": __version__,
            "checks": len(app.monitor.checks),
        }
        return JSONResponse(body, status_code=200 if store_ok and scheduler_ok else 503)

    async def not_found(_request: Request, _exc: Exception) -> JSONResponse:
        return JSONResponse({"error": "not found"}, status_code=404)

    return Starlette(routes=[Route("/healthz", healthz)], exception_handlers={404: not_found})
