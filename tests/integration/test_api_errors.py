"""Errors from the HTTP API are JSON {"error": "..."} (DESIGN.md), whatever the route."""

from __future__ import annotations

import httpx

from tests.support.app import running_app


async def test_wrong_method_is_a_json_405_with_allow(tmp_path):
    """A method a route does not take (DELETE /healthz, GET on the Alertmanager hook) is a 405
    with a JSON error body and the Allow header listing what the route takes."""
    async with running_app(tmp_path / "escalatord.db", "") as app:
        async with httpx.AsyncClient(base_url=app.base_url, timeout=10) as client:
            replies = [
                await client.delete("/healthz"),
                await client.get("/api/v1/alerts/alertmanager"),
            ]
    for reply in replies:
        assert reply.status_code == 405
        assert reply.headers["content-type"] == "application/json"
        assert reply.json() == {"error": f"method {reply.request.method} not allowed"}
        assert reply.headers["allow"]
