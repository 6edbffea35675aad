"""The config of the `escalatord oncall` tests (tests/e2e/test_cli_oncall*.py)."""

from __future__ import annotations

import textwrap
from pathlib import Path

# Two weekly rotations and a daily one: the Europe/Berlin spring-forward night is 2026-03-29
# (02:00 CET -> 03:00 CEST), New York's 2026-03-08.
SCHEDULES = """
[[person]]
name = "alice"
full_name = "Alice Moreau"
[[person]]
name = "bob"
full_name = "Bob Nguyen"
[[person]]
name = "dave"
[[person]]
name = "erin"
full_name = "Erin Walsh"
[[person]]
name = "frank"
full_name = "Frank Li"

[[schedule]]
name = "berlin"
timezone = "Europe/Berlin"
  [[schedule.layer]]
  members = ["alice", "bob"]
  start = "2026-03-02 09:00"
  rotation = "1w"
  [[schedule.layer]]
  members = ["dave"]
  start = "2026-03-02 08:00"
  rotation = "1w"
  restrict = ["mon-fri 08:00-18:00"]
  [[schedule.override]]
  person = "erin"
  from = "2026-04-03 18:00"
  until = "2026-04-06 09:00"

[[schedule]]
name = "daily"
timezone = "Europe/Berlin"
  [[schedule.layer]]
  members = ["alice", "bob"]
  start = "2026-03-02 09:00"
  rotation = "1d"

[[schedule]]
name = "desk"
timezone = "America/New_York"
  [[schedule.layer]]
  members = ["frank"]
  start = "2026-01-05 09:00"
  rotation = "1w"
  restrict = ["mon-fri 09:00-17:00"]
"""


def oncall_config(tmp_path: Path) -> Path:
    """A config in `tmp_path` with SCHEDULES and a SQLite database beside it (not created:
    tests/e2e/conftest.py's `database` fixture creates it as `escalatord run` would)."""
    path = tmp_path / "escalatord.toml"
    database = f'[daemon]\ndatabase = "sqlite:///{tmp_path}/escalatord.db"\n'
    path.write_text(database + textwrap.dedent(SCHEDULES))
    return path
