"""Probe workers' pure parts: the config key, frames, stable assignment, backoff, log relay."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError
from structlog.testing import capture_logs

from escalatord.config.model import DaemonConfig
from escalatord.core.status import Result, Status
from escalatord.monitor.probe_worker import FrameDecoder, FrameError, encode, pack, unpack
from escalatord.monitor.probes import worker_of
from escalatord.monitor.worker_exits import backoff, exit_text
from escalatord.monitor.worker_log import relay


def test_probe_workers_defaults_to_in_process_and_refuses_negative_counts():
    """`probe_workers` is 0 (in-process) by default; a negative count names the key and a fix."""
    assert DaemonConfig().probe_workers == 0
    assert DaemonConfig(probe_workers=2).probe_workers == 2
    with pytest.raises(ValidationError) as caught:
        DaemonConfig(probe_workers=-1)
    [error] = caught.value.errors()
    assert error["loc"] == ("probe_workers",)
    assert "probe_workers must be 0" in error["msg"] and "try probe_workers =" in error["msg"]


def test_frames_survive_any_split_of_the_byte_stream():
    """Messages come out whole and in order however the pipe cuts the bytes."""
    messages = [("run", 1, "web"), ("result", 1, Result(Status.OK, "HTTP 200", {"ms": 1.5}))]
    stream = b"".join(encode(m) for m in messages)
    for cut in range(1, len(stream)):
        decoder = FrameDecoder()
        out = list(decoder.feed(stream[:cut])) + list(decoder.feed(stream[cut:]))
        assert out == messages


def test_a_result_crosses_the_pipe_unchanged():
    """A result packed in a worker is the same Result in the daemon (status, summary,
    measurements, duration, time, and the seconds the worker's own loop stalled)."""
    result = Result(Status.WARNING, "slow", {"ms": 812.5}, 0.8125, datetime.now(UTC), 0.25)
    [(kind, seq, *packed)] = FrameDecoder().feed(encode(("result", 7, *pack(result))))
    assert (kind, seq) == ("result", 7)
    assert unpack(*packed) == result
    assert unpack(*pack(Result(Status.OK, "no time"))) == Result(Status.OK, "no time")


def test_a_corrupt_stream_is_an_error_not_a_hang():
    """Bytes that are no frame raise FrameError (the daemon then restarts that worker)."""
    with pytest.raises(FrameError):
        list(FrameDecoder().feed(b"\x00\x00\x00\x03abc"))
    with pytest.raises(FrameError):
        list(FrameDecoder().feed(b"\xff\xff\xff\xff"))


def test_assignment_is_stable_and_spreads_checks():
    """A check always goes to the same worker, and many checks use every worker."""
    names = [f"check-{i}" for i in range(1000)]
    assert [worker_of(n, 3) for n in names] == [worker_of(n, 3) for n in names]
    counts = [sum(worker_of(n, 3) == w for n in names) for w in range(3)]
    assert min(counts) > 250


def test_restart_backoff_doubles_up_to_thirty_seconds():
    """Restarts wait 1 s, 2 s, 4 s … and never more than 30 s."""
    assert [backoff(n) for n in range(1, 8)] == [1, 2, 4, 8, 16, 30, 30]


def test_exit_text_names_the_signal():
    """An exit status reads as people say it."""
    assert exit_text(-9) == "killed by SIGKILL"
    assert exit_text(1) == "exit code 1"


def test_worker_log_lines_are_relayed_with_their_worker():
    """A worker's JSON log line re-enters the daemon's log with its level, fields and worker;
    other output (a traceback) is kept as text."""
    line = '{"event": "probe_worker_check_not_built", "level": "error", "check": "web", '
    line += '"logger": "escalatord.probe_worker", "timestamp": "2024-01-01T00:00:00Z"}'
    with capture_logs() as logs:
        relay(1, line)
        relay(0, "Traceback (most recent call last):")
    assert logs[0] == {
        "event": "probe_worker_check_not_built",
        "log_level": "error",
        "check": "web",
        "worker": 1,
    }
    assert logs[1]["event"] == "probe_worker_output"
    assert logs[1]["line"].startswith("Traceback") and logs[1]["worker"] == 0
