"""Ready-made authenticators: a fixed set of tokens, and JSON Web Tokens (HS256 or RS256).

Both are authenticators (``(handshake, token) -> Principal``) and read only the presented
token. PyJWT's exceptions are translated here, at one boundary, into ``AuthError``.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from myagent.auth.errors import AuthError
from myagent.auth.handshake import Handshake
from myagent.auth.principal import Principal
from myagent.errors import ConfigError

__all__ = ["MIN_HS256_SECRET_BYTES", "JWTVerifier", "StaticTokens"]

MIN_HS256_SECRET_BYTES = 32
"""RFC 7518 §3.2: an HMAC key at least as long as the hash (256 bits)."""


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()


class StaticTokens:
    """A fixed map of tokens to principals (service accounts, a single shared secret, tests).

    Tokens are kept only as SHA-256 digests and looked up by digest, so neither the lookup's
    timing nor a memory dump reveals them.

    Args:
        tokens: token → ``Principal``, or token → principal id.
    """

    def __init__(self, tokens: Mapping[str, Principal | str]) -> None:
        if not tokens:
            raise ConfigError("StaticTokens needs at least one token")
        self._principals: dict[bytes, Principal] = {}
        for token, who in tokens.items():
            if not token:
                raise ConfigError("a static token must not be empty")
            self._principals[_digest(token)] = who if isinstance(who, Principal) else Principal(who)

    def __call__(self, handshake: Handshake, token: str | None) -> Principal:
        if token is None:
            raise AuthError("a bearer token is required")
        principal = self._principals.get(_digest(token))
        if principal is None:
            raise AuthError("the token is not valid")
        return principal


class JWTVerifier:
    """Verifies signed JWTs and turns their claims into a principal.

    One algorithm per verifier, fixed by the key given, so a token cannot choose how it is
    checked (no ``none``, no HS256 signed with an RS256 public key). ``exp`` is required by
    default and becomes :attr:`Principal.expires_at`.

    Args:
        key: the HS256 secret, or the RS256 public key (PEM).
        algorithm: ``HS256`` or ``RS256``.
        audience: required ``aud`` (one of these); ``None`` refuses tokens that carry an ``aud``.
        issuer: required ``iss``, if given.
        leeway: seconds of clock difference tolerated for ``exp``/``nbf``/``iat``.
        require_expiry: refuse tokens without ``exp``.
        id_claim: claim holding the principal id.
        tenant_claim: claim holding the tenant, if any.

    Raises:
        ConfigError: PyJWT (or, for RS256, cryptography) is missing, or the key is unusable.
    """

    def __init__(
        self,
        key: str | bytes,
        *,
        algorithm: str = "HS256",
        audience: str | Sequence[str] | None = None,
        issuer: str | None = None,
        leeway: float = 30.0,
        require_expiry: bool = True,
        id_claim: str = "sub",
        tenant_claim: str | None = "tenant",
    ) -> None:
        try:
            import jwt
        except ImportError as exc:
            raise ConfigError("JWT verification needs PyJWT: pip install 'myagent[jwt]'") from exc
        if algorithm not in ("HS256", "RS256"):
            raise ConfigError(f"unsupported JWT algorithm {algorithm!r} (HS256 or RS256)")
        if algorithm == "HS256" and len(key if isinstance(key, bytes) else key.encode()) < MIN_HS256_SECRET_BYTES:
            raise ConfigError(f"an HS256 secret must be at least {MIN_HS256_SECRET_BYTES} bytes")
        self._jwt = jwt
        self.algorithm = algorithm
        self.audience = audience
        self.issuer = issuer
        self.leeway = leeway
        self.require_expiry = require_expiry
        self.id_claim = id_claim
        self.tenant_claim = tenant_claim
        self._key: Any = self._load_key(key)

    @classmethod
    def hs256(cls, secret: str | bytes, **options: Any) -> JWTVerifier:
        return cls(secret, algorithm="HS256", **options)

    @classmethod
    def rs256(cls, public_key_pem: str | bytes, **options: Any) -> JWTVerifier:
        return cls(public_key_pem, algorithm="RS256", **options)

    @classmethod
    def rs256_from_file(cls, path: str | Path, **options: Any) -> JWTVerifier:
        try:
            pem = Path(path).read_bytes()
        except OSError as exc:
            raise ConfigError(f"cannot read the JWT public key {path}: {exc.strerror}") from exc
        return cls.rs256(pem, **options)

    def _load_key(self, key: str | bytes) -> Any:
        if self.algorithm == "HS256":
            return key
        try:
            from cryptography.hazmat.primitives.serialization import load_pem_public_key
        except ImportError as exc:
            raise ConfigError("RS256 needs the cryptography package: pip install 'myagent[jwt]'") from exc
        try:
            return load_pem_public_key(key if isinstance(key, bytes) else key.encode())
        except (ValueError, TypeError) as exc:
            raise ConfigError("the RS256 key is not a PEM public key") from exc

    def __call__(self, handshake: Handshake, token: str | None) -> Principal:
        if token is None:
            raise AuthError("a bearer token is required")
        return self.principal_from_claims(self.decode(token))

    def decode(self, token: str) -> dict[str, Any]:
        """The verified claims.

        Raises:
            AuthError: (401) expired, not yet valid, wrong audience or issuer, bad signature, malformed.
        """
        jwt = self._jwt
        required = ["exp", self.id_claim] if self.require_expiry else [self.id_claim]
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                self._key,
                algorithms=[self.algorithm],
                audience=self.audience,
                issuer=self.issuer,
                leeway=self.leeway,
                options={"require": required},
            )
        except jwt.ExpiredSignatureError as exc:
            raise AuthError("the token has expired") from exc
        except jwt.InvalidAudienceError as exc:
            raise AuthError("the token is not meant for this server (audience)") from exc
        except jwt.InvalidIssuerError as exc:
            raise AuthError("the token comes from an issuer this server does not trust") from exc
        except jwt.MissingRequiredClaimError as exc:
            raise AuthError(f"the token lacks the {exc.claim!r} claim") from exc
        except jwt.PyJWTError as exc:  # bad signature, malformed, not yet valid, wrong algorithm
            raise AuthError(f"the token is not valid ({type(exc).__name__})") from exc
        return claims

    def principal_from_claims(self, claims: Mapping[str, Any]) -> Principal:
        subject = claims.get(self.id_claim)
        if not isinstance(subject, str) or not subject:
            raise AuthError(f"the token's {self.id_claim!r} claim is not a non-empty string")
        tenant = claims.get(self.tenant_claim) if self.tenant_claim else None
        expires = claims.get("exp")
        expires_at = float(expires) if isinstance(expires, int | float) and math.isfinite(expires) else None
        return Principal(subject, tenant if isinstance(tenant, str) else None, dict(claims), expires_at)
