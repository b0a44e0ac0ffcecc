"""Leader election through a coordination.k8s.io/v1 Lease on the mock API, and the
Kubernetes executor's capacity from the GPU nodes."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time

import kubernetes

from supersvg.scheduler.executors.cluster import KubernetesExecutorSettings
from supersvg.scheduler.executors.kubernetes import KubernetesExecutor
from supersvg.scheduler.leader.kubernetes import LeaseElection
from tools.testing.kube.fixtures import KubeCluster

LEASE = 2.0


def _lease(cluster: KubeCluster) -> dict:
    api = kubernetes.client.CoordinationV1Api(cluster.api_client)
    lease = api.read_namespaced_lease("supersvg-scheduler", "default", _preload_content=False)
    return dict(json.loads(lease.data)["spec"])


async def test_one_leader_takeover_after_the_lease_and_handover_on_release(
    kube_api: KubeCluster,
) -> None:
    a = LeaseElection(kube_api.new_client(), "default", lease_seconds=LEASE)
    b = LeaseElection(kube_api.new_client(), "default", lease_seconds=LEASE)
    await a.acquire()
    assert _lease(kube_api)["holderIdentity"] == a.identity
    holding = asyncio.create_task(a.hold())
    waiting = asyncio.create_task(b.acquire())
    await asyncio.sleep(2 * LEASE)  # a keeps renewing: b must wait
    assert not waiting.done() and a.is_leader
    renewed = _lease(kube_api)["renewTime"]
    await asyncio.sleep(LEASE / 2)
    assert _lease(kube_api)["renewTime"] != renewed

    # a stops renewing without a word (as if its process were killed).
    holding.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await holding
    stopped = time.monotonic()
    await asyncio.wait_for(waiting, 3 * LEASE)
    took = time.monotonic() - stopped
    assert LEASE * 0.5 <= took <= LEASE * 1.6, took  # not before the lease ran out
    spec = _lease(kube_api)
    assert spec["holderIdentity"] == b.identity and spec["leaseTransitions"] == 1

    # A graceful shutdown hands over at once (also after hold() was cancelled, as the
    # scheduler's stop does).
    b_holding = asyncio.create_task(b.hold())
    await asyncio.sleep(0.1)
    b_holding.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await b_holding
    await b.release()
    assert _lease(kube_api)["holderIdentity"] == ""
    started = time.monotonic()
    await asyncio.wait_for(a.acquire(), LEASE)
    assert time.monotonic() - started < LEASE
    await a.release()


async def test_leader_steps_down_when_it_cannot_renew(kube_api: KubeCluster) -> None:
    a = LeaseElection(kube_api.new_client(), "default", lease_seconds=LEASE)
    await a.acquire()
    holding = asyncio.create_task(a.hold())
    await asyncio.sleep(LEASE / 2)
    # Another writer takes the Lease behind a's back (e.g. an operator by hand).
    api = kubernetes.client.CoordinationV1Api(kube_api.api_client)
    api.patch_namespaced_lease(
        "supersvg-scheduler", "default", {"spec": {"holderIdentity": "someone-else"}}
    )
    started = time.monotonic()
    await asyncio.wait_for(holding, 2 * LEASE)  # hold() returns: leadership lost
    assert time.monotonic() - started <= LEASE  # before a follower could take over
    assert not a.is_leader


def _node(name: str, gpus: str, ready: bool = True, cordoned: bool = False) -> dict:
    return {
        "metadata": {"name": name, "labels": {"pool": "gpu"}},
        "spec": {"unschedulable": cordoned},
        "status": {
            "allocatable": {"nvidia.com/gpu": gpus, "cpu": "8"},
            "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
        },
    }


def test_capacity_from_gpu_nodes_and_the_fixed_bound(kube_api: KubeCluster) -> None:
    core = kubernetes.client.CoreV1Api(kube_api.api_client)
    for node in (
        _node("gpu-a", "4"),
        _node("gpu-b", "2"),
        _node("gpu-notready", "8", ready=False),
        _node("gpu-cordoned", "8", cordoned=True),
    ):
        core.create_node(node)
    core.create_node({"metadata": {"name": "cpu-a"}, "status": {"allocatable": {"cpu": "8"}}})

    def executor(**settings: object) -> KubernetesExecutor:
        return KubernetesExecutor(
            KubernetesExecutorSettings(namespace="default", **settings),  # type: ignore[arg-type]
            api_client=kube_api.new_client(),
        )

    ex = executor(gpu_capacity=True, gpu_node_selector="pool=gpu")
    assert ex.capacity == 0  # nothing admitted before the nodes are read
    ex.refresh_capacity()
    assert ex.capacity == 6  # Ready, schedulable nodes only
    two_each = executor(
        gpu_capacity=True, resources={"limits": {"nvidia.com/gpu": "2"}}, max_running_attempts=0
    )
    two_each.refresh_capacity()
    assert two_each.capacity == 3
    both = executor(gpu_capacity=True, max_running_attempts=4)
    both.refresh_capacity()
    assert both.capacity == 4  # the smaller of the two
    fixed = executor(max_running_attempts=5)
    assert fixed.capacity == 5
    assert executor().capacity is None
    # A node added later counts at the next refresh.
    core.create_node(_node("gpu-c", "1"))
    ex.refresh_capacity()
    assert ex.capacity == 7
