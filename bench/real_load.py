"""Our server on the real model path (HTTP streaming) against baselines, all in one run.

    .venv/bin/python bench/real_load.py [--sessions 50] [--rounds 2] [--tokens 200] [--delay-ms 0]

Separate processes on loopback: the model endpoint (``bench/model_server.py``, OpenAI-compatible
SSE, ``--tokens`` deltas per answer, ``--delay-ms`` between them), the servers, the ``/healthz``
probe (``bench/healthz_probe.py``) and this load generator. Variants (``--variants``), measured one
after another so that they never compete for the CPU:

* ``ours``  — the real CLI serving the guide's weather agent (``bench/agent_real_model.py``) with
  the model resolved from the environment, as every user gets it;
* ``sdk``   — the same server and agent on the ``openai`` SDK's default streaming path
  (``bench/sdk_model.py``);
* ``bare``  — a bare ``websockets`` sender (``bench/bare_server.py``) replaying, per session, exactly
  the delta frames ``ours`` sent in the same round (same count, same text);
* ``bare-tokens`` — the same bare sender with one frame per model token (the baseline of
  ``bench/load.py`` and of the numbers this project measured before).

Per variant: N sessions (one connection each) are opened, then R rounds in which every session
sends one message at the same moment and reads to the final answer. Reported: server CPU per
session (connection + session creation + R answers; the model endpoint's CPU is not included),
p50/p99 latency of a run (message sent → final answer received), frames per run, RSS growth per
session after one answer (RSS after round 1 minus RSS before the sessions, over N; the server was
warmed up first with ``--warmup`` sessions), and ``/healthz`` response times measured by the probe
during the whole load. Every run is verified: the final answer equals the concatenation of the
deltas and the expected text, and ``seq`` is gapless; any mismatch aborts with exit code 1.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from typing import Any

from _common import BENCH, MB, ServerProcess, free_port, machine, our_server_argv
from agent_for_bench import bench_tokens
from load import start_py_spy, stop_py_spy
from websockets.asyncio.client import ClientConnection, connect

CLOSING = ("agent.final_answer", "agent.error", "agent.interrupted")
VARIANTS = ("ours", "sdk", "bare", "bare-tokens")
BATCH = 200  # connections opened at once


class BenchFailure(Exception):
    """A server broke the protocol or lost text: the benchmark is void."""


@dataclass
class Session:
    ws: ClientConnection
    session_id: str | None = None
    deltas: list[str] = field(default_factory=list)


@dataclass
class Result:
    variant: str
    sessions: int
    rounds: int
    cpu_s: float = 0.0
    run_ms: list[float] = field(default_factory=list)
    frames: int = 0
    rss_before: int = 0
    rss_after_one: int = 0
    probe_ms: list[float] = field(default_factory=list)
    probe_at: list[float] = field(default_factory=list)
    probe_errors: int = 0
    phases: list[tuple[str, float]] = field(default_factory=list)  # (what, Unix time it ended)

    @property
    def cpu_ms_per_session(self) -> float:
        return self.cpu_s * 1000 / self.sessions

    @property
    def rss_kib_per_session(self) -> float:
        return (self.rss_after_one - self.rss_before) / 1024 / self.sessions


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


# -- client side ------------------------------------------------------------------------------


async def expect(ws: ClientConnection, event: str, within: float = 60.0) -> dict[str, Any]:
    for _ in range(50):
        async with asyncio.timeout(within):
            frame: dict[str, Any] = json.loads(await ws.recv())
        if frame["event"] == event:
            return frame
        if frame["event"] in ("system.error", "agent.error"):
            raise BenchFailure(f"expected {event}, got {frame}")
    raise BenchFailure(f"no {event} within 50 frames")


async def open_sessions(url: str, n: int, *, ours: bool) -> list[Session]:
    async def one() -> Session:
        ws = await connect(url, compression=None, max_size=None, ping_interval=None, open_timeout=60)
        session = Session(ws)
        if ours:
            await expect(ws, "system.connected")
            await ws.send(json.dumps({"event": "user.create_session", "content": "create_session"}))
            session.session_id = (await expect(ws, "agent.session_created"))["session_id"]
        return session

    sessions: list[Session] = []
    for start in range(0, n, BATCH):
        sessions += await asyncio.gather(*(one() for _ in range(min(BATCH, n - start))))
    return sessions


async def close_sessions(sessions: list[Session]) -> None:
    for start in range(0, len(sessions), BATCH):
        await asyncio.gather(*(s.ws.close() for s in sessions[start : start + BATCH]), return_exceptions=True)


async def run_once(session: Session, message: dict[str, Any], text: str, limit: float) -> tuple[float, int]:
    """One message to the final answer, verified; returns (ms, frames) and keeps the deltas."""
    if session.session_id is not None:
        message = {**message, "session_id": session.session_id}
    frames: list[dict[str, Any]] = []
    started = time.perf_counter()
    await session.ws.send(json.dumps(message))
    async with asyncio.timeout(limit):
        while True:
            frame = json.loads(await session.ws.recv())
            frames.append(frame)
            if frame["event"] in CLOSING:
                break
    elapsed = (time.perf_counter() - started) * 1000
    where = f"session {session.session_id or '(bare)'}"
    if frames[-1]["event"] != "agent.final_answer":
        raise BenchFailure(f"{where}: run ended with {frames[-1]['event']}: {frames[-1].get('content')!r}")
    seqs = [f["seq"] for f in frames if "seq" in f]
    if seqs != list(range(seqs[0], seqs[0] + len(seqs))):
        raise BenchFailure(f"{where}: seq not gapless: {seqs[:20]}")
    session.deltas = [f["content"] for f in frames if f["event"] == "agent.partial_answer"]
    joined = "".join(session.deltas)
    if joined != frames[-1]["content"] or joined != text:
        raise BenchFailure(f"{where}: LOSSLESS GUARANTEE BROKEN ({len(joined)} chars of deltas, {len(text)} expected)")
    return elapsed, len(frames)


# -- one variant ------------------------------------------------------------------------------


class Probe:
    """The ``/healthz`` probe subprocess (our servers only)."""

    def __init__(self, port: int, interval_ms: float) -> None:
        argv = [sys.executable, str(BENCH / "healthz_probe.py"), str(port), "--interval-ms", str(interval_ms)]
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL)

    def stop(self) -> tuple[list[float], list[float], int]:
        self.proc.send_signal(signal.SIGINT)
        out, _ = self.proc.communicate(timeout=90)
        data = json.loads(out or b'{"ms": [], "at": [], "errors": 0}')
        return list(data["ms"]), list(data["at"]), int(data["errors"])


async def measure(
    variant: str, server: ServerProcess, args: argparse.Namespace, replays: list[list[list[str]]] | None
) -> Result:
    url = f"ws://127.0.0.1:{server.port}/"
    ours = variant in ("ours", "sdk")
    text = "".join(bench_tokens(args.tokens))
    timeout = args.round_timeout

    warm = await open_sessions(url, args.warmup, ours=ours)
    await asyncio.gather(*(run_once(s, {"event": "user.message", "content": "go"}, text, timeout) for s in warm))
    await close_sessions(warm)
    await asyncio.sleep(0.5)

    result = Result(variant, args.sessions, args.rounds)
    probe = Probe(server.port, args.probe_interval_ms) if ours else None
    profiler = start_py_spy(f"{args.py_spy}.{variant}.txt", server.proc.pid) if args.py_spy and ours else None
    result.rss_before = server.rss()
    cpu0 = server.cpu_seconds()
    try:
        result.phases.append(("start", time.time()))
        sessions = await open_sessions(url, args.sessions, ours=ours)
        result.phases.append(("sessions open", time.time()))
        for number in range(args.rounds):
            messages: list[dict[str, Any]] = []
            for index in range(args.sessions):
                message: dict[str, Any] = {"event": "user.message", "content": "go"}
                if variant == "bare" and replays is not None:
                    message["replay"] = replays[number][index]
                messages.append(message)
            gc.collect()
            gc.disable()  # keep the client's GC pauses out of the latency numbers
            try:
                outcomes = await asyncio.gather(
                    *(run_once(s, m, text, timeout) for s, m in zip(sessions, messages, strict=True))
                )
            finally:
                gc.enable()
            result.phases.append((f"round {number + 1} done", time.time()))
            result.run_ms += [ms for ms, _ in outcomes]
            result.frames += sum(frames for _, frames in outcomes)
            if number == 0:
                result.rss_after_one = server.rss()
            if variant == "ours" and replays is not None:
                replays.append([s.deltas for s in sessions])
        result.cpu_s = server.cpu_seconds() - cpu0
    finally:
        if probe is not None:
            result.probe_ms, result.probe_at, result.probe_errors = probe.stop()
        if profiler is not None:
            stop_py_spy(*profiler)
    await close_sessions(sessions)
    return result


# -- reporting --------------------------------------------------------------------------------


def report(results: dict[str, Result], args: argparse.Namespace) -> None:
    head = (
        f"{'variant':<12} {'CPU ms/session':>14} {'x ours':>7} {'run p50 ms':>10} {'run p99 ms':>10} "
        f"{'frames/run':>10} {'RSS KiB/session':>15} {'healthz p50/p99/max ms':>23}"
    )
    print("\n" + head)
    ours = results.get("ours")
    for r in results.values():
        ratio = f"{r.cpu_s / ours.cpu_s:7.2f}" if ours and ours.cpu_s else f"{'-':>7}"
        probe = (
            f"{pct(r.probe_ms, 50):.1f}/{pct(r.probe_ms, 99):.1f}/{max(r.probe_ms):.1f}"
            + (f" ({r.probe_errors} err)" if r.probe_errors else "")
            if r.probe_ms
            else "-"
        )
        print(
            f"{r.variant:<12} {r.cpu_ms_per_session:14.2f} {ratio} {pct(r.run_ms, 50):10.1f} "
            f"{pct(r.run_ms, 99):10.1f} {r.frames / (r.sessions * r.rounds):10.1f} "
            f"{r.rss_kib_per_session:15.1f} {probe:>23}"
        )
    if ours is None:
        return
    print()
    for base in ("bare", "bare-tokens"):
        if base in results:
            print(f"ours / {base}: {ours.cpu_s / results[base].cpu_s:.1f}x CPU per session")
    if "sdk" in results:
        print(f"sdk / ours: {results['sdk'].cpu_s / ours.cpu_s:.1f}x CPU per session")
    print(f"RSS growth per session after one answer: {ours.rss_kib_per_session:.1f} KiB")
    if ours.probe_ms:
        worst = sorted(zip(ours.probe_ms, ours.probe_at, strict=True), reverse=True)[:5]
        start = ours.phases[0][1]
        marks = ", ".join(f"{what} +{at - start:.1f}s" for what, at in ours.phases[1:])
        print(f"slowest /healthz probes (ms @ s after start; {marks}):", end="")
        print(", ".join(f" {ms:.0f} @ +{at - start:.1f}s" for ms, at in worst))
        print(
            f"/healthz during the load: p99 {pct(ours.probe_ms, 99):.1f} ms, max {max(ours.probe_ms):.1f} ms "
            f"({len(ours.probe_ms)} probes)"
        )


def start(name: str, argv: list[str], port: int, env: dict[str, str]) -> ServerProcess:
    server = ServerProcess(name, argv, port, env=env)
    server.wait_listening()
    return server


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sessions", type=int, default=50, help="concurrent sessions, one connection each")
    parser.add_argument("--rounds", type=int, default=2, help="answers per session")
    parser.add_argument("--tokens", type=int, default=200, help="model tokens per answer")
    parser.add_argument("--delay-ms", type=float, default=0.0, help="model endpoint pause between tokens")
    parser.add_argument("--variants", default=",".join(VARIANTS), help=f"comma-separated subset of {VARIANTS}")
    parser.add_argument("--warmup", type=int, default=10, help="sessions run once before measuring")
    parser.add_argument("--probe-interval-ms", type=float, default=20.0, help="/healthz probe interval")
    parser.add_argument("--round-timeout", type=float, default=300.0, help="seconds one run may take")
    parser.add_argument("--json", help="also write the results to this file")
    parser.add_argument("--agent", help="agent file for ours/sdk (default: bench/agent_real_model.py)")
    parser.add_argument("--py-spy", metavar="PREFIX", help="profile our servers: PREFIX.VARIANT.txt (collapsed stacks)")
    args = parser.parse_args()
    variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    if not set(variants) <= set(VARIANTS):
        parser.error(f"unknown variant in {variants}")
    if not (1 <= args.sessions <= 5000 and 1 <= args.rounds <= 20 and 1 <= args.tokens <= 10_000):
        parser.error("keep it bounded: 1..5000 sessions, 1..20 rounds, 1..10000 tokens")

    print(f"machine: {machine()}")
    print(
        f"{args.sessions} sessions x {args.rounds} rounds x {args.tokens} tokens, {args.delay_ms:g} ms/token; "
        f"variants {', '.join(variants)}"
    )
    tokens_env = {"BENCH_TOKENS": str(args.tokens)}
    model_port = free_port()
    model_argv = [sys.executable, str(BENCH / "model_server.py"), str(model_port), "--delay-ms", str(args.delay_ms)]
    model = start("model", model_argv, model_port, tokens_env)
    endpoint = {"OPENAI_BASE_URL": f"http://127.0.0.1:{model_port}/v1", "OPENAI_API_KEY": "bench-key", **tokens_env}
    agent = args.agent or str(BENCH / "agent_real_model.py")
    replays: list[list[list[str]]] | None = [] if "ours" in variants and "bare" in variants else None
    results: dict[str, Result] = {}
    try:
        for variant in variants:
            port = free_port()
            if variant in ("ours", "sdk"):
                argv = our_server_argv(port, agent=agent)
                server = start(variant, argv, port, {**endpoint, "BENCH_MODEL_PATH": variant})
            else:
                server = start(variant, [sys.executable, str(BENCH / "bare_server.py"), str(port)], port, tokens_env)
            try:
                results[variant] = asyncio.run(measure(variant, server, args, replays))
            finally:
                server.stop()
            r = results[variant]
            print(f"{variant}: {r.cpu_ms_per_session:.2f} ms CPU/session, p50 {pct(r.run_ms, 50):.1f} ms", flush=True)
    except BenchFailure as exc:
        print(f"\nBENCHMARK FAILED: {exc}", file=sys.stderr)
        return 1
    finally:
        model.stop()
    report(results, args)
    if args.json:
        with open(args.json, "w") as fh:
            rows = {
                name: {
                    "cpu_ms_per_session": r.cpu_ms_per_session,
                    "run_p50_ms": pct(r.run_ms, 50),
                    "run_p99_ms": pct(r.run_ms, 99),
                    "frames_per_run": r.frames / (r.sessions * r.rounds),
                    "rss_kib_per_session": r.rss_kib_per_session,
                    "rss_before_mb": r.rss_before / MB,
                    "healthz_p50_ms": pct(r.probe_ms, 50),
                    "healthz_p99_ms": pct(r.probe_ms, 99),
                    "healthz_max_ms": max(r.probe_ms, default=float("nan")),
                    "probe_errors": r.probe_errors,
                }
                for name, r in results.items()
            }
            json.dump({"machine": machine(), "load_avg": os.getloadavg(), "args": vars(args), "results": rows}, fh)
    return 0


if __name__ == "__main__":
    sys.exit(main())
