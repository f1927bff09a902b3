"""Session ids and owners come from clients: any text is a key like any other, never a crash."""

from __future__ import annotations

import asyncio

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from myagent.ws.redis import connect_redis_backends
from myagent.ws.store import SessionRecord

# Lone surrogates, braces (the hash-tag delimiters), NULs, separators, long strings.
ids = st.text(st.characters(codec=None), max_size=300) | st.sampled_from(["{", "}", "a}:record", "\ud800", "x" * 5000])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(session_id=ids, owner=ids)
def test_any_client_text_as_session_id_or_owner_is_just_a_key(redis_url: str, session_id: str, owner: str) -> None:
    async def check() -> None:
        backends = connect_redis_backends(redis_url, prefix="hostile")
        store, events, _, leases = backends
        try:
            await store.client.flushdb()
            assert await store.get(session_id) is None
            assert await store.update(session_id, status="closed") is None
            assert await events.last_seq(session_id) == 0
            assert (await events.read(session_id, 0)).entries == []
            assert await leases.holder(session_id) is None

            record = SessionRecord(id=session_id, resume_token_hash="h", node_id="n", owner=owner, quota_key=owner)
            await store.put(record)
            assert await store.get(session_id) == record
            assert await store.count(quota_key=owner) == 1
            entry = await events.append(session_id, {"event": "agent.tool_call", "content": owner})
            assert entry is not None and entry.event_id == f"{session_id}:1"
            assert await store.delete(session_id) is True
            await events.drop(session_id)
        finally:
            await backends.aclose()

    asyncio.run(check())
