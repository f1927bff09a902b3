"""Client-side CPU of streaming one answer, by HTTP stack, against ``bench/model_server.py``.

    .venv/bin/python bench/http_clients.py [--streams 50] [--rounds 4] [--tokens 200]

Starts the model endpoint as a subprocess, then in this process streams ``--streams`` concurrent
answers ``--rounds`` times through each stack and prints this process's CPU per answer and per
token (a warm-up round first). Stacks:

* ``sdk``    — ``openai.AsyncOpenAI().chat.completions.create(stream=True)`` (one shared client),
  iterating the SDK's chunk objects;
* ``httpx``  — the HTTP client the SDK is built on (``httpx2`` here, or ``httpx``), reading the raw
  stream with our SSE decoder and ``orjson``;
* ``ours``   — ``OpenAICompatibleModel.stream`` (``aiohttp``, our SSE decoder, ``orjson``).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import importlib.util
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from _common import BENCH, ServerProcess, free_port

from myagent.llm import close_shared_clients
from myagent.llm.base import Message, ModelRequest
from myagent.llm.openai_compatible import OpenAICompatibleModel
from myagent.llm.sse import SSEDecoder

BODY = {"model": "m", "messages": [{"role": "user", "content": "go"}], "stream": True}


async def stream_sdk(client: Any, url: str) -> int:
    chunks = await client.chat.completions.create(model="m", messages=BODY["messages"], stream=True)
    return sum([1 async for chunk in chunks if chunk.choices and chunk.choices[0].delta.content])


async def stream_httpx(client: Any, url: str) -> int:
    count, decoder = 0, SSEDecoder()
    async with client.stream("POST", f"{url}/chat/completions", content=orjson.dumps(BODY)) as response:
        async for data in response.aiter_bytes():
            for payload in decoder.feed(data):
                if payload != b"[DONE]" and orjson.loads(payload)["choices"]:
                    count += 1
    return count


async def stream_ours(model: Any, url: str) -> int:
    return sum([1 async for _ in model.stream(ModelRequest([Message("user", "go")]))])


async def measure(name: str, client: Any, run: Callable[[Any, str], Awaitable[int]], args: Any, url: str) -> None:
    await asyncio.gather(*(run(client, url) for _ in range(args.streams)))
    started = time.process_time()
    for _ in range(args.rounds):
        await asyncio.gather(*(run(client, url) for _ in range(args.streams)))
    cpu = (time.process_time() - started) / (args.rounds * args.streams)
    print(f"{name:<6} {cpu * 1000:7.2f} ms CPU per answer  {cpu / args.tokens * 1e6:6.1f} us per token", flush=True)


async def main(args: argparse.Namespace, url: str) -> None:
    import openai

    httpx: Any = importlib.import_module("httpx2" if importlib.util.find_spec("httpx2") else "httpx")
    sdk = openai.AsyncOpenAI(base_url=url, api_key="bench-key", max_retries=0)
    plain = httpx.AsyncClient(timeout=60, limits=httpx.Limits(max_connections=None, max_keepalive_connections=100))
    ours = OpenAICompatibleModel(model="m", base_url=url, api_key="bench-key")
    try:
        await measure("sdk", sdk, stream_sdk, args, url)
        await measure("httpx", plain, stream_httpx, args, url)
        await measure("ours", ours, stream_ours, args, url)
    finally:
        await sdk.close()
        await plain.aclose()
        await close_shared_clients()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--streams", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--tokens", type=int, default=200)
    args = parser.parse_args()
    port = free_port()
    env = {"BENCH_TOKENS": str(args.tokens)}
    server = ServerProcess("model", [sys.executable, str(BENCH / "model_server.py"), str(port)], port, env=env)
    try:
        server.wait_listening()
        asyncio.run(main(args, f"http://127.0.0.1:{port}/v1"))
    finally:
        server.stop()
