"""Signed, client-held session state: snapshot, sign, verify, restore.

A signed state is an envelope ``{state, timestamp, signature, version, checksum}``:

* ``state`` is the session snapshot (or, with encryption on, a Fernet token holding it);
* ``checksum`` is SHA-256 over the canonical JSON of ``state``;
* ``signature`` is HMAC-SHA256 over the canonical JSON of ``{state, timestamp, version, checksum}``,
  plus ``principal`` when the state was signed for one. The principal is not written into the
  envelope: a verifier supplies the one it expects, so a state of another principal fails exactly
  like a forged one (``STATE_SIGNATURE_MISMATCH``) and reveals nothing about whose it is;
* ``timestamp`` is seconds since the epoch, when it was signed (a finite number).

Verification checks, in order: shape, version, size, checksum, signature (current key, then
the previous keys), age and clock skew, then decryption and content. Each failure has its own
error code (see ``docs/state.md``); no input makes verification raise anything but
:class:`StateError`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import math
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from myagent.config import env_value
from myagent.errors import MyAgentError
from myagent.llm.base import Message
from myagent.protocol.errors import ErrorCodes
from myagent.ws.redaction import redact_arguments, redact_text

__all__ = ["STATE_VERSION", "RestoreResult", "StateError", "StateManager", "canonical_json", "resolve_secret_key"]

logger = logging.getLogger(__name__)

STATE_VERSION = "1.0"
_TRUNCATION_STEPS = (4000, 1000, 250, 50)
_TRUNCATION_MARK = " …[truncated in saved state]"


class StateError(MyAgentError):
    """A signed state was refused; ``code`` is one of the ``STATE_*`` error codes."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass
class RestoreResult:
    """What ``restore_session_from_state`` did."""

    message_count: int
    restored_step: int
    pending_calls: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def resolve_secret_key(explicit: str | None) -> str:
    """``explicit``, else ``MYAGENT_STATE_SECRET``, else a random key (with a warning)."""
    key = explicit or env_value("MYAGENT_STATE_SECRET")
    if key:
        return key
    logger.warning(
        "No state secret key given (state_secret_key= or MYAGENT_STATE_SECRET): using a random key, so "
        "signed session states will not survive a restart"
    )
    return secrets.token_urlsafe(32)


def canonical_json(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


class StateManager:
    """Creates and checks signed session states.

    Args:
        secret_key: signs new states and verifies them.
        previous_keys: older keys still accepted for verification (key rotation).
        max_age: seconds a state stays valid (default 7 days).
        clock_skew: seconds a timestamp may lie in the future.
        max_state_bytes: largest snapshot (canonical JSON) kept when exporting; oldest turns go first.
        max_messages: most messages kept when exporting.
        encrypt: encrypt the snapshot (Fernet, key derived from the secret) so clients cannot read it.
        max_signed_bytes: largest signed state accepted for restore (default: twice
            ``max_state_bytes`` plus 4 KiB, room for encryption overhead).
    """

    def __init__(
        self,
        secret_key: str,
        *,
        previous_keys: Sequence[str] = (),
        max_age: float = 7 * 24 * 3600,
        clock_skew: float = 300,
        max_state_bytes: int = 100_000,
        max_messages: int = 100,
        encrypt: bool = False,
        max_signed_bytes: int | None = None,
    ) -> None:
        if not secret_key:
            raise ValueError("secret_key must not be empty")
        self._keys = [secret_key.encode(), *(key.encode() for key in previous_keys if key)]
        self.max_age = max_age
        self.clock_skew = clock_skew
        self.max_state_bytes = max_state_bytes
        self.max_messages = max_messages
        self.encrypt = encrypt
        # A signed envelope may be larger than the snapshot: encryption and base64 add about 40 %.
        self.max_signed_bytes = max_signed_bytes or max_state_bytes * 2 + 4096

    # -- snapshot -----------------------------------------------------------------------------

    def create_state_snapshot(self, session: Any) -> dict[str, Any]:
        """The session's conversation and state, redacted and trimmed to the limits."""
        agent = session.agent
        pending = list(session.confirmations.pending.values())
        messages = [_redact(message).to_dict() for message in agent.snapshot_messages()]
        messages, trimmed = self._trim(messages)
        plan_context, trimmed["plan_outputs"] = _shrink_plan_context(_plan_context(agent), self.max_state_bytes // 2)
        now = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
        return {
            "session_id": session.id,
            "current_step": agent.current_step,
            "agent_state": "awaiting_confirmation" if pending else ("running" if session.busy else "idle"),
            "created_at": datetime.fromtimestamp(session.created_at, UTC).isoformat(timespec="seconds"),
            "last_active_at": now,
            "messages": messages,
            "pending_confirmations": [
                {
                    "step_id": p.step_id,
                    "call_id": p.request.call_id,
                    "tool_name": p.request.tool_name,
                    "arguments": json.loads(redact_arguments(json.dumps(p.request.arguments))),
                }
                for p in pending
            ],
            "plan_context": plan_context,
            "metadata": {
                "agent_name": agent.name,
                "agent_description": agent.description,
                "agent_config": {
                    "max_steps": agent.max_steps,
                    "model": getattr(getattr(agent, "model", None), "name", ""),
                },
            },
            "trimmed": trimmed,
        }

    def _trim(self, messages: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], dict[str, int]]:
        """Drop oldest turns whole (a turn starts at a user message) until within the limits.

        If the newest turn alone is still too large, long contents are shortened in steps until the
        conversation fits, so that a state this server exports is always one it accepts.
        """
        turns = _split_turns(messages)
        sizes = [len(canonical_json(turn)) for turn in turns]
        dropped_turns = dropped_messages = 0
        while len(turns) > 1 and (sum(map(len, turns)) > self.max_messages or sum(sizes) > self.max_state_bytes):
            dropped_messages += len(turns.pop(0))
            sizes.pop(0)
            dropped_turns += 1
        kept = [message for turn in turns for message in turn]
        shortened: set[int] = set()
        for limit in _TRUNCATION_STEPS:
            if len(canonical_json(kept)) <= self.max_state_bytes:
                break
            for index, message in enumerate(kept):
                content = message.get("content")
                if isinstance(content, str) and len(content) > limit + len(_TRUNCATION_MARK):
                    message["content"] = content[:limit] + _TRUNCATION_MARK
                    shortened.add(index)
        counts = {"turns": dropped_turns, "messages": dropped_messages, "truncated_contents": len(shortened)}
        return kept, counts

    # -- signing ------------------------------------------------------------------------------

    def sign_state(self, state: dict[str, Any], *, principal: str | None = None) -> dict[str, Any]:
        """The signed envelope of ``state``.

        Args:
            principal: bind the state to this principal (a stable string such as
                ``Principal.key``); only a verifier that names the same principal accepts it.
        """
        payload: Any = self._encrypt(state) if self.encrypt else state
        envelope: dict[str, Any] = {
            "state": payload,
            "timestamp": int(time.time()),
            "version": STATE_VERSION,
            "checksum": hashlib.sha256(canonical_json(payload)).hexdigest(),
        }
        envelope["signature"] = self._signature(envelope, self._keys[0], principal)
        if self.encrypt:
            envelope["encrypted"] = True
        return envelope

    @staticmethod
    def _signature(envelope: dict[str, Any], key: bytes, principal: str | None = None) -> str:
        signed = {name: envelope[name] for name in ("state", "timestamp", "version", "checksum")}
        if principal is not None:
            signed["principal"] = principal
        return hmac.new(key, _canonical_or_malformed(signed), hashlib.sha256).hexdigest()

    def verify_state(
        self, signed: Any, *, principal: str | None = None
    ) -> tuple[bool, dict[str, Any] | None, StateError | None]:
        """``(True, state, None)`` or ``(False, None, error)``; never raises for bad input.

        Args:
            principal: the principal asking; a state signed for another one (or for one when
                ``None`` is asking, or for none when a principal is asking) is refused with
                ``STATE_SIGNATURE_MISMATCH``, the code a forged state gets.
        """
        try:
            return True, self.check(signed, principal=principal), None
        except StateError as error:
            return False, None, error

    def check(self, signed: Any, *, principal: str | None = None) -> dict[str, Any]:
        """The verified state.

        Raises:
            StateError: with the code of the first check that failed.
        """
        _check_shape(signed)
        if signed["version"] != STATE_VERSION:
            raise StateError(
                ErrorCodes.STATE_VERSION_MISMATCH,
                f"state version {_brief(signed['version'])} is not supported (expected {STATE_VERSION})",
            )
        if len(_canonical_or_malformed(signed)) > self.max_signed_bytes:
            raise StateError(ErrorCodes.STATE_TOO_LARGE, f"signed state exceeds {self.max_signed_bytes} bytes")
        checksum = hashlib.sha256(_canonical_or_malformed(signed["state"])).hexdigest()
        if not _same_digest(checksum, signed["checksum"]):
            raise StateError(ErrorCodes.STATE_CHECKSUM_MISMATCH, "checksum mismatch: the state was changed or damaged")
        if not any(_same_digest(self._signature(signed, key, principal), signed["signature"]) for key in self._keys):
            raise StateError(
                ErrorCodes.STATE_SIGNATURE_MISMATCH,
                "signature mismatch: the state was altered, signed with another key or for another principal",
            )
        age = time.time() - float(signed["timestamp"])
        if age > self.max_age:
            raise StateError(ErrorCodes.STATE_EXPIRED, f"state expired ({age / 86400:.1f} days old)")
        if age < -self.clock_skew:
            raise StateError(ErrorCodes.STATE_FROM_FUTURE, "state timestamp lies in the future")
        state = self._decrypt(signed["state"]) if signed.get("encrypted") else signed["state"]
        _check_content(state)
        return state  # type: ignore[no-any-return]

    # -- restore ------------------------------------------------------------------------------

    def restore_session_from_state(self, session: Any, state: dict[str, Any]) -> RestoreResult:
        """Put the snapshot's conversation into the session's (fresh) agent."""
        agent = session.agent
        agent.memory[:] = [Message.from_dict(message) for message in state["messages"]]
        agent.current_step = int(state.get("current_step") or 0)
        result = RestoreResult(len(agent.memory), agent.current_step)
        result.pending_calls = [call.id for call in agent.unanswered_calls()]
        trimmed = state.get("trimmed") or {}
        if trimmed.get("turns"):
            result.warnings.append(f"{trimmed['turns']} oldest turn(s) were trimmed when the state was saved")
        if trimmed.get("truncated_contents"):
            result.warnings.append(f"{trimmed['truncated_contents']} long message(s) were shortened when saved")
        plan_context = state.get("plan_context")
        if plan_context and callable(getattr(agent, "import_plan_context", None)):
            agent.import_plan_context(plan_context)
        elif plan_context:
            result.warnings.append("the state holds a Plan & Solve context that this agent cannot use")
        name = (state.get("metadata") or {}).get("agent_name")
        if name and name != agent.name:
            result.warnings.append(f"state was saved by agent {name!r}, restored into {agent.name!r}")
        return result

    # -- encryption ---------------------------------------------------------------------------

    def _fernet_keys(self) -> list[bytes]:
        return [
            base64.urlsafe_b64encode(hmac.new(key, b"myagent-state-encryption", hashlib.sha256).digest())
            for key in self._keys
        ]

    def _encrypt(self, state: dict[str, Any]) -> str:
        from cryptography.fernet import Fernet

        return Fernet(self._fernet_keys()[0]).encrypt(canonical_json(state)).decode()

    def _decrypt(self, token: Any) -> Any:
        if not isinstance(token, str):
            raise StateError(ErrorCodes.STATE_UNREADABLE, "encrypted state must be a string")
        try:
            from cryptography.fernet import Fernet, InvalidToken, MultiFernet
        except ImportError as exc:
            # A server that cannot decrypt cannot read the state: the client's problem to solve
            # (use a server that has the key and the package), not an internal error.
            raise StateError(
                ErrorCodes.STATE_UNREADABLE, "this server cannot read encrypted states (no cryptography package)"
            ) from exc
        try:
            plain = MultiFernet([Fernet(key) for key in self._fernet_keys()]).decrypt(token.encode())
            return json.loads(plain)
        except (InvalidToken, ValueError, RecursionError) as exc:
            raise StateError(ErrorCodes.STATE_UNREADABLE, "encrypted state cannot be decrypted with our keys") from exc


def _shrink_plan_context(context: Any, budget: int) -> tuple[Any, int]:
    """Keep a Plan & Solve context within ``budget`` bytes by shortening task outputs (tasks can be re-run)."""
    if not isinstance(context, dict) or len(canonical_json(context)) <= budget:
        return context, 0
    shrunk = dict(context)
    results = [dict(result) for result in shrunk.get("results") or []]
    share = max(200, budget // (len(results) + 2))
    shortened = 0
    for holder, key in [*((result, "output") for result in results), (shrunk, "output")]:
        text = json.dumps(holder.get(key), ensure_ascii=False, default=str)
        if len(text.encode()) > share:
            holder[key] = text[: share // 3] + _TRUNCATION_MARK  # up to 3 UTF-8 bytes per character
            shortened += 1
    shrunk["results"] = results
    return shrunk, shortened


def _model_name(agent: Any) -> str:
    return str(getattr(getattr(agent, "model", None), "name", "") or "")


def _plan_context(agent: Any) -> Any:
    export = getattr(agent, "export_plan_context", None)
    return export() if callable(export) else None


def _redact(message: Message) -> Message:
    if message.role == "tool":
        return Message("tool", redact_text(message.content or ""), tool_call_id=message.tool_call_id, name=message.name)
    if message.tool_calls:
        from dataclasses import replace

        calls = tuple(replace(call, arguments=redact_arguments(call.arguments)) for call in message.tool_calls)
        return replace(message, tool_calls=calls)
    return message


def _split_turns(messages: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    turns: list[list[dict[str, Any]]] = []
    for message in messages:
        if message.get("role") == "user" or not turns:
            turns.append([])
        turns[-1].append(message)
    return turns


def _canonical_or_malformed(value: Any) -> bytes:
    """Canonical JSON of client input; what cannot be encoded (a lone surrogate, absurd nesting) is malformed."""
    try:
        return canonical_json(value)
    except (UnicodeEncodeError, ValueError, TypeError, RecursionError) as exc:
        raise StateError(ErrorCodes.STATE_MALFORMED, "signed state holds values that are not valid JSON text") from exc


def _same_digest(expected: str, given: str) -> bool:
    """Constant-time comparison that also works for non-ASCII input (``hmac.compare_digest`` refuses it)."""
    return hmac.compare_digest(expected.encode(), given.encode("utf-8", "surrogatepass"))


def _brief(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:40] + "…"


_ENVELOPE_TYPES: dict[str, tuple[type, ...]] = {
    "timestamp": (int, float),
    "signature": (str,),
    "version": (str,),
    "checksum": (str,),
}


def _check_shape(signed: Any) -> None:
    if not isinstance(signed, dict):
        raise StateError(ErrorCodes.STATE_MALFORMED, "signed state must be a JSON object")
    missing = [name for name in ("state", *_ENVELOPE_TYPES) if name not in signed]
    if missing:
        raise StateError(ErrorCodes.STATE_MALFORMED, f"signed state lacks {', '.join(missing)}")
    for name, types in _ENVELOPE_TYPES.items():
        if not isinstance(signed[name], types) or isinstance(signed[name], bool):
            raise StateError(ErrorCodes.STATE_MALFORMED, f"signed state field {name!r} has the wrong type")
    if not isinstance(signed["state"], dict | str):
        raise StateError(ErrorCodes.STATE_MALFORMED, "signed state field 'state' has the wrong type")
    if not isinstance(signed.get("encrypted", False), bool):
        raise StateError(ErrorCodes.STATE_MALFORMED, "signed state field 'encrypted' must be a boolean")
    try:
        finite = math.isfinite(signed["timestamp"])
    except OverflowError:  # an integer beyond any float
        finite = False
    if not finite:
        # NaN compares false with everything, so a NaN timestamp would never expire.
        raise StateError(ErrorCodes.STATE_MALFORMED, "signed state field 'timestamp' must be a finite number")


def _check_content(state: Any) -> None:
    """A correctly signed state can still be unusable (e.g. written by a buggy older server)."""
    if not isinstance(state, dict) or not isinstance(state.get("messages"), list):
        raise StateError(ErrorCodes.STATE_UNREADABLE, "state has no message list")
    if not isinstance(state.get("session_id"), str):
        raise StateError(ErrorCodes.STATE_UNREADABLE, "state has no session id")
    step = state.get("current_step")
    if step is not None and (not isinstance(step, int) or isinstance(step, bool) or step < 0):
        raise StateError(ErrorCodes.STATE_UNREADABLE, "state has an invalid current_step")
    for name in ("trimmed", "metadata"):  # read with .get() on restore
        if state.get(name) is not None and not isinstance(state[name], dict):
            raise StateError(ErrorCodes.STATE_UNREADABLE, f"state field {name!r} is not an object")
    try:
        for message in state["messages"]:
            Message.from_dict(message)
    except (AttributeError, KeyError, TypeError, ValueError) as exc:  # e.g. a tool call that is not an object
        raise StateError(ErrorCodes.STATE_UNREADABLE, f"state holds an invalid message: {exc}") from exc
