"""Exceptions raised by myagent.

Every exception the library raises on purpose derives from :class:`MyAgentError`::

    MyAgentError
    ├── ConfigError            bad or missing configuration (model endpoint, agent file, options)
    ├── ToolError              a tool definition that cannot be used (bad schema, missing name)
    ├── ModelError             the model endpoint failed or answered something unusable
    │   └── ModelResponseError the model's reply could not be understood
    ├── AgentRunError          a run ended with an error event (raised by ``Agent.run``)
    └── ProtocolError          an inbound frame broke the wire protocol (carries an error code)

Exceptions carry data (codes, retry hints) and never log.
"""

from __future__ import annotations

__all__ = [
    "AgentRunError",
    "ConfigError",
    "ModelError",
    "ModelResponseError",
    "MyAgentError",
    "ProtocolError",
    "ToolError",
]


class MyAgentError(Exception):
    """Root of every exception myagent raises on purpose."""


class ConfigError(MyAgentError):
    """Configuration is missing or invalid."""


class ToolError(MyAgentError):
    """A tool is defined in a way myagent cannot use."""


class ModelError(MyAgentError):
    """The model endpoint failed.

    Attributes:
        retryable: whether trying the same request again may succeed (rate limit, 5xx, timeout).
        status_code: HTTP status of the failed request, when there was one.
    """

    def __init__(self, message: str, *, retryable: bool = False, status_code: int | None = None) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.status_code = status_code


class ModelResponseError(ModelError):
    """The model answered with something that cannot be used (e.g. no choices)."""


class AgentRunError(MyAgentError):
    """A run ended with an error; ``Agent.run`` raises it, ``Agent.stream`` yields an event instead."""


class ProtocolError(MyAgentError):
    """An inbound frame broke the protocol.

    Attributes:
        code: one of the codes in :mod:`myagent.protocol.errors`.
        fatal: whether the connection must be closed after reporting it.
    """

    def __init__(self, code: str, message: str, *, fatal: bool = False) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.fatal = fatal
        self.details: dict[str, object] = {}

    def with_detail(self, name: str, value: object) -> ProtocolError:
        """Add one fact to ``metadata.details`` (a limit, a wait in seconds)."""
        self.details[name] = value
        return self

    def with_field(self, name: str) -> ProtocolError:
        """Name the offending field (sent as ``metadata.details.field``)."""
        self.details["field"] = name
        return self
