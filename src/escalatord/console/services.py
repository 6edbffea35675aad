"""What the console is handed by app.py: narrow views of the config and the daemon's parts.

The console never imports the config or the App (it sits on the features floor, docs/design.md
"Layout"): `ConsoleServices` says what it uses, and app.py builds it from the running daemon.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from escalatord.api.listings import ListingServices


class Person(Protocol):
    """A configured [[person]] as the console sees it (config/people.py `PersonConfig`)."""

    @property
    def name(self) -> str: ...

    @property
    def display_name(self) -> str: ...

    @property
    def password_hash(self) -> str | None: ...

    @property
    def role(self) -> str: ...


class WebSettings(Protocol):
    """`[web]` (config/web.py `WebConfig`)."""

    @property
    def public_status(self) -> bool: ...

    @property
    def session_ttl(self) -> timedelta: ...

    @property
    def title(self) -> str: ...

    @property
    def secret(self) -> Any: ...  # SecretStr | None

    def secure(self, public_url: str | None) -> bool: ...


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class ConsoleServices:
    """Everything the console uses, handed over by app.py. Callables are called on every
    request, so a reloaded config (persons, roles, [web], categories) applies at once."""

    listings: ListingServices  # the read paths the API's listings use (store, states, quiet)
    settings: Callable[[], WebSettings]  # [web]
    public_url: Callable[[], str | None]  # [daemon] public_url (Secure cookies when https)
    person: Callable[[str], Person | None]  # a configured [[person]] by name
    # [[category]] name -> priority (1 = most urgent): orders incidents on the board.
    categories: Callable[[], Mapping[str, int]]
    # Each check's category: the `category` of the rule that would page for it (for /status).
    check_categories: Callable[[], Mapping[str, str]]
    stored_key: Callable[[], Awaitable[bytes]]  # the generated session key (ack_keys)
    now: Callable[[], datetime] = field(default=_utcnow)  # tests pass their own clock
