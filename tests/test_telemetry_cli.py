"""``myagent server --otel`` exports GenAI spans over OTLP/HTTP to a collector (a local stand-in here)."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

pytest.importorskip("opentelemetry.exporter.otlp.proto.http")

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from tests.harness import Client
from tests.test_cli import PYTHON, WEATHER, serve


class Collector:
    """Accepts OTLP/HTTP protobuf exports on ``/v1/traces`` and keeps the decoded requests."""

    def __init__(self) -> None:
        self.requests: list[ExportTraceServiceRequest] = []
        collector = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                if self.path == "/v1/traces":
                    request = ExportTraceServiceRequest()
                    request.ParseFromString(body)
                    collector.requests.append(request)
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def spans(self) -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
        """(name, attributes, resource attributes) of every span received."""
        found = []
        for request in self.requests:
            for resource_spans in request.resource_spans:
                resource = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
                for scope in resource_spans.scope_spans:
                    for span in scope.spans:
                        attributes = {a.key: _value(a.value) for a in span.attributes}
                        found.append((span.name, attributes, resource))
        return found


def _value(value: Any) -> Any:
    kind = value.WhichOneof("value")
    return getattr(value, kind) if kind in ("string_value", "int_value", "bool_value", "double_value") else kind


@pytest.fixture
def collector() -> Iterator[Collector]:
    collector = Collector()
    collector.thread.start()
    yield collector
    collector.server.shutdown()
    collector.server.server_close()


async def test_otel_flag_exports_genai_spans_to_the_collector(collector: Collector, tmp_path: Any) -> None:
    args = [PYTHON, "-m", "myagent.cli.server", "server", str(WEATHER), "--otel"]
    env = {"OTEL_EXPORTER_OTLP_ENDPOINT": collector.endpoint, "OTEL_SERVICE_NAME": "weather-test"}
    with serve(args, tmp_path, **env) as server:
        client = await Client.connect(server.url)
        await client.create_session()
        frames = await client.ask("北京今天天气怎么样？")
        assert frames[-1]["event"] == "agent.final_answer"
        await client.close()
        assert server.stop(signal.SIGTERM) == 0, server.stderr  # shutting down flushes the spans
    spans = collector.spans()
    names = [name for name, _, _ in spans]
    assert "invoke_agent weather_agent" in names, names
    assert "execute_tool get_weather" in names
    assert any(name.startswith("chat ") for name in names)
    run = next(attributes for name, attributes, _ in spans if name == "invoke_agent weather_agent")
    assert run["gen_ai.operation.name"] == "invoke_agent"
    assert run["gen_ai.provider.name"] == "myagent.offline"
    assert run["gen_ai.conversation.id"] == client.session_id
    assert {resource["service.name"] for _, _, resource in spans} == {"weather-test"}
    assert not any("gen_ai.input.messages" in attributes for _, attributes, _ in spans)
