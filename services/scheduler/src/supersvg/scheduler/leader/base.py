"""Leader election: which scheduler replica runs the background loops.

Every replica serves the gRPC API (submit, get, list, cancel, worker reports all read and
write the database). Only the leader dispatches attempts, watches the executor, delivers
callbacks, sweeps retention and adopts attempts after a change of leader. Life cycle::

    await election.acquire()   # blocks until this replica leads
    await election.hold()      # returns (or raises) when leadership is lost
    await election.release()   # on shutdown: hand over at once

Rules every implementation follows:

- ``hold`` returns only after this replica has stopped renewing; a replica whose
  leadership ended must stop its loops before another can be elected: the renewal
  deadline is shorter than ``lease_seconds``, the time a follower waits.
- ``release`` is best effort and idempotent; after a crash the lease simply expires.
- Implementations: :class:`AlwaysLeader` (one replica, e.g. SQLite),
  ``database.AdvisoryLockElection`` (PostgreSQL session advisory lock) and
  ``kubernetes.LeaseElection`` (a ``coordination.k8s.io/v1`` Lease).
"""

from __future__ import annotations

import abc
import asyncio
import os
import secrets
import socket

__all__ = ["AlwaysLeader", "LeaderElection", "identity"]


def identity() -> str:
    """A holder name unique to this process: host (the pod name on Kubernetes), pid, nonce."""
    return f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"


class LeaderElection(abc.ABC):
    """One leader among the replicas that share a database (or a namespace)."""

    #: How long a silent leader keeps the lead before a follower may take it (seconds).
    lease_seconds: float = 15.0

    def __init__(self) -> None:
        self.identity = identity()
        self.is_leader = False

    @abc.abstractmethod
    async def acquire(self) -> None:
        """Block until this replica is the leader."""

    @abc.abstractmethod
    async def hold(self) -> None:
        """Keep renewing; return once leadership is lost (never while it is held)."""

    @abc.abstractmethod
    async def release(self) -> None:
        """Give up the lead (shutdown); a no-op when not leading."""


class AlwaysLeader(LeaderElection):
    """A single replica: it always leads (SQLite, or election turned off)."""

    lease_seconds = 0.0

    async def acquire(self) -> None:
        self.is_leader = True

    async def hold(self) -> None:
        await asyncio.Event().wait()  # never lost

    async def release(self) -> None:
        self.is_leader = False
