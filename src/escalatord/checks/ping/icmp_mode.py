"""Which ICMP socket this process pings with: `[daemon] icmp_privileged` made concrete.

Linux offers two: a raw socket (root, or CAP_NET_RAW) and an unprivileged datagram ("ping")
socket, allowed only to the groups in the sysctl `net.ipv4.ping_group_range` (Debian's
default `1 0` allows nobody). The setting is `true` (raw), `false` (datagram) or `"auto"`
(the default): the first of the two that this process can actually open, tried once when the
mode is decided. Whether it may is not guessed from the uid: root without CAP_NET_RAW cannot
open a raw socket, and a service user with `AmbientCapabilities=CAP_NET_RAW` can.

`decide()` opens and closes the sockets; everything else here is pure. The daemon decides once
at start and hands the result to its probe worker processes, so every process of a daemon
pings the same way; `check-config` decides in its own process, which systemd runs as the same
user in the same sandbox (ExecStartPre=), so what it prints is what the daemon will get.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from icmplib import ICMPv4Socket, ICMPv6Socket
from icmplib.exceptions import ICMPSocketError, SocketPermissionError

if TYPE_CHECKING:
    from escalatord.checks.base import CheckConfig, CheckContext

Setting = bool | Literal["auto"]

# How to fix a socket that cannot be opened, per setting.
UNPRIVILEGED_FIX = (
    'set [daemon] icmp_privileged = "auto" (or true) and give CAP_NET_RAW, '
    "or widen net.ipv4.ping_group_range"
)
PRIVILEGED_FIX = (
    "run as root or give the daemon CAP_NET_RAW (AmbientCapabilities=CAP_NET_RAW), "
    'or set [daemon] icmp_privileged = "auto" and widen net.ipv4.ping_group_range'
)
AUTO_FIX = (
    "give the daemon CAP_NET_RAW (AmbientCapabilities=CAP_NET_RAW; root has it unless "
    "it was dropped), or widen net.ipv4.ping_group_range to include its group"
)


@dataclass(frozen=True)
class IcmpMode:
    """The decided mode: which socket pingers open, and whether it opened when decided.

    `privileged` is what pingers open (raw when true, datagram when false). When `usable` is
    false neither the forced socket nor (for "auto") either socket opened: ping checks are
    unknown with `problem()` as their summary until the cause is fixed (a widened sysctl
    takes effect at the next run; a capability only at a restart).
    """

    setting: Setting
    privileged: bool
    usable: bool

    @property
    def name(self) -> str:
        """ "raw", "unprivileged" or "unavailable": what the start log and check-config say."""
        if not self.usable:
            return "unavailable"
        return "raw" if self.privileged else "unprivileged"

    def describe(self) -> str:
        """One line for check-config: the mode, and why it is the one in use."""
        setting = {True: "true", False: "false", "auto": '"auto"'}[self.setting]
        if not self.usable:
            return f"ICMP: unavailable (icmp_privileged = {setting}): {self.problem()}"
        if self.privileged:
            why = "the process has CAP_NET_RAW"
        else:
            why = f"net.ipv4.ping_group_range{_range_text()} allows gid {os.getgid()}"
            if self.setting == "auto":
                why = f"no CAP_NET_RAW; {why}"
        return f"ICMP: {self.name} sockets (icmp_privileged = {setting}: {why})"

    def problem(self) -> str:
        """Why the socket cannot be opened and what to change (a ping check's summary)."""
        if self.setting == "auto":
            return (
                "cannot open a raw ICMP socket (no CAP_NET_RAW) nor an unprivileged one"
                f"{_refusal()}: {AUTO_FIX}"
            )
        return permission_message(self.privileged)


def permission_message(privileged: bool) -> str:
    """Why the forced socket could not be opened and what to change."""
    if privileged:
        return f"cannot open a raw ICMP socket (permission denied): {PRIVILEGED_FIX}"
    return f"cannot open an unprivileged ICMP socket{_refusal()}: {UNPRIVILEGED_FIX}"


def _range_text() -> str:
    """ " = LOW HIGH" from procfs, or "" where it cannot be read (not Linux, no procfs)."""
    try:
        with open("/proc/sys/net/ipv4/ping_group_range") as fh:
            low, high = fh.read().split()
    except (OSError, ValueError):
        return ""
    return f" = {low} {high}"


def _refusal() -> str:
    text = _range_text()
    return f" (gid {os.getgid()} is outside net.ipv4.ping_group_range{text})" if text else ""


def opens(privileged: bool) -> bool:
    """Whether this process can open that kind of ICMP socket now (closed again at once).

    IPv4 is tried first, IPv6 where IPv4 fails for another reason than permission (a kernel
    without IPv4): permission is the same for both families.
    """
    for kind in (ICMPv4Socket, ICMPv6Socket):
        try:
            kind(privileged=privileged).close()
        except SocketPermissionError:
            return False
        except ICMPSocketError:
            continue
        return True
    return False


def decide(setting: Setting) -> IcmpMode:
    """The mode for `setting`, found by opening the sockets: raw first, then datagram."""
    if setting == "auto":
        for privileged in (True, False):
            if opens(privileged):
                return IcmpMode(setting, privileged, True)
        return IcmpMode(setting, False, False)
    return IcmpMode(setting, setting, opens(setting))


def mode_of(context: CheckContext) -> IcmpMode:
    """The ICMP socket `context`'s process pings with: the one handed to it, else decided on
    first use by trying to open them (`decide`), then fixed for the context's life."""
    if context.icmp_mode is None:
        context.icmp_mode = decide(context.icmp_privileged)
    return context.icmp_mode


def pings(checks: Iterable[CheckConfig]) -> bool:
    """Whether any enabled check sends ICMP (so an unusable mode deserves a warning)."""
    return any(c.type == "ping" and c.enabled for c in checks)
