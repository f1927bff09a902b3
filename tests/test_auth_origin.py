"""The Origin allowlist: what a browser page may connect, with the default and a configured list."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from myagent.auth.origin import DEFAULT_ALLOWED_ORIGINS, OriginPolicy, parse_origin, parse_origin_pattern
from myagent.errors import ConfigError

DEFAULT = OriginPolicy()


@pytest.mark.parametrize(
    "origin",
    [
        "http://localhost:8080",
        "http://localhost",
        "https://localhost:5173",
        "http://127.0.0.1:3000",
        "https://127.0.0.1",
        "http://[::1]:8080",
        "HTTP://LOCALHOST:8080",
        "null",
    ],
)
def test_the_default_admits_pages_on_this_machine_and_files(origin: str) -> None:
    assert DEFAULT.allows(origin, host="0.0.0.0:8080")


@pytest.mark.parametrize(
    "origin",
    [
        "https://evil.example",
        "http://evil.example:8080",
        "file://",
        "file:///home/user/page.html",
        "http://localhost.evil.example",
        "http://127.0.0.1.evil.example:8080",
        "http://localhost:8080/path",
        "http://user@localhost:8080",
        "Null",
        " null",
        "",
        "http://localhost:99999",
        "chrome-extension://abcdef",
        "http://",
    ],
)
def test_the_default_refuses_every_other_origin(origin: str) -> None:
    assert not DEFAULT.allows(origin, host="localhost:8080")


def test_a_client_that_is_not_a_browser_sends_no_origin_and_is_admitted() -> None:
    assert DEFAULT.allows(None)
    assert OriginPolicy(["https://app.example.com"]).allows(None)


def test_the_servers_own_origin_is_admitted_when_reached_by_ip() -> None:
    assert DEFAULT.allows("http://192.168.1.5:8080", host="192.168.1.5:8080", scheme="ws")
    assert DEFAULT.allows("https://10.0.0.2", host="10.0.0.2", scheme="wss")
    assert not DEFAULT.allows("http://10.0.0.2", host="10.0.0.2", scheme="wss")  # scheme differs
    assert not DEFAULT.allows("http://192.168.1.5:8081", host="192.168.1.5:8080")


def test_a_named_host_is_not_its_own_origin_unless_listed_dns_rebinding() -> None:
    # A hostile name resolved to this machine: Host and Origin agree, but the page is hostile.
    assert not DEFAULT.allows("http://rebind.evil.example:8080", host="rebind.evil.example:8080")
    listed = OriginPolicy(["https://agent.example.com"])
    assert listed.allows("https://agent.example.com", host="agent.example.com", scheme="wss")


def test_a_configured_list_replaces_the_default() -> None:
    policy = OriginPolicy(["https://app.example.com", "http://dev.example.com:*"])
    assert policy.allows("https://app.example.com")
    assert policy.allows("https://app.example.com:443")
    assert not policy.allows("https://app.example.com:8443")
    assert policy.allows("http://dev.example.com:3000")
    assert not policy.allows("https://dev.example.com:3000")
    assert not policy.allows("http://localhost:8080")
    assert not policy.allows("null")


def test_star_admits_everything_when_asked_for_explicitly() -> None:
    assert OriginPolicy(["*"]).allows("https://evil.example")


@pytest.mark.parametrize(
    "pattern",
    [
        "",
        "localhost",
        "http://localhost:80:*",
        "http://localhost/path",
        "ftp://x",
        "http://*.example.com",
        "http://x:y",
    ],
)
def test_bad_patterns_are_a_config_error(pattern: str) -> None:
    with pytest.raises(ConfigError):
        parse_origin_pattern(pattern)


def test_every_default_pattern_parses() -> None:
    assert len(OriginPolicy(DEFAULT_ALLOWED_ORIGINS).patterns) == len(DEFAULT_ALLOWED_ORIGINS)


HOSTS = st.from_regex(r"[a-z][a-z0-9-]{0,20}(\.[a-z][a-z0-9-]{0,10}){1,3}", fullmatch=True)


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(["http", "https"]), HOSTS, st.one_of(st.none(), st.integers(1, 65535)))
def test_no_named_remote_origin_passes_the_default(scheme: str, host: str, port: int | None) -> None:
    origin = f"{scheme}://{host}" + (f":{port}" if port else "")
    assert not DEFAULT.allows(origin, host=f"{host}:{port or 80}")


@settings(max_examples=100, deadline=None)
@given(st.sampled_from(["http", "https"]), st.sampled_from(["localhost", "127.0.0.1", "[::1]"]), st.integers(1, 65535))
def test_every_local_port_passes_the_default(scheme: str, host: str, port: int) -> None:
    assert DEFAULT.allows(f"{scheme}://{host}:{port}")


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=60), st.one_of(st.none(), st.text(max_size=30)), st.text(max_size=6))
def test_any_header_value_gets_an_answer_never_an_exception(origin: str, host: str | None, scheme: str) -> None:
    assert DEFAULT.allows(origin, host=host, scheme=scheme) in (True, False)
    parse_origin(origin)
