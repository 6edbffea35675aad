"""The people sections: `[[person]]` with its contacts, `[[team]]` and `[[schedule]]`.

Each model checks what it can see alone (a time zone that exists, windows and local times that
parse, a rotation and an override that make sense); what spans sections (names, members,
contacts' notifiers) is checked by config/people_checks.py. Local times and restrict windows
are parsed by core/timewindows.py, the parser on-call resolution reads them with, and
`ScheduleConfig.rota()` hands core/oncall.py a pure `Schedule`.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import cache
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BeforeValidator, Field, field_validator, model_validator

from escalatord.config.web import ROLES, Role, check_password_hash
from escalatord.core.durations import format_duration
from escalatord.core.oncall import Layer, Override, Schedule
from escalatord.core.timewindows import local_instant, parse_local_time, parse_window
from escalatord.fields import Duration, Strict

NAME = r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$"
MIN_ROTATION = timedelta(hours=1)

LocalTime = Annotated[datetime, BeforeValidator(parse_local_time)]


@cache
def zone(key: str) -> ZoneInfo:
    """The IANA time zone `key`; ValueError naming the fix when there is no such zone."""
    try:
        return ZoneInfo(key)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown time zone {key!r}: write an IANA zone name such as "
            '"Europe/Paris", "America/New_York" or "UTC"'
        ) from None


def _zone_name(value: str) -> str:
    zone(value)
    return value


def _windows(value: tuple[str, ...]) -> tuple[str, ...]:
    for text in value:
        parse_window(text)
    return value


def _members(value: tuple[str, ...], what: str) -> tuple[str, ...]:
    if not value:
        raise ValueError(f'{what} lists nobody: name at least one [[person]], e.g. ["alice"]')
    return value


class ContactConfig(Strict):
    """One way to reach a person: a [[notifier]] whose type can address one person, the
    person's address for it, and when to try it (since the person was paged)."""

    notifier: str = Field(min_length=1, pattern=NAME)
    # Required: check-config says so with what the notifier's type expects (people_checks.py).
    to: str = ""
    after: Duration = timedelta(0)


class PersonConfig(Strict):
    """[[person]]: the name schedules, teams, levels and `--as` use; contacts tried in order."""

    name: str = Field(min_length=1, pattern=NAME)
    full_name: str | None = None
    timezone: str | None = None  # where the person lives; shown with their handoff times
    contacts: tuple[ContactConfig, ...] = Field(default=(), alias="contact")
    # Signing in to the web console (config/web.py): without a hash the person cannot.
    password_hash: str | None = Field(default=None, repr=False)
    role: Role = "viewer"

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str | None) -> str | None:
        return value if value is None else _zone_name(value)

    _password_hash = field_validator("password_hash")(check_password_hash)

    @field_validator("role", mode="before")
    @classmethod
    def _role(cls, value: object) -> object:
        if value in ROLES:
            return value
        raise ValueError(
            f"role must be one of {', '.join(ROLES)} (the default: viewer), got {value!r}: "
            "a viewer reads, a responder also acts on incidents and silences, an admin may do "
            "everything"
        )

    @field_validator("contacts")
    @classmethod
    def _in_order(cls, value: tuple[ContactConfig, ...]) -> tuple[ContactConfig, ...]:
        afters = [c.after for c in value]
        if afters != sorted(afters):
            raise ValueError(
                "contacts are tried in the order listed: list them in order of `after`"
            )
        return value

    @property
    def display_name(self) -> str:
        return self.full_name or self.name


class TeamConfig(Strict):
    """[[team]]: a level naming the team pages every member."""

    name: str = Field(min_length=1, pattern=NAME)
    members: tuple[str, ...]

    @field_validator("members")
    @classmethod
    def _members(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return _members(value, "members")


class LayerConfig(Strict):
    """A rotation; core/oncall.py says how turns count across DST."""

    members: tuple[str, ...]
    start: LocalTime
    rotation: Duration
    restrict: tuple[str, ...] = ()

    @field_validator("members")
    @classmethod
    def _members(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return _members(value, "members")

    @field_validator("rotation")
    @classmethod
    def _rotation(cls, value: timedelta) -> timedelta:
        if value < MIN_ROTATION:
            raise ValueError(
                f'rotation is the length of one turn and must be at least "1h", got '
                f'"{format_duration(value)}"; e.g. rotation = "1w", "1d" or "12h"'
            )
        return value

    @field_validator("restrict")
    @classmethod
    def _restrict(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return _windows(value)

    def layer(self) -> Layer:
        windows = tuple(parse_window(text) for text in self.restrict)
        return Layer(self.members, self.start, self.rotation, windows)


class OverrideConfig(Strict):
    """[[schedule.override]]: `person` is on call from `from` until `until`, local times in the
    schedule's zone, above every layer."""

    person: str = Field(min_length=1)
    from_: LocalTime = Field(alias="from")
    until: LocalTime

    @model_validator(mode="after")
    def _order(self) -> OverrideConfig:
        if self.until <= self.from_:
            raise ValueError(
                "until must be later than from: the override runs from `from` until `until`"
            )
        return self


class ScheduleConfig(Strict):
    """[[schedule]]: layers (a later one wins where it has someone) and overrides, all in
    `timezone`; `rota()` is what core/oncall.py resolves."""

    name: str = Field(min_length=1, pattern=NAME)
    timezone: str
    layers: tuple[LayerConfig, ...] = Field(default=(), alias="layer")
    overrides: tuple[OverrideConfig, ...] = Field(default=(), alias="override")
    # At each handoff the incoming person gets one message on their first contact: "you are on
    # call for <name> until Mon 09:00" (calendar/handoffs.py).
    handoff_notice: bool = False

    @field_validator("handoff_notice", mode="before")
    @classmethod
    def _handoff_notice(cls, value: object) -> object:
        # Exact values only: lax bool parsing would take "yes" or 1 for a boolean.
        if isinstance(value, bool):
            return value
        raise ValueError(
            f"handoff_notice must be true or false (the default), got {value!r}: with true, "
            "whoever comes on call is told so on their first contact"
        )

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        return _zone_name(value)

    @model_validator(mode="after")
    def _has_layers(self) -> ScheduleConfig:
        if not self.layers:
            raise ValueError(
                "layer: a schedule needs at least one [[schedule.layer]] "
                '(members, start, rotation), e.g. members = ["alice", "bob"], '
                'start = "2026-01-05 09:00", rotation = "1w"'
            )
        return self

    @property
    def zone(self) -> ZoneInfo:
        return zone(self.timezone)

    def rota(self) -> Schedule:
        """The pure form core/oncall.py resolves; config overrides become instants here."""
        tz = self.zone
        overrides = tuple(
            Override(o.person, local_instant(o.from_, tz), local_instant(o.until, tz))
            for o in self.overrides
        )
        return Schedule(self.name, tz, tuple(layer.layer() for layer in self.layers), overrides)
