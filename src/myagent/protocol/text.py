"""Wire text that is safe to use: no lone surrogates, no non-finite numbers, bounded echoes. No I/O.

JSON can spell a lone UTF-16 surrogate (``"\\ud800"``); Python decodes it into a ``str`` that
cannot be encoded as UTF-8, so it breaks whatever meets it later (the frame encoder, the log, the
model client). :func:`find_unsafe_value` finds the first such string, dictionary key or
non-finite number in a decoded frame and names its path, so the frame is refused before anything
uses it. :func:`truncate_for_echo` bounds what an error frame repeats of the client's input.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

__all__ = [
    "ECHO_LIMIT",
    "UnsafeValue",
    "find_unsafe_value",
    "has_lone_surrogate",
    "has_unsafe_value",
    "printable",
    "truncate_for_echo",
]

ECHO_LIMIT = 200
"""Characters of a client's value an error frame or log line repeats at most."""


def has_lone_surrogate(text: str) -> bool:
    """Whether ``text`` holds a UTF-16 surrogate code point (which no valid UTF-8 text can carry)."""
    if text.isascii():
        return False
    try:
        text.encode("utf-8")  # in C and far faster than a regular-expression search
    except UnicodeEncodeError:
        return True
    return False


def printable(text: str) -> str:
    """``text`` with every lone surrogate spelt as ``\\udXXX``, so it can always be encoded."""
    if not has_lone_surrogate(text):
        return text
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def truncate_for_echo(value: str, limit: int = ECHO_LIMIT) -> str:
    """A bounded, encodable copy of a client's string for an error frame or a log line.

    Longer values keep their first ``limit`` characters and say how many were cut.
    """
    if len(value) > limit:
        value = f"{value[:limit]}…[{len(value) - limit} more characters]"
    return printable(value)


class UnsafeValue:
    """Where a decoded frame holds something unusable, and what it is.

    Attributes:
        path: dotted path of the value (``content.items[2].name``); for a bad key, its parent's path.
        problem: ``lone surrogate`` (in a string), ``lone surrogate in a key`` or ``non-finite number``.
    """

    __slots__ = ("path", "problem")

    def __init__(self, path: str, problem: str) -> None:
        self.path = path
        self.problem = problem

    def __repr__(self) -> str:
        return f"UnsafeValue({self.path!r}, {self.problem!r})"


def has_unsafe_value(value: Any) -> bool:
    """Whether :func:`find_unsafe_value` would find something; much faster, as it builds no paths."""
    stack = [value]
    while stack:
        item = stack.pop()
        kind = type(item)
        if kind is str:
            if has_lone_surrogate(item):
                return True
        elif kind is dict:
            for key, child in item.items():
                if isinstance(key, str) and has_lone_surrogate(key):
                    return True
                stack.append(child)
        elif kind is list:
            stack.extend(item)
        elif kind is float and not math.isfinite(item):
            return True
    return False


def find_unsafe_value(value: Any, root: str = "") -> UnsafeValue | None:
    """The first lone surrogate or non-finite number in a decoded JSON value, depth first.

    Iterative, so a frame nested as deeply as the JSON decoder allows cannot exhaust the stack.
    """
    for path, item, is_key in _walk(value, root):
        if isinstance(item, str):
            if has_lone_surrogate(item):
                return UnsafeValue(path or "frame", "lone surrogate in a key" if is_key else "lone surrogate")
        elif isinstance(item, float) and not math.isfinite(item):
            return UnsafeValue(path or "frame", "non-finite number")
    return None


def _walk(value: Any, root: str) -> Iterator[tuple[str, Any, bool]]:
    """Every scalar and key of a JSON value with its path; keys are reported with their parent's path."""
    stack: list[tuple[str, Any]] = [(root, value)]
    while stack:
        path, item = stack.pop()
        if isinstance(item, dict):
            children = []
            for key, child in item.items():
                yield path, key, True
                children.append((_join(path, key), child))
            stack.extend(reversed(children))
        elif isinstance(item, list):
            stack.extend((f"{path}[{index}]", child) for index, child in reversed(list(enumerate(item))))
        else:
            yield path, item, False


def _join(path: str, key: str) -> str:
    key = truncate_for_echo(key, 40)
    return f"{path}.{key}" if path else key
