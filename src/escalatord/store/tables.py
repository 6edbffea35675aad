"""The schema, as SQLAlchemy Core tables. Alembic migrations under migrations/ create it.

Times are stored as naive UTC and handed back as aware UTC (`UTCDateTime`), so SQLite and
PostgreSQL behave the same. JSON columns hold labels, steps, the policy snapshot and payloads.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    JSON,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator):
    """Aware UTC datetimes in, aware UTC datetimes out, on every backend."""

    impl = DateTime(timezone=False)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect):  # type: ignore[override]
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; pass an aware UTC datetime")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect):  # type: ignore[override]
        if value is None:
            return None
        return value.replace(tzinfo=UTC)


metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_name)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# The hard state of each check, as core/state.py computes it.
check_states = Table(
    "check_states",
    metadata,
    Column("check", String(200), primary_key=True),
    Column("status", String(16), nullable=False),  # hard status
    Column("hard", Integer, nullable=False),  # 1 hard, 0 soft (a change is pending)
    Column("attempts", Integer, nullable=False),
    Column("pending", String(16)),  # the status a soft state leans to
    Column("since", UTCDateTime),
    Column("last_status", String(16)),
    Column("last_summary", Text, nullable=False, default=""),
    Column("last_check_at", UTCDateTime),
    Column("last_duration", JSON),  # seconds, float
    Column("measurements", JSON),
    # Flap detection (issue 14): the statuses of the newest results, oldest first, one letter
    # each (o, w, c, u, r), and whether the check is flapping now. NULL: none yet / not.
    Column("flap_history", String(64)),
    Column("flapping", Integer),
)

# One row per incident. `open_key` equals `key` while the incident is open and is NULL after,
# so the unique constraint allows one open incident per dedup key on every backend.
incidents = Table(
    "incidents",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("key", String(300), nullable=False, index=True),
    Column("open_key", String(300), unique=True),
    Column("title", Text, nullable=False),
    Column("status", String(16), nullable=False),  # triggered|acknowledged|resolved|closed
    Column("severity", String(16), nullable=False),
    Column("check", String(200), nullable=False),
    Column("labels", JSON, nullable=False),
    Column("rule", String(200), nullable=False, default=""),
    Column("owner", Text, nullable=False, default=""),
    Column("runbook", Text, nullable=False, default=""),
    Column("steps", JSON, nullable=False),
    Column("summary", Text, nullable=False, default=""),
    Column("policy", JSON),  # snapshot of the policy when the incident opened
    Column("opened_at", UTCDateTime, nullable=False),
    Column("acknowledged_at", UTCDateTime),
    Column("acknowledged_by", Text),
    Column("resolved_at", UTCDateTime),
    Column("resolved_by", Text),
    Column("closed_at", UTCDateTime),
    Column("close_note", Text),
    Column("next_step", Integer, nullable=False, default=0),  # index into the planned steps
    Column("next_step_at", UTCDateTime),  # NULL when nothing more will be sent
    # Root cause: the checks this incident's check makes unreachable, [{"check", "site"}, ...]
    Column("affected", JSON),
    # `snooze ID 1h`: acknowledged until then; re-triggered after it if still failing.
    Column("snoozed_until", UTCDateTime),
    # What the incident is about: NULL a problem of its check, "flapping" a check that flaps.
    Column("kind", String(16)),
    # Storms (issue 14, a rule's group_by): the group's key (rule and grouped label values) and
    # the id of its first incident, whose pages list every member. NULL: not grouped.
    Column("group_key", String(400)),
    Column("group_id", Integer),
    # Business impact (issue 15): the matched rule's [[category]] and its priority (1 = most
    # urgent), and whether this is a drill (`escalatord drill`: never counted in real MTTA).
    Column("category", String(200)),
    Column("priority", Integer),
    Column("drill", Integer),
    # When the escalation ladder started: NULL for opened_at; set when `ack_timeout`
    # re-triggers an acknowledged incident and the ladder starts again from level 0.
    Column("ladder_at", UTCDateTime),
)
Index("ix_incidents_due", incidents.c.status, incidents.c.next_step_at)

# Everything that happened to an incident, in order.
timeline = Table(
    "timeline",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("incident_id", Integer, ForeignKey("incidents.id", ondelete="CASCADE"), nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Column("kind", String(32), nullable=False),  # opened, paged, delivered, acknowledged, ...
    Column("actor", Text, nullable=False, default="escalatord"),
    Column("message", Text, nullable=False),
    Column("data", JSON),
)
Index("ix_timeline_incident", timeline.c.incident_id, timeline.c.id)

# Notifications still to deliver and those delivered. `key` is the idempotency key
# (incident, step, event, notifier): inserting a row twice is impossible.
outbox = Table(
    "outbox",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("key", String(400), nullable=False, unique=True),
    Column("incident_id", Integer, ForeignKey("incidents.id", ondelete="CASCADE")),
    Column("notifier", String(200), nullable=False),
    Column("event", String(16), nullable=False),
    Column("level", Integer, nullable=False),
    Column("payload", JSON, nullable=False),  # IncidentView.to_json() at enqueue time
    Column("status", String(16), nullable=False),  # pending|delivered|failed|muted
    Column("attempts", Integer, nullable=False, default=0),
    Column("created_at", UTCDateTime, nullable=False),
    Column("next_attempt_at", UTCDateTime, nullable=False),
    Column("delivered_at", UTCDateTime),
    Column("last_error", Text),
    # The daemon instance (nodes.instance) sending the row now: its claim runs until
    # next_attempt_at (the lease). NULL when nobody is sending it. A restarted daemon takes
    # back claims of instances that are gone (notify/dispatcher.py `take_back`).
    Column("claimed_by", String(64)),
    # A page to a person ([[person]], issue 13): who, and the contact's address for the
    # notifier (`to`). NULL for a page to a channel.
    Column("person", String(200)),
    Column("address", Text),
)
Index("ix_outbox_due", outbox.c.status, outbox.c.next_attempt_at)

# Heartbeat checks: the last signals received, so a restart never makes a healthy interface
# look late nor a late one look healthy.
heartbeats = Table(
    "heartbeats",
    metadata,
    Column("check", String(200), primary_key=True),
    Column("first_seen_at", UTCDateTime),  # first judged: a job that never pings is late from here
    Column("last_ping_at", UTCDateTime),  # last success signal
    Column("last_start_at", UTCDateTime),  # last /start signal
    Column("last_fail_at", UTCDateTime),  # last /fail or non-zero exit signal
    Column("last_exit_code", Integer),
    Column("last_body", Text),  # the caller's message, size-limited
)

# Ack links are signed and carry a token id; a used id is recorded here, so a link works once.
ack_tokens = Table(
    "ack_tokens",
    metadata,
    Column("token_id", String(64), primary_key=True),
    Column("incident_id", Integer, ForeignKey("incidents.id", ondelete="CASCADE"), nullable=False),
    Column("recipient", String(200), nullable=False),
    Column("used_at", UTCDateTime, nullable=False),
    Column("used_by", Text, nullable=False),
)

# The key that signs ack links when [daemon] ack_secret is not set: made once at random and kept
# here, so links survive restarts and every node and CLI of one database verifies the same way.
ack_keys = Table(
    "ack_keys",
    metadata,
    Column("name", String(32), primary_key=True),
    Column("secret", Text, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)

# One row per daemon node: which instance (one run of `escalatord run`) is live on it, and
# when it last wrote here. The daemon updates its row every few seconds (store/watch.py): a
# write that proves the database takes writes even when nothing else is written, and the
# node's lease for the cluster to come ("claims of a node whose lease lapsed are taken back").
nodes = Table(
    "nodes",
    metadata,
    Column("name", String(200), primary_key=True),  # [cluster] node, or the host name
    Column("instance", String(64), nullable=False),  # a new random id at every start
    Column("started_at", UTCDateTime, nullable=False),
    Column("seen_at", UTCDateTime, nullable=False),
    # [cluster] (issue 17): until when the node's lease holds, by the database's clock (NULL: no
    # lease: a single node, or a node stopped gracefully), and a hash of its config, so nodes
    # running different configs are noticed (store/nodes.py).
    Column("lease_until", UTCDateTime),
    Column("config_hash", String(64)),
    # How far behind schedule the node's checks run and its overload in words (NULL: keeping
    # up), written with each renewal so `escalatord nodes` shows an overloaded node's share.
    Column("behind_s", Float),
    Column("overload", Text),
)

# Run-time rota overrides (`escalatord oncall override`): `person` is on call in `schedule`
# from `from_at` until `until_at` (UTC), whoever the layers say. Config overrides are not here.
schedule_overrides = Table(
    "schedule_overrides",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("schedule", String(200), nullable=False),
    Column("person", String(200), nullable=False),
    Column("from_at", UTCDateTime, nullable=False),
    Column("until_at", UTCDateTime, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("created_by", Text, nullable=False),
    # Ids are never reused (SQLite would hand a deleted newest id out again): `oncall override
    # remove 3` from an old listing must not remove a newer override.
    sqlite_autoincrement=True,
)
Index(
    "ix_schedule_overrides_schedule", schedule_overrides.c.schedule, schedule_overrides.c.until_at
)

# Run-time silences (`escalatord silence add`, the API): checks matched by label matchers (as
# rules have) or by name are quiet from `starts_at` until `ends_at`. A removed silence keeps
# its row (removed_at, removed_by) for the record.
silences = Table(
    "silences",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("match", JSON, nullable=False),  # {"label": "value" | ["a", "b"]}
    Column("match_re", JSON, nullable=False),  # {"label": "regex"}
    Column("checks", JSON, nullable=False),  # ["check name", ...]
    Column("starts_at", UTCDateTime, nullable=False),
    Column("ends_at", UTCDateTime, nullable=False),
    Column("reason", Text, nullable=False),
    Column("created_by", Text, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("removed_at", UTCDateTime),
    Column("removed_by", Text),
    sqlite_autoincrement=True,  # ids are never reused: `silence remove 3` from an old listing
)
Index("ix_silences_ends_at", silences.c.ends_at)

# Contact tests (`escalatord test-contacts`, issue 15): one row per test message sent to one
# contact of one person, and when its signed confirm link was followed (NULL: not yet). A
# contact is (person, notifier, address): `contact` is its index in the config when sent, for
# the record only, so reordering contacts keeps their confirmations and a changed address has
# none. The message itself is the outbox row `outbox_key` (sent by the daemon's dispatcher).
contact_tests = Table(
    "contact_tests",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("person", String(200), nullable=False),
    Column("contact", Integer, nullable=False),
    Column("notifier", String(200), nullable=False),
    Column("address", Text, nullable=False),
    Column("sent_at", UTCDateTime, nullable=False),
    Column("sent_by", Text, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Column("outbox_key", String(400), nullable=False),
    Column("confirmed_at", UTCDateTime),
    Column("confirmed_from", Text),  # the client address that followed the link
    # Ids are never reused: a link names its row, and must not confirm a newer test.
    sqlite_autoincrement=True,
)
Index("ix_contact_tests_person", contact_tests.c.person, contact_tests.c.notifier)

# Satellites in a cluster (docs/satellites.md): when each satellite's last batch arrived at any
# node, so the node owning its link check judges silence from every node's batches ...
satellite_heard = Table(
    "satellite_heard",
    metadata,
    Column("satellite", String(200), primary_key=True),
    Column("last_heard", UTCDateTime, nullable=False),
)

# ... and the fresh results a node received for checks another node owns: the owner applies
# them in time order at its next catch-up round and deletes them (satellite/shared.py).
satellite_results = Table(
    "satellite_results",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("satellite", String(200), nullable=False),
    Column("check", String(200), nullable=False),
    Column("status", String(16), nullable=False),
    Column("summary", Text, nullable=False),
    Column("measurements", JSON, nullable=False),
    Column("duration", Float),
    Column("at", UTCDateTime, nullable=False),  # when the satellite took it
    Column("received_at", UTCDateTime, nullable=False),  # when a node received it
    sqlite_autoincrement=True,
)
Index("ix_satellite_results_check", satellite_results.c.check, satellite_results.c.at)

# Results a node of a cluster received for a check another node owns (SNMP traps), with the
# state-machine settings they count with, until the owner applies them (monitor/relayed.py).
relayed_results = Table(
    "relayed_results",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("check", String(200), nullable=False),
    Column("status", String(16), nullable=False),
    Column("summary", Text, nullable=False),
    Column("measurements", JSON, nullable=False),
    Column("at", UTCDateTime, nullable=False),  # when the signal was judged at the receiver
    Column("received_at", UTCDateTime, nullable=False),
    Column("retries", Integer, nullable=False),
    Column("recover_after", Integer, nullable=False),
    Column("interval_s", Float, nullable=False),
    Column("retry_interval_s", Float, nullable=False),
    sqlite_autoincrement=True,
)
Index("ix_relayed_results_check", relayed_results.c.check, relayed_results.c.at)
