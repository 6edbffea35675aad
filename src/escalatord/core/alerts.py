"""Alerts from other tools (Alertmanager, PagerDuty events) as the engine takes them. Pure."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from escalatord.core.status import Status


@dataclass(frozen=True)
class ExternalAlert:
    """One alert from another tool, ready to be matched and applied.

    `key` deduplicates (one open incident per key); `name` is what rules see as the label
    "check"; `status` is the problem status rules match while the alert fires.
    """

    key: str
    name: str
    action: Literal["trigger", "acknowledge", "resolve"]
    source: str  # "alertmanager", "pagerduty": the actor of acknowledgements and resolutions
    status: Status = Status.CRITICAL
    title: str = ""
    summary: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    runbook: str = ""


@dataclass(frozen=True)
class AlertOutcome:
    """What became of one alert: opened, updated, resolved, acknowledged, no_rule (no rule
    matched: nothing opened), or not_open (nothing open to resolve or acknowledge)."""

    key: str
    outcome: str
    incident: int | None = None
