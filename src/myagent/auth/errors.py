"""The refusal of an authentication or authorization check.

``AuthError`` sits in the library's exception tree under ``MyAgentError``::

    MyAgentError
    └── AuthError     credentials missing, invalid or expired (401) or not allowed (403)

It carries the HTTP status for a refusal before the upgrade and the matching close code for a
refusal after it. Like every exception of myagent it carries data and never logs.
"""

from __future__ import annotations

from myagent.errors import MyAgentError
from myagent.protocol.close_codes import CloseCodes

__all__ = ["AuthError"]

_CLOSE_CODES = {401: CloseCodes.UNAUTHENTICATED, 403: CloseCodes.FORBIDDEN}


class AuthError(MyAgentError):
    """Credentials were refused.

    Args:
        message: why, for the server log and the client (never includes the token).
        status: 401 (no valid credentials: try again with others) or 403 (valid, but not allowed).
    """

    def __init__(self, message: str, *, status: int = 401) -> None:
        if status not in _CLOSE_CODES:
            raise ValueError("an AuthError's status is 401 or 403")
        super().__init__(message)
        self.message = message
        self.status = status

    @property
    def close_code(self) -> int:
        """The WebSocket close code for this refusal after the upgrade (4401 or 4403)."""
        return _CLOSE_CODES[self.status]

    @classmethod
    def forbidden(cls, message: str) -> AuthError:
        return cls(message, status=403)
