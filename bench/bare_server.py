"""The baseline for ``bench/load.py``: a bare ``websockets`` server with no framework at all.

``python bench/bare_server.py PORT``. On every client message it sends ``BENCH_TOKENS`` frames
shaped and sized like our ``agent.partial_answer`` frames (same keys, same token text, same JSON
encoding, a fresh ``timestamp`` per frame), as fast as it can, then one ``agent.final_answer``
frame with the whole text. Nothing else: no agent, no event log, no queue, no coalescing.

A message ``{"replay": [text, ...]}`` replaces the tokens by those texts, one frame each:
``bench/real_load.py`` uses it to replay exactly the deltas our server sent in the same round.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
import uuid
from datetime import UTC, datetime
from typing import Any

from agent_for_bench import bench_tokens, token_count
from websockets.asyncio.server import ServerConnection, serve

TOKENS = bench_tokens(token_count())
TEXT = "".join(TOKENS)


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def encode(frame: dict[str, Any]) -> str:
    return json.dumps(frame, ensure_ascii=False, separators=(",", ":"), default=str)


async def handler(ws: ServerConnection) -> None:
    session_id = str(uuid.uuid4())
    seq = 0
    async for message in ws:
        replay = json.loads(message).get("replay")
        pieces = replay if isinstance(replay, list) else TOKENS
        for token in pieces:
            seq += 1
            frame = {
                "event": "agent.partial_answer",
                "timestamp": now_iso(),
                "session_id": session_id,
                "content": token,
                "metadata": {"step": 1},
                "seq": seq,
                "event_id": f"{session_id}:{seq}",
            }
            await ws.send(encode(frame))
        seq += 1
        final = {
            "event": "agent.final_answer",
            "timestamp": now_iso(),
            "session_id": session_id,
            "content": "".join(pieces),
            "metadata": {"reason": "stop", "steps": 1},
            "seq": seq,
            "event_id": f"{session_id}:{seq}",
        }
        await ws.send(encode(final))


async def main(port: int) -> None:
    stop = asyncio.get_running_loop().create_future()
    for sig in (signal.SIGINT, signal.SIGTERM):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set_result, None)
    async with serve(handler, "127.0.0.1", port, compression=None, max_size=None, ping_interval=None):
        await stop


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
