"""A real nginx (Debian's) in front of test servers: round-robin, no stickiness, WebSocket upgrades."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import socket
import subprocess
import time
from collections.abc import AsyncIterator
from pathlib import Path

__all__ = ["round_robin_nginx"]

_CONFIG = """
daemon off;
master_process off;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 256; }}
http {{
    access_log off;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    upstream nodes {{
{servers}
    }}
    map $http_upgrade $connection_upgrade {{
        default upgrade;
        ''      close;
    }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://nodes;
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
            proxy_read_timeout 600s;
            proxy_buffering off;
        }}
    }}
}}
"""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_listening(process: subprocess.Popen[str], port: int) -> None:
    deadline = time.monotonic() + 15
    while True:  # nginx says nothing when it is ready: wait until it accepts a connection
        if process.poll() is not None:
            raise RuntimeError(f"nginx exited: {process.stderr.read() if process.stderr else ''}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return
        if time.monotonic() > deadline:
            raise RuntimeError("nginx did not start listening")
        time.sleep(0.05)


@contextlib.asynccontextmanager
async def round_robin_nginx(directory: Path, upstream_ports: list[int]) -> AsyncIterator[str]:
    """Run nginx balancing over ``upstream_ports`` (plain round-robin); yields its ``ws://`` URL."""
    binary = shutil.which("nginx") or "/usr/sbin/nginx"
    port = _free_port()
    servers = "\n".join(f"        server 127.0.0.1:{p};" for p in upstream_ports)
    config = directory / "nginx.conf"
    config.write_text(_CONFIG.format(dir=directory, servers=servers, port=port), encoding="utf-8")
    argv = [binary, "-p", str(directory), "-c", str(config)]
    process = await asyncio.to_thread(subprocess.Popen, argv, stderr=subprocess.PIPE, text=True)
    try:
        await asyncio.to_thread(_wait_listening, process, port)  # off the loop: the servers run on it
        yield f"ws://127.0.0.1:{port}/"
    finally:
        process.terminate()
        await asyncio.to_thread(process.wait, 10)
