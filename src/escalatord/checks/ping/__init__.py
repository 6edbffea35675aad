"""The `ping` check type: the check (check.py), the ICMP socket every ping check of the process
shares (pinger.py), and which kind of ICMP socket the process may open (icmp_mode.py)."""
