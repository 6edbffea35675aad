"""The satellite's HTTPS client to the central daemon: fetch its checks, push batches.

TLS is verified against the system's CA store, or `--ca-file` for a private CA. Plain http
is for tests on one machine: to a loopback address it is allowed with a warning, elsewhere
only with `--allow-http` (also with a warning): the token and the checks' secrets would
cross the network readable (docs/satellites.md).
"""

from __future__ import annotations

import ipaddress
import ssl
from typing import Any
from urllib.parse import quote, urlsplit

import httpx
import structlog

log = structlog.get_logger("escalatord.satellite")


class LinkDown(Exception):
    """The central daemon could not be reached or failed (retry later)."""


class Refused(Exception):
    """The central daemon refused the request (wrong token, unknown satellite…): retrying
    the same request will not help until someone mends the config."""


def check_central(url: str, *, allow_http: bool) -> str | None:
    """A problem with `url` as the central daemon's address (None: usable); logs a warning
    for plain http that is allowed."""
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        return (
            f"--central must be an https:// URL, e.g. https://escalatord.example.org, not {url!r}"
        )
    if parts.scheme == "https":
        return None
    if _loopback(parts.hostname):
        log.warning("satellite_plain_http", central=url, hint="loopback only: use https")
        return None
    if not allow_http:
        return (
            f"--central {url} is plain http to another host: the token and the checks' secrets "
            "would cross the network readable; use https:// (a TLS proxy in front of the "
            "central daemon), or --allow-http for a test link"
        )
    log.warning("satellite_plain_http", central=url, hint="--allow-http: use https in production")
    return None


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class Uplink:
    def __init__(
        self,
        central: str,
        name: str,
        token: str,
        *,
        ca_file: str | None = None,
        timeout: float = 10.0,
    ):
        self.name = name
        verify: ssl.SSLContext | bool = True
        if ca_file:
            verify = ssl.create_default_context(cafile=ca_file)
        self.client = httpx.AsyncClient(
            base_url=central.rstrip("/") + f"/api/v1/satellites/{quote(name, safe='')}",
            headers={"Authorization": f"Bearer {token}"},
            timeout=timeout,
            verify=verify,
        )

    async def fetch_checks(self) -> dict[str, Any]:
        """GET …/config: {"satellite", "sites", "checks": [sections]}."""
        return await self._call("GET", "/config")

    async def push(self, results: list[dict[str, Any]]) -> dict[str, Any]:
        """POST …/results: the central daemon's answer for each result."""
        return await self._call("POST", "/results", json={"results": results})

    async def _call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        try:
            reply = await self.client.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            raise LinkDown(text) from None
        if reply.status_code >= 500 or reply.status_code in (408, 429):
            raise LinkDown(f"HTTP {reply.status_code}")
        try:
            data = reply.json()
        except ValueError:
            raise LinkDown(f"HTTP {reply.status_code} with a body that is not JSON") from None
        if reply.status_code >= 400:
            said = data.get("error", "") if isinstance(data, dict) else ""
            raise Refused(f"HTTP {reply.status_code}: {said}")
        if not isinstance(data, dict):
            raise LinkDown("the answer is not a JSON object")
        return data

    async def aclose(self) -> None:
        await self.client.aclose()
