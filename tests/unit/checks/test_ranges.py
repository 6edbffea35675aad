"""Threshold ranges in the monitoring-plugins syntax: parsing, alert conditions, bad input."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from escalatord.checks.ranges import Range, parse_range

# (range, values that alert, values that do not) - the Nagios plugin guidelines' table.
CASES = [
    ("10", [-1, 10.5, 11, 1e9], [0, 5, 10]),
    ("10:", [-1, 0, 9.99], [10, 11, 1e9]),
    ("~:10", [10.01, 11, 1e9], [-1e9, -1, 0, 10]),
    ("10:20", [-1, 9, 21], [10, 15, 20]),
    ("@10:20", [10, 15, 20], [9, 21, -1]),
    ("-5:-1", [0, -6], [-5, -3, -1]),
    (":10", [-1, 11], [0, 10]),
    ("@5", [0, 3, 5], [-1, 6]),
    ("~:", [], [-1e9, 0, 1e9]),
    ("0.5:1.5", [0.4, 1.6], [0.5, 1, 1.5]),
]


@pytest.mark.parametrize(("text", "alerts", "fine"), CASES)
def test_each_form_alerts_exactly_where_the_guidelines_say(text, alerts, fine):
    """Every documented form alerts on the values outside (or, with @, inside) its range."""
    limit = parse_range(text)
    assert [v for v in alerts if not limit.violates(v)] == []
    assert [v for v in fine if limit.violates(v)] == []


def test_numbers_from_toml_mean_the_same_as_their_text():
    """`warning = 10` and `warning = "10"` are the same range; the text is kept for display."""
    assert parse_range(10) == parse_range("10")
    assert parse_range(2.5).end == 2.5
    assert str(parse_range("@10:20")) == "@10:20"


def test_alert_conditions_are_described_in_words():
    """Summaries say "above 90", "below 10", "outside 10..20", "inside 10..20"."""
    assert parse_range("~:90").describe() == "above 90"
    assert parse_range("10:").describe() == "below 10"
    assert parse_range("10:20").describe() == "outside 10..20"
    assert parse_range("@10:20").describe() == "inside 10..20"
    assert parse_range("90").describe() == "outside 0..90"
    assert parse_range("90").describe(nonnegative=True) == "above 90"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("20:10", "the start 20 is above the end 10"),
        ("abc", "invalid threshold range 'abc'"),
        ("", "invalid threshold range ''"),
        ("@", "invalid threshold range '@'"),
        ("10:20:30", "invalid threshold range '10:20:30'"),
        ("1e400", "bounds must be finite numbers"),
        (-5, "a single number N means 0..N"),
        (True, "must be a string or a number"),
    ],
)
def test_bad_ranges_are_refused_with_the_accepted_forms(text, message):
    """A bad range is refused with a message naming what is wrong with it."""
    with pytest.raises(ValueError) as caught:
        parse_range(text)
    assert message in str(caught.value)


def test_a_malformed_range_lists_every_accepted_form():
    """The message for text that is no range at all shows each form with its meaning."""
    with pytest.raises(ValueError) as caught:
        parse_range("90%")
    for form in ('"10"', '"10:"', '"~:10"', '"10:20"', '"@10:20"'):
        assert form in str(caught.value)


bounds = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False)


@given(a=bounds, b=bounds, x=st.floats(allow_nan=False, allow_infinity=False))
def test_start_end_alerts_outside_and_at_sign_inverts(a, b, x):
    """For any a <= b: "a:b" alerts iff x < a or x > b, and "@a:b" alerts exactly otherwise."""
    lo, hi = min(a, b), max(a, b)
    plain, inverted = parse_range(f"{lo!r}:{hi!r}"), parse_range(f"@{lo!r}:{hi!r}")
    assert plain.violates(x) == (x < lo or x > hi)
    assert inverted.violates(x) == (not plain.violates(x))


@given(
    start=st.one_of(st.none(), bounds),
    end=st.one_of(st.none(), bounds),
    inside=st.booleans(),
    x=bounds,
)
def test_a_range_written_out_parses_back_to_the_same_condition(start, end, inside, x):
    """str() of any valid range is accepted by parse_range and alerts on the same values."""
    if start is not None and end is not None and start > end:
        start, end = end, start
    original = Range(start=start, end=end, inside=inside)
    again = parse_range(str(original))
    assert again.violates(x) == original.violates(x)
