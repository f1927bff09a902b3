"""Tool schemas are computed once per tool class, not once per session's tool instance."""

from __future__ import annotations

from typing import Any

import pytest

from myagent.tool import BaseTool, ToolResult
from myagent.tool.schema import ArgumentError


class Forecast(BaseTool):
    name = "forecast"
    description = "Forecast for a city."

    async def execute(self, city: str, days: int = 1) -> ToolResult:
        return ToolResult(output=f"{city}: {days}")


def test_instances_of_one_class_share_the_inferred_schema() -> None:
    first, second = Forecast(), Forecast()

    assert first.to_schema()["function"]["parameters"] is second.to_schema()["function"]["parameters"]
    assert second.parameters_schema["required"] == ["city"]


def test_shared_validator_still_checks_each_call() -> None:
    assert Forecast().check_arguments('{"city": "Oslo"}') == {"city": "Oslo"}

    with pytest.raises(ArgumentError, match="city"):
        Forecast().check_arguments('{"days": 2}')


def test_an_instance_with_its_own_parameters_keeps_its_own_schema() -> None:
    class Dynamic(BaseTool):
        name = "dynamic"

        def __init__(self, field: str) -> None:
            self.parameters = {"type": "object", "properties": {field: {"type": "string"}}, "required": [field]}

        async def execute(self, **kwargs: Any) -> str:
            return "ok"

    a, b = Dynamic("alpha"), Dynamic("beta")

    assert a.parameters_schema["required"] == ["alpha"]
    assert b.parameters_schema["required"] == ["beta"]
