"""The daemon's HTTP API (Starlette)."""
