"""Registries of check and notifier types: built-ins plus entry points.

Each registry maps a type name to "module:Class". Classes are imported on first use, so a
daemon that uses only `ping` never imports httpx. Third-party packages add types through the
entry-point groups `escalatord.checks` and `escalatord.notifiers`; a built-in name wins.
"""

from __future__ import annotations

import importlib
from functools import cache
from importlib.metadata import entry_points
from typing import Any

BUILTIN_CHECKS: dict[str, str] = {
    "http": "escalatord.checks.http:HttpCheck",
    "tcp": "escalatord.checks.tcp:TcpCheck",
    "ping": "escalatord.checks.ping:PingCheck",
    "heartbeat": "escalatord.checks.heartbeat:HeartbeatCheck",
    "command": "escalatord.checks.command:CommandCheck",
    "dns": "escalatord.checks.dns:DnsCheck",
    "file_age": "escalatord.checks.file_age:FileAgeCheck",
    "snmp": "escalatord.checks.snmp:SnmpCheck",
    "snmp_interface": "escalatord.checks.snmp_interface:SnmpInterfaceCheck",
    "snmp_trap": "escalatord.checks.snmp_trap:SnmpTrapCheck",
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
    found: dict[str, str] = {}
    for ep in entry_points(group=GROUPS[kind]):
        found.setdefault(ep.name, ep.value)
    return found


def available(kind: str) -> dict[str, str]:
    """Every known type of `kind` ("checks" or "notifiers") and where it lives."""
    builtin = BUILTIN_CHECKS if kind == "checks" else BUILTIN_NOTIFIERS
    return {**_entry_points(kind), **builtin}


@cache
def load(kind: str, type_name: str) -> Any:
    """The class for `type_name`; KeyError if unknown, ImportError if its module is broken."""
    target = available(kind)[type_name]
    module_name, _, attr = target.partition(":")
    return getattr(importlib.import_module(module_name), attr)
