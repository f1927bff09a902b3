"""Where the model path's CPU goes, stage by stage, against a floor that no HTTP client can beat.

    .venv/bin/python bench/model_path_floor.py [--streams 50] [--rounds 6] [--tokens 200] [--repeats 3]

Starts ``bench/model_server.py`` (one SSE event per HTTP chunk, as OpenAI and vLLM send them) and
streams ``--streams`` concurrent answers ``--rounds`` times through each stage, in this process,
printing this process's CPU per answer (best and all of ``--repeats`` measurements; the stages
alternate so that a change in the machine's load hits all of them):

* ``aiohttp-read``   — our shared ``aiohttp`` client: the request and every read of the body, nothing decoded;
* ``aiohttp+decode`` — the same plus our SSE decoder, one ``orjson`` decode per chunk and the
  :class:`~myagent.llm.assembly.StreamAssembler`;
* ``model``          — ``OpenAICompatibleModel.stream`` (the above, retries, error checks, deltas out);
* ``protocol+decode`` — the floor: a bare ``asyncio.Protocol`` on a kept-alive connection writing the
  request and de-chunking the body in a few lines of Python, then the same decoding. It handles
  nothing a real client must (TLS, proxies, errors, time-outs, limits): it only shows how much of
  the model path is the HTTP client and how much is reading the socket at all.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Awaitable, Callable

import orjson
from _common import BENCH, ServerProcess, free_port

from myagent.llm import close_shared_clients
from myagent.llm.assembly import StreamAssembler
from myagent.llm.base import Message, ModelRequest
from myagent.llm.http_pool import shared_client
from myagent.llm.openai_compatible import OpenAICompatibleModel
from myagent.llm.sse import SSEDecoder

BODY = orjson.dumps({"model": "m", "messages": [{"role": "user", "content": "go"}], "stream": True})
DONE = b"[DONE]"


def decode(decoder: SSEDecoder, assembler: StreamAssembler, data: bytes) -> None:
    for payload in decoder.feed(data):
        if payload != DONE:
            assembler.add(orjson.loads(payload))


class Bench:
    def __init__(self, port: int) -> None:
        self.port = port
        self.url = f"http://127.0.0.1:{port}/v1"
        self.model = OpenAICompatibleModel(model="m", base_url=self.url, api_key="bench-key")
        self.idle: list[tuple[asyncio.Transport, Reader]] = []

    async def aiohttp_read(self) -> None:
        client = shared_client(self.model._endpoint)
        async with client.post(f"{self.url}/chat/completions", data=BODY) as response:
            async for _ in response.content.iter_any():
                pass

    async def aiohttp_decode(self) -> None:
        decoder, assembler = SSEDecoder(), StreamAssembler()
        client = shared_client(self.model._endpoint)
        async with client.post(f"{self.url}/chat/completions", data=BODY) as response:
            async for data in response.content.iter_any():
                decode(decoder, assembler, data)

    async def model_stream(self) -> None:
        async for _ in self.model.stream(ModelRequest([Message("user", "go")])):
            pass

    async def protocol_decode(self) -> None:
        if self.idle:
            transport, reader = self.idle.pop()
        else:
            transport, reader = await asyncio.get_running_loop().create_connection(Reader, "127.0.0.1", self.port)
        head = b"POST /v1/chat/completions HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\n"
        transport.write(head + b"Content-Length: %d\r\n\r\n" % len(BODY) + BODY)
        buffer = b""
        while (end := buffer.find(b"\r\n\r\n")) < 0:
            buffer += await reader.read()
        buffer = buffer[end + 4 :]
        decoder, assembler = SSEDecoder(), StreamAssembler()
        while True:
            pieces, position, last = [], 0, False
            while (line_end := buffer.find(b"\r\n", position)) >= 0:
                size = int(buffer[position:line_end], 16)
                if len(buffer) < line_end + 4 + size:
                    break
                position = line_end + 4 + size
                if size == 0:
                    last = True
                    break
                pieces.append(buffer[line_end + 2 : line_end + 2 + size])
            buffer = buffer[position:]
            if pieces:
                decode(decoder, assembler, b"".join(pieces))
            if last:
                break
            buffer += await reader.read()
        self.idle.append((transport, reader))


class Reader(asyncio.Protocol):
    """Collects what arrives; :meth:`read` waits for the next bytes."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.waiter: asyncio.Future[None] | None = None

    def data_received(self, data: bytes) -> None:
        self.parts.append(data)
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(ConnectionError("the model endpoint closed the connection"))

    async def read(self) -> bytes:
        while not self.parts:
            self.waiter = asyncio.get_running_loop().create_future()
            await self.waiter
        data = b"".join(self.parts)
        self.parts.clear()
        return data


async def main(args: argparse.Namespace, port: int) -> None:
    bench = Bench(port)
    stages: dict[str, Callable[[], Awaitable[None]]] = {
        "aiohttp-read": bench.aiohttp_read,
        "aiohttp+decode": bench.aiohttp_decode,
        "model": bench.model_stream,
        "protocol+decode": bench.protocol_decode,
    }
    results: dict[str, list[float]] = {name: [] for name in stages}
    try:
        for run in stages.values():  # warm up: connections, caches
            await asyncio.gather(*(run() for _ in range(args.streams)))
        for _ in range(args.repeats):
            for name, run in stages.items():
                started = time.process_time()
                for _ in range(args.rounds):
                    await asyncio.gather(*(run() for _ in range(args.streams)))
                results[name].append((time.process_time() - started) * 1000 / (args.rounds * args.streams))
    finally:
        for transport, _ in bench.idle:
            transport.close()
        await close_shared_clients()
    floor = min(results["protocol+decode"])
    print(f"{'stage':<16} {'CPU ms/answer (best)':>20} {'x floor':>8}  all runs")
    for name, values in results.items():
        runs = ", ".join(f"{value:.2f}" for value in values)
        print(f"{name:<16} {min(values):20.2f} {min(values) / floor:8.2f}  {runs}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--streams", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--tokens", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=3)
    arguments = parser.parse_args()
    if not (1 <= arguments.streams <= 1000 and 1 <= arguments.rounds <= 100 and 1 <= arguments.repeats <= 20):
        parser.error("keep it bounded: 1..1000 streams, 1..100 rounds, 1..20 repeats")
    model_port = free_port()
    env = {"BENCH_TOKENS": str(arguments.tokens)}
    argv = [sys.executable, str(BENCH / "model_server.py"), str(model_port)]
    server = ServerProcess("model", argv, model_port, env=env)
    try:
        server.wait_listening()
        asyncio.run(main(arguments, model_port))
    finally:
        server.stop()
