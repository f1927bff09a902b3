"""Configuration → authenticator: ``--auth MODULE:FUNCTION`` and the JWT/static-token options."""

from __future__ import annotations

import importlib
import importlib.util
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, cast

from myagent.auth.authenticator import Authenticator
from myagent.auth.principal import Principal
from myagent.auth.verifiers import JWTVerifier, StaticTokens
from myagent.errors import ConfigError

__all__ = ["build_authenticator", "load_authenticator"]


def load_authenticator(spec: str) -> Authenticator:
    """The callable named by ``MODULE:FUNCTION`` (``my_app.auth:authenticate``) or ``path/to/file.py:FUNCTION``.

    Raises:
        ConfigError: the spec is malformed, the module cannot be imported or the name is not callable.
    """
    module_name, sep, attribute = spec.rpartition(":")
    if not sep or not module_name or not attribute.isidentifier():
        raise ConfigError(f"--auth expects MODULE:FUNCTION, got {spec!r}")
    module = _import(module_name)
    target = getattr(module, attribute, None)
    if target is None:
        raise ConfigError(f"{module_name} has no attribute {attribute!r}")
    if not callable(target):
        raise ConfigError(f"{spec} is not callable")
    return cast(Authenticator, target)


def _import(name: str) -> Any:
    if name.endswith(".py") or "/" in name or "\\" in name:
        path = Path(name)
        if not path.is_file():
            raise ConfigError(f"authenticator file {name} does not exist")
        module_spec = importlib.util.spec_from_file_location(f"_myagent_auth_{path.stem}", path)
        if module_spec is None or module_spec.loader is None:
            raise ConfigError(f"cannot load {name}")
        module = importlib.util.module_from_spec(module_spec)
        sys.modules[module_spec.name] = module
        try:
            module_spec.loader.exec_module(module)
        except Exception as exc:  # the user's module failed while importing
            raise ConfigError(f"importing {name} failed: {exc}") from exc
        return module
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        raise ConfigError(f"cannot import {name}: {exc}") from exc


def build_authenticator(
    *,
    auth: str | None = None,
    jwt_secret: str | None = None,
    jwt_public_key_file: str | Path | None = None,
    jwt_audience: str | Sequence[str] | None = None,
    jwt_issuer: str | None = None,
    static_tokens: Mapping[str, Principal | str] | None = None,
) -> Authenticator | None:
    """The authenticator the CLI options describe, or ``None`` (authentication off) when none is given.

    Raises:
        ConfigError: more than one way was chosen, or the chosen one cannot be set up.
    """
    chosen = [
        name
        for name, value in (
            ("--auth", auth),
            ("--jwt-secret", jwt_secret),
            ("--jwt-public-key", jwt_public_key_file),
            ("static tokens", static_tokens),
        )
        if value
    ]
    if len(chosen) > 1:
        raise ConfigError(f"choose one way to authenticate, not {' and '.join(chosen)}")
    if jwt_audience and not (jwt_secret or jwt_public_key_file):
        raise ConfigError("--jwt-audience needs --jwt-secret or --jwt-public-key")
    options: dict[str, Any] = {"audience": jwt_audience or None, "issuer": jwt_issuer}
    if auth:
        return load_authenticator(auth)
    if jwt_secret:
        return JWTVerifier.hs256(jwt_secret, **options)
    if jwt_public_key_file:
        return JWTVerifier.rs256_from_file(jwt_public_key_file, **options)
    if static_tokens:
        return StaticTokens(static_tokens)
    return None
