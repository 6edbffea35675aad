"""Check types. base.py is the plugin API (Check, CheckConfig, CheckContext, Result, Status);
each type is a `Check` subclass with its config model: one package per protocol family
(http/, snmp/, ping/, command/), one module per small type (tcp.py, dns.py, file_age.py), and
the helpers several of them share (hosts.py, ranges.py, text.py, loopsocket.py). Passive
checks live with their features: escalatord.heartbeats and escalatord.traps."""
