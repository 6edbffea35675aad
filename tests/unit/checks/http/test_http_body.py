"""The http check's pure reply rules (checks/http/body.py): relaxed heads, decoding, framing."""

from __future__ import annotations

import gzip
import random

from hypothesis import given
from hypothesis import strategies as st

from escalatord.checks.http import body as http_body


def test_a_folded_header_and_a_repeated_length_are_rewritten_and_the_body_kept():
    """obs-fold lines are joined with a space, one Content-Length stays, the body is as sent."""
    head = b"HTTP/1.1 200 OK\r\nX-A: a\r\n\tb\r\nContent-Length: 4\r\nContent-Length: 4\r\n\r\n"
    relaxed = http_body.relax_head(head + b"\r\n\r\n")
    assert relaxed == (b"HTTP/1.1 200 OK\r\nX-A: a b\r\nContent-Length: 4\r\n\r\n" + b"\r\n\r\n")


def test_conflicting_lengths_an_unfinished_head_and_a_clean_head_are_not_rewritten():
    """Nothing is relaxed when the lengths disagree, the head has not ended, or it is fine."""
    assert http_body.relax_head(b"HTTP/1.1 200 OK\r\nContent-Length: 2, 3\r\n\r\nok!") is None
    assert http_body.relax_head(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Le") is None
    assert http_body.relax_head(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok") is None


def test_interim_heads_are_passed_over():
    """A 1xx head before the final one is left alone; the final head is relaxed."""
    data = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2, 2\r\n\r\nok"
    assert http_body.relax_head(data) == (
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
    )


def test_a_gzip_body_cut_at_the_cap_is_not_a_fault_but_one_cut_short_is():
    """A stream stopped by the cap decodes up to it; the same bytes as the whole body fail."""
    data = gzip.compress(random.Random(3).randbytes(10_000))
    assert http_body.decode(data[:4000], "gzip", 4000, whole=False)[1] is None
    body, fault = http_body.decode(data[:4000], "gzip", 1 << 20, whole=True)
    assert body == b"" and fault is not None and "stops before its stream ends" in fault


@given(st.binary(max_size=200), st.sampled_from([None, "", "identity", "br", "UTF-8"]))
def test_bodies_without_a_coding_asked_for_are_judged_as_sent(body, coding):
    """No coding, identity or one escalatord did not ask for: the body unchanged, no fault."""
    assert http_body.decode(body, coding, 100, whole=True) == (body[:100], None)


def test_framing_faults():
    """Transfer-Encoding must be chunked alone and without a Content-Length."""
    assert http_body.framing_fault([("Transfer-Encoding", "chunked")]) is None
    assert http_body.framing_fault([("Content-Length", "2")]) is None
    assert "unsupported" in http_body.framing_fault([("transfer-encoding", "gzip, chunked")])
    both = [("Transfer-Encoding", "chunked"), ("Content-Length", "2")]
    assert "both" in http_body.framing_fault(both)
