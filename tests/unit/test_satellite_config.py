"""`[[satellite]]` in the config: its keys, the mistakes named at their key with the fix, the
link check the loader adds and the checks it makes depend on it; batch validation (pure)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from escalatord.config.loader import load_text
from escalatord.errors import ConfigError
from escalatord.satellite import wire
from escalatord.satellite.link import RELAYED, check_type, satellite_of

TOKEN = "0123456789abcdef0123"
CHECKS = """
[[check]]
name = "boston-printer"
type = "tcp"
host = "127.0.0.1"
port = 9
labels = { site = "boston" }

[[check]]
name = "boston-feed"
type = "heartbeat"
every = "5m"
grace = "1m"
token = "feed-token-0123456789"
labels = { site = "boston" }

[[check]]
name = "hq-router"
type = "tcp"
host = "127.0.0.1"
port = 9
labels = { site = "hq" }
"""


def satellite(**keys: str) -> str:
    lines = {"name": '"boston"', "sites": '["boston"]', "token": f'"{TOKEN}"', **keys}
    return "[[satellite]]\n" + "".join(f"{k} = {v}\n" for k, v in lines.items())


def problems(text: str) -> dict[str, str]:
    with pytest.raises(ConfigError) as caught:
        load_text(text, name="escalatord.toml", env={"TOKEN": "short"})
    return {p.path: p.message for p in caught.value.problems}


def test_a_satellite_adds_its_link_check_and_its_sites_active_checks_depend_on_it():
    """The link `satellite:boston` is added; boston's tcp check depends on it and is relayed;
    the heartbeat (passive) and hq's check stay the central daemon's."""
    config = load_text(CHECKS + satellite(silent_after='"30s"'), env={})
    [sat] = config.satellites
    assert sat.silent_after == timedelta(seconds=30) and sat.slack == timedelta(seconds=10)
    checks = config.check_by_name
    link = checks["satellite:boston"]
    assert link.type == "satellite_link"
    assert link.labels == {"site": "boston", "satellite": "boston"}
    assert link.incident_title == "boston satellite silent"
    assert satellite_of(checks["boston-printer"]) == "boston"
    assert check_type(checks["boston-printer"]) == RELAYED
    assert satellite_of(checks["boston-feed"]) is None
    assert satellite_of(checks["hq-router"]) is None and check_type(checks["hq-router"]) == "tcp"


def test_a_short_token_is_refused_without_echoing_it():
    """token under 16 characters: named at satellite[boston].token with how to make one."""
    found = problems(CHECKS + satellite(token='"${TOKEN}"'))
    message = found["satellite[boston].token"]
    assert "at least 16 characters" in message and "openssl rand" in message
    assert "short" not in message


def test_a_site_no_check_uses_is_named_with_the_sites_in_use():
    """sites = ["bostn"]: no check has that site; the message lists the sites in use."""
    found = problems(CHECKS + satellite(sites='["bostn"]'))
    assert "no [[check]] has labels.site = 'bostn'" in found["satellite[boston].sites[0]"]
    assert "boston, hq" in found["satellite[boston].sites[0]"]


def test_a_site_served_by_two_satellites_is_refused():
    """The second satellite naming boston is refused at its sites key."""
    found = problems(CHECKS + satellite() + satellite(name='"boston-2"'))
    assert "already served by [[satellite]] 'boston'" in found["satellite[boston-2].sites[0]"]


def test_link_names_and_types_are_reserved():
    """A [[check]] may not be named satellite:… nor use the satellite check types."""
    text = CHECKS + '[[check]]\nname = "satellite:x"\ntype = "satellite_link"\nsatellite = "x"\n'
    found = problems(text)
    assert "reserved" in found["check[satellite:x].name"]
    assert "made by [[satellite]]" in found["check[satellite:x].type"]


def test_a_batch_keeps_valid_results_and_refuses_bad_ones_by_field():
    """Each bad result is refused naming its field; the valid ones are kept with their time."""
    items, refused = wire.parse_batch(
        {
            "results": [
                {"check": "a", "status": "ok", "at": "2026-12-08T01:00:00+00:00"},
                {"check": "b", "status": "ok", "at": "2026-12-08T01:00:00"},
                {"check": "c", "status": "fine", "at": "2026-12-08T01:00:00Z"},
                {"check": "d", "status": "ok", "at": "2026-12-08T01:00:00Z", "x": 1},
                {
                    "check": "e",
                    "status": "ok",
                    "at": "2026-12-08T01:00:00Z",
                    "measurements": {"rtt": "x"},
                },
                "nonsense",
            ]
        }
    )
    assert [i.check for i in items] == ["a"]
    assert items[0].result.at is not None and items[0].result.at.hour == 1
    reasons = {r.check: r.reason for r in refused}
    assert "UTC offset" in reasons["b"] and '"status" must be one of' in reasons["c"]
    assert "unknown field 'x'" in reasons["d"] and "finite number" in reasons["e"]
    assert refused[-1].index == 5 and refused[-1].check is None


def test_a_body_that_is_no_batch_is_refused_whole():
    """No "results" list, or more than MAX_RESULTS: BatchError."""
    with pytest.raises(wire.BatchError):
        wire.parse_batch({"result": []})
    with pytest.raises(wire.BatchError, match="at most 1000"):
        wire.parse_batch({"results": [{}] * 1001})


def test_a_check_travels_to_the_satellite_and_back_with_its_keys():
    """check_to_wire then check_from_wire gives the same check, without its parents."""
    config = load_text(CHECKS + satellite(), env={})
    printer = config.check_by_name["boston-printer"]
    data = wire.check_to_wire(printer)
    assert "depends_on" not in data and (data["host"], data["port"]) == ("127.0.0.1", 9)
    back = wire.check_from_wire(data)
    assert back == printer.model_copy(update={"depends_on": ()})
