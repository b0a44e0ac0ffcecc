"""Runs workers as local subprocesses with bounded concurrency (embedded mode)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from pathlib import Path
from typing import Any

from supersvg.common.storage import StorageSettings
from supersvg.scheduler.executors.base import ExecutionOutcome, Executor, WorkSpec

__all__ = ["LocalExecutor"]

log = logging.getLogger(__name__)


class LocalExecutor(Executor):
    """One ``supersvg-worker`` process per attempt; stdout/stderr go to a log file per attempt."""

    name = "local"

    def __init__(
        self,
        argv: list[str],
        concurrency: int,
        storage_env: dict[str, str],
        log_dir: str = "",
        device: str = "auto",
    ) -> None:
        super().__init__()
        self.argv = argv
        self.concurrency = concurrency
        self.storage_env = storage_env
        self.log_dir = Path(log_dir).resolve() if log_dir else None
        self.device = device
        self._procs: dict[tuple[str, int], asyncio.subprocess.Process] = {}
        self._waiters: set[asyncio.Task[None]] = set()
        self._stopping = False

    @classmethod
    def from_settings(cls, settings: Any, storage: StorageSettings) -> LocalExecutor:
        return cls(
            argv=settings.worker_argv(),
            concurrency=settings.max_concurrency,
            storage_env=storage.env(),
            log_dir=settings.worker_log_dir,
            device=settings.worker_device,
        )

    @property
    def capacity(self) -> int | None:
        return self.concurrency

    def live_attempts(self) -> set[str]:
        return {job_id for job_id, _ in self._procs}

    async def start(self) -> None:
        if self.log_dir is not None:
            self.log_dir.mkdir(parents=True, exist_ok=True)

    def log_path(self, job_id: str, attempt: int) -> Path | None:
        return None if self.log_dir is None else self.log_dir / f"{job_id}.{attempt}.log"

    async def launch(self, spec: WorkSpec) -> None:
        env = {**os.environ, **self.storage_env, "SUPERSVG_DEVICE": self.device, **spec.env()}
        # The worker must not inherit the scheduler's own trace context variables.
        if not spec.traceparent:
            env.pop("TRACEPARENT", None)
        path = self.log_path(spec.job_id, spec.attempt)
        out = path.open("ab") if path is not None else None
        try:
            proc = await asyncio.create_subprocess_exec(
                *self.argv,
                env=env,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=out if out is not None else None,
                stderr=asyncio.subprocess.STDOUT if out is not None else None,
                # Own process group: a terminal's Ctrl-C reaches the scheduler, which then
                # stops its workers itself (and their jobs resume on the next start).
                start_new_session=True,
            )
        finally:
            if out is not None:
                out.close()
        key = (spec.job_id, spec.attempt)
        self._procs[key] = proc
        log.info(
            "worker started",
            extra={"job_id": spec.job_id, "attempt": spec.attempt, "pid": proc.pid},
        )
        task = asyncio.create_task(self._wait(key, proc))
        self._waiters.add(task)
        task.add_done_callback(self._waiters.discard)

    async def _wait(self, key: tuple[str, int], proc: asyncio.subprocess.Process) -> None:
        code = await proc.wait()
        self._procs.pop(key, None)
        if self._stopping:
            return  # the scheduler is shutting down; the job resumes on the next start
        log.info("worker exited", extra={"job_id": key[0], "attempt": key[1], "exit_code": code})
        message = f"worker exited with code {code}" if code >= 0 else f"killed by signal {-code}"
        await self.report(ExecutionOutcome(key[0], key[1], code, message))

    async def cancel(self, job_id: str, attempt: int, grace_s: float) -> None:
        proc = self._procs.get((job_id, attempt))
        if proc is None:
            return
        for sig in (None, signal.SIGTERM, signal.SIGKILL):
            if sig is not None and proc.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.send_signal(sig)
                log.info("worker signalled", extra={"job_id": job_id, "signal": sig.name})
            try:
                await asyncio.wait_for(asyncio.shield(proc.wait()), grace_s or 0.01)
                return
            except TimeoutError:
                continue

    async def adopt(self, spec: WorkSpec) -> bool:
        # Subprocesses of a previous scheduler are not ours to watch: retry as a new attempt
        # (the old worker, if still alive, is told to stop on its next progress report).
        return False

    async def stop(self) -> None:
        self._stopping = True
        procs = list(self._procs.values())
        for proc in procs:
            with contextlib.suppress(ProcessLookupError):
                proc.terminate()
        for proc in procs:
            try:
                await asyncio.wait_for(proc.wait(), 5)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                await proc.wait()
        for task in list(self._waiters):
            task.cancel()
