"""Redaction of secrets before a conversation leaves the server in a signed state.

Rules (documented in docs/state.md):

1. In tool-call arguments, any value whose key looks like a secret becomes ``"[REDACTED]"``, at
   any depth. A key looks like a secret when one of its words (split on ``_``, ``-`` and
   camelCase) is token, secret, password, passwd, pwd, authorization, credential(s) or cookie,
   or its words run together contain apikey, privatekey, sessionkey or accesskey.
2. In tool-call arguments and tool results, text that looks like a credential is replaced by
   ``[REDACTED]``: OpenAI-style keys (``sk-…``), bearer tokens, GitHub tokens (``ghp_…``,
   ``github_pat_…``), Slack tokens (``xox…-``), AWS access key ids (``AKIA…``), JWTs, PEM private
   keys, and ``key=value`` / ``"key": "value"`` pairs whose key looks like a secret.
"""

from __future__ import annotations

import json
import re
from typing import Any

__all__ = ["REDACTED", "is_secret_key", "redact_arguments", "redact_text", "redact_value"]

REDACTED = "[REDACTED]"

_SECRET_WORDS = frozenset(
    {"token", "secret", "password", "passwd", "pwd", "authorization", "credential", "credentials", "cookie"}
)
_SECRET_JOINED = ("apikey", "privatekey", "sessionkey", "accesskey")
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_NON_ALNUM = re.compile(r"[^a-z0-9]+")
_PATTERNS = [
    re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?-----END [A-Z ]*PRIVATE KEY-----", re.DOTALL),
    re.compile(r"\bsk-[A-Za-z0-9_-]{16,}"),
    re.compile(r"\bBearer\s+[A-Za-z0-9._~+/=-]{12,}", re.IGNORECASE),
    re.compile(r"\b(ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{20,}"),
    re.compile(r"\bgithub_pat_[A-Za-z0-9_]{20,}"),
    re.compile(r"\bxox[abprs]-[A-Za-z0-9-]{10,}"),
    re.compile(r"\bAKIA[0-9A-Z]{16}\b"),
    re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"),
]
_PAIR = re.compile(
    r"""(?P<key>["']?[A-Za-z_][A-Za-z0-9_-]*["']?)(?P<sep>\s*[:=]\s*)"""
    # A quoted value may contain escaped quotes; an unquoted one may start with an HTTP auth scheme
    # ("Authorization: Basic <credentials>"), which is not the secret itself.
    r"""(?P<value>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|(?i:(?:basic|bearer|digest|token|negotiate)\s+)?[^\s,;&"'}]+)"""
)
# A Cookie / Set-Cookie header line: its whole value is secret, not just the first "name=value".
_COOKIE_LINE = re.compile(r"(?im)^(?P<key>[ \t]*(?:set-)?cookie[ \t]*:[ \t]*)[^\r\n]+")


def is_secret_key(key: str) -> bool:
    """True for ``api_key``, ``X-Api-Key``, ``accessToken``, ``password``; false for ``tokens``, ``secretary``."""
    words = [w for w in _NON_ALNUM.split(_CAMEL.sub("_", key).lower()) if w]
    joined = "".join(words)
    return any(word in _SECRET_WORDS for word in words) or any(part in joined for part in _SECRET_JOINED)


def redact_text(text: str) -> str:
    """Replace credential-looking substrings of ``text``."""
    for pattern in _PATTERNS:
        text = pattern.sub(REDACTED, text)
    text = _COOKIE_LINE.sub(lambda match: match.group("key") + REDACTED, text)

    def pair(match: re.Match[str]) -> str:
        if not is_secret_key(match.group("key").strip("\"'")) or match.group("value").strip("\"'") == REDACTED:
            return match.group(0)
        value = match.group("value")
        quote = value[0] if value[:1] in "\"'" else ""
        return f"{match.group('key')}{match.group('sep')}{quote}{REDACTED}{quote}"

    return _PAIR.sub(pair, text)


def redact_value(value: Any) -> Any:
    """Redact a decoded JSON value: secret-looking keys at any depth, credential-looking strings."""
    if isinstance(value, dict):
        return {k: REDACTED if is_secret_key(str(k)) else redact_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [redact_value(item) for item in value]
    if isinstance(value, str):
        return redact_text(value)
    return value


def redact_arguments(raw: str) -> str:
    """Redact the JSON argument text of a tool call (or the text itself when it is not JSON)."""
    try:
        decoded = json.loads(raw)
    except (json.JSONDecodeError, TypeError):
        return redact_text(raw)
    return json.dumps(redact_value(decoded), ensure_ascii=False)
