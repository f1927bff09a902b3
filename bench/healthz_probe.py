"""Event-loop lag of a server, seen from outside: ``GET /healthz`` every few milliseconds.

    .venv/bin/python bench/healthz_probe.py PORT [--interval-ms 20]

Runs in its own process (so the load generator's own loop cannot delay it) over one keep-alive
HTTP/1.1 connection, until SIGINT/SIGTERM; then prints one JSON object: the response times in ms and when each
probe was sent (Unix time).
A response time far above the loopback round trip means the server's event loop was busy.
"""

from __future__ import annotations

import argparse
import http.client
import json
import signal
import sys
import time

stopping = False


def _stop(*_: object) -> None:
    global stopping
    stopping = True


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("port", type=int)
    parser.add_argument("--interval-ms", type=float, default=20.0)
    args = parser.parse_args()
    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    times: list[float] = []
    at: list[float] = []  # wall-clock time each probe was sent
    errors = 0
    conn = http.client.HTTPConnection("127.0.0.1", args.port, timeout=60)
    while not stopping:
        started = time.perf_counter()
        try:
            conn.request("GET", "/healthz")
            conn.getresponse().read()
            times.append((time.perf_counter() - started) * 1000)
            at.append(time.time() - (time.perf_counter() - started))
        except (OSError, http.client.HTTPException):
            errors += 1
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", args.port, timeout=60)
        time.sleep(max(0.0, args.interval_ms / 1000 - (time.perf_counter() - started)))
    json.dump({"ms": times, "at": at, "errors": errors}, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
