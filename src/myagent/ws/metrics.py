"""Server counters and their Prometheus text rendering."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

__all__ = ["Metrics"]


@dataclass
class Metrics:
    """Monotonic counters; gauges are read from the live server when rendering."""

    connections_total: int = 0
    sessions_total: int = 0
    events_sent_total: int = 0
    bytes_sent_total: int = 0
    replays_total: int = 0
    replayed_events_total: int = 0
    replay_gaps_total: int = 0
    slow_consumer_disconnects_total: int = 0
    client_errors_total: int = 0
    runs_total: int = 0
    prompt_tokens_total: int = 0
    completion_tokens_total: int = 0

    def note_sent(self, size: int) -> None:
        self.events_sent_total += 1
        self.bytes_sent_total += size

    def render(self, gauges: Mapping[str, Callable[[], float]]) -> str:
        lines: list[str] = []
        for name, value in vars(self).items():
            lines += [f"# TYPE myagent_{name} counter", f"myagent_{name} {value}"]
        for name, read in gauges.items():
            lines += [f"# TYPE myagent_{name} gauge", f"myagent_{name} {read():g}"]
        return "\n".join(lines) + "\n"
