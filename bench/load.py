"""Throughput and latency of our server against a bare ``websockets`` sender, measured in the same run.

    .venv/bin/python bench/load.py [--sessions 50] [--rounds 3] [--tokens 200]

Starts two subprocesses on loopback: OUR server (the real CLI serving ``bench/agent_for_bench.py``)
and the BARE baseline (``bench/bare_server.py``: ``websockets`` sending frames of the same shape,
size and text, with no framework). For each server and round, N sessions (one connection each)
send one message at the same moment and read until the final answer. Reported per round: wall time,
frames/s, delta tokens/s (tokens counted inside possibly coalesced frames), p50/p99 delta latency
(client receive time minus the frame's ``timestamp``; same machine clock, 1 ms resolution), server
and client CPU, server RSS (sampled every 20 ms). Every run is verified: the final answer must equal
the concatenation of the deltas and the expected text, and ``seq`` must be gapless; any mismatch
aborts with exit code 1. The client is one asyncio process (its GC paused while a round runs) on the
same 2 cores (pinned to CPU 0, servers to CPU 1, unless ``--no-pin``).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from _common import BENCH, MB, RssSampler, ServerProcess, free_port, machine, our_server_argv
from agent_for_bench import bench_tokens
from websockets.asyncio.client import ClientConnection, connect

CLOSING = ("agent.final_answer", "agent.error", "agent.interrupted")
OURS, BARE = "ours", "bare"


class BenchFailure(Exception):
    """The server broke the protocol or lost text: the benchmark is void."""


@dataclass
class Stream:
    """What one session received during a run: ``(receive wall time, frame)`` in arrival order."""

    ws: ClientConnection
    session_id: str | None = None
    frames: list[tuple[float, dict[str, Any]]] = field(default_factory=list)


@dataclass
class RoundResult:
    server: str
    round: str
    wall: float
    frames: int
    delta_frames: int
    tokens: int
    latencies: list[float]
    server_cpu: float
    client_cpu: float
    rss_peak: int

    @property
    def frames_per_s(self) -> float:
        return self.frames / self.wall

    @property
    def tokens_per_s(self) -> float:
        return self.tokens / self.wall


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


# -- client side ------------------------------------------------------------------------------


async def recv_json(ws: ClientConnection, within: float) -> dict[str, Any]:
    async with asyncio.timeout(within):
        return json.loads(await ws.recv())  # type: ignore[no-any-return]


async def expect(ws: ClientConnection, event: str, within: float = 15.0, limit: int = 50) -> dict[str, Any]:
    for _ in range(limit):
        frame = await recv_json(ws, within)
        if frame["event"] == event:
            return frame
        if frame["event"] in ("system.error", "agent.error"):
            raise BenchFailure(f"expected {event}, got {frame}")
    raise BenchFailure(f"no {event} within {limit} frames")


async def open_streams(kind: str, url: str, n: int) -> list[Stream]:
    async def one() -> Stream:
        ws = await connect(url, compression=None, max_size=None, ping_interval=None, open_timeout=15)
        stream = Stream(ws)
        if kind == OURS:
            await expect(ws, "system.connected")
            await ws.send(json.dumps({"event": "user.create_session", "content": "create_session"}))
            stream.session_id = (await expect(ws, "agent.session_created"))["session_id"]
        return stream

    return list(await asyncio.gather(*(one() for _ in range(n))))


async def close_streams(kind: str, streams: list[Stream]) -> None:
    async def one(stream: Stream) -> None:
        if kind == OURS:
            await stream.ws.send(json.dumps({"event": "user.close_session", "session_id": stream.session_id}))
            await expect(stream.ws, "agent.session_end", within=10)
        await stream.ws.close()

    await asyncio.gather(*(one(s) for s in streams))


async def run_stream(stream: Stream, max_frames: int) -> None:
    message = {"event": "user.message", "content": "go"}
    if stream.session_id is not None:
        message["session_id"] = stream.session_id
    await stream.ws.send(json.dumps(message))
    for _ in range(max_frames):
        raw = await stream.ws.recv()
        received = time.time()
        frame = json.loads(raw)
        stream.frames.append((received, frame))
        if frame["event"] in CLOSING:
            return
    raise BenchFailure(f"no final answer within {max_frames} frames")


def verify(kind: str, stream: Stream, text: str) -> tuple[int, int, list[float]]:
    """Check one session's run; returns (delta frames, delta tokens, delta latencies in ms)."""
    frames = [frame for _, frame in stream.frames]
    where = f"{kind} session {stream.session_id or '?'}"
    final = frames[-1]
    if final["event"] != "agent.final_answer":
        raise BenchFailure(f"{where}: run ended with {final['event']}: {final.get('content')!r}")
    seqs = [frame["seq"] for frame in frames]
    if seqs != list(range(seqs[0], seqs[0] + len(seqs))):
        raise BenchFailure(f"{where}: seq is not gapless/in order: {seqs[:20]}…")
    deltas = [(t, f) for t, f in stream.frames if f["event"] == "agent.partial_answer"]
    others = {f["event"] for f in frames[:-1]} - {"agent.partial_answer", "agent.thinking"}
    if others:
        raise BenchFailure(f"{where}: unexpected events during the run: {sorted(others)}")
    joined = "".join(f["content"] for _, f in deltas)
    if joined != final["content"] or joined != text:
        raise BenchFailure(
            f"{where}: LOSSLESS GUARANTEE BROKEN: {len(joined)} chars of deltas, "
            f"{len(final['content'])} chars in the final answer, {len(text)} expected"
        )
    tokens = sum(f["content"].count(" ") for _, f in deltas)
    latencies = [t * 1000 - datetime.fromisoformat(f["timestamp"]).timestamp() * 1000 for t, f in deltas]
    return len(deltas), tokens, latencies


async def one_round(
    kind: str, server: ServerProcess, sampler: RssSampler, n: int, text: str, max_frames: int, number: int
) -> RoundResult:
    url = f"ws://127.0.0.1:{server.port}/"
    streams = await open_streams(kind, url, n)
    sampler.reset()
    gc.collect()
    gc.disable()  # the client keeps every frame: keep its GC pauses out of the latency numbers
    try:
        cpu0, client0 = server.cpu_seconds(), time.process_time()
        started = time.perf_counter()
        await asyncio.gather(*(run_stream(s, max_frames) for s in streams))
        wall = time.perf_counter() - started
    finally:
        gc.enable()
    server_cpu, client_cpu = server.cpu_seconds() - cpu0, time.process_time() - client0
    rss_peak = max(sampler.peak, server.rss())
    result = RoundResult(kind, str(number), wall, 0, 0, 0, [], server_cpu, client_cpu, rss_peak)
    for stream in streams:
        result.frames += len(stream.frames)
        delta_frames, tokens, latencies = verify(kind, stream, text)
        result.delta_frames += delta_frames
        result.tokens += tokens
        result.latencies.extend(latencies)
    await close_streams(kind, streams)
    return result


# -- reporting --------------------------------------------------------------------------------

HEADER = (
    f"{'server':<6} {'round':>5} {'wall s':>7} {'frames':>7} {'frames/s':>9} {'tokens/s':>9} {'tok/frm':>7} "
    f"{'p50 ms':>7} {'p99 ms':>7} {'srv cpu':>7} {'cli cpu':>7} {'rss MB':>7}"
)


def row(r: RoundResult) -> str:
    return (
        f"{r.server:<6} {r.round:>5} {r.wall:7.3f} {r.frames:7d} {r.frames_per_s:9.0f} {r.tokens_per_s:9.0f} "
        f"{r.tokens / max(1, r.delta_frames):7.2f} {pct(r.latencies, 50):7.1f} {pct(r.latencies, 99):7.1f} "
        f"{r.server_cpu / r.wall:7.0%} {r.client_cpu / r.wall:7.0%} {r.rss_peak / MB:7.1f}"
    )


def total(kind: str, results: list[RoundResult]) -> RoundResult:
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


def start_py_spy(path: str, pid: int) -> tuple[subprocess.Popen[bytes], str]:
    exe = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    argv = [exe, "record", "--pid", str(pid), "--format", "raw", "--rate", "500", "-o", path]
    profiler = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1.0)  # let it attach
    return profiler, path


def stop_py_spy(profiler: subprocess.Popen[bytes], path: str) -> None:
    profiler.send_signal(signal.SIGINT)
    try:
        profiler.wait(15)
    except subprocess.TimeoutExpired:
        profiler.kill()
        profiler.wait(5)
    print(f"py-spy profile: {path}")


# -- main -------------------------------------------------------------------------------------


async def bench(args: argparse.Namespace, servers: dict[str, ServerProcess]) -> list[RoundResult]:
    text = "".join(bench_tokens(args.tokens))
    max_frames = args.tokens + 10
    results: list[RoundResult] = []
    with RssSampler(servers[OURS].ps) as ours_rss, RssSampler(servers[BARE].ps) as bare_rss:
        samplers = {OURS: ours_rss, BARE: bare_rss}
        for number in range(-args.warmup + 1, args.rounds + 1):
            order = [OURS, BARE] if number % 2 else [BARE, OURS]  # alternate who goes first
            for kind in order:
                result = await asyncio.wait_for(
                    one_round(kind, servers[kind], samplers[kind], args.sessions, text, max_frames, number),
                    args.round_timeout,
                )
                if number >= 1:
                    results.append(result)
                    print(row(result), flush=True)
                else:
                    print(f"(warm-up {kind}: {result.wall:.3f} s)", flush=True)
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sessions", type=int, default=50, help="concurrent sessions, one connection each")
    parser.add_argument("--rounds", type=int, default=3, help="measured rounds per server")
    parser.add_argument("--warmup", type=int, default=1, help="unmeasured rounds per server first")
    parser.add_argument("--tokens", type=int, default=int(os.environ.get("BENCH_TOKENS", 200)), help="tokens per run")
    parser.add_argument("--round-timeout", type=float, default=30.0, help="seconds one round may take")
    parser.add_argument("--no-pin", action="store_true", help="do not pin client to CPU 0 and servers to CPU 1")
    parser.add_argument("--agent", help="agent file for our server (default: bench/agent_for_bench.py)")
    parser.add_argument("--json", help="also write the results to this file")
    parser.add_argument(
        "--py-spy",
        metavar="PREFIX",
        help="profile both servers with py-spy (if installed): PREFIX.ours.txt, PREFIX.bare.txt (collapsed stacks)",
    )
    args = parser.parse_args()
    if not (1 <= args.sessions <= 1000 and 1 <= args.rounds <= 20 and 0 <= args.warmup <= 5):
        parser.error("keep it bounded: 1..1000 sessions, 1..20 rounds, 0..5 warm-up rounds")
    if not 1 <= args.tokens <= 100_000:
        parser.error("keep it bounded: 1..100000 tokens")

    pin = not args.no_pin and (os.cpu_count() or 1) >= 2
    server_cpu = 1 if pin else None
    if pin:
        os.sched_setaffinity(0, {0})
    env = {"BENCH_TOKENS": str(args.tokens)}
    print(f"machine: {machine()}; pinned: {'client CPU 0, servers CPU 1' if pin else 'no'}")
    print(f"{args.sessions} sessions x {args.tokens} tokens, {args.rounds} rounds (+{args.warmup} warm-up)\n")

    ours_port, bare_port = free_port(), free_port()
    servers = {
        OURS: ServerProcess(OURS, our_server_argv(ours_port, agent=args.agent), ours_port, env=env, cpu=server_cpu),
        BARE: ServerProcess(
            BARE, [sys.executable, str(BENCH / "bare_server.py"), str(bare_port)], bare_port, env=env, cpu=server_cpu
        ),
    }
    try:
        for server in servers.values():
            server.wait_listening()
        idle_rss = {kind: s.rss() for kind, s in servers.items()}
        profilers = (
            [start_py_spy(f"{args.py_spy}.{kind}.txt", s.proc.pid) for kind, s in servers.items()]
            if args.py_spy
            else []
        )
        print(HEADER)
        try:
            results = asyncio.run(asyncio.wait_for(bench(args, servers), args.round_timeout * (args.rounds + 1) * 2))
        finally:
            for profiler in profilers:
                stop_py_spy(*profiler)
        end_rss = {kind: s.rss() for kind, s in servers.items()}
    except BenchFailure as exc:
        print(f"\nBENCHMARK FAILED: {exc}", file=sys.stderr)
        return 1
    except TimeoutError:
        print("\nBENCHMARK FAILED: a round did not finish in time (--round-timeout)", file=sys.stderr)
        return 1
    finally:
        codes = {kind: s.stop() for kind, s in servers.items()}
    if codes[OURS] not in (0, None):
        print(f"warning: our server exited with {codes[OURS]}", file=sys.stderr)

    ours, bare = total(OURS, results), total(BARE, results)
    print("\n" + HEADER)
    print(row(ours))
    print(row(bare))
    token_ratio = ours.tokens_per_s / bare.tokens_per_s
    frame_ratio = ours.frames_per_s / bare.frames_per_s
    per_round = [
        a.tokens_per_s / b.tokens_per_s
        for a, b in zip([r for r in results if r.server == OURS], [r for r in results if r.server == BARE], strict=True)
    ]
    print(
        f"\nserver RSS MB: ours idle {idle_rss[OURS] / MB:.1f}, peak {ours.rss_peak / MB:.1f}, end "
        f"{end_rss[OURS] / MB:.1f}; bare idle {idle_rss[BARE] / MB:.1f}, peak {bare.rss_peak / MB:.1f}"
    )
    ours_us, bare_us = ours.server_cpu / ours.tokens * 1e6, bare.server_cpu / bare.tokens * 1e6
    print(
        f"server CPU per delivered token: ours {ours_us:.1f} us, bare {bare_us:.1f} us "
        f"(bare/ours = {bare_us / ours_us:.2f}: the tokens/s ratio if both servers were CPU-bound)"
    )
    for name, r in ((OURS, ours), (BARE, bare)):
        if r.client_cpu / r.wall >= 0.9:
            print(f"note: the client was CPU-bound during the {name} rounds; that server may be faster than measured")
    print(
        f"RATIO ours/bare  tokens/s: {token_ratio:.2f}  (per round: {', '.join(f'{x:.2f}' for x in per_round)}, "
        f"median {statistics.median(per_round):.2f})"
    )
    print(
        f"RATIO ours/bare  frames/s: {frame_ratio:.2f}  (ours coalesces: {ours.tokens / ours.delta_frames:.2f} "
        f"tokens per delta frame)"
    )
    median = statistics.median(per_round)
    verdict = "MET" if median >= 0.60 else f"MISSED by {0.60 - median:.2f}"
    print(f"target ours >= 60 % of bare tokens/s with {args.sessions} sessions (median round): {verdict}")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(
                {
                    "machine": machine(),
                    "args": vars(args),
                    "rounds": [
                        {**r.__dict__, "latencies": None, "p50": pct(r.latencies, 50), "p99": pct(r.latencies, 99)}
                        for r in results
                    ],
                    "token_ratio": token_ratio,
                    "frame_ratio": frame_ratio,
                    "idle_rss": idle_rss,
                    "end_rss": end_rss,
                },
                fh,
                indent=2,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
