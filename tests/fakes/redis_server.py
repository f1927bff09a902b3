"""A real ``redis-server`` (Debian's) for the tests: one per test session, on a free loopback port.

Each test gets an empty database (``FLUSHALL`` first). The server runs in a temporary directory
with persistence off unless a test starts its own with :func:`start_redis`.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

__all__ = ["RedisProcess", "redis_server", "redis_url", "start_redis"]


class RedisProcess:
    def __init__(self, process: subprocess.Popen[str], port: int, directory: Path, extra: tuple[str, ...]) -> None:
        self.process = process
        self.port = port
        self.directory = directory
        self.extra = extra

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)

    def restart(self) -> None:
        """Stop (SIGTERM: Redis flushes its AOF) and start again on the same port and directory."""
        self.stop()
        self.process = start_redis(self.directory, *self.extra, port=self.port).process


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_redis(directory: Path, *extra: str, port: int | None = None) -> RedisProcess:
    """Start ``redis-server`` in ``directory`` and return once it accepts connections."""
    binary = shutil.which("redis-server") or "/usr/bin/redis-server"
    port = port or _free_port()
    command = [binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(directory), "--save", ""]
    command += ["--appendonly", "no", *extra] if "--appendonly" not in extra else list(extra)
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert process.stdout is not None
    seen = []
    for line in process.stdout:  # the server says when it is ready: no polling, no sleeping
        seen.append(line)
        if "Ready to accept connections" in line:
            break
    else:
        raise RuntimeError("redis-server did not start:\n" + "".join(seen))
    # Keep reading its log so a full pipe never stalls the server.
    threading.Thread(target=process.stdout.read, daemon=True).start()
    return RedisProcess(process, port, directory, extra)


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisProcess]:
    server = start_redis(tmp_path_factory.mktemp("redis"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def redis_url(redis_server: RedisProcess) -> str:
    with contextlib.closing(redis.Redis.from_url(redis_server.url)) as client:
        client.flushall()
    return redis_server.url
