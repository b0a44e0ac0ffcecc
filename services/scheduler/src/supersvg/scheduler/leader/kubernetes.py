"""Leader election on Kubernetes: a ``coordination.k8s.io/v1`` Lease, as client-go does it.

The leader renews ``spec.renewTime`` every ``lease_seconds / 5``; a follower takes the
Lease once it has seen the same record unchanged for ``leaseDurationSeconds`` (measured
on its own clock, so clock skew between nodes does not matter). Every write carries the
resourceVersion read just before, so two replicas cannot both win a takeover (one gets
409 Conflict). The leader steps down when it could not renew for ``2/3`` of the lease,
before any follower may take over. On shutdown it empties ``holderIdentity`` so a
follower takes over at once.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import datetime as dt
import json
import logging
import time
from typing import Any

import kubernetes
from kubernetes.client.rest import ApiException

from supersvg.scheduler.leader.base import LeaderElection

__all__ = ["LeaseElection"]

log = logging.getLogger(__name__)


def _micro_time() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class LeaseElection(LeaderElection):
    """Holds the Lease ``name`` in ``namespace``; API calls run in a thread."""

    def __init__(
        self,
        api_client: kubernetes.client.ApiClient,
        namespace: str,
        name: str = "supersvg-scheduler",
        lease_seconds: float = 15.0,
    ) -> None:
        super().__init__()
        self.api = kubernetes.client.CoordinationV1Api(api_client)
        self.namespace = namespace
        self.name = name
        self.lease_seconds = lease_seconds
        self._observed: tuple[str, str] | None = None  # (holder, renewTime) last seen
        self._observed_at = 0.0  # monotonic time it was first seen
        # A round (read, then write) gives up within the renewal deadline (a hung request
        # must not hold the only thread); calls run on a thread of their own.
        self._timeout = max(1.0, lease_seconds / 5)
        self._pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="lease")

    # ------------------------------------------------------------------ API
    def _read(self) -> dict[str, Any] | None:
        try:
            resp = self.api.read_namespaced_lease(
                self.name, self.namespace, _preload_content=False, _request_timeout=self._timeout
            )
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise
        return dict(json.loads(resp.data))

    def _spec(self, previous: dict[str, Any] | None) -> dict[str, Any]:
        now = _micro_time()
        spec = dict(previous or {})
        if spec.get("holderIdentity") != self.identity:
            spec["acquireTime"] = now
            spec["leaseTransitions"] = int(spec.get("leaseTransitions") or 0) + (
                1 if previous else 0
            )
        spec.update(
            holderIdentity=self.identity,
            leaseDurationSeconds=max(1, round(self.lease_seconds)),
            renewTime=now,
        )
        return spec

    def _try(self) -> bool:
        """One acquire-or-renew round; True when this replica holds the Lease now."""
        lease = self._read()
        if lease is None:
            body: dict[str, Any] = {"metadata": {"name": self.name}, "spec": self._spec(None)}
            try:
                self.api.create_namespaced_lease(
                    self.namespace, body, _request_timeout=self._timeout
                )
            except ApiException as exc:
                if exc.status == 409:
                    return False
                raise
            return True
        spec = lease.get("spec") or {}
        holder = spec.get("holderIdentity") or ""
        record = (holder, str(spec.get("renewTime") or ""))
        if record != self._observed:
            self._observed, self._observed_at = record, time.monotonic()
        duration = float(spec.get("leaseDurationSeconds") or self.lease_seconds)
        expired = time.monotonic() - self._observed_at >= duration
        if holder and holder != self.identity and not expired:
            return False
        body = {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": {
                "name": self.name,
                "namespace": self.namespace,
                "resourceVersion": lease["metadata"]["resourceVersion"],
            },
            "spec": self._spec(spec),
        }
        try:
            self.api.replace_namespaced_lease(
                self.name, self.namespace, body, _request_timeout=self._timeout
            )
        except ApiException as exc:
            if exc.status == 409:  # someone else wrote it first
                return False
            raise
        return True

    async def _attempt(self) -> bool:
        try:
            return await asyncio.get_running_loop().run_in_executor(self._pool, self._try)
        except ApiException as exc:
            log.warning("leader election: API error %s", exc.status)
        except Exception as exc:  # API unreachable: keep trying
            log.warning("leader election: %s", exc)
        return False

    # ------------------------------------------------------------------ life cycle
    async def acquire(self) -> None:
        while True:
            if await self._attempt():
                break
            await asyncio.sleep(self.lease_seconds / 5)
        self.is_leader = True
        log.info("leader elected", extra={"identity": self.identity, "lease": self.name})

    async def hold(self) -> None:
        period = self.lease_seconds / 5
        deadline = self.lease_seconds * 2 / 3
        renewed = time.monotonic()
        try:
            while True:
                await asyncio.sleep(period)
                started = time.monotonic()
                # Bounded by the request timeouts; a renewal counts from when it started.
                if await self._attempt():
                    renewed = started
                else:
                    log.warning("leader Lease not renewed")
                if time.monotonic() - renewed >= deadline:
                    log.error("could not renew the leader Lease; stepping down")
                    return
        finally:
            self.is_leader = False

    def _give_up(self) -> None:
        lease = self._read()
        if lease is None or (lease.get("spec") or {}).get("holderIdentity") != self.identity:
            return
        spec = {**lease["spec"], "holderIdentity": "", "leaseDurationSeconds": 1}
        body = {**lease, "spec": spec}
        self.api.replace_namespaced_lease(
            self.name, self.namespace, body, _request_timeout=self._timeout
        )

    async def release(self) -> None:
        # hold() has usually ended (is_leader False) by now: _give_up checks the holder.
        self.is_leader = False
        try:
            await asyncio.get_running_loop().run_in_executor(self._pool, self._give_up)
        except Exception as exc:  # the Lease expires on its own
            log.warning("could not release the leader Lease: %s", exc)
        self._pool.shutdown(wait=False)
