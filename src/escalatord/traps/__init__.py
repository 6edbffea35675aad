"""SNMP traps: the `[traps]` listener (receiver.py), its config (config.py), OID names
(oids.py) and the pure mapping of a received trap to check results (mapping.py)."""
