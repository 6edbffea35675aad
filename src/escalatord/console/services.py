"""What the console is handed by app.py: the API listings' read paths, the running config as
the Protocols below see it, and the key that signs sessions.

The console never imports the config or the App (it sits on the features floor, docs/design.md
"Layout"): `ConsoleConfig` says which parts of the config it reads (the API reads `[api]` the
same way, through `ReadTokens`), and app.py hands it `lambda: self.config`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from escalatord.api.listings import ListingServices
from escalatord.core.rules import Rule, match
from escalatord.core.status import Status
from escalatord.incidents.ladder import Resolver

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncConnection


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


class DaemonSettings(Protocol):
    """`[daemon]` as the console reads it."""

    @property
    def public_url(self) -> str | None: ...


class Category(Protocol):
    """A `[[category]]` (config/categories.py `CategoryConfig`)."""

    @property
    def name(self) -> str: ...

    @property
    def priority(self) -> int: ...


class Check(Protocol):
    """A configured check's name and labels (checks/base.py `CheckConfig`)."""

    @property
    def name(self) -> str: ...

    @property
    def enabled(self) -> bool: ...

    @property
    def labels(self) -> Mapping[str, str]: ...


class ConsoleConfig(Protocol):
    """The parts of the config (config/model.py `Config`) the console reads."""

    @property
    def web(self) -> WebSettings: ...

    @property
    def daemon(self) -> DaemonSettings: ...

    @property
    def person_by_name(self) -> Mapping[str, Person]: ...

    @property
    def categories(self) -> Sequence[Category]: ...

    @property
    def rules(self) -> Sequence[Rule]: ...

    @property
    def checks(self) -> Sequence[Check]: ...

    # /oncall, /plan and /reports: the rotas (config/people.py ScheduleConfig: name, timezone,
    # zone, layers, rota()) and the persons (PersonConfig: name, timezone for working hours).
    @property
    def schedules(self) -> Sequence[Any]: ...

    @property
    def persons(self) -> Sequence[Any]: ...

    # The names an incident may be reassigned to (as `escalatord reassign --to`).
    @property
    def team_by_name(self) -> Mapping[str, Any]: ...

    @property
    def schedule_by_name(self) -> Mapping[str, Any]: ...

    @property
    def notifier_by_name(self) -> Mapping[str, Any]: ...

    def target_kind(self, name: str) -> str | None: ...


class Writer(Protocol):
    """The store's one writer (store/db.py `Store.write`): a transaction, committed on exit."""

    def write(self) -> AbstractAsyncContextManager[AsyncConnection]: ...


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class ConsoleServices:
    """Everything the console uses, handed over by app.py. `config` is called on every
    request, so a reloaded config (persons, roles, [web], categories) applies at once."""

    listings: ListingServices  # the read paths the API's listings use (store, states, quiet)
    config: Callable[[], ConsoleConfig]  # the running config (App.config)
    stored_key: Callable[[], Awaitable[bytes]]  # the generated session key (ack_keys)
    now: Callable[[], datetime] = field(default=_utcnow)  # tests pass their own clock
    # Acting on incidents (console/actions.py): the store's writer, the dispatcher's wake (so
    # the notices an action enqueues go out at once) and the engine's resolver (reassign).
    writer: Writer | None = None
    wake: Callable[[], None] = field(default=lambda: None)
    resolver: Resolver | None = None
    # (config, its check categories): worked out again only when a reload replaced the config.
    _categories: list[tuple[ConsoleConfig, dict[str, str]]] = field(
        default_factory=list, repr=False, compare=False
    )

    def settings(self) -> WebSettings:
        """`[web]`."""
        return self.config().web

    def public_url(self) -> str | None:
        """`[daemon] public_url` (cookies are Secure when it is https, config/web.py)."""
        return self.config().daemon.public_url

    def person(self, name: str) -> Person | None:
        """The configured [[person]] `name`, or None."""
        return self.config().person_by_name.get(name)

    def categories(self) -> dict[str, int]:
        """[[category]] name -> priority (1 = most urgent): orders incidents on the board."""
        return {c.name: c.priority for c in self.config().categories}

    def check_categories(self) -> Mapping[str, str]:
        """Each enabled check's category: that of the rules that would page for it when
        critical (as `escalatord plan` files it). For /status."""
        config = self.config()
        if not self._categories or self._categories[0][0] is not config:
            found = {
                check.name: decision.category
                for check in config.checks
                if check.enabled
                and (decision := match(config.rules, check.labels, check.name, Status.CRITICAL))
                and decision.category
            }
            self._categories[:] = [(config, found)]
        return self._categories[0][1]
