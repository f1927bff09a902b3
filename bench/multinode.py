"""The same streaming workload on one in-memory node, one Redis node and three Redis nodes, in one run.

    .venv/bin/python bench/multinode.py [--sessions 60] [--rounds 3] [--tokens 200] [--delay-ms 0]

Separate processes on loopback: a ``redis-server`` (Debian's, persistence off, temp dir, free
port), the OpenAI-compatible endpoint ``bench/model_server.py`` (``--tokens`` deltas per answer),
and our servers, the real CLI serving the guide's weather agent on the real HTTP model path
(``bench/agent_real_model.py``):

* ``memory`` — one node with the in-memory seams (the baseline);
* ``redis1`` — one node with ``--redis-url``;
* ``redis3`` — three nodes on the same Redis, the sessions spread over them round-robin.

Rounds are those of ``bench/load.py`` (N sessions send one message at once and read to the final
answer; every run verified: gapless ``seq``, final answer == concatenation of the deltas == the
endpoint's text), the configurations' order alternating per round. Prints per round and in total
delta tokens/s, frames/s, p50/p99 delta latency, the nodes' CPU (summed), and the ratios
redis1/memory, redis3/memory and redis3/redis1. Three nodes cannot add CPU on a 2-core machine
that also runs Redis, the model endpoint and this client: the ratio shows what spreading sessions
over processes costs or saves here, not how far it scales on more cores.

Last, **resume on another node**: a session is created on node 1 of ``redis3``, 999 events are
appended to its log as its node would append them (tool results of 200 characters, never merged),
and a client resumes it on node 2 from ``last_seq`` 0; the time from sending ``user.reconnect`` to
receiving the 1,000th event (over the socket, parsed) is reported for ``--resume-tries`` sessions,
with the time until the reconnect notice (the server's work before the replay is sent) beside it.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import statistics
import sys
import tempfile
import time

import psutil
from _common import BENCH, ServerProcess, free_port, machine, our_server_argv
from agent_for_bench import bench_tokens
from load import OURS, BenchFailure, RoundResult, close_streams, expect, open_streams, pct, row, run_stream, verify
from redis_vs_memory import start_redis
from websockets.asyncio.client import connect

from myagent.ws.redis import connect_redis_backends

MEMORY, REDIS1, REDIS3 = "memory", "redis1", "redis3"
HEADER = (
    f"{'config':<7} {'round':>5} {'wall s':>7} {'frames':>7} {'frames/s':>9} {'tokens/s':>9} {'tok/frm':>7} "
    f"{'p50 ms':>7} {'p99 ms':>7} {'srv cpu':>7} {'cli cpu':>7} {'rss MB':>7}"
)


async def one_round(
    kind: str, nodes: list[ServerProcess], sessions: int, text: str, max_frames: int, number: int
) -> RoundResult:
    """``sessions`` runs at once, spread round-robin over ``nodes``."""
    share = [sessions // len(nodes) + (1 if i < sessions % len(nodes) else 0) for i in range(len(nodes))]
    per_node = await asyncio.gather(
        *(open_streams(OURS, f"ws://127.0.0.1:{node.port}/", n) for node, n in zip(nodes, share, strict=True))
    )
    streams = [stream for group in per_node for stream in group]
    gc.collect()
    gc.disable()  # the client keeps every frame: keep its GC pauses out of the latency numbers
    try:
        cpu0, client0 = sum(n.cpu_seconds() for n in nodes), time.process_time()
        started = time.perf_counter()
        await asyncio.gather(*(run_stream(s, max_frames) for s in streams))
        wall = time.perf_counter() - started
    finally:
        gc.enable()
    server_cpu, client_cpu = sum(n.cpu_seconds() for n in nodes) - cpu0, time.process_time() - client0
    rss = sum(n.rss() for n in nodes)
    result = RoundResult(kind, str(number), wall, 0, 0, 0, [], server_cpu, client_cpu, rss)
    for stream in streams:
        result.frames += len(stream.frames)
        delta_frames, tokens, latencies = verify(kind, stream, text)
        result.delta_frames += delta_frames
        result.tokens += tokens
        result.latencies.extend(latencies)
    for group in per_node:
        await close_streams(OURS, group)
    return result


def summed(kind: str, results: list[RoundResult]) -> RoundResult:
    mine = [r for r in results if r.server == kind]
    return RoundResult(
        kind,
        "all",
        sum(r.wall for r in mine),
        sum(r.frames for r in mine),
        sum(r.delta_frames for r in mine),
        sum(r.tokens for r in mine),
        [x for r in mine for x in r.latencies],
        sum(r.server_cpu for r in mine),
        sum(r.client_cpu for r in mine),
        max(r.rss_peak for r in mine),
    )


async def rounds(args: argparse.Namespace, configs: dict[str, list[ServerProcess]]) -> list[RoundResult]:
    text = "".join(bench_tokens(args.tokens))
    order = list(configs)
    results: list[RoundResult] = []
    for number in range(-args.warmup + 1, args.rounds + 1):
        turn = order[number % len(order) :] + order[: number % len(order)]  # who goes first rotates
        for kind in turn:
            result = await asyncio.wait_for(
                one_round(kind, configs[kind], args.sessions, text, args.tokens + 10, number), args.round_timeout
            )
            if number >= 1:
                results.append(result)
                print(row(result), flush=True)
    return results


async def resume_ms(
    redis_url: str, a: ServerProcess, b: ServerProcess, tries: int, events: int = 1000
) -> list[tuple[float, float]]:
    """Milliseconds from ``user.reconnect`` on ``b`` to its notice and to the last event of a session of ``a``."""
    backends = connect_redis_backends(redis_url)
    timings = []
    try:
        for _ in range(tries):
            async with connect(f"ws://127.0.0.1:{a.port}/", max_size=None) as first:
                await expect(first, "system.connected")
                await first.send(json.dumps({"event": "user.create_session", "content": "create_session"}))
                created = await expect(first, "agent.session_created")
            sid, token = created["session_id"], created["metadata"]["resume_token"]
            frame = {"event": "agent.tool_result", "session_id": sid, "content": "x" * 200, "metadata": {"step": 1}}
            await asyncio.gather(*(backends.event_log.append(sid, dict(frame)) for _ in range(events - 1)))
            async with connect(f"ws://127.0.0.1:{b.port}/", max_size=None) as other:
                await expect(other, "system.connected")
                started = time.perf_counter()
                await other.send(json.dumps({"event": "user.reconnect", "session_id": sid, "resume_token": token}))
                noticed = started
                while True:
                    got = json.loads(await asyncio.wait_for(other.recv(), 30))
                    if got["event"] == "system.notice":
                        noticed = time.perf_counter()
                    if got.get("seq") == events:
                        break
                timings.append(((noticed - started) * 1000, (time.perf_counter() - started) * 1000))
                await other.send(json.dumps({"event": "user.close_session", "session_id": sid}))
                await expect(other, "agent.session_end", limit=events + 10)
    finally:
        await backends.aclose()
    return timings


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sessions", type=int, default=60)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--tokens", type=int, default=200)
    parser.add_argument("--delay-ms", type=float, default=0.0, help="model endpoint pause between tokens")
    parser.add_argument("--resume-tries", type=int, default=5)
    parser.add_argument("--round-timeout", type=float, default=120.0)
    args = parser.parse_args()
    if not (3 <= args.sessions <= 1000 and 1 <= args.rounds <= 20 and 0 <= args.warmup <= 5):
        parser.error("keep it bounded: 3..1000 sessions, 1..20 rounds, 0..5 warm-up rounds")
    if not (1 <= args.tokens <= 10_000 and 0 <= args.resume_tries <= 50):
        parser.error("keep it bounded: 1..10000 tokens, 0..50 resume tries")
    print(f"machine: {machine()}; not pinned (redis-server, the model endpoint and 3 nodes share the cores)")
    print(f"{args.sessions} sessions x {args.tokens} tokens, {args.rounds} rounds (+{args.warmup} warm-up)\n")
    tokens_env = {"BENCH_TOKENS": str(args.tokens)}
    with tempfile.TemporaryDirectory(prefix="bench-multinode-") as directory:
        redis_proc, redis_port = start_redis(directory)
        redis_url = f"redis://127.0.0.1:{redis_port}/0"
        redis_ps = psutil.Process(redis_proc.pid)
        model_port = free_port()
        model_argv = [sys.executable, str(BENCH / "model_server.py"), str(model_port)]
        model = ServerProcess("model", [*model_argv, "--delay-ms", str(args.delay_ms)], model_port, env=tokens_env)
        env = {"OPENAI_BASE_URL": f"http://127.0.0.1:{model_port}/v1", "OPENAI_API_KEY": "bench-key", **tokens_env}
        agent = str(BENCH / "agent_real_model.py")

        def node(name: str, *extra: str) -> ServerProcess:
            port = free_port()
            return ServerProcess(name, our_server_argv(port, *extra, agent=agent), port, env=env)

        configs = {
            MEMORY: [node(MEMORY)],
            REDIS1: [node(REDIS1, "--redis-url", redis_url)],
            REDIS3: [node(f"{REDIS3}-{i}", "--redis-url", redis_url) for i in range(3)],
        }
        everything = [model, *(n for nodes in configs.values() for n in nodes)]
        try:
            for process in everything:
                process.wait_listening(timeout=120)
            print(HEADER)
            redis_cpu0 = sum(redis_ps.cpu_times()[:2])
            results = asyncio.run(rounds(args, configs))
            redis_cpu = sum(redis_ps.cpu_times()[:2]) - redis_cpu0
            a, b = configs[REDIS3][:2]
            resume = asyncio.run(resume_ms(redis_url, a, b, args.resume_tries)) if args.resume_tries else []
        except BenchFailure as exc:
            print(f"\nBENCHMARK FAILED: {exc}", file=sys.stderr)
            return 1
        except TimeoutError:
            print("\nBENCHMARK FAILED: a round did not finish in time (--round-timeout)", file=sys.stderr)
            return 1
        finally:
            for process in everything:
                process.stop()
            redis_proc.terminate()
            redis_proc.wait(10)
    totals = {kind: summed(kind, results) for kind in configs}
    print("\n" + HEADER)
    for result in totals.values():
        print(row(result))
    memory, one, three_nodes = totals[MEMORY], totals[REDIS1], totals[REDIS3]
    redis_wall = one.wall + three_nodes.wall
    print(
        f"\nratio tokens/s: redis1/memory {one.tokens_per_s / memory.tokens_per_s:.2f}, "
        f"redis3/memory {three_nodes.tokens_per_s / memory.tokens_per_s:.2f}, "
        f"redis3/redis1 {three_nodes.tokens_per_s / one.tokens_per_s:.2f}; "
        f"p50 delta latency ms: memory {pct(memory.latencies, 50):.1f}, redis1 {pct(one.latencies, 50):.1f}, "
        f"redis3 {pct(three_nodes.latencies, 50):.1f}; redis-server CPU ~{redis_cpu / redis_wall:.0%} of one core"
    )
    if resume:
        print(
            f"resume on another node, 1,000 events replayed (ms, {len(resume)} tries; the notice came after): "
            + ", ".join(f"{total:.1f} ({notice:.1f})" for notice, total in resume)
            + f"; median {statistics.median(total for _, total in resume):.1f} (target <= 100)"
        )
    return 0


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    sys.exit(main())
