"""SNMPv3 credentials for pysnmp: protocol tables, the auth data of a target, what the USM
reports an agent sends about our credentials mean, and a fingerprint telling key sets apart."""

from __future__ import annotations

import functools
import hashlib
from typing import Any

from pysnmp.proto import errind

from escalatord.checks.snmp.config import SnmpTargetConfig


@functools.cache
def protocols() -> tuple[dict[str, Any], dict[str, Any]]:
    """(auth, priv): pysnmp's protocol objects by config name. Imported on first use: pysnmp's
    high-level API is slow to import, and v1/v2c GETs never need it."""
    from pysnmp.hlapi.v3arch.asyncio import auth as usm

    auth = {
        "MD5": usm.usmHMACMD5AuthProtocol,
        "SHA": usm.usmHMACSHAAuthProtocol,
        "SHA224": usm.usmHMAC128SHA224AuthProtocol,
        "SHA256": usm.usmHMAC192SHA256AuthProtocol,
        "SHA384": usm.usmHMAC256SHA384AuthProtocol,
        "SHA512": usm.usmHMAC384SHA512AuthProtocol,
        "NONE": usm.usmNoAuthProtocol,
    }
    priv = {
        "DES": usm.usmDESPrivProtocol,
        "AES": usm.usmAesCfb128Protocol,
        "AES192": usm.usmAesBlumenthalCfb192Protocol,
        "AES256": usm.usmAesBlumenthalCfb256Protocol,
        "AES192C": usm.usmAesCfb192Protocol,
        "AES256C": usm.usmAesCfb256Protocol,
        "NONE": usm.usmNoPrivProtocol,
    }
    return auth, priv


# pysnmp's error indications for the USM reports an agent sends about our credentials.
AUTH_FAILURES = {
    errind.UnknownUserName: "unknown user {user!r} (usmStatsUnknownUserNames)",
    errind.WrongDigest: (
        "wrong digest: auth_key or auth_protocol does not match the agent's user {user!r} "
        "(usmStatsWrongDigests)"
    ),
    errind.DecryptionError: (
        "decryption error: priv_key or priv_protocol does not match the agent's user {user!r} "
        "(usmStatsDecryptionErrors)"
    ),
    errind.UnsupportedSecurityLevel: (
        "unsupported security level {level} for user {user!r}: the agent's user is set up for "
        "another level (usmStatsUnsupportedSecLevels)"
    ),
    errind.NotInTimeWindow: "not in time window (usmStatsNotInTimeWindows)",
    errind.UnknownEngineID: "unknown engine ID (usmStatsUnknownEngineIDs)",
}


def auth_data(cfg: SnmpTargetConfig) -> Any:
    from pysnmp.hlapi.v3arch.asyncio import CommunityData, UsmUserData

    if cfg.version != "3":
        assert cfg.community is not None  # the config model requires it
        return CommunityData(cfg.community.get_secret_value(), mpModel=int(cfg.version == "2c"))
    auth_key = cfg.auth_key.get_secret_value() if cfg.auth_key else None
    priv_key = cfg.priv_key.get_secret_value() if cfg.priv_key else None
    auth, priv = protocols()
    return UsmUserData(
        cfg.user,
        authKey=auth_key,
        privKey=priv_key,
        authProtocol=auth[cfg.auth_protocol or "SHA"] if auth_key else auth["NONE"],
        privProtocol=priv[cfg.priv_protocol or "AES"] if priv_key else priv["NONE"],
    )


def fingerprint(cfg: SnmpTargetConfig) -> str:
    """Tells v3 key sets apart without keeping another copy of the keys."""
    parts = [cfg.user or "", cfg.auth_protocol or "SHA", cfg.priv_protocol or "AES"]
    for secret in (cfg.auth_key, cfg.priv_key):
        parts.append(secret.get_secret_value() if secret else "")
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()
