"""``BaseTool``: the unit of work an agent can call."""

from __future__ import annotations

import asyncio
import copy
import inspect
import re
import weakref
from collections.abc import Callable, Mapping
from typing import Any

import jsonschema

from myagent.errors import ToolError
from myagent.tool.result import ToolResult
from myagent.tool.schema import (
    EMPTY_OBJECT_SCHEMA,
    compile_schema,
    infer_parameters,
    parse_arguments,
    validate_arguments,
)

__all__ = ["BaseTool"]

_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")

#: Schema and compiled validator per tool class (see ``BaseTool.parameters_schema``).
_CLASS_SCHEMAS: weakref.WeakKeyDictionary[type, tuple[dict[str, Any], jsonschema.Draft202012Validator]] = (
    weakref.WeakKeyDictionary()
)


class BaseTool:
    """Subclass this and implement ``execute`` (sync or async).

    Plain class attributes are enough::

        class MyTool(BaseTool):
            name = "my_tool"
            description = "Example tool"

            async def execute(self, city: str, date: str = "today") -> ToolResult:
                ...

    Attributes:
        name: the function name the model calls (letters, digits, ``_`` and ``-``).
        description: what the tool does, for the model.
        parameters: JSON Schema of the arguments; inferred from ``execute`` when ``None``.
        user_confirm: ask the user before every call (the agent's confirmation callback decides).
        timeout: seconds one call may take (``None``: the agent's ``tool_timeout``).
        idempotent: running a call twice does no more than running it once (a read, a lookup). When
            the process running a call dies, another process runs an idempotent call again; any
            other call is reported to the model as interrupted, since it may have taken effect.
    """

    name: str = ""
    description: str = ""
    parameters: dict[str, Any] | None = None
    user_confirm: bool = False
    timeout: float | None = None
    idempotent: bool = False

    _validator: jsonschema.Draft202012Validator | None = None
    _schema: dict[str, Any] | None = None

    #: Subclasses define ``execute`` (sync or async, any keyword parameters) and return a
    #: ``ToolResult`` or any JSON-serialisable value. Declared as an attribute so that every
    #: signature type-checks as an override.
    execute: Callable[..., Any]

    # -- schema -------------------------------------------------------------------------------

    @property
    def parameters_schema(self) -> dict[str, Any]:
        """The arguments schema: declared ``parameters`` or the one inferred from ``execute``.

        Computed once per tool class (inferring it builds a pydantic model, checking it runs the
        JSON Schema meta-validator: milliseconds that a server creating an agent per session
        must not pay each time) unless an instance sets its own ``parameters`` or ``execute``.
        Treat the returned dict as read-only: instances of a class share it.
        """
        if self._schema is None:
            per_instance = "parameters" in vars(self) or "execute" in vars(self)
            cached = None if per_instance else _CLASS_SCHEMAS.get(type(self))
            if cached is None:
                schema = self._build_schema()
                cached = (schema, compile_schema(schema))
                if not per_instance:
                    _CLASS_SCHEMAS[type(self)] = cached
            self._schema, self._validator = cached
        return self._schema

    def _build_schema(self) -> dict[str, Any]:
        declared = self.parameters
        if declared is None:
            return infer_parameters(self.execute)
        if not declared:
            return dict(EMPTY_OBJECT_SCHEMA)
        return copy.deepcopy(dict(declared))

    def to_schema(self) -> dict[str, Any]:
        """The OpenAI ``tools`` entry for this tool.

        Raises:
            ToolError: no name, or an unusable parameters schema.
        """
        if not self.name or not isinstance(self.name, str):
            raise ToolError(f"{type(self).__name__} has no name; set a class attribute `name = ...`")
        if not _NAME.fullmatch(self.name):
            raise ToolError(
                f"tool name {self.name!r} must be 1-64 letters, digits, '_' or '-' (model APIs reject others)"
            )
        if not callable(getattr(self, "execute", None)):
            raise ToolError(f"{type(self).__name__} has no execute method")
        return {
            "type": "function",
            "function": {
                "name": self.name,
                "description": self.description or "",
                "parameters": self.parameters_schema,
            },
        }

    # -- calling ------------------------------------------------------------------------------

    def check_arguments(self, raw: str | Mapping[str, Any] | None) -> dict[str, Any]:
        """Decode and validate the model's arguments.

        Raises:
            ArgumentError: the arguments are not JSON or do not fit the schema.
        """
        arguments = parse_arguments(raw)
        _ = self.parameters_schema  # compiles the validator on first use
        assert self._validator is not None
        validate_arguments(self._validator, arguments)
        return arguments

    async def __call__(self, **kwargs: Any) -> ToolResult:
        """Run ``execute`` (a sync one in a worker thread) and wrap its return value."""
        if inspect.iscoroutinefunction(self.execute):
            value = await self.execute(**kwargs)
        else:
            value = await asyncio.to_thread(self.execute, **kwargs)
            if inspect.isawaitable(value):
                value = await value
        return ToolResult.coerce(value)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name!r}>"
