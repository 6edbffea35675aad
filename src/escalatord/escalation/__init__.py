"""Escalation: rule matching (rules.py) and escalation timing from a policy snapshot (policy.py)."""
