"""Server metrics with ``prometheus_client``: counters, live gauges, and the agents' histograms.

``/metrics`` renders the server's own registry followed by the process-wide agent histograms of
:mod:`myagent.telemetry.metrics` (run duration, time to first token, model calls, tools).
Counters keep their plain attribute interface (``metrics.connections_total += 1``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from prometheus_client import CollectorRegistry, Counter, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from myagent.telemetry import enable_metrics
from myagent.telemetry.metrics import agent_metrics

__all__ = ["COUNTERS", "GAUGES", "Metrics"]

#: Every counter: attribute name → help text (the exposed name is ``myagent_<attribute>``).
COUNTERS = {
    "connections_total": "WebSocket connections accepted.",
    "sessions_total": "Sessions created.",
    "events_sent_total": "Frames written to WebSocket clients.",
    "bytes_sent_total": "Bytes of frames written to WebSocket clients.",
    "replays_total": "Resumes that replayed missed events.",
    "replayed_events_total": "Events sent again by replays.",
    "replay_gaps_total": "Resumes whose missed events were partly no longer retained (REPLAY_GAP).",
    "slow_consumer_disconnects_total": "Connections closed because the client read too slowly (close code 4008).",
    "client_errors_total": "Malformed or misplaced client frames answered with an error event.",
    "runs_total": "Agent runs started.",
    "prompt_tokens_total": "Prompt tokens used by model calls (estimated when the endpoint reports none).",
    "completion_tokens_total": "Completion tokens produced by model calls (estimated when the endpoint reports none).",
}

#: Every live gauge: name → help text. A gauge reader returns a number, or numbers by agent name.
GAUGES = {
    "connections": "Open WebSocket connections.",
    "sessions": "Live sessions (attached, or detached within their grace period), by agent.",
    "active_runs": "Runs in progress, by agent.",
    "pending_confirmations": "Confirmation requests waiting for the user's answer.",
    "outbound_queue_depth": "Frames waiting in connections' outbound queues.",
    "outbound_bytes_queued": "Bytes waiting in connections' outbound queues.",
    "retained_events": "Events retained for replay, over all sessions.",
}

GaugeReader = Callable[[], float | Mapping[str, float]]


class _CounterField:
    """An ``int`` attribute whose increments go to a Prometheus counter."""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, obj: Metrics | None, objtype: type | None = None) -> int:
        if obj is None:
            return 0
        return obj._values[self.name]

    def __set__(self, obj: Metrics, value: int) -> None:
        delta = value - obj._values[self.name]
        if delta < 0:
            raise ValueError(f"{self.name} is a counter: it cannot go down")
        obj._values[self.name] = value
        if delta:
            obj._counters[self.name].inc(delta)


class _LiveGauges(Collector):
    """Gauges read from the live server at scrape time."""

    def __init__(self) -> None:
        self.readers: dict[str, GaugeReader] = {}

    def collect(self) -> Iterator[Metric]:
        for name, read in self.readers.items():
            value = read()
            help_text = GAUGES.get(name, name.replace("_", " "))
            if isinstance(value, Mapping):
                family = GaugeMetricFamily(f"myagent_{name}", help_text, labels=["agent"])
                for agent, count in sorted(value.items()):
                    family.add_metric([agent], count)
            else:
                family = GaugeMetricFamily(f"myagent_{name}", help_text, value=value)
            yield family

    def describe(self) -> Iterator[Metric]:
        return iter(())


class Metrics:
    """The server's metrics; one registry per server, rendered in the Prometheus text format."""

    connections_total = _CounterField()
    sessions_total = _CounterField()
    events_sent_total = _CounterField()
    bytes_sent_total = _CounterField()
    replays_total = _CounterField()
    replayed_events_total = _CounterField()
    replay_gaps_total = _CounterField()
    slow_consumer_disconnects_total = _CounterField()
    client_errors_total = _CounterField()
    runs_total = _CounterField()
    prompt_tokens_total = _CounterField()
    completion_tokens_total = _CounterField()

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._values = dict.fromkeys(COUNTERS, 0)
        self._counters = {
            name: Counter(f"myagent_{name.removesuffix('_total')}", help_text, registry=self.registry)
            for name, help_text in COUNTERS.items()
        }
        self._gauges = _LiveGauges()
        self.registry.register(self._gauges)
        enable_metrics()  # the agents' histograms, fed by the agent loop

    def note_sent(self, size: int) -> None:
        self.events_sent_total += 1
        self.bytes_sent_total += size

    def watch(self, gauges: Mapping[str, GaugeReader]) -> None:
        """Read these gauges from the live server at every scrape (replaces readers of the same name)."""
        self._gauges.readers.update(gauges)

    def render(self, gauges: Mapping[str, GaugeReader] | None = None) -> str:
        """The Prometheus text exposition of every metric (``gauges`` as for :meth:`watch`)."""
        if gauges:
            self.watch(gauges)
        text = generate_latest(self.registry) + generate_latest(agent_metrics().registry)
        return text.decode("utf-8")

    def snapshot(self) -> dict[str, Any]:
        """The counters as plain numbers (for tests and status pages)."""
        return dict(self._values)
