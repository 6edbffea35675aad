"""Notifier types and the dispatcher that delivers from the outbox."""
