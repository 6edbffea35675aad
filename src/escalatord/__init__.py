"""escalatord: a self-hosted escalation daemon."""

__version__ = "0.1.0"
