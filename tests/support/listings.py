"""An async client for the JSON listings (`GET /api/v1/incidents`, `/api/v1/checks`), and the
`escalatord` command line run against the same config and database (tests/support/app.py
`running_app(..., config_file=...)` starts the App)."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

import httpx

from escalatord.app import App


async def get(app: App, path: str, token: str | None, params: Any = None) -> httpx.Response:
    """GET `path?params` on the App's API with `token` as a bearer token (None: none);
    `params` as httpx takes them (a dict, or a list of pairs to repeat a name)."""
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    base = app.base_url  # type: ignore[attr-defined]
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=10) as client:
        return await client.get(path, params=params)


async def cli_json(config: Path, *args: str) -> Any:
    """`escalatord ARGS --config CONFIG` in a subprocess (without blocking the App's loop);
    its stdout parsed as JSON."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "escalatord", *args, "--config", str(config),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await proc.communicate()
    assert proc.returncode == 0, (out + err).decode()
    return json.loads(out)
