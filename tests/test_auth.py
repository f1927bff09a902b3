"""Authentication building blocks with real tokens: static tokens, HS256 and RS256 JWTs, the hook flow."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import time
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from hypothesis import given, settings
from hypothesis import strategies as st

from myagent.auth import (
    Authenticated,
    AuthError,
    AwaitFirstFrame,
    Handshake,
    JWTVerifier,
    Principal,
    Refused,
    StaticTokens,
    anonymous_principal,
    authenticate_frame,
    authenticate_handshake,
    bearer_token,
    build_authenticator,
    load_authenticator,
    token_from_frame,
)
from myagent.errors import ConfigError
from myagent.protocol.close_codes import CloseCodes
from myagent.ws.state_manager import StateManager

SECRET = "a-test-secret-that-is-at-least-32-bytes-long"


def scope(headers: dict[str, str] | None = None, query: bytes = b"", **extra: Any) -> dict[str, Any]:
    """An ASGI websocket scope as uvicorn builds it."""
    return {
        "type": "websocket",
        "scheme": "ws",
        "path": "/ws",
        "query_string": query,
        "headers": [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in (headers or {}).items()],
        "client": ("203.0.113.7", 50123),
        "subprotocols": ["myagent.v1"],
        **extra,
    }


def hs256_token(**claims: Any) -> str:
    payload = {"sub": "alice", "aud": "myagent", "exp": int(time.time()) + 600, **claims}
    return jwt.encode({k: v for k, v in payload.items() if v is not None}, SECRET, algorithm="HS256")


@pytest.fixture(scope="module")
def rsa_keys() -> tuple[bytes, bytes]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    public = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    return private, public


def refusal(verifier: Any, token: str | None) -> AuthError:
    with pytest.raises(AuthError) as info:
        verifier(Handshake(), token)
    return info.value


# -- handshake view -----------------------------------------------------------------------------


def test_handshake_view_from_an_asgi_scope() -> None:
    view = Handshake.from_scope(
        scope(
            {"Authorization": "Bearer abc.def", "Cookie": "sid=42; theme=dark", "Origin": "null", "Host": "h:1"},
            query=b"token=leaked&x=1",
        )
    )
    assert view.headers["authorization"] == "Bearer abc.def"
    assert view.cookies == {"sid": "42", "theme": "dark"}
    assert view.query == {"token": "leaked", "x": "1"}
    assert view.client == ("203.0.113.7", 50123) and view.client_host == "203.0.113.7"
    assert view.subprotocols == ("myagent.v1",)
    assert (view.origin, view.host, view.path, view.scheme) == ("null", "h:1", "/ws", "ws")


def test_handshake_view_of_a_scope_with_nothing_in_it() -> None:
    view = Handshake.from_scope({"type": "websocket", "client": ["10.0.0.1", None]})
    assert view.client == ("10.0.0.1", 0) and view.headers == {} and view.cookies == {} and view.query == {}
    assert Handshake.from_scope({"type": "websocket", "headers": [(b"cookie", b"=;;bad\x00")]}).cookies == {}


@pytest.mark.parametrize(
    ("header", "token"),
    [
        ("Bearer abc", "abc"),
        ("bearer   abc  ", "abc"),
        ("Basic dXNlcjpwYXNz", None),
        ("Bearer", None),
        ("Bearer a, Bearer b", None),  # two Authorization headers joined
        ("", None),
    ],
)
def test_bearer_token_comes_only_from_the_authorization_header(header: str, token: str | None) -> None:
    assert bearer_token(Handshake.from_scope(scope({"Authorization": header} if header else {}))) == token


def test_a_token_in_the_query_string_is_never_used() -> None:
    good = hs256_token()
    verifier = JWTVerifier.hs256(SECRET, audience="myagent")
    outcome = asyncio.run(authenticate_handshake(verifier, Handshake.from_scope(scope(query=f"token={good}".encode()))))
    assert isinstance(outcome, AwaitFirstFrame)


# -- static tokens ------------------------------------------------------------------------------


def test_static_tokens() -> None:
    verifier = StaticTokens({"t-alice": "alice", "t-svc": Principal("svc", tenant="acme")})
    assert verifier(Handshake(), "t-alice") == Principal("alice")
    assert verifier(Handshake(), "t-svc").tenant == "acme"
    assert refusal(verifier, "t-wrong").status == 401
    assert refusal(verifier, None).status == 401
    with pytest.raises(ConfigError):
        StaticTokens({})


# -- JWT ----------------------------------------------------------------------------------------


def test_hs256_valid_token_gives_a_principal_with_its_expiry() -> None:
    verifier = JWTVerifier.hs256(SECRET, audience="myagent")
    exp = int(time.time()) + 600
    principal = verifier(Handshake(), hs256_token(exp=exp, tenant="acme", role="admin"))
    assert (principal.id, principal.tenant, principal.expires_at) == ("alice", "acme", exp)
    assert principal.claims["role"] == "admin"
    left = principal.seconds_left()
    assert left is not None and 0 < left <= 600


@pytest.mark.parametrize(
    ("token", "says"),
    [
        (lambda: hs256_token(exp=int(time.time()) - 120), "expired"),
        (lambda: hs256_token(aud="another-service"), "audience"),
        (lambda: hs256_token(aud=None), "aud"),
        (lambda: hs256_token(exp=None), "exp"),
        (lambda: hs256_token(sub=None), "sub"),
        (lambda: jwt.encode({"sub": "alice", "aud": "myagent", "exp": 2**40}, "x" * 40, algorithm="HS256"), "valid"),
        (lambda: "not-a-jwt", "valid"),
        (lambda: hs256_token()[:-3] + "AAA", "valid"),
        (lambda: jwt.encode({"sub": "a", "aud": "myagent", "exp": 2**40}, None, algorithm="none"), "valid"),
    ],
)
def test_hs256_refusals_are_401_with_a_reason(token: Any, says: str) -> None:
    error = refusal(JWTVerifier.hs256(SECRET, audience="myagent"), token())
    assert error.status == 401 and error.close_code == CloseCodes.UNAUTHENTICATED
    assert says in error.message


def test_a_short_hs256_secret_is_a_config_error() -> None:
    with pytest.raises(ConfigError):
        JWTVerifier.hs256("short")


def test_rs256_with_a_key_generated_here(rsa_keys: tuple[bytes, bytes], tmp_path: Path) -> None:
    private, public = rsa_keys
    key_file = tmp_path / "public.pem"
    key_file.write_bytes(public)
    verifier = JWTVerifier.rs256_from_file(key_file, audience=["myagent", "other"])
    token = jwt.encode({"sub": "bob", "aud": "myagent", "exp": int(time.time()) + 60}, private, algorithm="RS256")
    assert verifier(Handshake(), token).id == "bob"
    expired = jwt.encode({"sub": "bob", "aud": "myagent", "exp": int(time.time()) - 100}, private, algorithm="RS256")
    assert "expired" in refusal(verifier, expired).message
    wrong_aud = jwt.encode({"sub": "bob", "aud": "x", "exp": int(time.time()) + 60}, private, algorithm="RS256")
    assert "audience" in refusal(verifier, wrong_aud).message


def test_rs256_refuses_an_hs256_token_signed_with_the_public_key(rsa_keys: tuple[bytes, bytes]) -> None:
    _, public = rsa_keys

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    # The classic algorithm-confusion forgery, built by hand: HMAC keyed with the public key.
    signing_input = b64(b'{"alg":"HS256","typ":"JWT"}') + "." + b64(b'{"sub":"eve","aud":"myagent","exp":9999999999}')
    signature = hmac.new(public, signing_input.encode(), hashlib.sha256).digest()
    token = f"{signing_input}.{b64(signature)}"
    assert refusal(JWTVerifier.rs256(public, audience="myagent"), token).status == 401


def test_rs256_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        JWTVerifier.rs256("not a pem")
    with pytest.raises(ConfigError):
        JWTVerifier.rs256_from_file(tmp_path / "missing.pem")


# -- the hook flow ------------------------------------------------------------------------------


async def test_handshake_with_a_valid_header_token_is_authenticated() -> None:
    verifier = JWTVerifier.hs256(SECRET, audience="myagent")
    outcome = await authenticate_handshake(
        verifier, Handshake.from_scope(scope({"Authorization": f"Bearer {hs256_token()}"}))
    )
    assert isinstance(outcome, Authenticated) and outcome.principal.id == "alice"


async def test_handshake_with_a_bad_header_token_is_refused_with_401() -> None:
    verifier = JWTVerifier.hs256(SECRET, audience="myagent")
    bad = hs256_token(aud="other")
    outcome = await authenticate_handshake(verifier, Handshake.from_scope(scope({"Authorization": f"Bearer {bad}"})))
    assert isinstance(outcome, Refused) and outcome.status == 401


async def test_handshake_without_credentials_waits_for_the_first_frame() -> None:
    verifier = StaticTokens({"t": "alice"})
    outcome = await authenticate_handshake(verifier, Handshake.from_scope(scope()))
    assert isinstance(outcome, AwaitFirstFrame)
    principal = await authenticate_frame(verifier, Handshake(), {"token": "t"})
    assert principal.id == "alice"


@pytest.mark.parametrize("content", [None, "t", {}, {"token": ""}, {"token": 5}, {"token": "\ud800"}, {"token": "x"}])
async def test_a_bad_first_frame_is_refused_with_4401(content: Any) -> None:
    with pytest.raises(AuthError) as info:
        await authenticate_frame(StaticTokens({"t": "alice"}), Handshake(), content)
    assert info.value.close_code == 4401


async def test_an_async_cookie_hook_and_a_403() -> None:
    async def by_cookie(handshake: Handshake, token: str | None) -> Principal | None:
        await asyncio.sleep(0)
        if handshake.cookies.get("sid") == "banned":
            raise AuthError.forbidden("this account is suspended")
        return Principal("carol") if handshake.cookies.get("sid") == "ok" else None

    ok = await authenticate_handshake(by_cookie, Handshake.from_scope(scope({"Cookie": "sid=ok"})))
    assert isinstance(ok, Authenticated) and ok.principal.id == "carol"
    banned = await authenticate_handshake(by_cookie, Handshake.from_scope(scope({"Cookie": "sid=banned"})))
    assert banned == Refused(403, "this account is suspended")
    nothing = await authenticate_handshake(by_cookie, Handshake.from_scope(scope()))
    assert isinstance(nothing, AwaitFirstFrame)


async def test_a_hook_returning_something_else_is_a_config_error() -> None:
    with pytest.raises(ConfigError):
        await authenticate_handshake(lambda h, t: "alice", Handshake())  # type: ignore[arg-type, return-value]


async def test_a_refresh_must_be_for_the_same_principal() -> None:
    verifier = StaticTokens({"t-alice": "alice", "t-alice-2": "alice", "t-bob": "bob"})
    alice = Principal("alice")
    assert (await authenticate_frame(verifier, Handshake(), {"token": "t-alice-2"}, current=alice)) == alice
    with pytest.raises(AuthError) as info:
        await authenticate_frame(verifier, Handshake(), {"token": "t-bob"}, current=alice)
    assert info.value.close_code == CloseCodes.FORBIDDEN


async def test_an_already_expired_principal_is_refused() -> None:
    expired = Principal("alice", expires_at=time.time() - 1)
    outcome = await authenticate_handshake(lambda h, t: expired, Handshake())
    assert isinstance(outcome, AwaitFirstFrame)


def test_token_from_frame() -> None:
    assert token_from_frame({"token": " abc "}) == "abc"
    with pytest.raises(AuthError):
        token_from_frame({"token": "x" * 20_000})


# -- principals ---------------------------------------------------------------------------------


def test_principal_key_separates_tenants_unambiguously() -> None:
    assert Principal("b:c", tenant="a").key != Principal("c", tenant="a:b").key
    assert Principal("alice").key != Principal("alice", tenant="acme").key
    assert Principal("alice", claims={"x": 1}) == Principal("alice", claims={"y": 2})
    with pytest.raises(ValueError):
        Principal("")
    with pytest.raises(ValueError):
        Principal("a", expires_at=float("nan"))


def test_principal_expiry() -> None:
    principal = Principal("alice", expires_at=1000.0)
    assert principal.seconds_left(now=990.0) == 10.0
    assert not principal.is_expired(now=999.0) and principal.is_expired(now=1000.0)
    assert Principal("svc").seconds_left() is None


def test_anonymous_principal_is_per_address() -> None:
    assert anonymous_principal("10.0.0.1").key != anonymous_principal("10.0.0.2").key
    assert anonymous_principal(None).id == "anonymous@unknown"


def test_a_state_bound_to_a_principal_key_is_refused_to_another_tenant() -> None:
    manager = StateManager("k")
    signed = manager.sign_state({"session_id": "s", "messages": []}, principal=Principal("alice", "acme").key)
    assert manager.verify_state(signed, principal=Principal("alice", "acme").key)[0]
    assert not manager.verify_state(signed, principal=Principal("alice", "other").key)[0]


# -- configuration ------------------------------------------------------------------------------


def test_load_authenticator_from_a_module_and_a_file(tmp_path: Path) -> None:
    assert load_authenticator("myagent.auth.principal:anonymous_principal") is anonymous_principal
    hook = tmp_path / "my_auth.py"
    hook.write_text(
        "from myagent.auth import Principal\n\ndef authenticate(handshake, token):\n    return Principal('x')\n"
    )
    loaded = load_authenticator(f"{hook}:authenticate")
    assert loaded(Handshake(), None) == Principal("x")


@pytest.mark.parametrize(
    "spec", ["no_colon", "myagent.auth:", "missing_module_xyz:f", "myagent.auth:nothing_here", "myagent.auth:__all__"]
)
def test_load_authenticator_errors_are_config_errors(spec: str) -> None:
    with pytest.raises(ConfigError):
        load_authenticator(spec)


def test_build_authenticator_from_cli_options(rsa_keys: tuple[bytes, bytes], tmp_path: Path) -> None:
    assert build_authenticator() is None  # authentication off by default
    hs = build_authenticator(jwt_secret=SECRET, jwt_audience="myagent")
    assert isinstance(hs, JWTVerifier) and hs.audience == "myagent" and hs.algorithm == "HS256"
    pem = tmp_path / "k.pem"
    pem.write_bytes(rsa_keys[1])
    rs = build_authenticator(jwt_public_key_file=pem)
    assert isinstance(rs, JWTVerifier) and rs.algorithm == "RS256"
    with pytest.raises(ConfigError):
        build_authenticator(jwt_secret=SECRET, jwt_public_key_file=pem)
    with pytest.raises(ConfigError):
        build_authenticator(jwt_audience="myagent")


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from([b"cookie", b"authorization", b"origin", b"host", b"x"]), st.binary(max_size=60))
    ),
    st.binary(max_size=60),
)
def test_any_handshake_headers_give_a_view_and_never_raise(headers: list[tuple[bytes, bytes]], query: bytes) -> None:
    view = Handshake.from_scope({"type": "websocket", "headers": headers, "query_string": query})
    token = bearer_token(view)
    assert token is None or (token and " " not in token.strip())
