"""The API's socket and server: bound before anything starts, served by uvicorn without its
own signal handlers (app.py builds both; daemon.py owns the signals)."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Iterator

import uvicorn

from escalatord.errors import EscalatordError


def bind(host: str, port: int) -> socket.socket:
    """Bind the API's socket before anything starts, so a taken port is a clear error."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise EscalatordError(
            f"cannot listen on {host}:{port}: {exc.strerror}; is another escalatord (or another "
            "service) using that port? Change [daemon] listen"
        ) from None
    sock.listen(1024)
    sock.setblocking(False)
    return sock


class Server(uvicorn.Server):
    """uvicorn without its own signal handlers: the daemon owns SIGTERM and SIGHUP."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield
