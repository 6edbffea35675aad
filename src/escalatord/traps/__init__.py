"""SNMP traps: the `[traps]` listener (receiver.py), its config (config.py), OID names
(oids.py), the `snmp_trap` check the traps set (check.py) and the pure mapping of a received
trap to check results (mapping.py)."""
