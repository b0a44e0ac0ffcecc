"""Progress and outcome reports of one attempt to the scheduler (``ReportProgress``)."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import grpc

from supersvg.api.jobs import WorkerEnv, result_to_proto
from supersvg.api.v1 import scheduler_pb2 as pb
from supersvg.api.v1 import scheduler_pb2_grpc as pb_grpc
from supersvg.common.backoff import Backoff
from supersvg.common.grpc import ChannelSource
from supersvg.common.tls import TlsFiles
from supersvg.common.tracing import inject_context

__all__ = ["REPORT_INTERVAL_S", "Reporter"]

log = logging.getLogger("supersvg.worker")

#: Shortest gap between two progress reports (stage changes are always sent).
REPORT_INTERVAL_S = 0.5
# The final report is tried 5 times over ~7.5 s (0, 0.5, 1, 2, 4 s apart).
_FINAL_REPORT_TRIES = 5
_FINAL_REPORT_BACKOFF = Backoff(0.5, 4.0)


class Reporter:
    """Sends ReportProgress calls (when a scheduler address is set) and remembers a cancel."""

    def __init__(self, job: WorkerEnv, tls: TlsFiles | None = None) -> None:
        self.job = job
        self.cancelled = threading.Event()
        self._last_sent = 0.0
        self._last_stage = ""
        self._channels: ChannelSource | None = None
        if job.scheduler_addr:
            # With tls, mutual TLS; a rotated certificate gives the next call a new channel.
            self._channels = ChannelSource(job.scheduler_addr, tls, use_aio=False)

    @property
    def _stub(self) -> Any:
        assert self._channels is not None
        return self._channels.stub(pb_grpc.SchedulerServiceStub)

    def _send(self, timeout: float = 10.0, **fields: Any) -> None:
        if self._channels is None:
            return
        req = pb.ReportProgressRequest(
            job_id=self.job.job_id,
            attempt=self.job.attempt,
            worker_token=self.job.worker_token,
            **fields,
        )
        try:
            resp = self._stub.ReportProgress(
                req, timeout=timeout, metadata=list(inject_context().items())
            )
        except grpc.RpcError as exc:
            code = exc.code()  # type: ignore[attr-defined]
            if code in (grpc.StatusCode.PERMISSION_DENIED, grpc.StatusCode.NOT_FOUND):
                # Our attempt was superseded or the job is gone: stop working on it.
                log.warning("scheduler rejected this attempt; stopping", extra={"code": str(code)})
                self.cancelled.set()
            else:
                log.warning("progress report failed", extra={"code": str(code)})
            return
        if resp.cancel_requested:
            self.cancelled.set()

    def progress(self, stage: str, percent: float) -> None:
        now = time.monotonic()
        if stage == self._last_stage and now - self._last_sent < REPORT_INTERVAL_S:
            return
        self._last_stage, self._last_sent = stage, now
        self._send(timeout=5.0, progress=int(min(max(percent, 0), 99)), stage=stage)

    def final_result(self, result: dict[str, Any]) -> bool:
        """Send the result; True when the scheduler acknowledged it (or there is none)."""
        if self._channels is None:
            return True
        msg = result_to_proto(result)
        return self._send_final(result=msg, progress=100, stage="completed")

    def final_error(self, code: str, message: str) -> bool:
        if self._channels is None:
            return True
        return self._send_final(error=pb.JobError(code=code, message=message), stage="failed")

    def _send_final(self, **fields: Any) -> bool:
        # Retry a few times: the scheduler may be restarting. If it never answers, the
        # exit code (and result.json) still tell the executor how the attempt ended.
        for failures in range(_FINAL_REPORT_TRIES):
            time.sleep(_FINAL_REPORT_BACKOFF.delay(failures))
            try:
                self._stub.ReportProgress(
                    pb.ReportProgressRequest(
                        job_id=self.job.job_id,
                        attempt=self.job.attempt,
                        worker_token=self.job.worker_token,
                        **fields,
                    ),
                    timeout=10.0,
                )
                return True
            except grpc.RpcError as exc:
                if exc.code() in (  # type: ignore[attr-defined]
                    grpc.StatusCode.PERMISSION_DENIED,
                    grpc.StatusCode.NOT_FOUND,
                ):
                    return False
        return False
