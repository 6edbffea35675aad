"""Keeping secrets out of the texts escalatord builds: error messages, log lines, timelines.

A receiver that refuses a page often echoes the request in its error body: the request line
(`POST /hook?token=abc HTTP/1.1`), the full URL, its headers, or the query it parsed. So a
secret is masked wherever its VALUE appears in a text, not only where escalatord renders the
URL itself:

    redact = Redactor(["abc123", ...])     # the values never to show
    redact("POST /hook?token=abc123")      # -> "POST /hook?token=***"

Each value is also masked in the forms a receiver may echo it in: percent-encoded (as it went
on the wire) and percent-decoded (as a server parsed it, `+` as a space too). Values shorter
than MIN_SECRET characters are not credible secrets and would garble every message.

Which values are secrets is said where they are configured (`NotifierConfig.secret_values()`):
`SecretStr` fields, fields kept out of reprs (such as webhook headers), the user info and
EVERY query value of a URL (a query is where services put tokens; masking a harmless
`format=json` too is the price of never guessing wrong), and every value that came from
`${ENV}` or a `*_file` key.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import Any
from urllib.parse import parse_qsl, quote, quote_plus, unquote, unquote_plus, urlsplit

from pydantic import BaseModel, SecretStr

MASK = "***"
MIN_SECRET = 4


def forms(secret: str) -> set[str]:
    """`secret` and the forms a receiver may echo it in: percent-encoded or decoded."""
    decoded = {secret, unquote(secret), unquote_plus(secret)}
    encoded = {quote(d, safe="") for d in decoded} | {quote_plus(d, safe="") for d in decoded}
    return decoded | encoded


class Redactor:
    """Masks every given secret, in each of its `forms`, wherever it appears in a text.

    Longer values are masked first, so a secret that contains another is masked whole.
    """

    def __init__(self, secrets: Iterable[str] = (), *, min_length: int = MIN_SECRET):
        every = {f for s in secrets for f in forms(s) if len(f) >= max(1, min_length)}
        self.secrets: tuple[str, ...] = tuple(sorted(every, key=lambda s: (-len(s), s)))
        self._pattern = re.compile("|".join(map(re.escape, self.secrets))) if every else None

    def __call__(self, text: str) -> str:
        if self._pattern is None or not text:
            return text
        return self._pattern.sub(MASK, text)

    def __bool__(self) -> bool:
        return self._pattern is not None


def url_secrets(url: str) -> set[str]:
    """The parts of an http(s)-like `url` that are credentials: its user info (user name and
    password) and every query value. Empty for a text that is not such a URL."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return set()
    if not parts.scheme or not parts.netloc:
        return set()
    found: set[str] = set()
    userinfo, at, _host = parts.netloc.rpartition("@")
    if at:
        found.update(p for p in userinfo.split(":", 1) if p)
    for raw in parts.query.split("&"):
        _key, eq, value = raw.partition("=")
        if eq and value:
            found.add(value)
    # The parsed values too: a value written with escapes is echoed decoded.
    found.update(v for _k, v in parse_qsl(parts.query) if v)
    return found


def model_secrets(model: BaseModel) -> set[str]:
    """The secret values a config model holds (see the module docstring): `SecretStr` fields,
    fields with `repr=False`, and the user info and query values of any URL in its strings."""
    found: set[str] = set()
    for text, hidden in _walk(model):
        if hidden:
            found.add(text)
        elif "://" in text:
            found |= url_secrets(text)
    return found


def model_strings(model: BaseModel) -> Iterator[str]:
    """Every string a config model holds, secret or not, at any depth."""
    return (text for text, _hidden in _walk(model))


def _walk(value: Any, hidden: bool = False) -> Iterator[tuple[str, bool]]:
    """(text, hidden) for every string in `value` at any depth; hidden: a `SecretStr` or
    inside a field declared with `repr=False`."""
    if isinstance(value, str):
        yield value, hidden
    elif isinstance(value, SecretStr):
        yield value.get_secret_value(), True
    elif isinstance(value, dict):
        for item in value.values():
            yield from _walk(item, hidden)
    elif isinstance(value, list | tuple | set | frozenset):
        for item in value:
            yield from _walk(item, hidden)
    elif isinstance(value, BaseModel):
        for name, info in type(value).model_fields.items():
            yield from _walk(getattr(value, name), hidden or not info.repr)
