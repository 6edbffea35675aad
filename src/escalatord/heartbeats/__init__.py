"""Heartbeats, the passive check jobs and interfaces report to: the `heartbeat` check type
(check.py), its signals in the store (store.py) and the `/heartbeat/<check>` endpoint
(endpoint.py) that receives them."""
