"""Registries of check and notifier types: built-ins plus entry points.

Each registry maps a type name to "module:Class". Classes are imported on first use, so a
daemon that uses only `ping` never imports httpx. Third-party packages add types through the
entry-point groups `escalatord.checks` and `escalatord.notifiers`; a built-in name wins.
"""

from __future__ import annotations

import importlib
from functools import cache
from typing import Any

BUILTIN_CHECKS: dict[str, str] = {
    "http": "escalatord.checks.http.check:HttpCheck",
    "tcp": "escalatord.checks.tcp:TcpCheck",
    "ping": "escalatord.checks.ping.check:PingCheck",
    "heartbeat": "escalatord.heartbeats.check:HeartbeatCheck",
    "command": "escalatord.checks.command.check:CommandCheck",
    "dns": "escalatord.checks.dns:DnsCheck",
    "file_age": "escalatord.checks.file_age:FileAgeCheck",
    "snmp": "escalatord.checks.snmp.get:SnmpCheck",
    "snmp_interface": "escalatord.checks.snmp.interface:SnmpInterfaceCheck",
    "snmp_trap": "escalatord.traps.check:SnmpTrapCheck",
    # Made by [[satellite]] (config/satellites.py), never written as a [[check]].
    "satellite_link": "escalatord.satellite.link:SatelliteLink",
    "satellite_relayed": "escalatord.satellite.link:RelayedCheck",
}

BUILTIN_NOTIFIERS: dict[str, str] = {
    "webhook": "escalatord.notify.webhook:WebhookNotifier",
    "log": "escalatord.notify.log:LogNotifier",
    "email": "escalatord.notify.email:EmailNotifier",
    "slack": "escalatord.notify.slack:SlackNotifier",
    "teams": "escalatord.notify.teams:TeamsNotifier",
    "pagerduty": "escalatord.notify.pagerduty:PagerDutyNotifier",
    "ntfy": "escalatord.notify.ntfy:NtfyNotifier",
    "twilio_sms": "escalatord.notify.twilio_sms:TwilioSmsNotifier",
    "apprise": "escalatord.notify.apprise:AppriseNotifier",
    "exec": "escalatord.notify.exec:ExecNotifier",
}

GROUPS = {"checks": "escalatord.checks", "notifiers": "escalatord.notifiers"}


@cache
def _entry_points(kind: str) -> dict[str, str]:
    # Imported and scanned only when a type is not built in: importlib.metadata's scan is a
    # visible share of a daemon's start (bench/RESULTS.md, "Issue 6: start-up under 2 s").
    from importlib.metadata import entry_points

    found: dict[str, str] = {}
    for ep in entry_points(group=GROUPS[kind]):
        found.setdefault(ep.name, ep.value)
    return found


def available(kind: str) -> dict[str, str]:
    """Every known type of `kind` ("checks" or "notifiers") and where it lives."""
    return {**_entry_points(kind), **_builtin(kind)}


def _builtin(kind: str) -> dict[str, str]:
    return BUILTIN_CHECKS if kind == "checks" else BUILTIN_NOTIFIERS


def known(kind: str, type_name: str) -> bool:
    """Whether `type_name` is a type of `kind`; entry points are read only for a name that is
    not built in."""
    return type_name in _builtin(kind) or type_name in _entry_points(kind)


@cache
def load(kind: str, type_name: str) -> Any:
    """The class for `type_name`; KeyError if unknown, ImportError if its module is broken."""
    target = _builtin(kind).get(type_name) or _entry_points(kind)[type_name]
    module_name, _, attr = target.partition(":")
    return getattr(importlib.import_module(module_name), attr)
