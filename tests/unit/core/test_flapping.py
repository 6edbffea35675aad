"""Flap detection (core/flapping.py) against hand-computed Icinga 2 values."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from escalatord.core import flapping
from escalatord.core.state import CheckState
from escalatord.core.status import Status

OK, CRIT, WARN = Status.OK, Status.CRITICAL, Status.WARNING


@dataclass(frozen=True)
class Flap:
    flap_detection: bool = True
    flap_low: float = 25.0
    flap_high: float = 30.0


def feed(statuses: list[Status], params: Flap = Flap(), state: CheckState | None = None):
    """The states after each of `statuses`, fed one at a time."""
    state = state or CheckState()
    out = []
    for status in statuses:
        state = flapping.update(state, status, params)
        out.append(state)
    return out


def test_weights_are_icingas():
    """The 20 step weights are Icinga 2's 0.8 + 0.02·i: oldest 0.8, newest 1.18."""
    assert len(flapping.WEIGHTS) == 20
    assert flapping.WEIGHTS[0] == pytest.approx(0.8)
    assert flapping.WEIGHTS[-1] == pytest.approx(1.18)


def test_steady_check_scores_zero():
    """21 equal results have no change and score 0%."""
    assert flapping.score("o" * 21) == 0.0
    assert flapping.score("") == 0.0 and flapping.score("c") == 0.0


def test_alternating_every_result_scores_99():
    """A status changing on every one of 21 results scores 100·19.8/20 = 99%."""
    assert flapping.score("oc" * 10 + "o") == pytest.approx(99.0)


def test_ten_newest_changes():
    """Ok ×11 then alternating for 10: steps 10..19 changed, 1.0+…+1.18 = 10.9, so 54.5%."""
    assert flapping.score("o" * 11 + "co" * 5) == pytest.approx(54.5)


def test_one_change_oldest_vs_newest():
    """A single change weighs 0.8 as the oldest step (4%) and 1.18 as the newest (5.9%)."""
    assert flapping.score("c" + "o" * 20) == pytest.approx(4.0)
    assert flapping.score("o" * 20 + "c") == pytest.approx(5.9)


def test_changes_between_problem_statuses_count():
    """Warning to critical is a change like ok to critical: "owcowco" has 6, the newest six
    steps (14..19) weighing 6·0.8 + 0.02·(14+…+19) = 6.78, so 33.9%."""
    history = "o" * 14 + "wcowco"
    assert len(history) == 20 and flapping.changes(history) == 6
    # 20 letters: the oldest step of the window (index 0) is missing and counts as none.
    assert flapping.score(history) == pytest.approx(33.9)


def test_short_history_aligns_to_the_newest_weights():
    """Three results "oco" have the two newest steps, 1.16 + 1.18 = 2.34, so 11.7%."""
    assert flapping.score("oco") == pytest.approx(11.7)


def test_history_keeps_the_newest_21_letters():
    """The history is one letter per status, oldest first, at most 21 long."""
    states = feed([OK] * 30 + [CRIT, WARN])
    assert states[-1].flap_history == "o" * 19 + "cw"


def test_starts_above_high():
    """Alternating from the first result: 6 changes (1.08+…+1.18 = 6.78, 33.9%) start
    flapping; 5 changes (1.10+…+1.18 = 5.70, 28.5%) do not."""
    states = feed([OK, CRIT] * 3 + [OK])
    assert flapping.score(states[5].flap_history) == pytest.approx(28.5)
    assert not states[5].flapping
    assert flapping.score(states[6].flap_history) == pytest.approx(33.9)
    assert states[6].flapping


def test_hysteresis_between_low_and_high():
    """A score between the thresholds keeps the flag as it was: set when coming from above,
    unset when coming from below."""
    history = "o" * 15 + "cococ"  # with the next ok: 6 newest steps, 33.9%
    assert flapping.update(CheckState(flap_history=history), OK, Flap()).flapping
    between = Flap(flap_low=20.0, flap_high=40.0)  # 33.9% is inside this band
    assert flapping.update(CheckState(flap_history=history, flapping=True), OK, between).flapping
    assert not flapping.update(CheckState(flap_history=history), OK, between).flapping


def test_stops_once_not_above_low():
    """After flapping, steady ok results lower the score; it stops on the first result where
    the score is no longer above 25%, and not before."""
    states = feed([OK, CRIT] * 10 + [OK])
    assert states[-1].flapping
    after = feed([OK] * 21, state=states[-1])
    stopped = next(i for i, s in enumerate(after) if not s.flapping)
    assert flapping.score(after[stopped].flap_history) <= 25.0
    assert flapping.score(after[stopped - 1].flap_history) > 25.0
    assert all(s.flapping for s in after[:stopped])
    assert not any(s.flapping for s in after[stopped:])


def test_disabled_drops_history_and_flag():
    """With flap detection off a flapping check stops flapping and keeps no history."""
    state = CheckState(flap_history="oc" * 10 + "o", flapping=True)
    off = flapping.update(state, CRIT, Flap(flap_detection=False))
    assert off.flap_history == "" and not off.flapping
    plain = CheckState()
    assert flapping.update(plain, CRIT, Flap(flap_detection=False)) is plain


def test_worst_recent_status():
    """The worst status of a history: critical, then unknown, warning, unreachable, ok."""
    assert flapping.worst("owowo") is WARN
    assert flapping.worst("owuwo") is Status.UNKNOWN
    assert flapping.worst("ocuwr") is CRIT
    assert flapping.worst("oror") is Status.UNREACHABLE
    assert flapping.worst("") is OK
