"""Pytest fixtures for the fake OpenAI endpoint.

Loaded from ``tests/conftest.py`` with ``pytest_plugins = ["tests.fakes.fixtures"]``.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fakes.fake_openai import FakeOpenAIServer

__all__ = ["fake_openai"]


@pytest.fixture
def fake_openai() -> Iterator[FakeOpenAIServer]:
    """A started :class:`FakeOpenAIServer`; teardown fails if it got unscripted requests.

    Set ``fake_openai.fail_on_unexpected = False`` in tests that provoke them on purpose.
    """
    with FakeOpenAIServer() as server:
        yield server
