"""A net-snmp `pass_persist` helper serving sysUpTime, IF-MIB's ifTable and ifXTable from a
JSON file, so tests can flip an interface, move it to another ifIndex or advance its counters
between two polls of a real snmpd.

snmpd runs it as `python snmp_passpersist.py STATE.json PREFIX` (one process per registered
subtree; only OIDs under PREFIX are served) and talks to it on stdin/stdout
(PING/PONG, then "get"/"getnext" + OID, answered with OID, type, value or NONE). The file is
read again whenever it changes (tests replace it atomically). Its shape:

    {"uptime": 12345 | null,   # sysUpTime in hundredths of a second; null: real time
     "interfaces": [{"index": 3, "name": "ge-0/0/1", "descr": "…", "alias": "…",
                     "admin": 1, "oper": 1, "speed": 1000000000, "high_speed": 1000,
                     "in_octets": 0, "out_octets": 0, "hc_in": 0 | null, "hc_out": 0 | null,
                     "in_errors": 0, "out_errors": 0}]}

`hc_in`/`hc_out` null: the interface has only 32-bit counters. Standalone on purpose: snmpd
starts it with its own working directory and environment.
"""

from __future__ import annotations

import bisect
import json
import os
import sys
import time

IF = (1, 3, 6, 1, 2, 1, 2)
IFX = (1, 3, 6, 1, 2, 1, 31, 1, 1, 1)
UPTIME = (1, 3, 6, 1, 2, 1, 1, 3, 0)
STARTED = time.monotonic()


def table(state: dict) -> list[tuple[tuple[int, ...], str, str]]:
    rows = []
    uptime = state.get("uptime")
    if uptime is None:
        uptime = int((time.monotonic() - STARTED) * 100)
    rows.append((UPTIME, "timeticks", str(uptime)))
    interfaces = sorted(state.get("interfaces", []), key=lambda i: i["index"])
    rows.append(((*IF, 1, 0), "integer", str(len(interfaces))))
    for i in interfaces:
        n = i["index"]
        entry = (*IF, 2, 1)
        rows += [
            ((*entry, 1, n), "integer", str(n)),
            ((*entry, 2, n), "string", i.get("descr", "")),
            ((*entry, 3, n), "integer", "6"),
            ((*entry, 5, n), "gauge", str(min(i.get("speed", 0), 2**32 - 1))),
            ((*entry, 7, n), "integer", str(i.get("admin", 1))),
            ((*entry, 8, n), "integer", str(i.get("oper", 1))),
            ((*entry, 10, n), "counter", str(i.get("in_octets", 0) % 2**32)),
            ((*entry, 14, n), "counter", str(i.get("in_errors", 0) % 2**32)),
            ((*entry, 16, n), "counter", str(i.get("out_octets", 0) % 2**32)),
            ((*entry, 20, n), "counter", str(i.get("out_errors", 0) % 2**32)),
            ((*IFX, 1, n), "string", i.get("name", "")),
            ((*IFX, 15, n), "gauge", str(i.get("high_speed", 0))),
            ((*IFX, 18, n), "string", i.get("alias", "")),
        ]
        if i.get("hc_in") is not None and i.get("hc_out") is not None:
            rows += [
                ((*IFX, 6, n), "counter64", str(i["hc_in"])),
                ((*IFX, 10, n), "counter64", str(i["hc_out"])),
            ]
    rows.sort()
    return rows


def parse(text: str) -> tuple[int, ...]:
    return tuple(int(p) for p in text.strip().lstrip(".").split(".") if p)


def main(path: str, prefix: tuple[int, ...]) -> None:
    seen, state = None, {}
    out = sys.stdout

    def reply(*lines: str) -> None:
        out.write("\n".join(lines) + "\n")
        out.flush()

    for line in sys.stdin:
        command = line.strip().lower()
        if command == "ping":
            reply("PONG")
            continue
        if command not in ("get", "getnext", "set"):
            continue
        oid = parse(sys.stdin.readline())
        if command == "set":
            sys.stdin.readline()
            reply("not-writable")
            continue
        try:
            stat = os.stat(path)
            key = (stat.st_ino, stat.st_mtime_ns, stat.st_size)
            if key != seen:
                with open(path) as f:
                    state, seen = json.load(f), key
        except (OSError, ValueError):
            pass  # keep serving the last good state
        rows = [r for r in table(state) if r[0][: len(prefix)] == prefix]
        oids = [r[0] for r in rows]
        if command == "get":
            at = bisect.bisect_left(oids, oid)
            found = at < len(rows) and oids[at] == oid
        else:
            at = bisect.bisect_right(oids, oid)
            found = at < len(rows)
        if not found:
            reply("NONE")
            continue
        name, kind, value = rows[at]
        reply("." + ".".join(map(str, name)), kind, value)


if __name__ == "__main__":
    main(sys.argv[1], parse(sys.argv[2]))
