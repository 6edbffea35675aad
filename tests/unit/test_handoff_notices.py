"""Handoff notices (calendar/handoffs.py) on a virtual clock: which instant, which person,
which text, across DST changes in Europe/Berlin and America/New_York."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from escalatord.calendar.handoffs import Notice, next_handoff, notices_at, text, view
from escalatord.core.events import Event, Notification, Person
from escalatord.core.oncall import Layer, Override, Schedule
from escalatord.notify.templates import render

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")


def weekly(zone: ZoneInfo = BERLIN, rotation: timedelta = timedelta(weeks=1)) -> Schedule:
    """alice then bob, turns from Monday 2026-03-16 09:00 local."""
    layer = Layer(("alice", "bob"), datetime(2026, 3, 16, 9, 0), rotation)
    return Schedule("network-oncall", zone, (layer,))


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_the_weekly_handoff_over_spring_forward_is_at_0900_local_for_the_incoming_person():
    """Berlin springs forward on Sun 29 Mar 2026: the Monday handoff after it is 09:00 CEST
    (07:00 UTC, an hour earlier in UTC than the week before), alice comes back on call until
    the next Monday 09:00, and bob, who leaves, gets nothing."""
    schedule = weekly()
    first = next_handoff(schedule, utc(2026, 3, 17, 12))
    assert first == utc(2026, 3, 23, 8)  # 09:00 CET
    second = next_handoff(schedule, first)
    assert second == utc(2026, 3, 30, 7)  # 09:00 CEST
    [notice] = notices_at(schedule, second)
    assert notice == Notice(
        "network-oncall",
        "alice",
        second,
        utc(2026, 4, 6, 7),
        "You are on call for network-oncall until Mon 09:00",
    )
    [before] = notices_at(schedule, first)
    assert before.person == "bob"
    assert before.text == "You are on call for network-oncall until Mon 09:00"


def test_a_daily_turn_over_the_spring_forward_night_lasts_23_hours():
    """With a 1-day rotation the Saturday 09:00 turn ends Sunday 09:00 local, 23 h later."""
    schedule = weekly(rotation=timedelta(days=1))
    at = utc(2026, 3, 28, 8)  # Sat 09:00 CET
    [notice] = notices_at(schedule, at)
    assert notice.until == utc(2026, 3, 29, 7)  # Sun 09:00 CEST
    assert notice.until - at == timedelta(hours=23)
    assert notice.text == "You are on call for network-oncall until Sun 09:00"


def test_fall_back_in_new_york_keeps_the_handoff_at_0900_local():
    """New York falls back on Sun 1 Nov 2026: the Monday 2 Nov handoff is 09:00 EST
    (14:00 UTC), a week after the 09:00 EDT one (13:00 UTC)."""
    schedule = weekly(NEW_YORK)
    before = next_handoff(schedule, utc(2026, 10, 25))
    assert before == utc(2026, 10, 26, 13)
    after = next_handoff(schedule, before)
    assert after == utc(2026, 11, 2, 14)
    [notice] = notices_at(schedule, after)
    assert notice.until == utc(2026, 11, 9, 14)
    assert notice.text.endswith("until Mon 09:00")


def test_an_override_is_announced_with_its_end_and_the_return_is_announced_too():
    """A stored override puts carol on call from Thu 18:00 to Fri 08:00 local: the next
    handoff is its start, carol's notice says until Fri 08:00, and at its end the rota's
    person is told they are on call again until the Monday handoff."""
    schedule = weekly()
    start, end = utc(2026, 3, 19, 17), utc(2026, 3, 20, 7)
    overrides = (Override("carol", start, end),)
    assert next_handoff(schedule, utc(2026, 3, 19, 12), overrides) == start
    [notice] = notices_at(schedule, start, overrides)
    assert (notice.person, notice.until) == ("carol", end)
    assert notice.text == "You are on call for network-oncall until Fri 08:00"
    [back] = notices_at(schedule, end, overrides)
    assert back.person == "alice"
    assert back.text == "You are on call for network-oncall until Mon 09:00"


def test_no_notice_where_nothing_changes_and_none_for_whoever_stays():
    """An instant that is not a handoff gives nothing; an override of the person already on
    call changes nobody and so announces nothing."""
    schedule = weekly()
    assert notices_at(schedule, utc(2026, 3, 18, 12)) == []
    same = (Override("alice", utc(2026, 3, 18, 10), utc(2026, 3, 18, 20)),)
    assert notices_at(schedule, utc(2026, 3, 18, 10), same) == []


def test_long_turns_are_dated_and_a_rota_of_one_is_until_further_notice():
    """A turn ending more than a week of local days ahead names its date; a schedule whose
    answer never changes again says "until further notice"."""
    at = utc(2026, 3, 16, 8)
    assert (
        text("ops", at, utc(2026, 3, 30, 7), BERLIN)
        == "You are on call for ops until Mon 30 Mar 09:00"
    )
    alone = Schedule(
        "ops", BERLIN, (Layer(("dave",), datetime(2026, 3, 16, 9), timedelta(weeks=1)),)
    )
    [notice] = notices_at(alone, at)
    assert notice.until is None
    assert notice.text == "You are on call for ops until further notice"
    assert next_handoff(alone, at) is None


def test_the_notice_key_and_payload_name_schedule_instant_and_person():
    """The outbox key is one per (schedule, instant, person), in UTC whatever the zone; the
    payload's incident object says it is a handoff and which schedule."""
    at = utc(2026, 3, 30, 7)
    notice = Notice("network-oncall", "bob", at, utc(2026, 4, 6, 7), "You are on call …")
    assert notice.key == "handoff:network-oncall:2026-03-30T07:00:00+00:00:bob"
    shown = view(notice, BERLIN).to_json()
    assert shown["id"] == "handoff"
    assert shown["status"] == "handoff"
    assert shown["labels"] == {"schedule": "network-oncall"}
    assert shown["title"] == "You are on call …"
    assert "from Mon 30 Mar 09:00 until Mon 6 Apr 09:00 (Europe/Berlin)" in shown["summary"]


def test_the_message_greets_the_incoming_person_and_says_until_when():
    """Rendered for bob's first contact, the title says until when and the body greets him
    and gives the whole turn in the schedule's zone; a handoff carries no ack link."""
    at = utc(2026, 3, 30, 7)
    [notice] = notices_at(weekly(), at)
    incident = view(notice, BERLIN)
    message = render(
        Notification(Event.HANDOFF, 0, incident, notice.key, Person("alice", "Alice Moreau"), "a@x")
    )
    assert message.title == "[HANDOFF] You are on call for network-oncall until Mon 09:00"
    assert message.body.startswith("Alice Moreau, your on-call turn begins now.")
    assert "from Mon 30 Mar 09:00 until Mon 6 Apr 09:00 (Europe/Berlin)" in message.body
    assert message.ack_url == "" and not Event.HANDOFF.is_page
