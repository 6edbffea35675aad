"""check-config on [cluster]: defaults, derived timings, and each mistake at its key with the
fix; a config without [cluster] is a single node."""

from __future__ import annotations

import socket

import pytest

from escalatord.config.loader import load_text
from escalatord.errors import ConfigError
from escalatord.monitor.cluster import config_hash

PG = '[daemon]\ndatabase = "postgresql://esc@db.example.org/escalatord"\n'


def problems(text: str) -> dict[str, str]:
    with pytest.raises(ConfigError) as caught:
        load_text(text, name="escalatord.toml", env={})
    return {p.path: p.message for p in caught.value.problems}


def test_without_cluster_the_daemon_is_a_single_node():
    """No [cluster]: `config.cluster` is None (SQLite stays the default)."""
    assert load_text("").cluster is None


def test_cluster_defaults_to_the_host_name_and_30s_failover():
    """[cluster] alone: node is the host name, failover 30 s, lease 15 s renewed every 3 s."""
    config = load_text(PG + "[cluster]\n")
    assert config.cluster is not None
    assert config.cluster.node == socket.gethostname()
    timing = config.cluster.timing
    assert (timing.failover, timing.lease, timing.renew_every) == (30.0, 15.0, 3.0)


def test_cluster_with_sqlite_is_refused_naming_the_fix():
    """[cluster] on SQLite is an error at `cluster` telling to use PostgreSQL or drop [cluster]."""
    found = problems('[daemon]\ndatabase = "sqlite:////tmp/x.db"\n[cluster]\nnode = "a"\n')
    assert list(found) == ["cluster"]
    assert "needs PostgreSQL" in found["cluster"]
    assert "postgresql://" in found["cluster"] and "remove [cluster]" in found["cluster"]


def test_cluster_on_the_default_database_is_refused_too():
    """Without [daemon] database (the SQLite default) [cluster] is refused the same way."""
    assert "needs PostgreSQL" in problems('[cluster]\nnode = "a"\n')["cluster"]


def test_bad_cluster_keys_are_named():
    """A too short failover, an unsafe lease and an unknown key are each reported at their key."""
    assert "at least 2s" in str(problems(PG + '[cluster]\nfailover = "1s"\n'))
    found = problems(PG + '[cluster]\nfailover = "30s"\nlease = "10s"\nrenew_every = "8s"\n')
    assert "at most half of lease" in str(found)
    assert "cluster.nodes" in problems(PG + '[cluster]\nnodes = ["a"]\n')


def test_config_hash_ignores_per_node_keys_but_not_checks():
    """Nodes differing only in node name, listen address or database user hash the same."""
    one = load_text(PG + '[cluster]\nnode = "a"\n')
    two = load_text(
        '[daemon]\ndatabase = "postgresql://other@db.example.org/escalatord"\n'
        'listen = "127.0.0.1:9000"\n[cluster]\nnode = "b"\n'
    )
    assert config_hash(one) == config_hash(two)
    three = load_text(PG + '[cluster]\nnode = "a"\nfailover = "40s"\n')
    assert config_hash(three) != config_hash(one)
