"""Failover: taking over the sessions of a process that stopped, and going on with their runs.

A process counts as stopped when its control-bus liveness lapsed. Its sessions are then taken over
by whichever process gets there first: every sweep looks for them (:meth:`Takeover.adopt_orphans`),
and a command that reaches another process for one of them takes it over on the spot
(:meth:`Takeover.now`). The lease is taken with a higher fence, so a process that was only stalled
can write nothing more. The new holder rebuilds the agent from the session's checkpoint and, if a
run was under way, goes on with it (:meth:`SessionHost.resume_lost_run`). Nothing here runs where
the store keeps no checkpoints (the in-memory default: one process, nothing to fail over to).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from typing import Protocol

from myagent.auth.principal import Principal
from myagent.errors import ProtocolError
from myagent.ws.control import ControlBus
from myagent.ws.host import SessionHost
from myagent.ws.lease import Lease, LeaseManager
from myagent.ws.options import ServerOptions
from myagent.ws.session import Session
from myagent.ws.state_manager import StateManager
from myagent.ws.store import SessionStore

__all__ = ["Takeover"]

logger = logging.getLogger(__name__)

_BATCH = 32  # sessions of a stopped process taken over at once (their round trips overlap)


class Adopter(Protocol):
    """What a takeover needs of the service it works for."""

    options: ServerOptions
    store: SessionStore
    leases: LeaseManager
    control: ControlBus
    state: StateManager
    host: SessionHost
    held: dict[str, Lease]
    node_id: str
    shutting_down: bool

    async def new_live_session(self, session_id: str, principal: Principal | None) -> Session: ...


class Takeover:
    def __init__(self, service: Adopter) -> None:
        self.service = service
        self._adopting: dict[str, asyncio.Future[None]] = {}  # sessions being taken over right now

    def _active(self) -> bool:
        return self.service.store.keeps_checkpoints and not self.service.shutting_down

    async def adopt_orphans(self) -> None:
        """Take over every session of every process that stopped without a word."""
        if not self._active():
            return
        service = self.service
        for node_id in await service.store.node_ids():
            if node_id == service.node_id or await service.control.alive(node_id):
                continue
            ids = await service.store.ids(node_id=node_id)
            for start in range(0, len(ids), _BATCH):
                batch = ids[start : start + _BATCH]
                await asyncio.gather(*(self._try(session_id, node_id) for session_id in batch))

    async def now(self, session_id: str, holder: str | None) -> bool:
        """A command for a session whose process may have stopped: take it over here, now.

        ``holder``: who holds its lease (``None``: nobody). False when there is nothing to take
        (closed, unknown, run here already, or its process lives).
        """
        if not self._active():
            return False
        service = self.service
        record = await service.store.get(session_id)
        if record is None or record.status == "closed" or record.node_id == service.node_id:
            return False
        runner = holder or record.node_id
        if runner != record.node_id or await service.control.alive(runner):
            return False
        await self._try(session_id, runner)
        return True

    async def _try(self, session_id: str, lost_node: str) -> None:
        """Take one session over (once: a sweep and a command may both ask at the same time)."""
        if session_id in self.service.host.sessions:
            return
        busy = self._adopting.get(session_id)
        if busy is not None:
            await asyncio.shield(busy)
            return
        done = self._adopting[session_id] = asyncio.get_running_loop().create_future()
        try:
            service = self.service
            lease = await service.leases.acquire(
                session_id, service.node_id, service.options.lease_ttl, stopped=lost_node
            )
            if lease is not None:
                await self._adopt(session_id, lost_node, lease)
        finally:
            del self._adopting[session_id]
            done.set_result(None)

    async def _adopt(self, session_id: str, lost_node: str, lease: Lease) -> None:
        service = self.service
        record = await service.store.get(session_id)
        if record is None or record.status == "closed" or record.node_id != lost_node:
            await service.leases.release(lease)  # closed, or adopted by someone else meanwhile
            return
        try:
            session = await service.new_live_session(session_id, _principal_of(record.owner))
        except ProtocolError:
            await service.leases.release(lease)  # the factory failed (logged); another sweep tries again
            return
        checkpoint = {
            "messages": record.conversation,
            "current_step": record.current_step,
            "plan_context": record.plan_context,
        }
        service.state.restore_session_from_state(session, checkpoint)
        service.held[session_id] = lease
        service.host.sessions[session_id] = session
        await service.store.update(session_id, node_id=service.node_id)
        await self._detach_if_orphaned(session_id)
        logger.warning(
            "session %s: taken over from node %s, which stopped%s",
            session_id,
            lost_node,
            "; its run goes on here" if record.running else "",
        )
        if record.running:
            asking = [str(p["call_id"]) for p in record.pending_confirmations if p.get("call_id")]
            await service.host.resume_lost_run(session, asking)

    async def _detach_if_orphaned(self, session_id: str) -> None:
        """A connection that died with its process: wait for a reconnect as for any dropped connection.

        The record is read again here: a client may have re-attached elsewhere while the agent was built.
        """
        service = self.service
        current = await service.store.get(session_id)
        if (
            current is not None
            and current.status == "attached"
            and (current.attached_node is None or not await service.control.alive(current.attached_node))
        ):
            deadline = time.time() + service.options.grace_period
            await service.store.update(
                session_id, status="detached", connection_id=None, attached_node=None, expires_at=deadline
            )


def _principal_of(owner: str | None) -> Principal | None:
    """The principal a record's owner names (its key; the claims it had are not kept)."""
    if owner is None:
        return None
    with contextlib.suppress(ValueError, TypeError):
        tenant, principal_id = json.loads(owner)
        return Principal(str(principal_id), None if tenant is None else str(tenant))
    return None
