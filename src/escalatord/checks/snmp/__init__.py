"""The `snmp` and `snmp_interface` check types: get.py (one value against thresholds) and
interface.py (IF-MIB status, rates and errors), their shared keys (config.py), requests and
what failures mean (session.py, failures.py, values.py), the pysnmp engines, v3 keys and
engine-ID discovery (engines.py, auth.py, discovery.py), the v1/v2c fast path with its BER
codec (fast.py, wire.py), MIB names (mibnames.py) and counter rates (counters.py)."""
