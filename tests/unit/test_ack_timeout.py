"""`ack_timeout` in a policy and its snapshot, and the tags of a restarted ladder's keys."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from pydantic import ValidationError

from escalatord.config.model import PolicyConfig
from escalatord.core.planning import ack_timeout, plan, snapshot
from escalatord.incidents.ladder import base, parse_tag, step_tag

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


def policy(**extra: object) -> PolicyConfig:
    levels = [{"after": "0m", "notify": ["ops"]}, {"after": "10m", "notify": ["boss"]}]
    return PolicyConfig.model_validate({"name": "p", "level": levels, **extra})


def test_the_snapshot_keeps_ack_timeout_in_seconds():
    """`ack_timeout = "30m"` is stored as ack_timeout_s; without it (and in snapshots made
    before it existed) the key is absent and an acknowledgement holds for good."""
    snap = snapshot(policy(ack_timeout="30m"))
    assert snap["ack_timeout_s"] == 1800.0
    assert ack_timeout(snap) == timedelta(minutes=30)
    assert "ack_timeout_s" not in snapshot(policy())
    assert ack_timeout(snapshot(policy())) is None and ack_timeout(None) is None


def test_a_zero_ack_timeout_is_refused():
    """A zero ack_timeout would re-trigger every acknowledgement at once: refused."""
    with pytest.raises(ValidationError, match="ack_timeout must be longer than 0s"):
        policy(ack_timeout="0s")


def test_a_restarted_ladder_is_planned_from_ladder_at_with_tags_of_its_own():
    """The plan counts from ladder_at once set; its tags carry the ladder's start, parse back,
    and differ from the first ladder's."""
    first = SimpleNamespace(opened_at=T0, ladder_at=None)
    again = SimpleNamespace(opened_at=T0, ladder_at=T0 + timedelta(minutes=45, microseconds=7))
    assert base(first) == T0 and base(again) == again.ladder_at
    snap = snapshot(policy())
    assert plan(snap, base(again))[1].due_at == again.ladder_at + timedelta(minutes=10)
    assert step_tag(first, 1) == "1"
    assert step_tag(again, 1) == "1~20260301T084500.000007Z"
    assert parse_tag(step_tag(again, 1)) == (1, "20260301T084500.000007Z")
    assert parse_tag("1") == (1, "")
    assert parse_tag("reassigned.2") == (None, "")
