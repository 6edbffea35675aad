"""Text shared by the summaries of several check types (tcp, http, dns, ping)."""

from __future__ import annotations


def format_ms(ms: float) -> str:
    """Milliseconds for a summary: 0.05, 12.3, 250."""
    if ms < 1:
        return f"{ms:.2f}"
    return f"{ms:.1f}" if ms < 100 else f"{ms:.0f}"
