"""Retention: finished jobs expire (artifacts deleted), long-expired rows go, and uploads
that never became jobs are swept."""

from __future__ import annotations

import asyncio
import time

from supersvg.common.ids import is_job_id, job_id_time
from supersvg.scheduler.core.base import SchedulerBase, log

__all__ = ["Retention"]


class Retention(SchedulerBase):
    """Runs as one of the scheduler's loops (``retention_interval_seconds``)."""

    async def sweep_retention(self) -> int:
        """Expire finished jobs older than the retention period; drop long-expired rows."""
        now = time.time()
        cutoff = now - self.settings.retention_seconds
        expired = 0
        terminal = ("completed", "failed", "cancelled")
        for rec in await self.store.finished_before(terminal, cutoff):
            await asyncio.to_thread(self.artifacts.delete_prefix, f"jobs/{rec.job_id}/")
            upd = await self.store.update_job(
                rec.job_id, terminal, state="expired", result=None, stage="expired"
            )
            if upd is not None:
                expired += 1
                self._notify(upd)
                log.info("job expired", extra={"job_id": rec.job_id})
        for rec in await self.store.finished_before(
            ("expired",), now - 2 * self.settings.retention_seconds
        ):
            await self.store.delete_job(rec.job_id)
        if now - self._last_orphan_sweep >= self.settings.orphan_grace_seconds:
            self._last_orphan_sweep = now
            await self.sweep_orphans(now)
        return expired

    async def sweep_orphans(self, now: float) -> int:
        """Delete uploads that never became jobs (older than the grace period)."""
        removed = 0
        for name in await asyncio.to_thread(self.artifacts.list_folders, "jobs/"):
            if not is_job_id(name) or now - job_id_time(name) < self.settings.orphan_grace_seconds:
                continue
            if await self.store.get_job(name) is None:
                await asyncio.to_thread(self.artifacts.delete_prefix, f"jobs/{name}/")
                removed += 1
                log.info("orphaned upload deleted", extra={"job_id": name})
        return removed
