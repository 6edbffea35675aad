"""Host values: the fast IPv4 path gives the same answers as the ipaddress module."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from escalatord.checks.hosts import ip_literal, validate_host


def _reference(host: str) -> str | None:
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        return None


_octet = st.one_of(
    st.integers(0, 300).map(str),
    st.sampled_from(["", "00", "01", "010", "0x1", "-1", " 1", "1 ", "٣", "1e2", "+1"]),
)
_dotted = st.lists(_octet, min_size=1, max_size=6).map(".".join)


@given(_dotted)
def test_dotted_text_reads_as_ipaddress_reads_it(text):
    """Any dotted text (leading zeros, out-of-range octets, odd digits) is an IPv4 literal
    exactly when the ipaddress module says so, in the same canonical form."""
    assert ip_literal(text) == _reference(text)


@given(st.ip_addresses())
def test_every_address_is_a_literal_in_canonical_form(address):
    """Every IPv4 and IPv6 address, written in any of its forms, is recognised and written
    the way the ipaddress module writes it."""
    for form in {str(address), address.exploded}:
        assert ip_literal(form) == str(address)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("127.0.0.1", "127.0.0.1"),
        ("::1", "::1"),
        ("FE80::1%eth0", "fe80::1%eth0"),
        ("0:0:0:0:0:ffff:7f00:1", "::ffff:7f00:1"),
        ("010.0.0.1", None),
        ("1.2.3", None),
        ("router.example.org", None),
        ("1.2.3.4\x00", None),
        ("", None),
    ],
)
def test_literals_and_non_literals(text, expected):
    """Addresses come back canonical; octal-looking, short, NUL-holding or name values are not
    literals."""
    assert ip_literal(text) == expected


def test_validate_host_keeps_names_and_canonicalises_addresses():
    """A host name is kept as written, an address is canonicalised, garbage is refused."""
    assert validate_host(" Router-1.example.org. ") == "Router-1.example.org."
    assert validate_host("0::1") == "::1"
    with pytest.raises(ValueError, match="IPv4 or IPv6 address or a host name"):
        validate_host("bad host!")
