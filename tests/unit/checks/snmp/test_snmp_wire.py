"""snmp_wire's BER codec against pysnmp/pyasn1 as the oracle: what pysnmp encodes we decode to
the same values (and the checks render them the same), what we encode pysnmp decodes to the
same request, and malformed datagrams raise WireError and nothing else."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyasn1.codec.ber import decoder, encoder
from pyasn1.type import univ
from pysnmp.proto import api, rfc1902, rfc1905
from pysnmp.proto.proxy import rfc2576

from escalatord.checks.snmp import wire as snmp_wire
from escalatord.checks.snmp.values import missing, number, render
from escalatord.checks.snmp.wire import WireError, decode_response, get_request, varbind_list

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

arcs = st.one_of(st.integers(0, 300), st.integers(0, 2**32 - 1))
oids = st.builds(
    lambda head, tail: head + tuple(tail),
    st.one_of(
        st.tuples(st.integers(0, 1), st.integers(0, 39)),
        st.tuples(st.just(2), st.integers(0, 2**32 - 1)),
    ),
    st.lists(arcs, min_size=0, max_size=40),
)
octets = st.one_of(st.binary(max_size=300), st.text(max_size=60).map(str.encode))
common_values = st.one_of(
    st.integers(-(2**31), 2**31 - 1).map(rfc1902.Integer),
    octets.map(rfc1902.OctetString),
    oids.map(univ.ObjectIdentifier),
    st.binary(min_size=4, max_size=4).map(rfc1902.IpAddress),
    st.integers(0, 2**32 - 1).map(rfc1902.Counter32),
    st.integers(0, 2**32 - 1).map(rfc1902.Gauge32),
    st.integers(0, 2**32 - 1).map(rfc1902.TimeTicks),
    st.binary(max_size=40).map(rfc1902.Opaque),
    st.just(univ.Null("")),
)
v2_values = st.one_of(
    common_values,
    st.integers(0, 2**64 - 1).map(rfc1902.Counter64),
    st.sampled_from([rfc1905.noSuchObject, rfc1905.noSuchInstance, rfc1905.endOfMibView]),
)
request_ids = st.integers(-(2**31), 2**31 - 1)
communities = st.binary(min_size=0, max_size=40)


def pysnmp_response(
    version: int, community: bytes, request_id: int, status: int, index: int, binds: list
) -> bytes:
    """A GetResponse as pysnmp encodes it (v1 values go through pysnmp's v2-to-v1 mapping)."""
    mod = api.PROTOCOL_MODULES[version]
    pdu = rfc1905.ResponsePDU()
    v2 = api.PROTOCOL_MODULES[api.SNMP_VERSION_2C]
    v2.apiPDU.set_defaults(pdu)
    v2.apiPDU.set_request_id(pdu, request_id)
    v2.apiPDU.set_varbinds(pdu, binds)
    if version == api.SNMP_VERSION_1:
        pdu = rfc2576.v2_to_v1(pdu)  # (it would rewrite a non-zero status: set it after)
    mod.apiPDU.set_error_status(pdu, status)
    mod.apiPDU.set_error_index(pdu, index)
    msg = mod.Message()
    mod.apiMessage.set_defaults(msg)
    mod.apiMessage.set_community(msg, community)
    mod.apiMessage.set_pdu(msg, pdu)
    return encoder.encode(msg)


def pysnmp_values(version: int, data: bytes) -> list[tuple[tuple[int, ...], Any]]:
    """What pysnmp's GET path hands a check for this response (v1 translated to v2c)."""
    mod = api.PROTOCOL_MODULES[version]
    msg, _ = decoder.decode(data, asn1Spec=mod.Message())
    pdu = mod.apiMessage.get_pdu(msg)
    if version == api.SNMP_VERSION_1:
        pdu = rfc2576.v1_to_v2(pdu, rfc1905.GetRequestPDU())  # as answering our GET
    return [(tuple(o), v) for o, v in api.v2c.apiPDU.get_varbinds(pdu)]


def same(ours: Any, theirs: Any) -> None:
    assert type(ours) is type(theirs), (type(ours), type(theirs))
    assert render(ours) == render(theirs)
    assert number(ours) == number(theirs)
    assert missing(ours) == missing(theirs)
    if missing(theirs) is None and not isinstance(theirs, univ.Null):
        assert ours == theirs


@SETTINGS
@given(
    community=communities,
    request_id=request_ids,
    binds=st.lists(st.tuples(oids, v2_values), max_size=12),
)
def test_v2c_responses_decode_as_pysnmp_decodes_them(community, request_id, binds):
    """Every v2c value type pysnmp encodes is decoded to the same class and value, and renders
    and judges the same."""
    data = pysnmp_response(api.SNMP_VERSION_2C, community, request_id, 0, 0, binds)
    response = decode_response(data)
    assert (response.version, response.community) == (snmp_wire.VERSION_2C, community)
    assert (response.request_id, response.error_status, response.error_index) == (request_id, 0, 0)
    expected = pysnmp_values(api.SNMP_VERSION_2C, data)
    assert [o for o, _ in response.varbinds] == [o for o, _ in expected]
    for (_, ours), (_, theirs) in zip(response.varbinds, expected, strict=True):
        same(ours, theirs)


@SETTINGS
@given(
    community=communities,
    request_id=st.integers(0, 2**31 - 1),
    status=st.integers(0, 5),
    index=st.integers(0, 12),
    binds=st.lists(st.tuples(oids, common_values), max_size=12),
)
def test_v1_responses_decode_as_pysnmp_translates_them(community, request_id, status, index, binds):
    """v1 responses decode to the values pysnmp's v1-to-v2c translation gives a check (e.g.
    INTEGER as Integer32), and keep any error-status and index (on which the session raises
    before a value is used)."""
    data = pysnmp_response(api.SNMP_VERSION_1, community, request_id, status, index, binds)
    response = decode_response(data)
    assert response.version == snmp_wire.VERSION_1
    assert (response.request_id, response.error_status, response.error_index) == (
        request_id,
        status,
        index,
    )
    expected = pysnmp_values(api.SNMP_VERSION_1, data)
    assert [o for o, _ in response.varbinds] == [o for o, _ in expected]
    if status:  # pysnmp then replaces every value by noSuchObject; no check sees them
        return
    for (_, ours), (_, theirs) in zip(response.varbinds, expected, strict=True):
        same(ours, theirs)


@SETTINGS
@given(
    version=st.sampled_from([api.SNMP_VERSION_1, api.SNMP_VERSION_2C]),
    community=communities,
    request_id=request_ids,
    wanted=st.lists(oids, min_size=1, max_size=20),
)
def test_our_get_requests_decode_in_pysnmp_as_sent(version, community, request_id, wanted):
    """A GetRequest we encode is, to pysnmp, that version, community, request-id and OIDs
    with NULL values."""
    data = get_request(version, community, request_id, varbind_list(wanted))
    mod = api.PROTOCOL_MODULES[version]
    msg, rest = decoder.decode(data, asn1Spec=mod.Message())
    assert rest == b""
    assert int(mod.apiMessage.get_version(msg)) == version
    assert bytes(mod.apiMessage.get_community(msg)) == community
    pdu = mod.apiMessage.get_pdu(msg)
    assert pdu.tagSet == mod.GetRequestPDU.tagSet
    assert int(mod.apiPDU.get_request_id(pdu)) == request_id
    assert int(mod.apiPDU.get_error_status(pdu)) == int(mod.apiPDU.get_error_index(pdu)) == 0
    binds = mod.apiPDU.get_varbinds(pdu)
    assert [tuple(o) for o, _ in binds] == wanted
    assert all(isinstance(v, univ.Null) for _, v in binds)


def test_error_status_names_match_pysnmp():
    """A response's error-status is named as pysnmp names it (noSuchName, genErr, …)."""
    data = pysnmp_response(api.SNMP_VERSION_2C, b"c", 7, 5, 1, [((1, 3, 6), univ.Null(""))])
    assert decode_response(data).error_name == "genErr"
    data = pysnmp_response(api.SNMP_VERSION_1, b"c", 7, 2, 1, [((1, 3, 6), univ.Null(""))])
    assert decode_response(data).error_name == "noSuchName"


VALID = pysnmp_response(
    api.SNMP_VERSION_2C,
    b"public",
    1234,
    0,
    0,
    [
        ((1, 3, 6, 1, 2, 1, 1, 5, 0), rfc1902.OctetString(b"router")),
        ((1, 3, 6, 1, 2, 1, 31, 1, 1, 1, 6, 3), rfc1902.Counter64(2**64 - 1)),
        ((1, 3, 6, 1, 2, 1, 1, 99, 0), rfc1905.noSuchObject),
    ],
)


@settings(max_examples=50, deadline=None)
@given(cut=st.integers(0, len(VALID) - 1))
def test_truncated_responses_raise_wire_error(cut):
    """Any truncation of a valid response raises WireError, never IndexError or another."""
    with pytest.raises(WireError):
        decode_response(VALID[:cut])


@settings(max_examples=500, deadline=None)
@given(position=st.integers(0, len(VALID) - 1), byte=st.integers(0, 255))
def test_garbled_responses_decode_or_raise_wire_error(position, byte):
    """A response with any one byte changed either decodes or raises WireError."""
    data = bytearray(VALID)
    data[position] = byte
    try:
        decode_response(bytes(data))
    except WireError:
        pass


@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=200))
def test_random_datagrams_raise_only_wire_error(data):
    """Arbitrary bytes never raise anything but WireError."""
    try:
        decode_response(data)
    except WireError:
        pass


def _message(pdu_body: bytes, version: bytes = b"\x02\x01\x01", pdu_tag: int = 0xA2) -> bytes:
    tlv = snmp_wire._tlv
    return tlv(0x30, version + tlv(0x04, b"public") + tlv(pdu_tag, pdu_body))


def _one(tag: int, contents: bytes) -> bytes:
    tlv = snmp_wire._tlv
    bind = tlv(0x30, tlv(0x06, b"\x2b\x06") + tlv(tag, contents))
    return b"\x02\x01\x07\x02\x01\x00\x02\x01\x00" + tlv(0x30, bind)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"\x30\x84\xff\xff\xff\xff\x02\x01\x01", "runs past the end"),
        (b"\x30\x80\x02\x01\x01\x00\x00", "unsupported length form"),
        (b"\x30\x85\x00\x00\x00\x00\x03", "unsupported length form"),
        (_message(_one(0x04, b"x"), version=b"\x02\x01\x03"), "version 3"),
        (_message(_one(0x04, b"x"), pdu_tag=0xA0), "GetResponse"),
        (_message(_one(0x40, b"\x7f\x00\x01")), "IpAddress of 3 bytes"),
        (_message(_one(0x41, b"\xff")), "Counter32 value -1"),
        (_message(_one(0x46, b"\x01" + b"\x00" * 8)), "Counter64 value"),
        (_message(_one(0x02, b"\x01\x00\x00\x00\x00")), "outside Integer32"),
        (_message(_one(0x47, b"\x01")), "unsupported value tag 0x47"),
        (_message(_one(0x81, b"\x01")), "must be empty"),
        (_message(_one(0x81, b""), version=b"\x02\x01\x00"), "unsupported value tag 0x81"),
        (_message(_one(0x06, b"\x2b\x86")), "ends inside a sub-identifier"),
        (_message(_one(0x06, b"\x2b" + b"\xff" * 11 + b"\x01")), "longer than 10 bytes"),
        (_message(_one(0x02, b"")), "empty INTEGER"),
        (VALID + b"\x00", "after the message"),
    ],
)
def test_hostile_packets_say_what_is_wrong(data, reason):
    """Hostile lengths, wrong versions or PDUs, and values pysnmp would refuse raise WireError
    naming the problem."""
    with pytest.raises(WireError, match=reason):
        decode_response(data)


def test_encode_oid_refuses_what_ber_cannot_carry():
    """An OID with one arc, or a second arc above 39 under 0/1, is refused when encoding."""
    for bad in [(1,), (1, 40), (3, 1), (1, 3, -1)]:
        with pytest.raises(ValueError, match="cannot encode OID"):
            snmp_wire.encode_oid(bad)
