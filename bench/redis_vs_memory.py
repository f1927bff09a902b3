"""The same streaming workload on one node, in-memory backends vs Redis backends, measured in the same run.

    .venv/bin/python bench/redis_vs_memory.py [--sessions 50] [--rounds 3] [--tokens 200]

Starts a ``redis-server`` (Debian's, persistence off, in a temp dir, free port) and two servers of
ours on loopback: MEMORY (the default seams) and REDIS (``--redis-url``). Rounds are those of
``bench/load.py`` (N sessions send one message at once and read to the final answer; every run
verified: gapless ``seq``, final answer == concatenation of deltas). Prints per round and in total
delta tokens/s, frames/s, p50/p99 delta latency, server CPU, and the **ratio redis/memory**.
Redis's own CPU is shown too: it shares the 2 cores with everything else. Last, the time one node
takes to read back 1,000 retained events of a session (what a resume on another node replays).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import time

import psutil
from _common import RssSampler, ServerProcess, free_port, machine, our_server_argv
from agent_for_bench import bench_tokens
from load import HEADER, OURS, BenchFailure, RoundResult, one_round, row, total

from myagent.ws.redis import connect_redis_backends

MEMORY, REDIS = "memory", "redis"


def start_redis(directory: str) -> tuple[subprocess.Popen[str], int]:
    port = free_port()
    binary = shutil.which("redis-server") or "/usr/bin/redis-server"
    argv = [binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", directory, "--save", ""]
    proc = subprocess.Popen([*argv, "--appendonly", "no"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert proc.stdout is not None
    for line in proc.stdout:
        if "Ready to accept connections" in line:
            return proc, port
    raise SystemExit("redis-server did not start")


async def bench(args: argparse.Namespace, servers: dict[str, ServerProcess]) -> list[RoundResult]:
    text = "".join(bench_tokens(args.tokens))
    results: list[RoundResult] = []
    with RssSampler(servers[MEMORY].ps) as memory_rss, RssSampler(servers[REDIS].ps) as redis_rss:
        samplers = {MEMORY: memory_rss, REDIS: redis_rss}
        for number in range(-args.warmup + 1, args.rounds + 1):
            for kind in [MEMORY, REDIS] if number % 2 else [REDIS, MEMORY]:  # alternate who goes first
                result = await asyncio.wait_for(
                    one_round(OURS, servers[kind], samplers[kind], args.sessions, text, args.tokens + 10, number),
                    args.round_timeout,
                )
                result.server = kind
                if number >= 1:
                    results.append(result)
                    print(row(result), flush=True)
    return results


async def replay_ms(url: str, events: int = 1000, tries: int = 5) -> list[float]:
    """Milliseconds to read ``events`` retained events from Redis into entries ready to send, per try."""
    backends = connect_redis_backends(url, max_events=events * 2)
    try:
        frame = {"event": "agent.tool_result", "content": "x" * 200, "metadata": {"step": 1}}  # never merged
        await asyncio.gather(*(backends.event_log.append("replay", dict(frame)) for _ in range(events)))
        timings = []
        for _ in range(tries):
            started = time.perf_counter()
            window = await backends.event_log.read("replay", 0)
            timings.append((time.perf_counter() - started) * 1000)
            assert len(window.entries) == events and window.missing is None
        await backends.event_log.drop("replay")
        return timings
    finally:
        await backends.aclose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sessions", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--tokens", type=int, default=200)
    parser.add_argument("--round-timeout", type=float, default=60.0)
    args = parser.parse_args()
    if not (1 <= args.sessions <= 1000 and 1 <= args.rounds <= 20 and 0 <= args.warmup <= 5):
        parser.error("keep it bounded: 1..1000 sessions, 1..20 rounds, 0..5 warm-up rounds")
    if not 1 <= args.tokens <= 100_000:
        parser.error("keep it bounded: 1..100000 tokens")
    env = {"BENCH_TOKENS": str(args.tokens)}
    print(f"machine: {machine()}; not pinned (redis-server needs a core too)")
    print(f"{args.sessions} sessions x {args.tokens} tokens, {args.rounds} rounds (+{args.warmup} warm-up)\n")
    with tempfile.TemporaryDirectory(prefix="bench-redis-") as directory:
        redis_proc, redis_port = start_redis(directory)
        redis_ps = psutil.Process(redis_proc.pid)
        ports = {MEMORY: free_port(), REDIS: free_port()}
        redis_flag = ["--redis-url", f"redis://127.0.0.1:{redis_port}/0"]
        servers = {
            MEMORY: ServerProcess(MEMORY, our_server_argv(ports[MEMORY]), ports[MEMORY], env=env),
            REDIS: ServerProcess(REDIS, our_server_argv(ports[REDIS], *redis_flag), ports[REDIS], env=env),
        }
        try:
            for server in servers.values():
                server.wait_listening()
            print(HEADER)
            redis_cpu0 = sum(redis_ps.cpu_times()[:2])
            results = asyncio.run(bench(args, servers))
            redis_cpu = sum(redis_ps.cpu_times()[:2]) - redis_cpu0
            replay = asyncio.run(replay_ms(f"redis://127.0.0.1:{redis_port}/0"))
        except BenchFailure as exc:
            print(f"\nBENCHMARK FAILED: {exc}", file=sys.stderr)
            return 1
        except TimeoutError:
            print("\nBENCHMARK FAILED: a round did not finish in time (--round-timeout)", file=sys.stderr)
            return 1
        finally:
            for server in servers.values():
                server.stop()
            redis_proc.terminate()
            redis_proc.wait(10)
    memory, redis = total(MEMORY, results), total(REDIS, results)
    print("\n" + HEADER)
    print(row(memory))
    print(row(redis))
    print(
        f"\nratio redis/memory: delta tokens/s {redis.tokens_per_s / memory.tokens_per_s:.2f}, "
        f"frames/s {redis.frames_per_s / memory.frames_per_s:.2f}; "
        f"redis-server CPU during the redis rounds ~{redis_cpu / redis.wall:.0%} of one core"
    )
    print(f"replay of 1,000 events from Redis (ms, {len(replay)} tries): " + ", ".join(f"{t:.1f}" for t in replay))
    return 0


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    sys.exit(main())
