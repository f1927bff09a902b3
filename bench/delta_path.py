"""CPU per text delta from the run into the event log and out as sent text, in this process.

    .venv/bin/python bench/delta_path.py [--deltas 60000] [--every 1,4,16] [--repeats 5]

Appends ``--deltas`` ``agent.partial_answer`` deltas to one session through
``SessionService.append`` (what a run does for each ``AnswerDelta``), with a subscriber standing
in for a connection's writer that takes (seals, i.e. encodes) the waiting frame after every
``--every`` deltas: 1 is a slow stream where each token leaves in its own frame, 16 a fast one
where the log merges 16 deltas into each frame. Prints the best CPU µs per delta of ``--repeats``.
No sockets: the part of the path that is ours alone, to compare two versions of the code.
"""

from __future__ import annotations

import argparse
import asyncio
import time

from myagent.protocol.names import AgentEvents
from myagent.ws.event_log import LogEntry
from myagent.ws.options import ServerOptions
from myagent.ws.service import SessionService
from myagent.ws.state_manager import StateManager
from myagent.ws.translate import Outgoing

SESSION = "0b5c0a52-5e8f-4b0e-9d36-4b8f3b7c3a11"


async def per_delta(service: SessionService, deltas: int, every: int) -> float:
    taken: list[LogEntry] = []
    subscription = await service.events.subscribe(SESSION, 0, taken.append)
    subscription.start()
    started = time.process_time()
    for number in range(deltas):
        await service.append(SESSION, Outgoing(AgentEvents.PARTIAL_ANSWER, f"tok{number % 1000:03d} ", {"step": 1}))
        if number % every == every - 1 and taken:
            taken[-1].seal()  # the writer takes what waits
    for entry in taken:
        entry.seal()
    elapsed = time.process_time() - started
    await service.events.drop(SESSION)
    return elapsed * 1e6 / deltas


async def main(args: argparse.Namespace) -> None:
    service = SessionService(lambda: None, ServerOptions(), state=StateManager("bench-secret-" * 3))
    for every in (int(value) for value in args.every.split(",")):
        runs = [await per_delta(service, args.deltas, every) for _ in range(args.repeats)]
        listed = ", ".join(f"{run:.2f}" for run in runs)
        print(f"one frame per {every:>3} deltas: {min(runs):6.2f} us CPU per delta (best of {args.repeats}: {listed})")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--deltas", type=int, default=60_000)
    parser.add_argument("--every", default="1,4,16", help="deltas per frame the writer takes, comma-separated")
    parser.add_argument("--repeats", type=int, default=5)
    arguments = parser.parse_args()
    if not (1 <= arguments.deltas <= 1_000_000 and 1 <= arguments.repeats <= 20):
        parser.error("keep it bounded: 1..1000000 deltas, 1..20 repeats")
    asyncio.run(main(arguments))
