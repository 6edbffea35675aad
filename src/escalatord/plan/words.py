"""What makes a check fail, in plain words, for the escalation plan (`escalatord plan`, /plan).

One small function per check type reads that type's keys (by name, with getattr: the plan must
not import every check module, and a plugin's type simply falls back); any other type gets the
generic sentence built from interval, timeout and retries. Every sentence ends with how often it
is checked and how many failures in a row make it hard, because that is when a page can start.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from escalatord.core.durations import format_duration


def _d(value: timedelta) -> str:
    return format_duration(value)


def _ms(value: timedelta) -> str:
    return f"{round(value.total_seconds() * 1000)} ms"


def _pct(value: float) -> str:
    return f"{value:g}%"


def _or(parts: list[str]) -> str:
    return " or ".join(p for p in parts if p)


def http_words(cfg: Any) -> str:
    """HTTP: unexpected status, slow reply, missing body text, a certificate about to expire."""
    codes = getattr(cfg, "expect_status", None)
    parts = [
        f"HTTP status not {'/'.join(str(c) for c in codes)}" if codes else "HTTP status not 2xx/3xx"
    ]
    if (latency := getattr(cfg, "max_latency", None)) is not None:
        parts.append(f"slower than {_d(latency)}")
    if getattr(cfg, "body_contains", None):
        parts.append(f"body without {cfg.body_contains!r}")
    if getattr(cfg, "body_regex", None):
        parts.append(f"body not matching /{cfg.body_regex}/")
    if getattr(cfg, "expect_json", ()):
        parts.append("JSON assertions failing")
    cert = getattr(cfg, "cert_min_days", None)
    if cert is not None:
        days = cert[-1] if isinstance(cert, tuple) else cert
        parts.append(f"TLS certificate expiring within {days} days")
    return _or(parts)


def ping_words(cfg: Any) -> str:
    """Ping: packet loss over max_loss, or round-trip time over max_rtt."""
    parts = [f"loss over {_pct(cfg.max_loss)}"]
    if getattr(cfg, "max_rtt", None) is not None:
        parts.append(f"RTT over {_ms(cfg.max_rtt)}")
    return _or(parts) + f" ({cfg.count} pings to {cfg.host})"


def heartbeat_words(cfg: Any) -> str:
    """Heartbeat: nothing received for every + grace (or past its cron schedule + grace)."""
    every = getattr(cfg, "every", None)
    if every is not None:
        text = (
            f"no heartbeat for {_d(every + cfg.grace)} "
            f"(expected every {_d(every)}, {_d(cfg.grace)} grace)"
        )
    else:
        text = f"no heartbeat by {cfg.schedule} ({cfg.timezone}) plus {_d(cfg.grace)} grace"
    if getattr(cfg, "max_runtime", None) is not None:
        text += f" or a run longer than {_d(cfg.max_runtime)}"
    failures = getattr(cfg, "failures", 1)
    return text + (f", {failures} times in a row" if failures > 1 else "")


def tcp_words(cfg: Any) -> str:
    """TCP: no connection, wrong reply, or too slow."""
    parts = [f"no TCP connection to {cfg.host}:{cfg.port}"]
    if getattr(cfg, "expect", None):
        parts.append(f"reply without {cfg.expect!r}")
    if getattr(cfg, "max_latency", None) is not None:
        parts.append(f"slower than {_d(cfg.max_latency)}")
    return _or(parts)


def dns_words(cfg: Any) -> str:
    """DNS: rcode other than expected, missing answers, or too slow."""
    parts = [f"{cfg.record} {cfg.query} answers other than {cfg.expect_rcode}"]
    if getattr(cfg, "expect", ()):
        parts.append(f"answer not {', '.join(cfg.expect)}")
    if getattr(cfg, "max_latency", None) is not None:
        parts.append(f"slower than {_d(cfg.max_latency)}")
    return _or(parts)


def file_age_words(cfg: Any) -> str:
    """File age: newest matching file older than max_age (warning from warning_age)."""
    text = f"newest {cfg.path} older than {_d(cfg.max_age)}"
    if getattr(cfg, "warning_age", None) is not None:
        text += f" (warning from {_d(cfg.warning_age)})"
    if getattr(cfg, "min_count", 1) > 1:
        text += f" or fewer than {cfg.min_count} files"
    return text


def command_words(cfg: Any) -> str:
    """Command: a plugin-style exit code 1 (warning), 2 (critical) or 3 (unknown)."""
    command = cfg.command if isinstance(cfg.command, str) else " ".join(cfg.command)
    return f"`{command}` exits 1, 2 or 3 (or times out after {_d(cfg.timeout)})"


def snmp_words(cfg: Any) -> str:
    """SNMP get: a value outside its warning/critical range or not the expected one."""
    parts = []
    if getattr(cfg, "critical", None) is not None:
        parts.append(f"value outside {cfg.critical} (critical)")
    if getattr(cfg, "warning", None) is not None:
        parts.append(f"value outside {cfg.warning} (warning)")
    if getattr(cfg, "expect", None) is not None:
        parts.append(f"value not {cfg.expect!r}")
    return _or(parts or [f"no SNMP answer from {cfg.host}"])


def snmp_interface_words(cfg: Any) -> str:
    """SNMP interface: down, or utilisation/errors outside their ranges."""
    name = getattr(cfg, "interface", None) or f"ifIndex {getattr(cfg, 'if_index', '?')}"
    parts = [f"interface {name} on {cfg.host} down"]
    for key, what in (("utilisation", "utilisation"), ("errors", "errors")):
        for level in ("critical", "warning"):
            if (value := getattr(cfg, f"{key}_{level}", None)) is not None:
                parts.append(f"{what} outside {value} ({level})")
    return _or(parts)


WORDS: dict[str, Callable[[Any], str]] = {
    "http": http_words,
    "ping": ping_words,
    "heartbeat": heartbeat_words,
    "tcp": tcp_words,
    "dns": dns_words,
    "file_age": file_age_words,
    "command": command_words,
    "snmp": snmp_words,
    "snmp_interface": snmp_interface_words,
}


def cadence(cfg: Any) -> str:
    """How often it is checked and when a failure is hard: "fails 3 times in a row, checked
    every 1m" (a heartbeat is pushed, not polled: its own words say when it fails)."""
    if cfg.type == "heartbeat":
        return ""
    times = "once" if cfg.retries == 1 else f"{cfg.retries} times in a row"
    return (
        f"fails {times}, checked every {_d(cfg.interval)} "
        f"(retried every {_d(cfg.retry_interval)}, timeout {_d(cfg.timeout)})"
    )


def thresholds(cfg: Any) -> str:
    """The whole sentence for one check: its type's words (if known) and the cadence."""
    words = WORDS.get(cfg.type)
    head = words(cfg) if words is not None else ""
    tail = cadence(cfg)
    return "; ".join(p for p in (head, tail) if p)
