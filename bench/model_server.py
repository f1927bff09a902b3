"""A local OpenAI-compatible streaming endpoint for the benchmarks, in its own process.

    .venv/bin/python bench/model_server.py PORT [--delay-ms 0]

Answers every ``POST /v1/chat/completions`` with ``BENCH_TOKENS`` (default 200) text deltas
(``tok000 ``, ``tok001 ``, … — the same text as ``bench/agent_for_bench.py``), one SSE event per
HTTP chunk as OpenAI and vLLM send them, then a usage chunk when the request asks for one
(``stream_options.include_usage``), then ``data: [DONE]``. ``--delay-ms`` waits between tokens.
HTTP/1.1 with keep-alive on plain asyncio streams, so that one process can feed thousands of
concurrent streams (``tests/fakes/fake_openai.py`` uses a thread per connection and is made for
scripted tests, not for load). ``GET /healthz`` answers ``ok``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import time

from agent_for_bench import bench_tokens, token_count

TOKENS = bench_tokens(token_count())
_HEAD = (
    b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\n"
    b"transfer-encoding: chunked\r\n\r\n"
)


def _chunk(payload: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(payload), payload)


def _event(model: str, index: int, choice: dict[str, object] | None, usage: dict[str, int] | None = None) -> bytes:
    body: dict[str, object] = {
        "id": f"chatcmpl-bench-{index}",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
        "choices": [choice] if choice is not None else [],
    }
    if usage is not None:
        body["usage"] = usage
    return _chunk(b"data: " + json.dumps(body, separators=(",", ":")).encode() + b"\n\n")


async def _stream(writer: asyncio.StreamWriter, request: dict[str, object], delay: float) -> None:
    model = str(request.get("model") or "bench-model")
    writer.write(_HEAD)
    first = {"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}
    writer.write(_event(model, 0, first))
    for number, token in enumerate(TOKENS, 1):
        if delay:
            await writer.drain()
            await asyncio.sleep(delay)
        writer.write(_event(model, number, {"index": 0, "delta": {"content": token}, "finish_reason": None}))
        if number % 16 == 0:
            await writer.drain()
    writer.write(_event(model, len(TOKENS) + 1, {"index": 0, "delta": {}, "finish_reason": "stop"}))
    options = request.get("stream_options")
    if isinstance(options, dict) and options.get("include_usage"):
        usage = {"prompt_tokens": 40, "completion_tokens": len(TOKENS), "total_tokens": 40 + len(TOKENS)}
        writer.write(_event(model, len(TOKENS) + 2, None, usage))
    writer.write(_chunk(b"data: [DONE]\n\n") + b"0\r\n\r\n")
    await writer.drain()


async def _serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, delay: float) -> None:
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            method, path, _ = lines[0].split(" ", 2)
            headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:] if line)}
            body = await reader.readexactly(int(headers.get("content-length", "0")))
            if method == "GET" and path == "/healthz":
                writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
            elif method == "POST" and path.rstrip("/").endswith("/chat/completions"):
                await _stream(writer, json.loads(body), delay)
            else:
                writer.write(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n")
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("port", type=int)
    parser.add_argument("--delay-ms", type=float, default=0.0, help="pause between tokens")
    args = parser.parse_args()
    delay = args.delay_ms / 1000
    stop = asyncio.get_running_loop().create_future()
    for sig in (signal.SIGINT, signal.SIGTERM):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set_result, None)
    server = await asyncio.start_server(lambda r, w: _serve(r, w, delay), "127.0.0.1", args.port, backlog=4096)
    async with server:
        await stop


if __name__ == "__main__":
    asyncio.run(main())
