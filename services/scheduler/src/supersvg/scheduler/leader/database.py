"""Leader election on PostgreSQL: a session-level advisory lock on a connection of its own.

The lock lives as long as the connection: a leader that crashes or is killed loses it the
moment PostgreSQL sees the connection close, and a follower polling every
``lease_seconds / 5`` takes over. A leader cut off from the database is dropped by the
server's TCP keepalives (set per session, below ``lease_seconds``); the leader itself checks
its lock every ``lease_seconds / 3`` and steps down when a check fails or times out, which
happens before the server lets the lock go.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import zlib
from typing import Any

from supersvg.scheduler.leader.base import LeaderElection

__all__ = ["AdvisoryLockElection"]

log = logging.getLogger(__name__)
#: First key of every scheduler advisory lock (the second is derived from the lease name).
_LOCK_CLASS = 51052


class AdvisoryLockElection(LeaderElection):
    """``pg_try_advisory_lock(51052, crc32(name))`` held on a dedicated connection."""

    def __init__(self, dsn: str, name: str = "supersvg-scheduler", lease_seconds: float = 15.0):
        super().__init__()
        self.dsn = dsn
        self.name = name
        self.lease_seconds = lease_seconds
        self.key = zlib.crc32(name.encode()) & 0x7FFFFFFF
        self._conn: Any = None

    async def _connect(self) -> Any:
        import asyncpg

        lease = self.lease_seconds
        # The server drops a silent leader's session (and so its lock) within ~2/3 lease.
        settings = {
            "application_name": f"supersvg-scheduler-election {self.identity}"[:63],
            "tcp_keepalives_idle": str(max(1, int(lease / 3))),
            "tcp_keepalives_interval": str(max(1, int(lease / 6))),
            "tcp_keepalives_count": "2",
            "tcp_user_timeout": str(max(1000, int(lease * 2000 / 3))),
        }
        return await asyncpg.connect(self.dsn, timeout=lease / 2, server_settings=settings)

    async def _close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.terminate()  # no round trip: the server releases the lock on disconnect

    async def acquire(self) -> None:
        delay = self.lease_seconds / 5
        while True:
            try:
                if self._conn is None or self._conn.is_closed():
                    self._conn = await self._connect()
                got = await asyncio.wait_for(
                    self._conn.fetchval(
                        "SELECT pg_try_advisory_lock($1, $2)", _LOCK_CLASS, self.key
                    ),
                    self.lease_seconds / 3,
                )
                if got:
                    self.is_leader = True
                    log.info("leader elected", extra={"identity": self.identity})
                    return
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("leader election: database unavailable: %s", exc)
                await self._close()
            await asyncio.sleep(delay)

    async def _still_held(self) -> bool:
        return bool(
            await self._conn.fetchval(
                "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' "
                "AND classid = $1 AND objid = $2 AND objsubid = 2 "
                "AND pid = pg_backend_pid() AND granted)",
                _LOCK_CLASS,
                self.key,
            )
        )

    async def hold(self) -> None:
        period = self.lease_seconds / 3
        try:
            while True:
                await asyncio.sleep(period)
                try:
                    held = await asyncio.wait_for(self._still_held(), period / 2)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    log.error("leader lock check failed; stepping down: %s", exc)
                    return
                if not held:
                    log.error("leader lock no longer held; stepping down")
                    return
        finally:
            self.is_leader = False
            with contextlib.suppress(Exception):
                await self._close()

    async def release(self) -> None:
        self.is_leader = False
        await self._close()
