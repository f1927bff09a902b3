"""JSON Schema for tool parameters: inferred from ``execute`` and checked before a call."""

from __future__ import annotations

import inspect
import json
import re
from collections.abc import Callable, Mapping
from typing import Any, get_type_hints

import jsonschema
import pydantic

from myagent.errors import ToolError

__all__ = [
    "EMPTY_OBJECT_SCHEMA",
    "ArgumentError",
    "compile_schema",
    "infer_parameters",
    "parse_arguments",
    "validate_arguments",
]

EMPTY_OBJECT_SCHEMA: dict[str, Any] = {"type": "object", "properties": {}}

_DOC_ARG = re.compile(r"^\s*(?::param\s+)?(\*{0,2}\w+)\s*(?:\([^)]*\))?\s*:\s*(.+)$")


class ArgumentError(ValueError):
    """The model called a tool with arguments that do not fit its schema."""


def infer_parameters(func: Callable[..., Any]) -> dict[str, Any]:
    """Build an object schema from ``func``'s signature, type hints and docstring.

    ``*args``/``**kwargs`` declare nothing, so ``execute(self, **kwargs)`` gives an empty object
    schema. Parameters with defaults are optional.

    Raises:
        ToolError: a type hint cannot be expressed as JSON Schema.
    """
    signature = inspect.signature(func)
    try:
        hints = get_type_hints(func)
    except Exception as exc:  # unresolved forward references in user code
        raise ToolError(f"cannot resolve type hints of {func.__qualname__}: {exc}") from exc
    fields: dict[str, Any] = {}
    for name, param in signature.parameters.items():
        if name == "self" or param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            continue
        annotation = hints.get(name, Any)
        default = ... if param.default is param.empty else param.default
        fields[name] = (annotation, default)
    if not fields:
        return dict(EMPTY_OBJECT_SCHEMA)
    try:
        model = pydantic.create_model(f"{func.__qualname__}_args".replace(".", "_"), **fields)
        schema = model.model_json_schema()
    except (pydantic.PydanticUserError, pydantic.errors.PydanticSchemaGenerationError) as exc:
        raise ToolError(f"cannot build a JSON schema for {func.__qualname__}: {exc}") from exc
    descriptions = _docstring_params(inspect.getdoc(func) or "")
    properties = schema.get("properties", {})
    for name, prop in properties.items():
        prop.pop("title", None)
        if name in descriptions:
            prop.setdefault("description", descriptions[name])
    result: dict[str, Any] = {"type": "object", "properties": properties}
    if schema.get("required"):
        result["required"] = schema["required"]
    if schema.get("$defs"):
        result["$defs"] = schema["$defs"]
    return result


def _docstring_params(doc: str) -> dict[str, str]:
    """Parameter descriptions from Google-style ``Args:`` blocks or ``:param x:`` lines."""
    found: dict[str, str] = {}
    in_args = False
    current: tuple[str, int] | None = None  # the parameter being described and its indentation
    for line in doc.splitlines():
        stripped = line.strip()
        indent = len(line) - len(line.lstrip())
        if current is not None and stripped and indent > current[1]:
            found[current[0]] += " " + stripped  # a wrapped description continues
            continue
        current = None
        if stripped.lower() in ("args:", "arguments:", "parameters:"):
            in_args = True
            continue
        if in_args and stripped.endswith(":") and " " not in stripped:
            in_args = False  # next section (Returns:, Raises:)
        match = _DOC_ARG.match(line)
        if match and (in_args or stripped.startswith(":param")):
            name = match.group(1).lstrip("*")
            found[name] = match.group(2).strip()
            current = (name, indent)
    return found


def parse_arguments(raw: str | Mapping[str, Any] | None) -> dict[str, Any]:
    """Decode the model's argument text into a dict.

    Raises:
        ArgumentError: not JSON, or not a JSON object.
    """
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return {}
    if isinstance(raw, Mapping):
        return dict(raw)
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ArgumentError(f"arguments are not valid JSON ({exc.msg} at position {exc.pos}): {raw[:200]}") from exc
    if not isinstance(value, dict):
        raise ArgumentError(f"arguments must be a JSON object, got {type(value).__name__}")
    return value


def compile_schema(schema: Mapping[str, Any]) -> jsonschema.Draft202012Validator:
    """Check that ``schema`` is valid JSON Schema and return a reusable validator.

    Raises:
        ToolError: the schema itself is invalid.
    """
    try:
        jsonschema.Draft202012Validator.check_schema(schema)
    except jsonschema.SchemaError as exc:
        raise ToolError(f"invalid parameters schema: {exc.message}") from exc
    return jsonschema.Draft202012Validator(schema)


def validate_arguments(validator: jsonschema.Draft202012Validator, arguments: Mapping[str, Any]) -> None:
    """Check ``arguments`` with a validator from :func:`compile_schema`.

    Raises:
        ArgumentError: listing every problem found.
    """
    problems = []
    for error in sorted(validator.iter_errors(arguments), key=lambda e: list(e.path)):
        where = "/".join(str(p) for p in error.path) or "(arguments)"
        problems.append(f"{where}: {error.message}")
    if problems:
        raise ArgumentError("; ".join(problems))
