"""Loopback helpers for tests."""

from __future__ import annotations

import socket


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port free on `host` right now (bind port 0 and ask the kernel)."""
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]
