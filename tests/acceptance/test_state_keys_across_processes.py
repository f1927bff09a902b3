"""Signed state across real server processes: a restart keeps it, another key refuses it, rotation accepts it."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import websockets

from tests.acceptance.guide import free_port, weather_server_process

WAIT = 20.0


async def _frames_until(ws: Any, *events: str) -> list[dict[str, Any]]:
    frames = []
    while True:
        frame = json.loads(await asyncio.wait_for(ws.recv(), WAIT))
        frames.append(frame)
        if frame["event"] in events:
            return frames


async def _export_after_a_question(url: str) -> dict[str, Any]:
    async with websockets.connect(url) as ws:
        await _frames_until(ws, "system.connected")
        await ws.send(json.dumps({"event": "user.create_session"}))
        sid = (await _frames_until(ws, "agent.session_created"))[-1]["session_id"]
        await ws.send(json.dumps({"event": "user.message", "session_id": sid, "content": "北京天气怎么样？"}))
        await _frames_until(ws, "agent.final_answer")
        await ws.send(json.dumps({"event": "user.request_state", "session_id": sid}))
        exported = (await _frames_until(ws, "agent.state_exported"))[-1]
        return exported["metadata"]["signed_state"]  # type: ignore[no-any-return]


async def _restore(url: str, signed: dict[str, Any], follow_up: str | None = None) -> list[dict[str, Any]]:
    async with websockets.connect(url) as ws:
        await _frames_until(ws, "system.connected")
        await ws.send(json.dumps({"event": "user.reconnect_with_state", "signed_state": signed}))
        frames = await _frames_until(ws, "agent.state_restored", "system.error")
        if follow_up is not None and frames[-1]["event"] == "agent.state_restored":
            sid = frames[-1]["session_id"]
            await ws.send(json.dumps({"event": "user.message", "session_id": sid, "content": follow_up}))
            frames += await _frames_until(ws, "agent.final_answer", "agent.error")
        return frames


def test_state_survives_a_restart_and_follows_key_rotation(tmp_path: Path) -> None:
    port = free_port()  # every process in turn on the same port, as a restarted server would be
    url = f"ws://localhost:{port}"
    with weather_server_process(tmp_path, "--state-secret-key", "key-one", port=port, name="first").running():
        signed = asyncio.run(_export_after_a_question(url))

    with weather_server_process(tmp_path, "--state-secret-key", "key-two", port=port, name="other key").running():
        refused = asyncio.run(_restore(url, signed))
    assert refused[-1]["event"] == "system.error"
    assert refused[-1]["metadata"]["error_code"] == "STATE_SIGNATURE_MISMATCH"

    rotated = ("--state-secret-key", "key-two", "--state-previous-key", "key-one")
    with weather_server_process(tmp_path, *rotated, port=port, name="rotated").running():
        frames = asyncio.run(_restore(url, signed, follow_up="上海呢？"))
    restored = next(f for f in frames if f["event"] == "agent.state_restored")
    assert restored["metadata"]["message_count"] == len(signed["state"]["messages"])
    assert frames[-1]["event"] == "agent.final_answer"

    with weather_server_process(tmp_path, "--state-secret-key", "key-one", port=port, name="restarted").running():
        again = asyncio.run(_restore(url, signed, follow_up="深圳呢？"))
    assert again[-1]["event"] == "agent.final_answer"
