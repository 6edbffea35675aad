"""The store's write-health verdict (store/health.py), on a virtual clock."""

from __future__ import annotations

import math

from escalatord.store.health import STALE_AFTER, WriteHealth, file_problem

FULL = "OperationalError: database or disk is full"


def gauges(health: WriteHealth, now: float, wall: float = 1_000_000.0) -> dict[str, float]:
    return {name: samples[0][1] for name, _, _, samples in health.metrics(now, wall)}


def test_a_fresh_store_is_healthy_until_it_has_gone_stale() -> None:
    """Before the first write nothing is wrong; with no success for STALE_AFTER it is."""
    health = WriteHealth(now=100.0)
    assert health.problems(100.0 + STALE_AFTER - 1) == []
    [problem] = health.problems(100.0 + STALE_AFTER)
    assert problem.startswith(f"no write has succeeded for {STALE_AFTER:.0f} s")


def test_a_failed_write_is_a_problem_until_a_later_write_succeeds() -> None:
    """The last write failing makes the store unwritable, naming the error; a success after
    it clears that."""
    health = WriteHealth(now=0.0)
    health.wrote(1.0)
    health.failed(2.0, FULL)
    assert health.problems(2.5) == [f"the last write failed 0.5 s ago: {FULL}"]
    assert health.causes(2.5) == ["failing"]
    health.wrote(3.0)
    assert health.problems(3.0) == []
    assert health.failures == 1


def test_writes_that_only_fail_go_stale_too() -> None:
    """Failing for longer than STALE_AFTER is both a failure and no success for that long."""
    health = WriteHealth(now=0.0)
    health.wrote(1.0)
    for t in range(2, 40):
        health.failed(float(t), FULL)
    assert health.causes(40.0) == ["failing", "stale"]


def test_a_replaced_file_is_a_problem_while_it_lasts() -> None:
    """The file check's answer is a problem until the file at the path is the opened one."""
    health = WriteHealth(now=0.0)
    health.wrote(1.0)
    problem = file_problem("/var/lib/escalatord/escalatord.db", (1, 2), None)
    health.file_checked(problem)
    assert health.problems(2.0) == [problem]
    health.file_checked(None)
    assert health.problems(2.0) == []


def test_file_problem_tells_deleted_from_replaced() -> None:
    """Missing is "deleted", another inode "deleted or replaced", the same inode no problem."""
    path = "/var/lib/escalatord/escalatord.db"
    assert f"{path} was deleted while" in str(file_problem(path, (1, 2), None))
    assert f"{path} was deleted or replaced" in str(file_problem(path, (1, 2), (1, 3)))
    assert file_problem(path, (1, 2), (1, 2)) is None
    assert "Fix: " in str(file_problem(path, (1, 2), None))


def test_metrics_say_writable_last_success_and_failures() -> None:
    """/metrics: writable 1/0, the wall time of the last success, failures counted, file flag."""
    health = WriteHealth(now=0.0)
    assert math.isnan(gauges(health, 1.0)["escalatord_store_last_write_success_timestamp_seconds"])
    health.wrote(10.0)
    seen = gauges(health, 12.0, wall=1_000_000.0)
    assert seen["escalatord_store_writable"] == 1
    assert seen["escalatord_store_last_write_success_timestamp_seconds"] == 999_998.0
    health.failed(13.0, FULL)
    health.file_checked("replaced")
    seen = gauges(health, 13.0)
    assert seen["escalatord_store_writable"] == 0
    assert seen["escalatord_store_write_failures_total"] == 1
    assert seen["escalatord_store_file_replaced"] == 1
