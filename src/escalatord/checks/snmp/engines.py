"""The process's pysnmp engine(s): `SnmpSession`, shared by every SNMP check through the
`CheckContext` (`SnmpSession.of(context)`); see session.py for how targets use it.

One engine can hold one set of SNMPv3 keys per user name (pysnmp localises the keys of a user
for each agent from a single entry). When two checks use the same v3 user name with different
keys or protocols (per-device keys, or a key rotated by a reload), the second set gets an
engine of its own; an extra engine is closed when its last check is.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from escalatord.checks.base import CheckContext

SHARED_KEY = "snmp"


@dataclass
class _Slot:
    engine: Any
    users: dict[str, str] = field(default_factory=dict)  # v3 user name -> key fingerprint
    refs: dict[str, int] = field(default_factory=dict)  # fingerprint -> targets using it


class SnmpSession:
    """The process's SNMP engine(s); see the module docstring. Closed by the context."""

    def __init__(self) -> None:
        self._slots: list[_Slot] = []

    @staticmethod
    def of(context: CheckContext) -> SnmpSession:
        """The session shared through `context`, made on first use."""
        session: SnmpSession = context.shared(SHARED_KEY, SnmpSession)
        return session

    def acquire(self, user: str | None, fingerprint: str) -> Any:
        """An engine for a v1/v2c target (user None) or for this v3 user and key set."""
        if not self._slots:
            self._slots.append(_Slot(pysnmp_hlapi().SnmpEngine()))
        if user is None:
            return self._slots[0].engine
        slot = next((s for s in self._slots if s.users.get(user, fingerprint) == fingerprint), None)
        if slot is None:
            slot = _Slot(pysnmp_hlapi().SnmpEngine())
            self._slots.append(slot)
        slot.users[user] = fingerprint
        slot.refs[fingerprint] = slot.refs.get(fingerprint, 0) + 1
        return slot.engine

    def release(self, user: str, fingerprint: str) -> None:
        """A v3 target is done with its engine; an extra engine nobody uses is closed."""
        for index, slot in enumerate(self._slots):
            if slot.users.get(user) == fingerprint and slot.refs.get(fingerprint):
                slot.refs[fingerprint] -= 1
                if index and not any(slot.refs.values()):
                    slot.engine.close_dispatcher()
                    del self._slots[index]
                return

    @property
    def engines(self) -> int:
        return len(self._slots)

    def close(self) -> None:
        slots, self._slots = self._slots, []
        for slot in slots:
            slot.engine.close_dispatcher()


def pysnmp_hlapi() -> Any:
    """pysnmp's high-level API, imported on first use (slow to import): v1/v2c GETs never need
    it."""
    import pysnmp.hlapi.v3arch.asyncio as hlapi

    return hlapi
