"""The resolver that fire_due_steps and nobody_reached are handed (incidents/outbox.py
`Resolver`): a level's names resolved from the CURRENT config and the stored rota overrides at
the instant the level fires (core/recipients.py does the resolving; this reads its inputs)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from escalatord.core.oncall import Schedule
from escalatord.core.recipients import (
    Contact,
    Kind,
    PersonEntry,
    Recipients,
    resolve,
    schedules_named,
)
from escalatord.people.overrides import in_force

if TYPE_CHECKING:
    from escalatord.config.model import Config  # handed in by the engine

# The stored overrides read are those in force in [at, at + this): the instant itself.
_INSTANT = timedelta(microseconds=1)


class ConfigDirectory:
    """core/recipients.py's Directory over one Config (persons, teams, schedules, notifiers)."""

    def __init__(self, config: Config):
        self.config = config
        self._rotas: dict[str, Schedule] = {}

    def kind(self, name: str) -> Kind | None:
        return self.config.target_kind(name)

    def person(self, name: str) -> PersonEntry | None:
        person = self.config.person_by_name.get(name)
        if person is None:
            return None
        contacts = tuple(Contact(c.notifier, c.to, c.after) for c in person.contacts)
        return PersonEntry(person.name, person.full_name, contacts)

    def members(self, team: str) -> Sequence[str]:
        found = self.config.team_by_name.get(team)
        return found.members if found is not None else ()

    def schedule(self, name: str) -> Schedule | None:
        if name not in self._rotas:
            found = self.config.schedule_by_name.get(name)
            if found is None:
                return None
            self._rotas[name] = found.rota()
        return self._rotas[name]


class ConfigResolver:
    """Resolves a level's names with the config `current()` returns at the time of the call
    (a reload takes effect at the next level that fires) and the overrides stored then."""

    def __init__(self, current: Callable[[], Config]):
        self.current = current
        self._directory: ConfigDirectory | None = None

    def directory(self) -> ConfigDirectory:
        config = self.current()
        if self._directory is None or self._directory.config is not config:
            self._directory = ConfigDirectory(config)
        return self._directory

    async def __call__(self, conn: Any, names: Sequence[str], at: datetime) -> Recipients:
        directory = self.directory()
        schedules = schedules_named(names, directory)
        overrides = await in_force(conn, schedules, at, at + _INSTANT) if schedules else {}
        return resolve(names, directory, at, overrides)
