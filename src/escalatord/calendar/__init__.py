"""Jobs at wall-clock times on APScheduler 3.11 (jobs.py): retention of old rows
(retention.py) and handoff notices (handoffs.py). The checks stay on monitor/'s timer heap."""
