"""The flap detection keys: [defaults] and per check, thresholds as percentages."""

from __future__ import annotations

import pytest

from escalatord.config.loader import load_text
from escalatord.errors import ConfigError

CHECK = """
[[check]]
name = "hl7-feed"
type = "tcp"
host = "127.0.0.1"
port = 9
"""


def test_defaults_are_icingas():
    """Without any key a check detects flapping above 30% and stops once not above 25%."""
    check = load_text(CHECK, env={}).check_by_name["hl7-feed"]
    assert (check.flap_detection, check.flap_low, check.flap_high) == (True, 25.0, 30.0)


def test_defaults_section_and_check_keys():
    """[defaults] sets the keys for every check; a check's own keys win."""
    text = '[defaults]\nflap_low = "40%"\nflap_high = "50%"\n' + CHECK
    text += 'flap_high = "60%"\n' + CHECK.replace("hl7-feed", "other") + "flap_detection = false\n"
    config = load_text(text, env={})
    feed, other = config.check_by_name["hl7-feed"], config.check_by_name["other"]
    assert (feed.flap_low, feed.flap_high, feed.flap_detection) == (40.0, 60.0, True)
    assert (other.flap_low, other.flap_high, other.flap_detection) == (40.0, 50.0, False)


@pytest.mark.parametrize("text", [CHECK + 'flap_low = "35%"\n', "[defaults]\nflap_low = 31\n"])
def test_low_above_high_is_refused(text):
    """flap_low above flap_high is an error that names both keys."""
    with pytest.raises(ConfigError, match=r"flap_low .* must not be above flap_high"):
        load_text(text, env={})
