"""Load an agent file and find its factory."""

from __future__ import annotations

import hashlib
import importlib.util
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from myagent.errors import ConfigError

__all__ = ["load_agent_factory"]


def load_agent_factory(path: str | Path) -> Callable[[], Any]:
    """Import ``path`` and return a factory giving a fresh agent per call.

    Looks for ``create_agent()`` (preferred), then ``agent_factory``, then a module-level ``agent``
    (cloned for every session).

    Raises:
        ConfigError: the file is missing, fails to import, or defines none of them.
    """
    file = Path(path).expanduser().resolve()
    if not file.is_file():
        raise ConfigError(f"agent file not found: {path}")
    module_name = f"myagent_agent_file_{hashlib.sha1(str(file).encode()).hexdigest()[:10]}"
    spec = importlib.util.spec_from_file_location(module_name, file)
    if spec is None or spec.loader is None:
        raise ConfigError(f"cannot import {path}: not a Python file")
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(file.parent))  # let the file import its neighbours
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        sys.modules.pop(module_name, None)
        raise ConfigError(f"cannot import {path}: {type(exc).__name__}: {exc}") from exc
    for name in ("create_agent", "agent_factory"):
        factory = getattr(module, name, None)
        if callable(factory):
            return factory  # type: ignore[no-any-return]
    template = getattr(module, "agent", None)
    if template is not None and callable(getattr(template, "clone", None)):
        return template.clone  # type: ignore[no-any-return]
    raise ConfigError(f"{path} defines no create_agent(), agent_factory or module-level agent")
