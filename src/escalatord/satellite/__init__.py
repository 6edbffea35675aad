"""Satellites for remote offices (docs/satellites.md): the central daemon's side (the link
checks, the results endpoint) and the `escalatord satellite` process (agent.py)."""
