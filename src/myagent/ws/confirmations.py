"""Pending confirmations of one session: ask, answer once, expire."""

from __future__ import annotations

import asyncio
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from myagent.agent.confirmation import ConfirmationDecision, ConfirmationRequest
from myagent.protocol.errors import ErrorCodes

__all__ = ["ConfirmationBook", "PendingConfirmation"]

_REMEMBERED_ANSWERS = 256


@dataclass
class PendingConfirmation:
    step_id: str
    request: ConfirmationRequest
    expires_at: datetime
    future: asyncio.Future[ConfirmationDecision]
    seq: int = 0  # seq of the agent.user_confirm event, to know whether a resuming client saw it
    extra: dict[str, Any] = field(default_factory=dict)


class ConfirmationBook:
    """Confirmation requests waiting for ``user.response``; each is answered at most once."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self.pending: dict[str, PendingConfirmation] = {}
        self._answered: OrderedDict[str, bool] = OrderedDict()

    async def ask(
        self,
        request: ConfirmationRequest,
        announce: Callable[[PendingConfirmation], Awaitable[int]],
        withdraw: Callable[[PendingConfirmation], Awaitable[None]] | None = None,
    ) -> ConfirmationDecision:
        """Register ``request``, ``announce`` it (returns the event's seq) and wait for the answer or expiry."""
        step_id = f"confirm_{uuid.uuid4().hex[:12]}_{request.tool_name}"
        timeout = request.timeout if request.timeout is not None else self.timeout
        expires_at = datetime.now(UTC) + timedelta(seconds=timeout)
        future: asyncio.Future[ConfirmationDecision] = asyncio.get_running_loop().create_future()
        pending = PendingConfirmation(step_id, request, expires_at, future)
        self.pending[step_id] = pending
        try:
            pending.seq = await announce(pending)
            return await asyncio.wait_for(asyncio.shield(future), timeout)
        except TimeoutError:
            if future.done():  # answered while the timer fired: the client was told it was accepted
                return future.result()
            # No message: the decision's message is shown to the model as the user's own note.
            return ConfirmationDecision(False, None, "timeout")
        except asyncio.CancelledError:
            if withdraw is not None and not future.done():
                # The run stopped waiting: tell the client to close its dialog. The cancellation is
                # re-raised right after; the append itself does not suspend in memory.
                await asyncio.shield(withdraw(pending))
            raise
        finally:
            self.pending.pop(step_id, None)
            self._remember(step_id, future.done())

    def answer(self, step_id: str, confirmed: bool, message: str | None, data: Any = None) -> str | None:
        """Resolve a pending request; returns an error code, or ``None`` when accepted."""
        pending = self.pending.get(step_id)
        if pending is None:
            return ErrorCodes.STEP_ALREADY_ANSWERED if step_id in self._answered else ErrorCodes.STEP_NOT_FOUND
        if pending.future.done():
            return ErrorCodes.STEP_ALREADY_ANSWERED
        pending.future.set_result(ConfirmationDecision(confirmed, message or None, "user", data))
        return None

    def _remember(self, step_id: str, answered: bool) -> None:
        self._answered[step_id] = answered
        while len(self._answered) > _REMEMBERED_ANSWERS:
            self._answered.popitem(last=False)
