"""A chat-completions endpoint that streams a long answer slowly, for many concurrent sessions.

    python tests/fakes/token_model.py --tokens 40 --delay-ms 20

Listens on a free loopback port and prints ``listening on PORT`` once ready. Every streamed
``POST /v1/chat/completions`` is answered with :func:`answer_for` of the last user message, one
token per SSE event with ``--delay-ms`` between tokens, then ``finish_reason: stop`` and
``data: [DONE]``. The answer depends on the question, so a client can tell whose answer it got;
any number of requests may come in any order (``fake_openai.py`` answers from a FIFO script with
a thread per connection, made for scripted tests rather than hundreds of concurrent streams).
Runs in its own process so that it takes no time from the test's event loop.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from typing import Any

__all__ = ["answer_for", "answer_tokens"]

_HEAD = (
    b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\n"
    b"transfer-encoding: chunked\r\n\r\n"
)


def answer_tokens(question: str, count: int) -> list[str]:
    """The tokens answering ``question``: the question itself, then ``w000 ``, ``w001 ``, …"""
    return [f"{question}: ", *(f"w{i:03d} " for i in range(count))]


def answer_for(question: str, count: int) -> str:
    return "".join(answer_tokens(question, count))


def _chunk(payload: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(payload), payload)


def _event(delta: dict[str, Any], finish: str | None = None) -> bytes:
    body = {
        "id": "chatcmpl-token-model",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": "token-model",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }
    return _chunk(b"data: " + json.dumps(body, separators=(",", ":")).encode() + b"\n\n")


def _question(request: dict[str, Any]) -> str:
    for message in reversed(request.get("messages") or []):
        if isinstance(message, dict) and message.get("role") == "user":
            content = message.get("content")
            return content if isinstance(content, str) else json.dumps(content)
    return ""


async def _stream(writer: asyncio.StreamWriter, request: dict[str, Any], tokens: int, delay: float) -> None:
    writer.write(_HEAD + _event({"role": "assistant", "content": ""}))
    for token in answer_tokens(_question(request), tokens):
        await writer.drain()
        await asyncio.sleep(delay)
        writer.write(_event({"content": token}))
    writer.write(_event({}, "stop") + _chunk(b"data: [DONE]\n\n") + b"0\r\n\r\n")
    await writer.drain()


async def _serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, tokens: int, delay: float) -> None:
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            method, path, _ = lines[0].split(" ", 2)
            headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:] if line)}
            body = await reader.readexactly(int(headers.get("content-length", "0")))
            if method == "POST" and path.rstrip("/").endswith("/chat/completions"):
                await _stream(writer, json.loads(body), tokens, delay)
            else:
                writer.write(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n")
                await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass  # the client went away (a node killed mid-stream, or keep-alive closed)
    finally:
        writer.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tokens", type=int, default=40)
    parser.add_argument("--delay-ms", type=float, default=20.0)
    args = parser.parse_args()
    delay = args.delay_ms / 1000
    server = await asyncio.start_server(lambda r, w: _serve(r, w, args.tokens, delay), "127.0.0.1", 0, backlog=4096)
    async with server:
        print(f"listening on {server.sockets[0].getsockname()[1]}", flush=True)
        await asyncio.Event().wait()  # until SIGTERM ends the process (its streams need no goodbye)


if __name__ == "__main__":
    asyncio.run(main())
