"""One connection's authentication state: first frame, timeout, expiry, refresh. Fake clock, no sleeps."""

from __future__ import annotations

import time

import pytest

from myagent.auth import AuthError, Handshake, Principal
from myagent.auth.connection_auth import ConnectionAuth
from myagent.protocol.close_codes import CloseCodes


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


class Tokens:
    """An authenticator whose tokens expire at times the test chooses."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.expiry = {"alice-1": clock.now + 60, "alice-2": clock.now + 120, "bob": clock.now + 60}

    def __call__(self, handshake: Handshake, token: str | None) -> Principal:
        if token not in self.expiry:
            raise AuthError("unknown token")
        return Principal(token.split("-")[0], expires_at=self.expiry[token])


def test_authentication_off_admits_everything_and_never_closes() -> None:
    auth = ConnectionAuth(None, Handshake())
    assert auth.state == "off" and auth.admits("user.message") and auth.deadline() is None
    assert auth.overdue() is None


async def test_pending_admits_only_user_authenticate_until_it_succeeds() -> None:
    clock = Clock()
    auth = ConnectionAuth(Tokens(clock), Handshake(), auth_timeout=10, clock=clock)
    assert auth.state == "pending"
    assert not auth.admits("user.create_session") and auth.admits("user.authenticate")
    principal = await auth.authenticate({"token": "alice-1"})
    assert principal.id == "alice" and auth.state == "authenticated"
    assert auth.admits("user.create_session")
    assert auth.deadline() == principal.expires_at


async def test_no_first_frame_in_time_closes_with_4401() -> None:
    clock = Clock()
    auth = ConnectionAuth(Tokens(clock), Handshake(), auth_timeout=10, clock=clock)
    assert auth.deadline() == clock.now + 10
    clock.now += 9.9
    assert auth.overdue() is None
    clock.now += 0.1
    error = auth.overdue()
    assert error is not None and error.close_code == CloseCodes.UNAUTHENTICATED


async def test_an_expired_token_closes_with_4401_unless_refreshed() -> None:
    clock = Clock()
    tokens = Tokens(clock)
    auth = ConnectionAuth(tokens, Handshake(), principal=tokens(Handshake(), "alice-1"), clock=clock)
    clock.now += 50
    assert (await auth.authenticate({"token": "alice-2"})).expires_at == tokens.expiry["alice-2"]
    clock.now += 20  # past the first token's expiry, before the second's
    assert auth.overdue() is None
    clock.now += 60
    error = auth.overdue()
    assert error is not None and error.close_code == CloseCodes.UNAUTHENTICATED


async def test_a_refresh_for_another_principal_is_refused_with_4403() -> None:
    clock = Clock()
    tokens = Tokens(clock)
    auth = ConnectionAuth(tokens, Handshake(), principal=tokens(Handshake(), "alice-1"), clock=clock)
    with pytest.raises(AuthError) as info:
        await auth.authenticate({"token": "bob"})
    assert info.value.close_code == CloseCodes.FORBIDDEN
    assert auth.principal is not None and auth.principal.id == "alice"


async def test_a_wrong_first_frame_is_refused_with_4401() -> None:
    clock = Clock()
    auth = ConnectionAuth(Tokens(clock), Handshake(), clock=clock)
    for content in ({"token": "nope"}, {"tok": "alice-1"}, None):
        with pytest.raises(AuthError) as info:
            await auth.authenticate(content)
        assert info.value.close_code == CloseCodes.UNAUTHENTICATED
    assert auth.state == "pending"
