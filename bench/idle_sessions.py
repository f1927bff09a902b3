"""Server memory with many idle sessions.

    .venv/bin/python bench/idle_sessions.py [--sessions 1000] [--connections 1000]

Starts OUR server (the real CLI serving ``bench/agent_for_bench.py``) and reads its RSS (psutil)
at four points of the same run: just started; after one warm-up session was created and closed
(lazy imports and first-use caches paid, 0 sessions); with ``--connections`` open connections and
no sessions; with ``--sessions`` sessions spread evenly over those connections, once every
``agent.session_created`` has arrived. Reports totals and the per-connection and per-session costs
over the warmed 0-session server. Target: under 150 MB RSS with 1,000 idle sessions.

With ``--runs K`` every session then answers K messages (``--tokens`` each) and RSS is read again:
what a session costs once it has a history and retained, unacknowledged events (``--ack`` makes the
client acknowledge each final answer, which lets the server drop them).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
import time

from _common import BENCH, MB, ServerProcess, free_port, machine, our_server_argv
from websockets.asyncio.client import ClientConnection, connect

TARGET_MB = 150
BATCH = 100  # connections opened at once


async def expect(ws: ClientConnection, event: str, within: float = 20.0) -> dict[str, object]:
    for _ in range(20):
        async with asyncio.timeout(within):
            frame = json.loads(await ws.recv())
        if frame["event"] == event:
            return frame  # type: ignore[no-any-return]
        if frame["event"] == "system.error":
            raise SystemExit(f"server error while waiting for {event}: {frame}")
    raise SystemExit(f"no {event} within 20 frames")


async def open_connection(url: str) -> ClientConnection:
    ws = await connect(url, compression=None, ping_interval=None, open_timeout=20)
    await expect(ws, "system.connected")
    return ws


async def create_sessions(ws: ClientConnection, count: int) -> list[str]:
    ids = []
    for _ in range(count):  # one at a time per connection: replies carry no request id
        await ws.send(json.dumps({"event": "user.create_session", "content": "create_session"}))
        ids.append(str((await expect(ws, "agent.session_created"))["session_id"]))
    return ids


async def run_once(ws: ClientConnection, session_id: str, ack: bool, limit: asyncio.Semaphore) -> None:
    """One message in ``session_id``, read to its final answer; then ``user.ack`` it if asked to."""
    async with limit:
        await ws.send(json.dumps({"event": "user.message", "session_id": session_id, "content": "go"}))
        for _ in range(100_000):
            async with asyncio.timeout(30):
                frame = json.loads(await ws.recv())
            if frame["event"] in ("agent.final_answer", "agent.error", "system.error"):
                break
        if frame["event"] != "agent.final_answer":
            raise SystemExit(f"run failed: {frame}")
        if ack:
            await ws.send(
                json.dumps({"event": "user.ack", "session_id": session_id, "last_event_id": frame["event_id"]})
            )


def settled_rss(server: ServerProcess, seconds: float = 1.0) -> int:
    """RSS after a short pause (the last of a few samples; RSS only moves when the server allocates)."""
    deadline = time.monotonic() + seconds
    rss = server.rss()
    while time.monotonic() < deadline:
        time.sleep(0.1)
        rss = server.rss()
    return rss


async def _run_all(ws: ClientConnection, session_ids: list[str], ack: bool, limit: asyncio.Semaphore) -> None:
    for session_id in session_ids:
        await run_once(ws, session_id, ack, limit)


async def measure(args: argparse.Namespace, server: ServerProcess) -> dict[str, int]:
    url = f"ws://127.0.0.1:{server.port}/"
    rss = {"started": settled_rss(server)}

    warm = await open_connection(url)
    await warm.send(json.dumps({"event": "user.create_session", "content": "create_session"}))
    created = await expect(warm, "agent.session_created")
    await warm.send(json.dumps({"event": "user.close_session", "session_id": created["session_id"]}))
    await expect(warm, "agent.session_end")
    await warm.close()
    rss["warm, 0 sessions"] = settled_rss(server)

    connections: list[ClientConnection] = []
    try:
        for start in range(0, args.connections, BATCH):
            count = min(BATCH, args.connections - start)
            connections += await asyncio.gather(*(open_connection(url) for _ in range(count)))
        rss[f"{args.connections} connections, 0 sessions"] = settled_rss(server)

        per_conn, extra = divmod(args.sessions, args.connections)
        started = time.perf_counter()
        ids = await asyncio.gather(
            *(create_sessions(ws, per_conn + (1 if i < extra else 0)) for i, ws in enumerate(connections))
        )
        took = time.perf_counter() - started
        rss[f"{args.connections} connections, {args.sessions} sessions"] = settled_rss(server, 2.0)
        print(f"created {args.sessions} sessions in {took:.2f} s ({args.sessions / took:.0f}/s)")

        limit = asyncio.Semaphore(50)
        for number in range(1, args.runs + 1):
            started = time.perf_counter()
            # Sessions of one connection run one after another (a connection has one reader here).
            await asyncio.gather(
                *(_run_all(ws, session_ids, args.ack, limit) for ws, session_ids in zip(connections, ids, strict=True))
            )
            took = time.perf_counter() - started
            label = f"... after {number} run(s) of {args.tokens} tokens each{', acked' if args.ack else ''}"
            rss[label] = settled_rss(server, 2.0)
            print(f"run {number}: {args.sessions} runs in {took:.2f} s")
    finally:
        for start in range(0, len(connections), BATCH):
            await asyncio.gather(*(ws.close() for ws in connections[start : start + BATCH]), return_exceptions=True)
    return rss


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sessions", type=int, default=1000, help="idle sessions to open")
    parser.add_argument("--connections", type=int, default=1000, help="connections to spread them over")
    parser.add_argument("--timeout", type=float, default=90.0, help="seconds the measurement may take")
    parser.add_argument("--target-mb", type=float, default=TARGET_MB, help="RSS target with every session open")
    parser.add_argument(
        "--runs", type=int, default=0, help="afterwards, run each session this many times and measure again"
    )
    parser.add_argument("--tokens", type=int, default=200, help="tokens per run (BENCH_TOKENS)")
    parser.add_argument("--ack", action="store_true", help="acknowledge each final answer (user.ack)")
    parser.add_argument(
        "--real-model",
        action="store_true",
        help="serve the weather agent on the real HTTP model path (bench/agent_real_model.py + bench/model_server.py)",
    )
    args = parser.parse_args()
    if not (1 <= args.connections <= 5000 and args.connections <= args.sessions <= 20_000):
        parser.error("need 1 <= connections <= sessions, connections <= 5000, sessions <= 20000")
    if not (0 <= args.runs <= 5 and 1 <= args.tokens <= 10_000):
        parser.error("keep it bounded: 0..5 runs, 1..10000 tokens")
    if args.sessions > args.connections * 100:
        parser.error("the server allows 100 sessions per connection by default")

    print(f"machine: {machine()}")
    port = free_port()
    # Default heartbeat (30 s) as in production: every connection then holds a sleeping heartbeat task.
    env = {"BENCH_TOKENS": str(args.tokens)}
    agent = None
    model: ServerProcess | None = None
    if args.real_model:
        # The guide's weather agent on the real HTTP model path, the endpoint in its own process.
        model_port = free_port()
        model = ServerProcess(
            "model", [sys.executable, str(BENCH / "model_server.py"), str(model_port)], model_port, env=env
        )
        model.wait_listening()
        env |= {"OPENAI_BASE_URL": f"http://127.0.0.1:{model_port}/v1", "OPENAI_API_KEY": "bench-key"}
        agent = str(BENCH / "agent_real_model.py")
    server = ServerProcess("ours", our_server_argv(port, heartbeat=None, agent=agent), port, env=env)
    code: int | None = None
    try:
        server.wait_listening()
        rss = asyncio.run(asyncio.wait_for(measure(args, server), args.timeout))
    finally:
        with contextlib.suppress(Exception):
            code = server.stop()
        if model is not None:
            model.stop()
    base = rss["warm, 0 sessions"]
    print(f"\n{'server state':<40} {'RSS MB':>8} {'over warm 0-session':>20}")
    for label, value in rss.items():
        print(f"{label:<40} {value / MB:8.1f} {(value - base) / MB:17.1f} MB")
    keys = list(rss)
    conns, full = rss[keys[2]], rss[keys[3]]
    for label in keys[4:]:
        print(f"per session {label[4:]}: {(rss[label] - full) / args.sessions / 1024:.1f} KiB more than idle")
    print(f"\nper connection (no session): {(conns - base) / args.connections / 1024:.1f} KiB")
    print(f"per session incl. its share of connections: {(full - base) / args.sessions / 1024:.1f} KiB")
    print(f"per session on top of the connections:      {(full - conns) / args.sessions / 1024:.1f} KiB")
    target = args.target_mb
    verdict = "MET" if full < target * MB else f"MISSED by {(full - target * MB) / MB:.1f} MB"
    print(f"target {args.sessions} idle sessions under {target:g} MB RSS: {full / MB:.1f} MB -> {verdict}")
    if code not in (0, None):
        print(f"warning: the server exited with {code}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
