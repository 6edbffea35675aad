"""Monitoring-plugin output parsing: summary, long text and perfdata."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from escalatord.checks.command.perfdata import PerfValue, parse_output, parse_perfdata


def test_summary_and_perfdata_from_the_first_line():
    """The text before `|` is the summary; the rest of the line is perfdata."""
    out = parse_output(
        "PING OK - Packet loss = 0%, RTA = 0.05 ms|rta=0.054ms;100;500;0 pl=0%;20;60;0"
    )
    assert out.summary == "PING OK - Packet loss = 0%, RTA = 0.05 ms"
    assert out.perfdata == (
        PerfValue("rta", 0.054, "ms", "100", "500", 0.0, None),
        PerfValue("pl", 0.0, "%", "20", "60", 0.0, None),
    )
    assert out.measurements() == {"rta": 0.054, "pl": 0.0}


def test_long_text_and_perfdata_on_later_lines():
    """Long text lines follow the summary; perfdata continues after a `|` on a later line."""
    text = "DISK OK | /=10MB;;;0;100\nfree: lots\nmore text | /var=20MB\n'/srv data'=30MB;80;90\n"
    out = parse_output(text)
    assert out.summary == "DISK OK"
    assert out.long_text == "free: lots\nmore text"
    assert out.measurements() == {"/": 10.0, "/var": 20.0, "/srv data": 30.0}


def test_quoted_labels_with_spaces_and_quotes():
    """Quoted labels keep spaces; '' inside a quoted label is one quote."""
    found = parse_perfdata("'in queue'=5 'it''s'=1c")
    assert [(p.label, p.value, p.uom) for p in found] == [("in queue", 5.0, ""), ("it's", 1.0, "c")]


def test_undetermined_and_malformed_items_are_skipped():
    """`U` values and garbage are skipped without losing the good items around them."""
    found = parse_perfdata("a=U;1;2 garbage b=2.5s c= 'unterminated=3 d=-1e3")
    assert [(p.label, p.value) for p in found] == [("b", 2.5)]


def test_no_perfdata_and_empty_output():
    """Output without `|` has no measurements; empty output has an empty summary."""
    assert parse_output("OK - all good").measurements() == {}
    assert parse_output("").summary == ""


def test_thresholds_stay_text_and_decimal_commas_are_read():
    """Ranges like @10:20 are kept as written; a decimal comma is read as a point."""
    (item,) = parse_perfdata("load=1,5;@10:20;~:30;0;")
    assert (item.value, item.warn, item.crit, item.min, item.max) == (
        1.5,
        "@10:20",
        "~:30",
        0.0,
        None,
    )


@given(
    items=st.lists(
        st.tuples(
            st.text(alphabet=st.characters(blacklist_characters="'=\n\r", min_codepoint=32,
                                           max_codepoint=0x2FF), min_size=1, max_size=12),
            st.floats(allow_nan=False, allow_infinity=False, width=32),
        ),
        max_size=5,
    )
)  # fmt: skip
def test_quoted_labels_round_trip(items):
    """Any label, quoted as the guidelines say, and any finite value parse back unchanged."""
    text = " ".join(f"'{label}'={value!r}" for label, value in items)
    parsed = parse_perfdata(text)
    assert [(p.label, p.value) for p in parsed] == [(lbl, float(repr(v))) for lbl, v in items]
