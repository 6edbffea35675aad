"""Flap detection, Icinga 2's way. Pure: `update(state, status, params)`.

A check flaps when its status changes too often for a page per change to help anyone. Icinga 2
(since 2.8: lib/icinga/checkable-flapping.cpp, `Checkable::UpdateFlappingStatus`; the method is
described in "Flapping in Icinga 2.8.0", https://icinga.com/2017/10/26/flapping-in-icinga280/)
looks at the last 21 results, i.e. the 20 steps between them, and sums a weight for each step
that changed the status: the i-th oldest step (i = 0..19) weighs 0.8 + 0.02·i, so the oldest
weighs 0.8 and the newest 1.18 — newer changes count more. The flapping value is
100 · sum / 20, a percentage (a status changing on every result scores 99%). A check starts
flapping when the value is above the high threshold (Icinga: `flapping_threshold_high`, 30)
and stops once it is no longer above the low one (`flapping_threshold_low`, 25): the gap is
hysteresis, so a check near a threshold does not start and stop on alternate results.

Worked example (tests/unit/core/test_flapping.py): a check ok for 11 results, then
alternating critical/ok for the last 10, has changes on the newest 10 steps, weights
1.0 + 1.02 + … + 1.18 = 10.9, value 54.5% — flapping.

Differences from Icinga, on purpose: the history holds the statuses themselves (one letter
each, `CheckState.flap_history`, oldest first) rather than a bit per change, so the worst
recent status is at hand for the flapping incident's rules (`worst`); and while fewer than 21
results exist the missing oldest steps count as unchanged, as Icinga's zeroed buffer does.
Every result counts, soft or hard, as in Icinga.
"""

from __future__ import annotations

from dataclasses import replace
from itertools import pairwise
from typing import Protocol

from escalatord.core.state import CheckState
from escalatord.core.status import Status

WINDOW = 21  # results looked at: 20 steps between them
STEPS = WINDOW - 1
# Icinga 2's weights, oldest step first.
WEIGHTS = tuple(0.8 + 0.02 * i for i in range(STEPS))
DEFAULT_LOW = 25.0  # percent, Icinga 2's flapping_threshold_low
DEFAULT_HIGH = 30.0  # percent, Icinga 2's flapping_threshold_high

LETTER: dict[Status, str] = {
    Status.OK: "o",
    Status.WARNING: "w",
    Status.CRITICAL: "c",
    Status.UNKNOWN: "u",
    Status.UNREACHABLE: "r",
}
_STATUS = {letter: status for status, letter in LETTER.items()}
# Worst first, for the status a flapping check's rules see: critical, then unknown (the probe
# could not tell), then warning; unreachable only if nothing of its own failed.
_WORST = "cuwro"


class FlapParams(Protocol):
    """The per-check flap settings; `CheckConfig` satisfies it. Thresholds in percent."""

    flap_detection: bool
    flap_low: float
    flap_high: float


def score(history: str) -> float:
    """The weighted share of status changes in `history` (letters, oldest first, at most
    WINDOW), in percent: 0 for a steady check, 99 for one that changes on every result."""
    history = history[-WINDOW:]
    # Align the steps to the newest end: a short history's missing oldest steps are unchanged.
    weights = WEIGHTS[STEPS - (len(history) - 1) :] if len(history) > 1 else ()
    total = 0.0
    for weight, (older, newer) in zip(weights, pairwise(history), strict=True):
        if older != newer:
            total += weight
    return 100.0 * total / STEPS


def changes(history: str) -> int:
    """How many times the status changed within `history`."""
    return sum(1 for a, b in pairwise(history) if a != b)


def worst(history: str) -> Status:
    """The worst status in `history` (critical > unknown > warning > unreachable > ok)."""
    for letter in _WORST:
        if letter in history:
            return _STATUS[letter]
    return Status.OK


def update(state: CheckState, status: Status, params: FlapParams) -> CheckState:
    """`state` with the result's `status` added to its flap history and `flapping` decided
    anew: above `flap_high` it starts, and it stays until the score is no longer above
    `flap_low`. With flap detection off the history is dropped and the check is not flapping.

    The caller compares `flapping` before and after: a change is a transition (flapping
    started or stopped), the only thing that opens or resolves the flapping incident.
    """
    if not params.flap_detection:
        if state.flapping or state.flap_history:
            return replace(state, flap_history="", flapping=False)
        return state
    history = state.flap_history + LETTER[status]
    if len(history) > WINDOW:
        history = history[-WINDOW:]
    value = score(history)
    flapping = value > (params.flap_low if state.flapping else params.flap_high)
    return replace(state, flap_history=history, flapping=flapping)
