"""Incidents: the status lifecycle (lifecycle.py); the store-backed service builds on it."""
