"""The soft/hard state machine of a check, driven by results on a virtual clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from escalatord.checks.base import CheckConfig
from escalatord.core.state import CheckState, Transition, next_delay, step
from escalatord.core.status import Status

T0 = datetime(2024, 1, 1, tzinfo=UTC)
OK, WARN, CRIT, UNK, UNREACH = (
    Status.OK,
    Status.WARNING,
    Status.CRITICAL,
    Status.UNKNOWN,
    Status.UNREACHABLE,
)


def params(retries: int = 3, recover_after: int = 1) -> CheckConfig:
    return CheckConfig(
        name="web",
        type="http",
        retries=retries,
        recover_after=recover_after,
        interval=timedelta(seconds=60),
        retry_interval=timedelta(seconds=15),
    )


def run(statuses, p, state=None):
    """Feed `statuses` one a minute from T0; return the final state and every transition."""
    state = state or CheckState()
    transitions = []
    for i, status in enumerate(statuses):
        state, tr = step("web", state, status, f"result {i}", p, T0 + timedelta(minutes=i))
        if tr is not None:
            transitions.append(tr)
    return state, transitions


def test_new_check_starts_hard_ok():
    """A check that has never run is hard OK with no attempts."""
    state = CheckState()
    assert (state.status, state.hard, state.attempts, state.pending) == (OK, True, 0, None)


def test_first_ok_result_records_since_and_last_result():
    """The first OK result stamps `since` and the last result, with no transition."""
    state, tr = step("web", CheckState(), OK, "200 OK", params(), T0)
    assert tr is None
    assert state.since == T0
    assert (state.last_status, state.last_summary, state.last_check_at) == (OK, "200 OK", T0)
    assert state.hard and state.status is OK


def test_retries_one_goes_hard_at_once():
    """With retries=1 the first failure is a hard change and emits a transition."""
    state, tr = step("web", CheckState(), CRIT, "connection refused", params(retries=1), T0)
    assert tr == Transition("web", OK, CRIT, T0, "connection refused")
    assert (state.status, state.hard, state.attempts, state.pending) == (CRIT, True, 0, None)
    assert state.since == T0


def test_soft_failures_count_attempts_until_retries():
    """Failures below `retries` keep the state soft and count; the retries-th one goes hard."""
    p = params(retries=3)
    s1, tr1 = step("web", CheckState(), CRIT, "down", p, T0)
    assert tr1 is None
    assert (s1.status, s1.hard, s1.attempts, s1.pending) == (OK, False, 1, CRIT)
    s2, tr2 = step("web", s1, CRIT, "down", p, T0 + timedelta(minutes=1))
    assert tr2 is None and s2.attempts == 2 and not s2.hard
    s3, tr3 = step("web", s2, CRIT, "still down", p, T0 + timedelta(minutes=2))
    assert tr3 == Transition("web", OK, CRIT, T0 + timedelta(minutes=2), "still down")
    assert (s3.status, s3.hard, s3.attempts, s3.since) == (CRIT, True, 0, T0 + timedelta(minutes=2))


def test_soft_failure_then_ok_has_no_transition():
    """A soft failure followed by OK returns to hard OK silently and keeps the old `since`."""
    state, transitions = run([OK, CRIT, CRIT, OK], params(retries=3))
    assert transitions == []
    assert (state.status, state.hard, state.attempts, state.pending) == (OK, True, 0, None)
    assert state.since == T0


def test_failure_count_restarts_after_an_ok():
    """An OK between failures resets the count, so non-consecutive failures never go hard."""
    _, transitions = run([CRIT, CRIT, OK, CRIT, CRIT, OK], params(retries=3))
    assert transitions == []


def test_mixed_problem_statuses_count_together_and_the_last_one_wins():
    """Warning then critical while soft count as one failure run; the hard status is the last."""
    state, transitions = run([WARN, CRIT, WARN], params(retries=3))
    assert [(t.previous, t.current) for t in transitions] == [(OK, WARN)]
    assert state.status is WARN


def test_soft_state_leans_to_the_latest_problem_status():
    """While soft, `pending` is the newest problem status seen."""
    state, _ = run([WARN, CRIT], params(retries=3))
    assert (state.hard, state.attempts, state.pending) == (False, 2, CRIT)


def test_problem_status_change_while_hard_is_immediate():
    """Hard critical then a warning result changes the hard status at once."""
    state, transitions = run([CRIT, WARN], params(retries=1))
    assert [(t.previous, t.current) for t in transitions] == [(OK, CRIT), (CRIT, WARN)]
    assert state.hard and state.since == T0 + timedelta(minutes=1)


def test_same_problem_while_hard_emits_nothing():
    """Repeated results in the hard status change nothing but the last result."""
    state, transitions = run([CRIT, CRIT, CRIT], params(retries=1))
    assert len(transitions) == 1
    assert state.since == T0 and state.last_check_at == T0 + timedelta(minutes=2)


def test_recovery_with_recover_after_one_is_immediate():
    """With recover_after=1 a single OK ends a hard problem with a transition to OK."""
    state, transitions = run([CRIT, OK], params(retries=1, recover_after=1))
    assert [(t.previous, t.current) for t in transitions] == [(OK, CRIT), (CRIT, OK)]
    assert state.status is OK and state.since == T0 + timedelta(minutes=1)


def test_recover_after_two_with_a_relapse():
    """With recover_after=2, OK then a relapse cancels recovery; two OKs in a row recover."""
    p = params(retries=1, recover_after=2)
    state, transitions = run([CRIT, OK], p)
    assert (state.status, state.hard, state.attempts, state.pending) == (CRIT, False, 1, OK)
    state, transitions = run([CRIT, OK, CRIT], p)
    assert (state.status, state.hard, state.attempts, state.pending) == (CRIT, True, 0, None)
    assert len(transitions) == 1 and state.since == T0
    state, transitions = run([CRIT, OK, CRIT, OK, OK], p)
    assert [(t.previous, t.current) for t in transitions] == [(OK, CRIT), (CRIT, OK)]
    assert transitions[-1].at == T0 + timedelta(minutes=4)
    assert state.since == T0 + timedelta(minutes=4)


def test_other_problem_during_recovery_changes_status_and_cancels_recovery():
    """A warning while recovering from critical becomes the hard status at once."""
    state, transitions = run([CRIT, OK, WARN], params(retries=1, recover_after=2))
    assert [(t.previous, t.current) for t in transitions] == [(OK, CRIT), (CRIT, WARN)]
    assert (state.hard, state.attempts, state.pending) == (True, 0, None)


def test_unreachable_is_treated_as_a_problem():
    """UNREACHABLE counts toward retries and goes hard like any problem status."""
    state, transitions = run([UNREACH, UNREACH], params(retries=2))
    assert [(t.previous, t.current) for t in transitions] == [(OK, UNREACH)]
    state, transitions = run([OK], params(retries=2), state=state)
    assert [(t.previous, t.current) for t in transitions] == [(UNREACH, OK)]


def test_lowered_retries_take_effect_on_the_next_failure():
    """If retries drop below the attempts already counted, the next failure goes hard."""
    state, _ = run([CRIT, CRIT], params(retries=5))
    state, tr = step("web", state, CRIT, "down", params(retries=2), T0 + timedelta(minutes=9))
    assert tr is not None and tr.current is CRIT


def test_next_delay_is_retry_interval_while_soft_either_way():
    """A soft state (failing or recovering) is re-checked at retry_interval, else at interval."""
    p = params(retries=3, recover_after=2)
    assert next_delay(CheckState(), p) == timedelta(seconds=60)
    failing, _ = run([CRIT], p)
    assert next_delay(failing, p) == timedelta(seconds=15)
    hard_down, _ = run([CRIT, CRIT, CRIT], p)
    assert next_delay(hard_down, p) == timedelta(seconds=60)
    recovering, _ = run([CRIT, CRIT, CRIT, OK], p)
    assert next_delay(recovering, p) == timedelta(seconds=15)


@settings(max_examples=200, deadline=None)
@given(
    statuses=st.lists(st.sampled_from(list(Status)), max_size=40),
    retries=st.integers(1, 4),
    recover_after=st.integers(1, 4),
)
def test_transitions_always_change_the_hard_status(statuses, retries, recover_after):
    """Every transition goes from the old hard status to a different new one; nothing else does."""
    p = params(retries=retries, recover_after=recover_after)
    state = CheckState()
    for i, status in enumerate(statuses):
        now = T0 + timedelta(seconds=i)
        new, tr = step("web", state, status, "s", p, now)
        if tr is None:
            assert new.status == state.status
        else:
            assert tr.previous == state.status != tr.current == new.status
            assert new.since == now == tr.at
        # Soft exactly when a change is pending, and never pending the hard status itself.
        assert new.hard == (new.attempts == 0) == (new.pending is None)
        assert new.pending != new.status
        leaning_to_problem = new.pending is not None and new.pending.is_problem
        assert new.attempts < (retries if leaning_to_problem else recover_after)
        state = new


def test_leaving_unreachable_for_an_own_failure_takes_retries():
    """A check that was unreachable behind its parent and still fails once the parent is back
    goes critical only after `retries` failures, like a new failure (one failed probe right
    after a link comes back is not a page); back to unreachable or ok works as before."""
    p = params(retries=3)
    state = CheckState(status=Status.UNREACHABLE)
    state, tr = step("host", state, CRIT, "no reply", p, T0)
    assert tr is None and not state.hard and state.status is Status.UNREACHABLE
    state, tr = step("host", state, CRIT, "no reply", p, T0)
    assert tr is None
    state, tr = step("host", state, CRIT, "no reply", p, T0)
    assert tr is not None and (tr.previous, tr.current) == (Status.UNREACHABLE, Status.CRITICAL)
    flicker, tr = step("host", CheckState(status=Status.UNREACHABLE), CRIT, "no reply", p, T0)
    settled, tr = step("host", flicker, OK, "ok", p, T0)
    assert tr is not None and settled.status is Status.OK
