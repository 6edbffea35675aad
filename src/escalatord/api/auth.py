"""Tokens and errors for the HTTP API.

Every error is JSON `{"error": "…"}` with a 4xx code: 401 when no credential was given
(with `WWW-Authenticate: Bearer`), 403 when the credential is wrong or when the endpoint is
off because no token is configured for it. Write endpoints take `[api] write_tokens`; read
endpoints (listings) take `[api] read_tokens` or a write token. Tokens are compared in
constant time and never logged or echoed.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable, Sequence
from typing import Any, Protocol

from starlette.requests import Request
from starlette.responses import JSONResponse

MAX_BODY = 1 << 20  # requests with a larger body are refused (413)


class ReadTokens(Protocol):
    """The `[api]` tokens a read endpoint accepts (the config's `ApiConfig` is one)."""

    @property
    def read_tokens(self) -> tuple[str, ...]: ...

    @property
    def write_tokens(self) -> tuple[str, ...]: ...


class BodyTooLarge(Exception):
    """The request body is larger than the endpoint accepts."""


def error(status: int, message: str, **extra: Any) -> JSONResponse:
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse({"error": message, **extra}, status_code=status, headers=headers)


def bearer(request: Request) -> str | None:
    """The token of an `Authorization: Bearer …` header; None when there is none."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def token_matches(given: str, allowed: Iterable[str]) -> bool:
    """Whether `given` is one of `allowed`, in time that does not depend on where they differ.

    Every allowed token is compared (no early exit), so timing does not tell which one was
    close either.
    """
    found = False
    # A lone surrogate (a JSON "\\ud800") has no UTF-8 form; passed through, it matches nothing.
    given_bytes = given.encode("utf-8", "surrogatepass")
    for token in allowed:
        found |= hmac.compare_digest(given_bytes, token.encode())
    return found


def require_token(
    request: Request, allowed: Sequence[str], what: str, *, setting: str = "write_tokens"
) -> JSONResponse | None:
    """None when the request carries one of `allowed` as a bearer token; else the error.

    With nothing allowed the endpoint is off (403), and the error names the `[api]` key
    `setting` that turns it on.
    """
    if not allowed:
        return error(
            403,
            f"{what} is off: no tokens are configured; set [api] {setting} "
            f"(or {setting}_file) in the config",
        )
    given = bearer(request)
    if given is None:
        return error(401, f"{what} needs a token: send Authorization: Bearer <token>")
    if not token_matches(given, allowed):
        return error(403, "the token is not valid for this endpoint")
    return None


def require_write_token(
    request: Request, allowed: tuple[str, ...], what: str
) -> JSONResponse | None:
    """None when the request carries one of `allowed` (`[api] write_tokens`); else the error."""
    return require_token(request, allowed, what, setting="write_tokens")


def require_read_token(request: Request, api: ReadTokens, what: str) -> JSONResponse | None:
    """None when the request carries a read token, or a write token (whoever may change
    incidents may also list them); else the error, naming `read_tokens` when none are set."""
    return require_token(
        request, (*api.read_tokens, *api.write_tokens), what, setting="read_tokens"
    )


async def read_body(request: Request, limit: int = MAX_BODY) -> bytes:
    """The request body; BodyTooLarge beyond `limit` bytes (read no further than that)."""
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > limit:
        raise BodyTooLarge
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge
        chunks.append(chunk)
    return b"".join(chunks)
