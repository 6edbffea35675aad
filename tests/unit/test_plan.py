"""`escalatord plan`'s pure parts: the threshold words of each check type (plan/words.py) and
the plan data of a small config (plan/data.py): sections, ladder times, on-call names with a
handoff inside the weeks shown, contact paths and the dependency map."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

from escalatord.config.loader import load_text
from escalatord.plan.data import NO_CATEGORY, assemble
from escalatord.plan.render import render
from escalatord.plan.words import thresholds

CONFIG = """
[[check]]
name = "router"
type = "ping"
host = "10.0.0.1"
max_loss = "40%"
max_rtt = "200ms"
labels = { site = "hq" }

[[check]]
name = "web"
type = "http"
url = "http://10.0.0.2/"
max_latency = "5s"
depends_on = ["router"]
labels = { site = "hq" }

[[check]]
name = "backup"
type = "http"
url = "http://10.0.0.3/"
depends_on_any = ["router", "lte"]
labels = { site = "branch" }

[[check]]
name = "lte"
type = "ping"
host = "10.0.0.4"
enabled = false
labels = { site = "branch" }

[[category]]
name = "patient-care"
priority = 1

[[category]]
name = "comfort"
priority = 3

[[rule]]
name = "web"
match = { check = ["web", "router"] }
category = "patient-care"
severity = "critical"
owner = "netops"
runbook = "https://wiki/r"
steps = ["Call the ISP"]
policy = "p"

[[rule]]
name = "rest"
policy = "p"

[[policy]]
name = "p"
  [[policy.level]]
  after = "0m"
  notify = ["rota", "hook"]
  [[policy.level]]
  after = "15m"
  notify = ["net"]

[[notifier]]
name = "hook"
type = "webhook"
url = "http://127.0.0.1:9/hook"

[[person]]
name = "alice"
  [[person.contact]]
  notifier = "hook"
  to = "alice"
  [[person.contact]]
  notifier = "hook"
  to = "alice-phone"
  after = "5m"

[[person]]
name = "bob"
  [[person.contact]]
  notifier = "hook"
  to = "bob"

[[team]]
name = "net"
members = ["alice", "bob"]

[[schedule]]
name = "rota"
timezone = "UTC"
  [[schedule.layer]]
  members = ["alice", "bob"]
  start = "2026-01-05 09:00"
  rotation = "1w"
"""

START = datetime(2026, 1, 8, 12, 0, tzinfo=UTC)  # a Thursday: alice's turn, bob from Mon 09:00


def _plan():
    return assemble(load_text(CONFIG), START, 2)


def _cfg(type_: str, **keys: object) -> SimpleNamespace:
    base = dict(
        interval=timedelta(minutes=1), timeout=timedelta(seconds=10), retries=3,
        retry_interval=timedelta(seconds=15),
    )  # fmt: skip
    return SimpleNamespace(type=type_, **{**base, **keys})


def test_ping_words_say_loss_and_rtt():
    """A ping check reads "loss over 40% or RTT over 200 ms" and the cadence."""
    cfg = _cfg("ping", host="h", count=3, max_loss=40.0, max_rtt=timedelta(milliseconds=200))
    text = thresholds(cfg)
    assert text.startswith("loss over 40% or RTT over 200 ms")
    assert "fails 3 times in a row, checked every 1m" in text


def test_heartbeat_words_say_every_plus_grace():
    """A heartbeat every 5m with 10m grace reads "no heartbeat for 15m" and has no cadence."""
    cfg = _cfg(
        "heartbeat", every=timedelta(minutes=5), grace=timedelta(minutes=10), failures=1,
        max_runtime=None,
    )  # fmt: skip
    assert thresholds(cfg) == "no heartbeat for 15m (expected every 5m, 10m grace)"


def test_http_words_default_status_and_latency():
    """An HTTP check without expect_status reads "HTTP status not 2xx/3xx or slower than 5s"."""
    cfg = _cfg("http", max_latency=timedelta(seconds=5))
    assert thresholds(cfg).startswith("HTTP status not 2xx/3xx or slower than 5s;")


def test_other_types_words():
    """tcp, dns, file_age and command checks each say what fails them."""
    assert "no TCP connection to h:25" in thresholds(_cfg("tcp", host="h", port=25))
    dns = _cfg("dns", query="x.org", record="A", expect_rcode="NOERROR", expect=("1.2.3.4",))
    assert "A x.org answers other than NOERROR or answer not 1.2.3.4" in thresholds(dns)
    age = _cfg("file_age", path="/b/*.tar", max_age=timedelta(days=1), warning_age=None)
    assert thresholds(age).startswith("newest /b/*.tar older than 1d")
    assert "`check.sh -x` exits 1, 2 or 3" in thresholds(
        _cfg("command", command=("check.sh", "-x"))
    )


def test_unknown_type_falls_back_to_the_cadence():
    """A plugin type the plan does not know gets the generic interval/retries sentence."""
    assert thresholds(_cfg("mything", retries=1)).startswith("fails once, checked every 1m")


def test_sections_by_priority_with_no_category_last():
    """Categories come by priority, an unused one stays (empty), uncategorised checks last."""
    plan = _plan()
    assert [s.name for s in plan.sections] == ["patient-care", "comfort", NO_CATEGORY]
    care = plan.sections[0]
    assert [e.check for e in care.sites["hq"]] == ["router", "web"]
    assert plan.sections[1].sites == {}
    assert [e.check for e in plan.sections[2].sites["branch"]] == ["backup"]
    web = care.sites["hq"][1]
    assert (web.owner, web.runbook, web.steps, web.severity) == (
        "netops", "https://wiki/r", ("Call the ISP",), "critical",
    )  # fmt: skip


def test_ladder_times_and_on_call_handoff():
    """The ladder says "at once" and "after 15m"; the rota hands alice over to bob on Monday."""
    ladder = _plan().sections[0].sites["hq"][0].ladder
    first, second = (step.describe() for step in ladder.steps)
    assert first == "at once: rota (alice until Mon 09:00, then bob) and hook"
    assert second == "after 15m: team net (alice, bob)"
    zone, shifts = _plan().schedules["rota"]
    assert zone == "UTC"
    assert [s.persons for s in shifts] == [("alice",), ("bob",), ("alice",)]
    assert shifts[1].start == datetime(2026, 1, 12, 9, 0, tzinfo=UTC)


def test_contact_paths_and_dependency_map():
    """Contacts come in order with their delay; the map lists what hangs on each parent."""
    plan = _plan()
    _display, contacts = plan.people["alice"]
    assert [(c.to, c.after) for c in contacts] == [
        ("alice", "at once"),
        ("alice-phone", "after 5m"),
    ]
    assert [d.check for d in plan.dependencies["branch"]["lte"]] == ["backup"]
    [(parent, dependants)] = plan.dependencies["hq"].items()
    assert parent == "router"
    assert [(d.check, d.site, d.redundant) for d in dependants] == [
        ("web", "hq", False), ("backup", "branch", True),
    ]  # fmt: skip


def test_html_escapes_and_md_does_not():
    """HTML is autoescaped (a step with "<" is shown, not parsed); Markdown keeps the text."""
    text = CONFIG.replace("Call the ISP", "Call <ISP> & wait")
    plan = assemble(load_text(text), START, 2)
    assert "Call &lt;ISP&gt; &amp; wait" in render(plan, "html")
    assert "Call <ISP> & wait" in render(plan, "md")
