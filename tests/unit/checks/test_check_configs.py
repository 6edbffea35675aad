"""Config models of the http, tcp and ping checks: defaults, and clear errors naming the key."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from escalatord.checks.http.check import HttpCheck
from escalatord.checks.ping.check import PingCheck
from escalatord.checks.tcp import TcpCheck
from escalatord.plugins import load


def problems(model: type[BaseModel], **data: Any) -> dict[str, str]:
    """Validation errors as {"key": "message"}; "" is the key of whole-model errors."""
    with pytest.raises(ValidationError) as caught:
        model.model_validate({"name": "c", **data})
    return {
        ".".join(str(p) for p in e["loc"]): e["msg"].removeprefix("Value error, ")
        for e in caught.value.errors()
    }


HTTP, TCP, PING = HttpCheck.Config, TcpCheck.Config, PingCheck.Config


def test_registry_names_load_these_classes():
    """`type = "http" | "tcp" | "ping"` finds these check classes through the registry."""
    assert load("checks", "http") is HttpCheck
    assert load("checks", "tcp") is TcpCheck
    assert load("checks", "ping") is PingCheck


def test_http_defaults():
    """An http check needs only a url: GET, TLS verified, redirects not followed."""
    config = HTTP(name="c", type="http", url="https://example.org/health")
    assert config.method == "GET"
    assert config.verify_tls is True
    assert config.follow_redirects is False
    assert config.expect_status is None  # any 2xx or 3xx


@pytest.mark.parametrize("url", ["example.org/health", "ftp://example.org/", "https://", "http:"])
def test_http_bad_url(url: str):
    """A url that is not http(s) with a host is refused with an example of a good one."""
    found = problems(HTTP, type="http", url=url)
    assert "http:// or https:// URL" in found["url"] or "not a valid URL" in found["url"]
    assert "https://example.org/health" in found["url"]


def test_http_error_messages_do_not_echo_the_url():
    """A bad url is not quoted back: it may carry credentials."""
    found = problems(HTTP, type="http", url="ftp://user:s3cret@example.org/")
    assert "s3cret" not in found["url"]


def test_http_bad_regex_method_status_and_tls_keys():
    """Each bad http key is reported under its own name with what is wrong."""
    found = problems(
        HTTP,
        type="http",
        url="https://example.org/",
        body_regex="(unclosed",
        method="GET /x",
        expect_status=[200, 700],
        ca_file="/nonexistent/ca.pem",
    )
    assert found["body_regex"].startswith("not a valid regular expression: missing )")
    assert found["method"] == 'method must be an HTTP method such as "GET" or "POST"'
    assert found["expect_status"] == "expect_status: 700 is not an HTTP status (100..599)"
    assert found["ca_file"].startswith("ca_file does not exist")


def test_http_ca_file_contradicts_verify_tls_false(tmp_path):
    """ca_file with verify_tls = false is refused: one of them is a mistake."""
    ca = tmp_path / "ca.pem"
    ca.write_text("not checked here")
    found = problems(HTTP, type="http", url="https://x.org/", ca_file=str(ca), verify_tls=False)
    assert found[""] == "ca_file is set but verify_tls = false: remove one of them"


def test_http_method_is_upper_cased():
    """method = "post" is accepted as POST."""
    assert HTTP(name="c", type="http", url="http://x.org/", method="post").method == "POST"


@pytest.mark.parametrize("port", [0, 65536, -1])
def test_tcp_port_out_of_range(port: int):
    """A port outside 1..65535 is refused, naming the range."""
    found = problems(TCP, type="tcp", host="127.0.0.1", port=port)
    assert found == {"port": "port must be between 1 and 65535"}


def test_tcp_missing_port_and_bad_host():
    """A missing port and a host with spaces are both reported."""
    found = problems(TCP, type="tcp", host="db server")
    assert found["port"] == "Field required"
    assert found["host"].startswith("host must be an IPv4 or IPv6 address or a host name")


def test_ping_defaults_and_host_forms():
    """A ping check needs only a host; literals are normalised, names kept."""
    config = PING(name="c", type="ping", host="::0001")
    assert (config.host, config.count, config.max_loss) == ("::1", 3, 50.0)
    assert config.packet_interval == timedelta(milliseconds=200)
    assert PING(name="c", type="ping", host="core-router.example.org.").host.endswith(".org.")


def test_ping_max_loss_above_100_percent():
    """max_loss = "140%" is refused: a percentage lies between 0% and 100%."""
    found = problems(PING, type="ping", host="127.0.0.1", max_loss="140%")
    assert "between 0% and 100%" in found["max_loss"]


def test_ping_count_out_of_range():
    """count outside 1..20 is refused, naming the range."""
    found = problems(PING, type="ping", host="127.0.0.1", count=21)
    assert found == {"count": "count must be between 1 and 20 echo requests per run"}


def test_ping_packets_must_fit_in_the_timeout():
    """count × packet_interval longer than timeout is refused, naming the three keys."""
    found = problems(
        PING, type="ping", host="127.0.0.1", count=20, packet_interval="1s", timeout="10s"
    )
    assert "count × packet_interval" in found[""]
    assert "timeout (10s)" in found[""]


@pytest.mark.parametrize(
    ("model", "data"),
    [
        (HTTP, {"type": "http", "url": "http://x.org/"}),
        (TCP, {"type": "tcp", "host": "x.org", "port": 80}),
        (PING, {"type": "ping", "host": "x.org"}),
    ],
)
def test_unknown_key_is_an_error(model: type[BaseModel], data: dict[str, Any]):
    """A misspelt key (`timout`) is an error instead of being ignored."""
    found = problems(model, **data, timout="5s")
    assert found == {"timout": "Extra inputs are not permitted"}
