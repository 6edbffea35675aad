"""The `command` check type: a monitoring plugin run as a process, judged by its exit code
(check.py), and its output's text and performance data (perfdata.py)."""
