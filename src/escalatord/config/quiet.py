"""`[[maintenance]]`: windows in which the checks they cover are quiet (core/quiet.py).

    [[maintenance]]
    name = "boston-patch-night"
    match = { site = "boston" }     # label matchers as rules have, and/or match_re, checks
    schedule = "0 22 * * sat"       # recurring start (cron in `timezone`) and its length …
    duration = "4h"
    timezone = "America/New_York"   # … or a one-off from = "2026-12-24 18:00", until = "…"
    children = true                 # dependants of covered checks are in maintenance too

The model checks what one window can see alone; `check_maintenance` checks what spans items
(names used twice, `checks` that are no check). `window()` hands core/quiet.py a pure Window.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta

from pydantic import Field, field_validator, model_validator

from escalatord.config.items import Item
from escalatord.config.people import NAME, LocalTime, zone
from escalatord.core.quiet import Cover, Window
from escalatord.core.timewindows import local_instant
from escalatord.fields import Duration, Strict, cron_schedule

_WHEN = (
    'say when: a one-off from = "2026-12-24 18:00" and until = "2026-12-25 02:00", or a '
    'recurring schedule = "0 22 * * sat" (cron) and duration = "4h"'
)


class MaintenanceConfig(Strict):
    """One `[[maintenance]]` window (module docstring)."""

    name: str = Field(min_length=1, pattern=NAME)
    match: dict[str, str | tuple[str, ...]] = Field(default_factory=dict)
    match_re: dict[str, str] = Field(default_factory=dict)
    checks: tuple[str, ...] = ()
    from_: LocalTime | None = Field(default=None, alias="from")
    until: LocalTime | None = None
    schedule: str | None = None
    duration: Duration | None = None
    timezone: str = "UTC"
    children: bool = False

    @field_validator("match_re")
    @classmethod
    def _regexes(cls, value: dict[str, str]) -> dict[str, str]:
        for label, pattern in value.items():
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"match_re.{label}: invalid regular expression: {exc}") from None
        return value

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        zone(value)
        return value

    @field_validator("schedule")
    @classmethod
    def _schedule(cls, value: str | None) -> str | None:
        return cron_schedule(value, '"0 22 * * sat" for Saturdays at 22:00')

    @field_validator("children", mode="before")
    @classmethod
    def _children(cls, value: object) -> object:
        if isinstance(value, bool):
            return value
        raise ValueError(
            f"children must be true or false (the default), got {value!r}: with true, the "
            "checks that depend on a covered check are in maintenance too"
        )

    @model_validator(mode="after")
    def _shape(self) -> MaintenanceConfig:
        if not (self.match or self.match_re or self.checks):
            raise ValueError(
                'say which checks the window covers: match = { site = "boston" }, match_re '
                'or checks = ["router-a"] (for every check: match_re = { check = ".*" })'
            )
        one_off = self.from_ is not None or self.until is not None
        recurring = self.schedule is not None or self.duration is not None
        if one_off and recurring:
            raise ValueError(
                "a window is either one-off (from, until) or recurring (schedule, duration), "
                "not both"
            )
        if one_off:
            if self.from_ is None or self.until is None:
                raise ValueError(f"a one-off window needs both from and until; {_WHEN}")
            if self.until <= self.from_:
                raise ValueError("until must be later than from: the window runs from `from`")
        elif recurring:
            if self.schedule is None or self.duration is None:
                raise ValueError(f"a recurring window needs both schedule and duration; {_WHEN}")
            if self.duration <= timedelta(0):
                raise ValueError('duration must be longer than 0s, e.g. duration = "4h"')
        else:
            raise ValueError(_WHEN)
        return self

    def window(self) -> Window:
        """The pure form core/quiet.py reads; one-off local times become instants here."""
        tz = zone(self.timezone)
        cover = Cover(dict(self.match), dict(self.match_re), self.checks)
        if self.from_ is not None and self.until is not None:
            start, end = local_instant(self.from_, tz), local_instant(self.until, tz)
            return Window(self.name, cover, tz, start=start, end=end, children=self.children)
        assert self.duration is not None
        return Window(
            self.name,
            cover,
            tz,
            schedule=self.schedule,
            duration=self.duration,
            children=self.children,
        )


def check_maintenance(items: list[Item], at: Callable[[Item, str, str], None]) -> None:
    """`checks` entries that name no [[check]] (a name used twice is items.py's to report)."""
    checks = {item.name for item in items if item.kind == "check" and item.name}
    for item in items:
        if item.kind != "maintenance":
            continue
        for name in item.list("checks"):
            if isinstance(name, str) and name not in checks:
                at(
                    item,
                    "checks",
                    f"unknown check {name!r}: list [[check]] names, or cover checks by "
                    "their labels with match",
                )
