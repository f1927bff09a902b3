"""Helpers shared by the benchmark scripts: free ports, server subprocesses, RSS/CPU sampling."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
MB = 1024 * 1024


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ServerProcess:
    """A server subprocess with its output in a temp file (shown when it fails to start)."""

    def __init__(
        self, name: str, argv: Sequence[str], port: int, *, env: dict[str, str] | None = None, cpu: int | None = None
    ) -> None:
        self.name = name
        self.port = port
        self.log = tempfile.NamedTemporaryFile(prefix=f"bench-{name}-", suffix=".log", delete=False)  # noqa: SIM115
        preexec = None
        if cpu is not None:

            def preexec() -> None:
                os.sched_setaffinity(0, {cpu})

        self.proc = subprocess.Popen(
            list(argv),
            cwd=ROOT,
            env={**os.environ, **(env or {})},
            stdin=subprocess.DEVNULL,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            preexec_fn=preexec,
        )
        self.ps = psutil.Process(self.proc.pid)

    def wait_listening(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"{self.name} exited with {self.proc.returncode}:\n{self.output()}")
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                return
            time.sleep(0.05)
        self.stop()
        raise SystemExit(f"{self.name} did not listen on port {self.port} within {timeout:.0f} s:\n{self.output()}")

    def output(self) -> str:
        self.log.flush()
        return Path(self.log.name).read_text(errors="replace")[-4000:]

    def rss(self) -> int:
        return int(self.ps.memory_info().rss)

    def cpu_seconds(self) -> float:
        times = self.ps.cpu_times()
        return float(times.user + times.system)

    def stop(self, timeout: float = 10.0) -> int | None:
        """SIGTERM, then SIGKILL after ``timeout``; returns the exit code."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.log.close()
        with contextlib.suppress(OSError):
            os.unlink(self.log.name)
        return self.proc.returncode


class RssSampler:
    """Samples a process's RSS every ``interval`` seconds in a thread; ``peak`` since the last reset."""

    def __init__(self, ps: psutil.Process, interval: float = 0.02) -> None:
        self.ps = ps
        self.interval = interval
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            with contextlib.suppress(psutil.Error):
                self.peak = max(self.peak, self.ps.memory_info().rss)

    def reset(self) -> None:
        with contextlib.suppress(psutil.Error):
            self.peak = self.ps.memory_info().rss

    def __enter__(self) -> RssSampler:
        self.reset()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(2)


def our_server_argv(port: int, *extra: str, heartbeat: float | None = 0, agent: str | None = None) -> list[str]:
    """The real CLI serving ``agent`` (default ``bench/agent_for_bench.py``; heartbeats off unless given)."""
    beat = [] if heartbeat is None else ["--heartbeat-interval", str(heartbeat)]
    return [
        sys.executable,
        "-m",
        "myagent.cli.server",
        "server",
        agent or str(BENCH / "agent_for_bench.py"),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        *beat,
        "--log-level",
        "warning",
        "--state-secret-key",
        "bench-secret",
        # The load generator is one client address opening thousands of connections and sessions:
        # lift the per-client limits that exist to stop exactly that (docs/security.md).
        *("--max-connections-per-client", "1000000", "--max-sessions-per-client", "1000000"),
        *("--max-sessions", "1000000", "--frames-per-second", "1000000", "--frame-burst", "1000000"),
        *extra,
    ]


def machine() -> str:
    return (
        f"{os.cpu_count()} CPUs, load avg {os.getloadavg()[0]:.2f}, Python {sys.version.split()[0]}, "
        f"websockets {_version('websockets')}, uvicorn {_version('uvicorn')}"
    )


def _version(dist: str) -> str:
    from importlib.metadata import version

    try:
        return version(dist)
    except Exception:
        return "?"
