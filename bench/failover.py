"""How long until a killed node's runs go on elsewhere, and whether anything was lost.

    .venv/bin/python bench/failover.py [--sessions 50] [--lease-ttl 30] [--delay-ms 20] [--tokens 400]

Separate processes: a ``redis-server`` (Debian's, persistence off, temp dir, free port), the local
OpenAI-compatible endpoint ``bench/model_server.py`` (200 tokens, ``--delay-ms`` apart), and two
nodes of ours (the real CLI, the guide's weather agent on the real HTTP model path, ``--redis-url``,
``--lease-ttl``). N sessions start a run on node A; once every one of them has streamed text, A is
killed with SIGKILL. Each client reconnects to node B with its resume token and last ``seq`` and
reads to the end. Prints, from the kill: the time until each session's ``agent.run_resumed`` and
until its closing event (p50/max), against the target ``lease_ttl + 5 s``, and counts sessions whose
stream had a gap, a duplicate, or a resumed answer different from the endpoint's text.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from _common import BENCH, ServerProcess, free_port, machine, our_server_argv
from agent_for_bench import bench_tokens, token_count
from redis_vs_memory import start_redis
from websockets.asyncio.client import ClientConnection, connect


@dataclass
class Run:
    session_id: str
    token: str
    frames: list[dict[str, Any]] = field(default_factory=list)
    resumed_after: float | None = None
    closed_after: float | None = None


async def recv(ws: ClientConnection, within: float) -> dict[str, Any]:
    frame: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), within))
    return frame


async def start(url: str) -> tuple[ClientConnection, Run]:
    ws = await connect(url, max_size=None)
    await ws.send(json.dumps({"event": "user.create_session", "content": "create_session"}))
    while (frame := await recv(ws, 30))["event"] != "agent.session_created":
        pass
    run = Run(frame["session_id"], frame["metadata"]["resume_token"], [frame])
    await ws.send(json.dumps({"event": "user.message", "session_id": run.session_id, "content": "北京天气"}))
    while (frame := await recv(ws, 30))["event"] != "agent.partial_answer":
        run.frames.append(frame)
    run.frames.append(frame)
    return ws, run


async def drain(ws: ClientConnection, run: Run) -> None:
    """Whatever A sent before it died."""
    try:
        while True:
            run.frames.append(await recv(ws, 30))
    except Exception:
        return


async def finish_on(url: str, run: Run, killed_at: float, within: float) -> None:
    last = max(f["seq"] for f in run.frames if "seq" in f)
    async with connect(url, max_size=None) as ws:
        await ws.send(
            json.dumps(
                {"event": "user.reconnect", "session_id": run.session_id, "resume_token": run.token, "last_seq": last}
            )
        )
        while True:
            try:
                frame = await recv(ws, within)
            except TimeoutError:
                return  # reported by check(): no closing event
            run.frames.append(frame)
            if frame["event"] == "agent.run_resumed" and run.resumed_after is None:
                run.resumed_after = time.monotonic() - killed_at
            if "seq" in frame and frame["event"] in ("agent.final_answer", "agent.error", "agent.interrupted"):
                run.closed_after = time.monotonic() - killed_at
                return


def check(run: Run, text: str) -> list[str]:
    stream = [f for f in run.frames if "seq" in f]
    problems = []
    if run.closed_after is None:
        problems.append("no closing event")
    if [f["seq"] for f in stream] != list(range(1, len(stream) + 1)):
        problems.append("gap or duplicate")
    marks = [i for i, f in enumerate(stream) if f["event"] == "agent.run_resumed"]
    if len(marks) != 1:
        problems.append(f"{len(marks)} run_resumed events")
    else:
        after = "".join(f["content"] for f in stream[marks[0] :] if f["event"] == "agent.partial_answer")
        if after != text or stream[-1].get("content") != text:
            problems.append(f"resumed answer differs ({len(after)} of {len(text)} chars after it)")
    if problems and os.environ.get("FAILOVER_DUMP"):
        with open(os.environ["FAILOVER_DUMP"], "a") as dump:
            dump.write(json.dumps(run.frames) + "\n")
    return problems


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def bench(args: argparse.Namespace, a: ServerProcess, b: ServerProcess) -> int:
    text = "".join(bench_tokens(token_count()))
    opened = await asyncio.gather(*(start(f"ws://127.0.0.1:{a.port}") for _ in range(args.sessions)))
    a.proc.send_signal(signal.SIGKILL)
    killed_at = time.monotonic()
    a.proc.wait(10)
    await asyncio.gather(*(drain(ws, run) for ws, run in opened))
    within = args.lease_ttl + 60
    finished = [run for _, run in opened if any(f["event"] == "agent.final_answer" for f in run.frames)]
    runs = [run for _, run in opened if run not in finished]
    print(f"{len(finished)} sessions had their answer before the kill; {len(runs)} were cut off by it")
    await asyncio.gather(*(finish_on(f"ws://127.0.0.1:{b.port}", run, killed_at, within) for run in runs))
    resumed = [r.resumed_after for r in runs if r.resumed_after is not None]
    closed = [r.closed_after for r in runs if r.closed_after is not None]
    bad = {r.session_id: check(r, text) for r in runs}
    bad = {k: v for k, v in bad.items() if v}
    target = args.lease_ttl + 5
    print(
        f"sessions {len(runs)}, lease_ttl {args.lease_ttl:g} s, {args.delay_ms} ms/token, "
        f"target run_resumed <= {target:g} s"
    )
    print(
        f"kill -> agent.run_resumed: p50 {pct(resumed, 0.5):.2f} s, max {max(resumed):.2f} s ({len(resumed)} sessions)"
    )
    print(f"kill -> closing event:     p50 {pct(closed, 0.5):.2f} s, max {max(closed):.2f} s")
    print(f"sessions with a gap, a duplicate or a different answer: {len(bad)}")
    for session_id, problems in list(bad.items())[:5]:
        print(f"  {session_id}: {', '.join(problems)}")
    return 0 if not bad and len(resumed) == len(runs) else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sessions", type=int, default=50)
    parser.add_argument("--lease-ttl", type=float, default=30.0)  # the server's default
    parser.add_argument("--delay-ms", type=int, default=20)
    parser.add_argument("--tokens", type=int, default=400)
    args = parser.parse_args()
    if not (1 <= args.sessions <= 2000 and 0.5 <= args.lease_ttl <= 120 and 0 <= args.delay_ms <= 1000):
        parser.error("keep it bounded: 1..2000 sessions, lease 0.5..120 s, 0..1000 ms/token")
    print(f"machine: {machine()}")
    with tempfile.TemporaryDirectory(prefix="bench-failover-") as directory:
        redis_proc, redis_port = start_redis(directory)
        model_port = free_port()
        os.environ["BENCH_TOKENS"] = str(args.tokens)  # the endpoint's answer length, and the text checked
        model = ServerProcess(
            "model",
            [sys.executable, str(BENCH / "model_server.py"), str(model_port), "--delay-ms", str(args.delay_ms)],
            model_port,
        )
        env = {"OPENAI_BASE_URL": f"http://127.0.0.1:{model_port}/v1", "OPENAI_API_KEY": "bench", "LLM_MODEL": "bench"}
        flags = ["--redis-url", f"redis://127.0.0.1:{redis_port}/0", "--lease-ttl", str(args.lease_ttl)]
        agent = str(BENCH / "agent_real_model.py")
        nodes = []
        for name in ("a", "b"):
            port = free_port()
            nodes.append(ServerProcess(name, our_server_argv(port, *flags, agent=agent), port, env=env))
        try:
            model.wait_listening()
            for node in nodes:
                node.wait_listening()
            code = asyncio.run(bench(args, nodes[0], nodes[1]))
            if code:
                nodes[1].log.flush()
                log = Path(nodes[1].log.name).read_text(errors="replace").splitlines()
                lines = [line for line in log if "taken over" not in line]
                print("node B's log, without its takeover lines:\n" + "\n".join(lines[-40:]))
            return code
        finally:
            for process in (*nodes, model):
                process.stop()
            redis_proc.terminate()
            redis_proc.wait(10)


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    sys.exit(main())
