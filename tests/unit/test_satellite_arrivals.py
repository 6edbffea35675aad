"""satellite/link.py `Arrivals`: when each satellite was last heard, in this process and (in a
cluster) at the other nodes."""

from __future__ import annotations

from datetime import timedelta

from escalatord.satellite.link import Arrivals


def test_a_satellite_never_heard_counts_from_the_start_of_this_process():
    """After a start a satellite gets silent_after before it counts as silent."""
    arrivals = Arrivals()
    assert arrivals.last_heard("boston") == arrivals.started


def test_arrivals_stored_by_other_nodes_count_when_later():
    """A later arrival at another node moves the last-heard time; an earlier one does not."""
    arrivals = Arrivals()
    later = arrivals.started + timedelta(seconds=30)
    arrivals.touch("boston", later)
    arrivals.learn({"boston": later - timedelta(seconds=5), "paris": later})
    assert arrivals.last_heard("boston") == later
    arrivals.learn({"boston": later + timedelta(seconds=2)})
    assert arrivals.last_heard("boston") == later + timedelta(seconds=2)
    assert arrivals.last_heard("paris") == later


def test_an_arrival_stored_before_this_process_started_keeps_the_grace_after_a_restart():
    """A stored arrival older than this process's start does not make a satellite silent at
    once: the start still counts as heard, as on a single node."""
    arrivals = Arrivals()
    arrivals.learn({"boston": arrivals.started - timedelta(hours=1)})
    assert arrivals.last_heard("boston") == arrivals.started
