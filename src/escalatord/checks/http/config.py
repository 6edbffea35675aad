"""The keys of the `http` check (http.py has the check itself and an example config)."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
from pydantic import Field, field_validator, model_validator

from escalatord.checks.base import CheckConfig
from escalatord.checks.http import client as http_client
from escalatord.checks.http.json_assert import JsonAssertion
from escalatord.fields import Duration, check_headers

_METHOD = re.compile(r"^[A-Z]+$")
# httpx frames the body itself; a configured value would contradict it.
RESERVED_HEADERS = frozenset({"content-length", "transfer-encoding"})


class HttpConfig(CheckConfig):
    url: str
    method: str = "GET"
    # repr=False: header values are often credentials (Authorization, API keys).
    headers: dict[str, str] = Field(default_factory=dict, repr=False)
    body: str | None = None
    expect_status: tuple[int, ...] | None = Field(default=None, min_length=1)
    body_contains: str | None = Field(default=None, min_length=1)
    body_regex: str | None = Field(default=None, min_length=1)
    max_latency: Duration | None = None
    expect_json: tuple[JsonAssertion, ...] = ()
    cert_min_days: int | tuple[int, int] | None = None
    verify_tls: bool = True
    ca_file: str | None = None
    follow_redirects: bool = False

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        example = 'e.g. "https://example.org/health"'
        try:
            url = http_client.parse_url(value)
        except httpx.InvalidURL:
            # The URL is not quoted back: it may carry credentials.
            raise ValueError(f"url is not a valid URL; write it like {example}") from None
        if url.scheme not in ("http", "https") or not url.host:
            raise ValueError(f"url must be an http:// or https:// URL with a host, {example}")
        if url.port is not None and not 0 < url.port < 65536:
            raise ValueError(f"url has port {url.port}: a port is 1..65535, {example}")
        return value

    @field_validator("headers")
    @classmethod
    def _headers(cls, value: dict[str, str]) -> dict[str, str]:
        return check_headers(value, RESERVED_HEADERS)

    @field_validator("method")
    @classmethod
    def _method(cls, value: str) -> str:
        value = value.strip().upper()
        if not _METHOD.match(value):
            raise ValueError('method must be an HTTP method such as "GET" or "POST"')
        return value

    @field_validator("expect_status")
    @classmethod
    def _statuses(cls, value: tuple[int, ...] | None) -> tuple[int, ...] | None:
        for code in value or ():
            if not 100 <= code <= 599:
                raise ValueError(f"expect_status: {code} is not an HTTP status (100..599)")
        return value

    @field_validator("body_regex")
    @classmethod
    def _regex(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"not a valid regular expression: {exc}") from None
        return value

    @field_validator("ca_file")
    @classmethod
    def _ca_file(cls, value: str | None) -> str | None:
        if value is not None and not Path(value).is_file():
            raise ValueError("ca_file does not exist or is not a file: give a PEM file of CAs")
        return value

    @model_validator(mode="after")
    def _tls(self) -> HttpConfig:
        if self.ca_file is not None and not self.verify_tls:
            raise ValueError("ca_file is set but verify_tls = false: remove one of them")
        if self.cert_min_days is not None:
            if httpx.URL(self.url).scheme != "https":
                raise ValueError("cert_min_days needs an https:// url")
            warning, critical = self.cert_days
            if critical < 0 or warning < critical:
                raise ValueError(
                    "cert_min_days is days or [warning days, critical days], e.g. [30, 7], "
                    "with warning >= critical >= 0"
                )
        return self

    @property
    def cert_days(self) -> tuple[int, int]:
        """(warning, critical) days; a single number only warns (expired is critical)."""
        value = self.cert_min_days
        if value is None:
            return (0, 0)
        return (value, 0) if isinstance(value, int) else value
