"""The one table of error codes sent in ``metadata.error_code``."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ERROR_CODES", "RESUME_HINT", "ErrorCode", "ErrorCodes", "with_resume_hint"]


@dataclass(frozen=True)
class ErrorCode:
    code: str
    description: str
    closes_connection: bool = False


class ErrorCodes:
    """Names of the codes; :data:`ERROR_CODES` describes each."""

    INVALID_JSON = "INVALID_JSON"
    INVALID_FRAME = "INVALID_FRAME"
    UNKNOWN_EVENT = "UNKNOWN_EVENT"
    MISSING_FIELD = "MISSING_FIELD"
    INVALID_FIELD = "INVALID_FIELD"
    MESSAGE_TOO_LARGE = "MESSAGE_TOO_LARGE"
    BINARY_NOT_SUPPORTED = "BINARY_NOT_SUPPORTED"
    RATE_LIMITED = "RATE_LIMITED"
    SESSION_NOT_FOUND = "SESSION_NOT_FOUND"
    SESSION_NOT_OWNED = "SESSION_NOT_OWNED"
    SESSION_AMBIGUOUS = "SESSION_AMBIGUOUS"
    SESSION_BUSY = "SESSION_BUSY"
    SESSION_LIMIT = "SESSION_LIMIT"
    SESSION_ACTIVE_ELSEWHERE = "SESSION_ACTIVE_ELSEWHERE"
    INVALID_RESUME_TOKEN = "INVALID_RESUME_TOKEN"
    REPLAY_GAP = "REPLAY_GAP"
    ACK_OUT_OF_RANGE = "ACK_OUT_OF_RANGE"
    STEP_NOT_FOUND = "STEP_NOT_FOUND"
    STEP_ALREADY_ANSWERED = "STEP_ALREADY_ANSWERED"
    NO_ACTIVE_RUN = "NO_ACTIVE_RUN"
    NOT_SUPPORTED = "NOT_SUPPORTED"
    AGENT_FACTORY_FAILED = "AGENT_FACTORY_FAILED"
    RUN_FAILED = "RUN_FAILED"
    MODEL_ERROR = "MODEL_ERROR"
    RUN_LOST = "RUN_LOST"
    STATE_MALFORMED = "STATE_MALFORMED"
    STATE_VERSION_MISMATCH = "STATE_VERSION_MISMATCH"
    STATE_CHECKSUM_MISMATCH = "STATE_CHECKSUM_MISMATCH"
    STATE_SIGNATURE_MISMATCH = "STATE_SIGNATURE_MISMATCH"
    STATE_EXPIRED = "STATE_EXPIRED"
    STATE_FROM_FUTURE = "STATE_FROM_FUTURE"
    STATE_TOO_LARGE = "STATE_TOO_LARGE"
    STATE_UNREADABLE = "STATE_UNREADABLE"
    SERVER_SHUTTING_DOWN = "SERVER_SHUTTING_DOWN"
    INTERNAL_ERROR = "INTERNAL_ERROR"


_TABLE = [
    ErrorCode(ErrorCodes.INVALID_JSON, "The frame is not valid JSON."),
    ErrorCode(ErrorCodes.INVALID_FRAME, "The frame is JSON but not an object, or has no string `event`."),
    ErrorCode(ErrorCodes.UNKNOWN_EVENT, "`event` is not a client event of this protocol."),
    ErrorCode(ErrorCodes.MISSING_FIELD, "A field the event requires is missing (`metadata.details.field` names it)."),
    ErrorCode(ErrorCodes.INVALID_FIELD, "A field has the wrong type or value (`metadata.details.field` names it)."),
    ErrorCode(ErrorCodes.MESSAGE_TOO_LARGE, "The frame exceeds the server's `max_message_bytes`."),
    ErrorCode(ErrorCodes.BINARY_NOT_SUPPORTED, "Binary frames are not part of the protocol; send JSON text."),
    ErrorCode(
        ErrorCodes.RATE_LIMITED,
        "Too many frames on this connection, or too many failed resume/restore attempts from this address; the "
        "frame was dropped. `metadata.details.retry_after` says how many seconds to wait.",
    ),
    ErrorCode(ErrorCodes.SESSION_NOT_FOUND, "No live session has this id (it never existed, was closed or expired)."),
    ErrorCode(
        ErrorCodes.SESSION_NOT_OWNED,
        "No longer sent: a session this connection does not hold is `SESSION_NOT_FOUND`, whoever holds it.",
    ),
    ErrorCode(ErrorCodes.SESSION_AMBIGUOUS, "`session_id` is required because this connection has several sessions."),
    ErrorCode(ErrorCodes.SESSION_BUSY, "A run is already active in this session; nothing was changed."),
    ErrorCode(ErrorCodes.SESSION_LIMIT, "The connection or server has reached its session limit."),
    ErrorCode(
        ErrorCodes.SESSION_ACTIVE_ELSEWHERE,
        "No longer sent: a restore takes the session over and tells the other connection.",
    ),
    ErrorCode(ErrorCodes.INVALID_RESUME_TOKEN, "The resume token does not match the session."),
    ErrorCode(
        ErrorCodes.REPLAY_GAP,
        "Events the client missed are no longer retained; `metadata.details.missing_from_seq`/`missing_to_seq` "
        "give the lost range. Events after it are replayed.",
    ),
    ErrorCode(ErrorCodes.ACK_OUT_OF_RANGE, "The acknowledged `last_seq`/`last_event_id` was never sent."),
    ErrorCode(ErrorCodes.STEP_NOT_FOUND, "No pending confirmation has this `step_id`."),
    ErrorCode(
        ErrorCodes.STEP_ALREADY_ANSWERED, "This confirmation was already answered or expired; the answer stands."
    ),
    ErrorCode(ErrorCodes.NO_ACTIVE_RUN, "There is no active run to cancel or control."),
    ErrorCode(ErrorCodes.NOT_SUPPORTED, "The event is known but this server or agent does not support it."),
    ErrorCode(ErrorCodes.AGENT_FACTORY_FAILED, "The agent factory raised while creating the session's agent."),
    ErrorCode(ErrorCodes.RUN_FAILED, "The run stopped because of an unexpected error in the agent or a tool."),
    ErrorCode(ErrorCodes.MODEL_ERROR, "The model endpoint failed after retries."),
    ErrorCode(
        ErrorCodes.RUN_LOST,
        "The process running the run stopped, and this run cannot be continued from its checkpoint (a Plan & Solve "
        "run); the session is idle again, with the conversation as it was checkpointed.",
    ),
    ErrorCode(
        ErrorCodes.STATE_MALFORMED,
        "The signed state is not an object with state, timestamp, signature, version and checksum of the right types "
        "(a finite timestamp, a boolean `encrypted`, valid Unicode).",
    ),
    ErrorCode(ErrorCodes.STATE_VERSION_MISMATCH, "The signed state has a format version this server does not read."),
    ErrorCode(ErrorCodes.STATE_CHECKSUM_MISMATCH, "The state does not match its checksum: it was changed or damaged."),
    ErrorCode(
        ErrorCodes.STATE_SIGNATURE_MISMATCH,
        "The signature is wrong: the state was altered or signed with a key this server does not accept.",
    ),
    ErrorCode(ErrorCodes.STATE_EXPIRED, "The signed state is older than the validity period (7 days by default)."),
    ErrorCode(
        ErrorCodes.STATE_FROM_FUTURE, "The signed state's timestamp lies in the future beyond the allowed clock skew."
    ),
    ErrorCode(ErrorCodes.STATE_TOO_LARGE, "The signed state exceeds the size this server accepts."),
    ErrorCode(
        ErrorCodes.STATE_UNREADABLE,
        "The state is encrypted with a key (or needs a package) this server does not have, or its content is not a "
        "valid session state.",
    ),
    ErrorCode(ErrorCodes.SERVER_SHUTTING_DOWN, "The server is shutting down and accepts no new work."),
    ErrorCode(ErrorCodes.INTERNAL_ERROR, "An unexpected server error; the server log has the details."),
]

ERROR_CODES: dict[str, ErrorCode] = {entry.code: entry for entry in _TABLE}


#: What a client that names a session this connection does not hold should do.
RESUME_HINT = (
    "To continue a session from a new connection, send user.reconnect with its session_id and the resume_token "
    "of agent.session_created, or user.reconnect_with_state with a signed state from agent.state_exported."
)
_NEEDS_RESUME = frozenset({ErrorCodes.SESSION_NOT_FOUND, ErrorCodes.SESSION_NOT_OWNED})


def with_resume_hint(code: str, message: str) -> str:
    """``message``, followed by how to resume a session when ``code`` says the connection does not hold it."""
    if code not in _NEEDS_RESUME or "user.reconnect" in message:
        return message
    return f"{message}. {RESUME_HINT}"
