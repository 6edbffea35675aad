"""When a TLS certificate expires, read from its DER bytes. Pure.

`ssl.SSLObject.getpeercert()` gives the dates only for verified certificates; the DER form is
there either way (`verify_tls = false` too), and the validity dates sit at a fixed place in
it: Certificate ::= SEQUENCE { tbsCertificate SEQUENCE { [0] version OPTIONAL, serialNumber,
signature, issuer, validity SEQUENCE { notBefore, notAfter }, … }, … } (RFC 5280 §4.1).
"""

from __future__ import annotations

from datetime import UTC, datetime

_SEQUENCE, _UTC_TIME, _GENERALIZED_TIME, _VERSION = 0x30, 0x17, 0x18, 0xA0


def _element(der: bytes, pos: int) -> tuple[int, int, int]:
    """(tag, start of content, end of content) of the DER element at `pos`."""
    if pos + 2 > len(der):
        raise ValueError("truncated certificate")
    tag, length = der[pos], der[pos + 1]
    pos += 2
    if length & 0x80:
        size = length & 0x7F
        if size == 0 or size > 4 or pos + size > len(der):
            raise ValueError("unsupported length in certificate")
        length = int.from_bytes(der[pos : pos + size], "big")
        pos += size
    if pos + length > len(der):
        raise ValueError("truncated certificate")
    return tag, pos, pos + length


def _time(tag: int, raw: bytes) -> datetime:
    text = raw.decode("ascii")
    if tag == _UTC_TIME:  # YYMMDDHHMMSSZ; years 50-99 are 19xx (RFC 5280 §4.1.2.5.1)
        year = int(text[:2])
        text = f"{1900 + year if year >= 50 else 2000 + year}{text[2:]}"
    elif tag != _GENERALIZED_TIME:
        raise ValueError("validity is not a time")
    if not text.endswith("Z"):
        raise ValueError("validity time is not in UTC")
    return datetime.strptime(text[:-1], "%Y%m%d%H%M%S").replace(tzinfo=UTC)


def not_after(der: bytes) -> datetime:
    """The certificate's notAfter (aware UTC); ValueError when `der` is not a certificate."""
    tag, start, _ = _element(der, 0)
    if tag != _SEQUENCE:
        raise ValueError("not a certificate")
    tag, pos, tbs_end = _element(der, start)
    if tag != _SEQUENCE:
        raise ValueError("not a certificate")
    if der[pos] == _VERSION:
        pos = _element(der, pos)[2]
    for _ in range(3):  # serialNumber, signature, issuer
        pos = _element(der, pos)[2]
    tag, pos, _ = _element(der, pos)
    if tag != _SEQUENCE or pos >= tbs_end:
        raise ValueError("no validity in certificate")
    pos = _element(der, pos)[2]  # notBefore
    tag, start, end = _element(der, pos)
    return _time(tag, der[start:end])


def days_left(expires: datetime, now: datetime) -> float:
    return (expires - now).total_seconds() / 86400
