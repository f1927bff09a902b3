"""Decoding one streamed chat-completion chunk: ``json`` against ``orjson`` and ``msgspec``.

    .venv/bin/python bench/decode_json.py

The chunk is what ``bench/model_server.py`` sends for one token (the shape OpenAI and vLLM
send). Prints the best of 5 repeats, in µs per chunk, for each decoder that is installed.
"""

from __future__ import annotations

import json
import timeit
from collections.abc import Callable
from typing import Any

CHUNK = json.dumps(
    {
        "id": "chatcmpl-bench-42",
        "object": "chat.completion.chunk",
        "created": 1764500000,
        "model": "bench-model",
        "choices": [{"index": 0, "delta": {"content": "tok042 "}, "finish_reason": None}],
    },
    separators=(",", ":"),
).encode()


def decoders() -> dict[str, Callable[[bytes], Any]]:
    found: dict[str, Callable[[bytes], Any]] = {"json.loads": json.loads}
    try:
        import orjson

        found["orjson.loads"] = orjson.loads
    except ImportError:
        pass
    try:
        import msgspec

        found["msgspec.json.decode"] = msgspec.json.Decoder().decode
    except ImportError:
        pass
    return found


def main() -> None:
    number = 200_000
    for name, decode in decoders().items():
        best = min(timeit.repeat(lambda decode=decode: decode(CHUNK), number=number, repeat=5))
        print(f"{name:<22} {best / number * 1e6:6.2f} us per chunk")


if __name__ == "__main__":
    main()
