"""The validated, frozen config. `config.loader.load()` builds it; app.py builds everything from it.

Check and notifier sections are validated by their type's own model (see `escalatord.plugins`),
so `Config.checks` holds instances of subclasses of `CheckConfig`.
"""

from __future__ import annotations

import os
import re
from datetime import timedelta
from functools import cached_property
from typing import Annotated, Literal

from pydantic import (
    BeforeValidator,
    Field,
    SecretStr,
    ValidationInfo,
    field_validator,
    model_validator,
)

from escalatord.checks.base import CheckConfig, check_flap_thresholds
from escalatord.config.categories import CategoryConfig
from escalatord.config.people import PersonConfig, ScheduleConfig, TeamConfig
from escalatord.config.quiet import MaintenanceConfig
from escalatord.config.satellites import SatelliteSection
from escalatord.config.web import WebConfig
from escalatord.core.durations import format_duration
from escalatord.fields import TOKEN_MIN, Duration, Percent, Strict, positive_timeout
from escalatord.notify.base import NotifierConfig
from escalatord.traps.config import TrapsConfig

Severity = Literal["critical", "error", "warning", "info"]
ProblemStatus = Literal["warning", "critical", "unknown"]
NAME = r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$"
ACK_SECRET_MIN = 16
MAX_PROBE_WORKERS = 64
# Each connection to the API is a file descriptor, from the same budget as the checks' sockets
# (the systemd unit's LimitNOFILE=65536).
MAX_CONNECTIONS = 10_000
HEADER_TIMEOUT_RANGE = (timedelta(seconds=1), timedelta(minutes=5))
# Shorter would delete the record of an incident while people may still ask about it.
RETENTION_MIN = timedelta(days=1)


class DaemonConfig(Strict):
    database: str = "sqlite:////var/lib/escalatord/escalatord.db"
    listen: str = "127.0.0.1:8425"
    public_url: str | None = None  # base of links in pages; defaults to http://<listen>
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    shutdown_timeout: Duration = timedelta(seconds=10)  # how long SIGTERM waits for checks
    tick: Duration = timedelta(seconds=1)  # how often escalation timers are looked at
    # ICMP sockets (checks/ping/icmp_mode.py): true raw (root or CAP_NET_RAW), false unprivileged
    # (net.ipv4.ping_group_range), "auto" the first of the two this process can open.
    icmp_privileged: bool | Literal["auto"] = "auto"
    # Signs ack links (HMAC-SHA256). Unset: a random key is made once and kept in the database.
    ack_secret: SecretStr | None = None
    ack_ttl: Duration = timedelta(hours=24)  # how long an ack link in a page stays valid
    # Worker processes that run the active checks' probes (monitor/probes.py); 0: in-process.
    probe_workers: int = 0
    # The HTTP API's connections (api/connections.py): a connection that has not sent its
    # request headers within header_timeout is closed; past max_connections open ones, the
    # slowest waiting one makes room for a newcomer, else the newcomer is answered 503.
    header_timeout: Duration = timedelta(seconds=10)
    max_connections: int = 1024
    # How long finished notifications and the history of ended incidents are kept: a nightly
    # job (calendar/retention.py) deletes what is older. Open incidents and pending sends never.
    retention: Duration = timedelta(days=400)

    @field_validator("header_timeout")
    @classmethod
    def _header_timeout(cls, value: timedelta) -> timedelta:
        low, high = HEADER_TIMEOUT_RANGE
        if not low <= value <= high:
            raise ValueError(
                f'header_timeout must be from "{format_duration(low)}" to '
                f'"{format_duration(high)}", e.g. header_timeout = "10s": a real client sends '
                "its request headers at once, even over a slow link"
            )
        return value

    @field_validator("max_connections")
    @classmethod
    def _max_connections(cls, value: int) -> int:
        if not 1 <= value <= MAX_CONNECTIONS:
            raise ValueError(
                f"max_connections must be 1 to {MAX_CONNECTIONS}, got {value}; the default, "
                "1024, is far more than Alertmanager, heartbeats and dashboards need at once"
            )
        return value

    @field_validator("retention")
    @classmethod
    def _retention(cls, value: timedelta) -> timedelta:
        if value < RETENTION_MIN:
            raise ValueError(
                f'retention must be at least "{format_duration(RETENTION_MIN)}", got '
                f'"{format_duration(value)}": it is how long the history of ended incidents and '
                'sent notifications is kept, e.g. retention = "400d" (the default) or "90d"'
            )
        return value

    @field_validator("ack_secret")
    @classmethod
    def _ack_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value().strip()) < ACK_SECRET_MIN:
            raise ValueError(
                f"ack_secret must be at least {ACK_SECRET_MIN} characters; generate one with "
                "`openssl rand -hex 32`, or leave it unset to have one kept in the database"
            )
        return value

    @field_validator("icmp_privileged", mode="before")
    @classmethod
    def _icmp_privileged(cls, value: object) -> object:
        # Exact values only: lax bool parsing would take "no" or "raw" for a boolean.
        if isinstance(value, bool) or value == "auto":
            return value
        raise ValueError(
            f'icmp_privileged must be true, false or "auto" (the default), got {value!r}: '
            '"auto" uses raw sockets where the daemon may open them, else unprivileged ones'
        )

    @field_validator("database")
    @classmethod
    def _database(cls, value: str) -> str:
        # An unencoded '@' in the password would have the rest of it shown as the host name.
        from escalatord.store.urls import database_url_problem

        if problem := database_url_problem(value):
            raise ValueError(f"the database URL {problem}")
        return value

    @field_validator("probe_workers")
    @classmethod
    def _probe_workers(cls, value: int) -> int:
        if not 0 <= value <= MAX_PROBE_WORKERS:
            cores = os.cpu_count() or 1
            raise ValueError(
                f"probe_workers must be 0 (probes run in the daemon's process) to "
                f"{MAX_PROBE_WORKERS}, got {value}; one worker per core is plenty (this "
                f"machine has {cores}: try probe_workers = {cores})"
            )
        return value

    @field_validator("ack_ttl")
    @classmethod
    def _ack_ttl(cls, value: timedelta) -> timedelta:
        if value < timedelta(minutes=1):
            raise ValueError('ack_ttl must be at least "1m" (links must outlive their delivery)')
        return value

    @field_validator("public_url")
    @classmethod
    def _public_url(cls, value: str | None) -> str | None:
        # Ack links are built on it: without a scheme they would not be links at all.
        if value is not None:
            # Imports httpx: only a config that sets public_url pays for it at start.
            from escalatord.notify.http import check_url

            try:
                check_url(value, 'e.g. public_url = "https://escalatord.example.org"')
            except ValueError as exc:
                raise ValueError(f"public_url {exc}") from None
        return value

    @field_validator("listen")
    @classmethod
    def _listen(cls, value: str) -> str:
        host, sep, port = value.rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f'listen must be "host:port", e.g. "127.0.0.1:8425", got {value!r}')
        return value

    @property
    def listen_host(self) -> str:
        return self.listen.rpartition(":")[0].strip("[]")

    @property
    def listen_port(self) -> int:
        return int(self.listen.rpartition(":")[2])

    @property
    def base_url(self) -> str:
        return (self.public_url or f"http://{self.listen}").rstrip("/")


def _token_list(value: object) -> object:
    """A `*_file` key gives one string: one token per line (blank lines and # comments skipped)."""
    if isinstance(value, str):
        lines = (line.strip() for line in value.splitlines())
        return tuple(line for line in lines if line and not line.startswith("#"))
    return value


TokenList = Annotated[tuple[str, ...], BeforeValidator(_token_list)]


class ApiConfig(Strict):
    """Who may use the HTTP API. Tokens are secrets: use ${ENV} or a `*_file` key (one token
    a line). Heartbeats use their check's own `token`, not these."""

    # Bearer tokens (Authorization: Bearer …) that may post alerts: /api/v1/alerts/alertmanager
    # and /api/v1/events/pagerduty. They may also read what read_tokens read.
    write_tokens: TokenList = Field(default=(), repr=False)
    # Bearer tokens that may only read: the listings /api/v1/incidents and /api/v1/checks.
    read_tokens: TokenList = Field(default=(), repr=False)
    # PagerDuty Events API v2 routing keys: an event whose `routing_key` is one of these is
    # accepted by /api/v1/events/pagerduty without a bearer token, as PagerDuty would.
    routing_keys: TokenList = Field(default=(), repr=False)

    @field_validator("write_tokens", "read_tokens", "routing_keys")
    @classmethod
    def _strong(cls, value: tuple[str, ...], info: ValidationInfo) -> tuple[str, ...]:
        # Values are never quoted back: they are secrets. Indexes count from 0 (loader.py).
        for index, token in enumerate(value):
            if len(token.strip()) < TOKEN_MIN:
                raise ValueError(
                    f"{info.field_name}[{index}] is shorter than {TOKEN_MIN} characters; "
                    "make tokens with "
                    "`openssl rand -hex 16`"
                )
        return tuple(t.strip() for t in value)


class Defaults(Strict):
    """Inherited by every [[check]] that does not set the key itself."""

    interval: Duration = timedelta(seconds=60)
    timeout: Duration = timedelta(seconds=10)
    retries: int = Field(default=3, ge=1, le=100)
    retry_interval: Duration = timedelta(seconds=15)
    recover_after: int = Field(default=1, ge=1, le=100)
    # Flap detection (core/flapping.py, CheckConfig): percentages, Icinga 2's defaults.
    flap_detection: bool = True
    flap_low: Percent = 25.0
    flap_high: Percent = 30.0

    @field_validator("timeout")
    @classmethod
    def _timeout(cls, value: timedelta) -> timedelta:
        return positive_timeout(value)

    @model_validator(mode="after")
    def _flap_thresholds(self) -> Defaults:
        check_flap_thresholds(self.flap_low, self.flap_high)
        return self


class RuleConfig(Strict):
    """Matchers on a check's labels (and name, as the label "check") and status.

    `match` values are exact strings or lists of alternatives; `match_re` values are regular
    expressions that must match the whole label value. A rule with no matchers matches all.
    """

    name: str = Field(min_length=1)
    match: dict[str, str | tuple[str, ...]] = Field(default_factory=dict)
    match_re: dict[str, str] = Field(default_factory=dict)
    status: tuple[ProblemStatus, ...] = ("warning", "critical", "unknown")
    severity: Severity | None = None
    policy: str | None = None
    owner: str | None = None
    runbook: str | None = None
    steps: tuple[str, ...] = ()
    category: str | None = None  # a [[category]]'s name: the first matched rule's wins
    continue_: bool = Field(default=False, alias="continue")
    # Storms (core/grouping.py): incidents of this rule with equal values of these labels that
    # open within `group_wait` of the first are paged together. Empty: not grouped.
    group_by: tuple[str, ...] = ()
    group_wait: Duration = timedelta(seconds=30)  # gathers a storm before its first page

    @model_validator(mode="after")
    def _grouping(self) -> RuleConfig:
        if "group_wait" in self.model_fields_set and not self.group_by:
            raise ValueError('group_wait needs group_by, e.g. group_by = ["site"]')
        if self.group_wait < timedelta(0):
            raise ValueError('group_wait must be 0s or longer, e.g. group_wait = "30s"')
        return self

    @property
    def status_given(self) -> bool:
        """Whether the rule names its statuses: without any matcher it is then no default
        route (core/rules.py)."""
        return "status" in self.model_fields_set

    @field_validator("match_re")
    @classmethod
    def _regexes(cls, value: dict[str, str]) -> dict[str, str]:
        for label, pattern in value.items():
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"match_re.{label}: invalid regular expression: {exc}") from None
        return value


class LevelConfig(Strict):
    after: Duration  # since the incident opened
    notify: tuple[str, ...] = Field(min_length=1)


class PolicyConfig(Strict):
    name: str = Field(min_length=1, pattern=NAME)
    repeat: int = Field(default=0, ge=0, le=100)
    repeat_every: Duration | None = None
    levels: tuple[LevelConfig, ...] = Field(alias="level", min_length=1)
    # An incident acknowledged longer ago than this and still open is re-triggered: the
    # ladder starts again from level 0 (incidents/rearm.py).
    ack_timeout: Duration | None = None

    @model_validator(mode="after")
    def _timing(self) -> PolicyConfig:
        if self.ack_timeout is not None and self.ack_timeout <= timedelta(0):
            raise ValueError('ack_timeout must be longer than 0s, e.g. ack_timeout = "30m"')
        afters = [lvl.after for lvl in self.levels]
        if afters != sorted(afters):
            raise ValueError("level: levels must be listed in order of `after`")
        if self.repeat and self.repeat_every is None:
            raise ValueError("repeat_every is required when repeat > 0")
        if self.repeat_every is not None and self.repeat_every <= afters[-1]:
            raise ValueError(
                "repeat_every must be longer than the last level's `after` "
                f"({self.repeat_every} <= {afters[-1]})"
            )
        return self


class Config(SatelliteSection):
    """The whole validated config. `source` is the main file it was loaded from."""

    source: str = ""
    daemon: DaemonConfig = DaemonConfig()
    defaults: Defaults = Defaults()
    checks: tuple[CheckConfig, ...] = ()
    rules: tuple[RuleConfig, ...] = ()
    rule_files: tuple[str, ...] = ()  # the file each of `rules` was read from (for warnings)
    policies: tuple[PolicyConfig, ...] = ()
    notifiers: tuple[NotifierConfig, ...] = ()
    api: ApiConfig = ApiConfig()
    traps: TrapsConfig | None = None  # [traps]: the SNMP trap receiver (traps/config.py)
    web: WebConfig = WebConfig()  # [web]: the web console (config/web.py, docs/console.md)
    # [[person]], [[team]], [[schedule]] (config/people.py). Their names and the notifiers'
    # share one namespace (check-config refuses a name used twice), so `target_kind` is exact.
    persons: tuple[PersonConfig, ...] = Field(default=(), alias="person")
    teams: tuple[TeamConfig, ...] = Field(default=(), alias="team")
    schedules: tuple[ScheduleConfig, ...] = Field(default=(), alias="schedule")
    # [[maintenance]] windows (config/quiet.py): covered checks are quiet while one is in force.
    maintenance: tuple[MaintenanceConfig, ...] = ()
    # [[category]] (config/categories.py): business impact, named by rules' `category`.
    categories: tuple[CategoryConfig, ...] = Field(default=(), alias="category")

    @cached_property
    def check_by_name(self) -> dict[str, CheckConfig]:
        return {c.name: c for c in self.checks}

    @cached_property
    def policy_by_name(self) -> dict[str, PolicyConfig]:
        return {p.name: p for p in self.policies}

    @cached_property
    def notifier_by_name(self) -> dict[str, NotifierConfig]:
        return {n.name: n for n in self.notifiers}

    @cached_property
    def person_by_name(self) -> dict[str, PersonConfig]:
        return {p.name: p for p in self.persons}

    @cached_property
    def team_by_name(self) -> dict[str, TeamConfig]:
        return {t.name: t for t in self.teams}

    @cached_property
    def schedule_by_name(self) -> dict[str, ScheduleConfig]:
        return {s.name: s for s in self.schedules}

    def target_kind(self, name: str) -> Literal["person", "team", "schedule", "notifier"] | None:
        """What a name in a level's `notify` (or `reassign --to`) is, or None if nothing."""
        if name in self.person_by_name:
            return "person"
        if name in self.team_by_name:
            return "team"
        if name in self.schedule_by_name:
            return "schedule"
        return "notifier" if name in self.notifier_by_name else None

    def summary(self) -> str:
        text = (
            f"{len(self.checks)} checks, {len(self.rules)} rules, "
            f"{len(self.policies)} policies, {len(self.notifiers)} notifiers"
        )
        if self.persons or self.teams or self.schedules:  # said only where there are people
            text += (
                f", {len(self.persons)} persons, {len(self.teams)} teams, "
                f"{len(self.schedules)} schedules"
            )
        return text
