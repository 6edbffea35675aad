"""Monitoring: per-check soft/hard state (state.py), later the scheduler adapter and topology."""
