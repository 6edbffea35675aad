"""A probe worker's log lines, relayed into the daemon's log (`monitor/probes.py`).

Workers log JSON lines to stderr; each re-enters the daemon's log with its level, its fields
and the worker's index. Other output (a traceback) is kept as text.
"""

from __future__ import annotations

import json

import structlog

log = structlog.get_logger("escalatord.probes")

MAX_LOG_LINE = 4000  # characters of a worker's non-JSON stderr line kept in the log


def relay(index: int, line: str) -> None:
    line = line.rstrip()
    if not line:
        return
    try:
        record = json.loads(line)
    except ValueError:
        record = None
    if not isinstance(record, dict) or "event" not in record:
        log.warning("probe_worker_output", worker=index, line=line[:MAX_LOG_LINE])
        return
    event = str(record.pop("event"))
    level = str(record.pop("level", "info"))
    logger = structlog.get_logger(str(record.pop("logger", "escalatord.probe_worker")))
    record.pop("timestamp", None)
    record["worker"] = index
    method = getattr(logger, level, None) if level in _LEVELS else None
    (method or logger.info)(event, **record)


_LEVELS = frozenset({"debug", "info", "warning", "error", "critical", "exception"})
