"""Each person's zone for working hours, as `escalatord report` and the console's /reports
count pages "out of hours" (core/report.py `out_of_hours`)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import tzinfo
from typing import Protocol
from zoneinfo import ZoneInfo


class _Layer(Protocol):
    @property
    def members(self) -> Sequence[str]: ...


class _Schedule(Protocol):
    @property
    def zone(self) -> tzinfo: ...

    @property
    def layers(self) -> Sequence[_Layer]: ...


class _Person(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def timezone(self) -> str | None: ...


class People(Protocol):
    """The parts of the config read (config/model.py `Config`)."""

    @property
    def schedules(self) -> Iterable[_Schedule]: ...

    @property
    def persons(self) -> Iterable[_Person]: ...


def zones(config: People) -> dict[str, tzinfo]:
    """Each configured person's zone for working hours: their own `timezone`, else that of the
    first [[schedule]] (in config order) with them in a layer, else UTC (the default)."""
    found: dict[str, tzinfo] = {}
    for schedule in config.schedules:
        for layer in schedule.layers:
            for name in layer.members:
                found.setdefault(name, schedule.zone)
    for person in config.persons:
        if person.timezone:  # checked to be an IANA zone when the config was read
            found[person.name] = ZoneInfo(person.timezone)
    return found
