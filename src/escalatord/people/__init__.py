"""People on call, as the running daemon and the CLI see them: run-time rota overrides kept in
the store (overrides.py). The pure resolution is core/oncall.py; persons, teams and schedules
come from config (config/people.py)."""
