"""The worker pod built for a VectorizeJob attempt."""

from __future__ import annotations

import json
from typing import Any

import pytest

from supersvg.operator.children import build_pod
from supersvg.operator.settings import OperatorSettings

TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


def job(annotations: dict[str, str] | None = None, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "supersvg.io/v1alpha1",
        "kind": "VectorizeJob",
        "metadata": {
            "name": "job-01",
            "namespace": "work",
            "uid": "u-1",
            "annotations": annotations or {},
        },
        "spec": {"input": {"key": "jobs/j/input"}, "output": {"prefix": "jobs/j/"}, **spec},
    }


def env_of(pod: dict[str, Any]) -> dict[str, Any]:
    return {
        e["name"]: e.get("value", e.get("valueFrom")) for e in pod["spec"]["containers"][0]["env"]
    }


@pytest.fixture
def settings() -> OperatorSettings:
    return OperatorSettings(
        worker_image="reg/vectorizer:1.0",
        storage_secret="s3-creds",
        storage_configmap="storage",
        scheduler_addr="scheduler:50051",
        node_selector={"pool": "gpu"},
        priority_classes={"high": "supersvg-high"},
    )


def test_pod_identity_ownership_and_security(settings: OperatorSettings) -> None:
    pod = build_pod(job(), 3, settings)
    meta = pod["metadata"]
    assert meta["name"] == "job-01-3" and meta["namespace"] == "work"
    assert meta["labels"]["supersvg.io/attempt"] == "3"
    assert meta["labels"]["supersvg.io/vectorizejob-uid"] == "u-1"
    (owner,) = meta["ownerReferences"]
    assert owner["uid"] == "u-1" and owner["kind"] == "VectorizeJob" and owner["controller"]
    spec = pod["spec"]
    assert spec["restartPolicy"] == "Never" and spec["automountServiceAccountToken"] is False
    assert spec["securityContext"]["runAsNonRoot"] is True
    container = spec["containers"][0]
    assert container["image"] == "reg/vectorizer:1.0"
    assert container["command"] == ["supersvg-worker"]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert container["resources"] == {"limits": {"nvidia.com/gpu": "1"}}
    assert container["envFrom"] == [
        {"configMapRef": {"name": "storage"}},
        {"secretRef": {"name": "s3-creds"}},
    ]
    assert spec["nodeSelector"] == {"pool": "gpu"}
    assert "priorityClassName" not in spec  # normal priority has no class configured
    high = build_pod(job(priority="high"), 1, settings)
    assert high["spec"]["priorityClassName"] == "supersvg-high"
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in spec[
        "tolerations"
    ]


def test_worker_contract_environment(settings: OperatorSettings) -> None:
    spec = {
        "jobId": "job_01HX",
        "firstAttempt": 4,
        "config": {"maxPaths": 32, "maxColors": 8, "preset": "photo"},
        "workerTokenSecretRef": {"name": "job-01-token"},
        "device": "cuda",
    }
    env = env_of(build_pod(job({"supersvg.io/traceparent": TRACEPARENT}, **spec), 2, settings))
    assert env["SUPERSVG_JOB_ID"] == "job_01HX"
    assert env["SUPERSVG_JOB_ATTEMPT"] == "5"  # firstAttempt + attempt - 1
    assert env["SUPERSVG_JOB_INPUT_KEY"] == "jobs/j/input"
    assert env["SUPERSVG_JOB_OUTPUT_PREFIX"] == "jobs/j/"
    assert json.loads(env["SUPERSVG_JOB_CONFIG"]) == {
        "max_paths": 32,
        "max_colors": 8,
        "gradients": "auto",
        "num_iterations": 100,
        "preset": "photo",
        "seed": 0,
        "output_format": "svg",
    }
    assert env["SUPERSVG_SCHEDULER_ADDR"] == "scheduler:50051"
    assert env["SUPERSVG_WORKER_TOKEN"] == {
        "secretKeyRef": {"name": "job-01-token", "key": "token"}
    }
    assert env["SUPERSVG_DEVICE"] == "cuda"
    assert env["TRACEPARENT"] == TRACEPARENT


def test_the_job_model_reaches_the_worker(settings: OperatorSettings) -> None:
    digest = "cd" * 32
    env = env_of(build_pod(job(model={"name": "tiny-1", "sha256": digest}), 1, settings))
    assert env["SUPERSVG_MODEL"] == "tiny-1" and env["SUPERSVG_MODEL_SHA256"] == digest
    unpinned = env_of(build_pod(job(model={"name": "tiny-1"}), 1, settings))
    assert unpinned["SUPERSVG_MODEL"] == "tiny-1" and "SUPERSVG_MODEL_SHA256" not in unpinned
    assert "SUPERSVG_MODEL" not in env_of(build_pod(job(), 1, settings))


def test_kubectl_job_has_no_scheduler_and_ignores_bad_traceparent(
    settings: OperatorSettings,
) -> None:
    env = env_of(build_pod(job({"supersvg.io/traceparent": "garbage"}), 1, settings))
    assert "SUPERSVG_SCHEDULER_ADDR" not in env and "SUPERSVG_WORKER_TOKEN" not in env
    assert "TRACEPARENT" not in env
    assert env["SUPERSVG_JOB_ID"] == "job-01"


def test_overrides(settings: OperatorSettings) -> None:
    spec = {
        "image": "reg/vectorizer:canary",
        "resources": {"requests": {"cpu": "2"}},
        "nodeSelector": {"zone": "a"},
        "priorityClassName": "batch-high",
        "affinity": {"nodeAffinity": {}},
        "output": {"prefix": "p/", "bucket": "other"},
    }
    pod = build_pod(job(**spec), 1, settings)
    container = pod["spec"]["containers"][0]
    assert container["image"] == "reg/vectorizer:canary"
    assert container["resources"] == {"requests": {"cpu": "2"}}
    # A CPU job does not tolerate the GPU taint.
    assert "tolerations" not in pod["spec"]
    assert pod["spec"]["nodeSelector"] == {"pool": "gpu", "zone": "a"}
    assert pod["spec"]["priorityClassName"] == "batch-high"
    assert pod["spec"]["affinity"] == {"nodeAffinity": {}}
    assert env_of(pod)["SUPERSVG_S3_BUCKET"] == "other"


def test_worker_client_certificate_is_mounted_with_tls(settings: OperatorSettings) -> None:
    plain = build_pod(job(), 1, settings)
    assert [v["name"] for v in plain["spec"]["volumes"]] == ["tmp"]
    assert not any(k.startswith("SUPERSVG_WORKER_TLS") for k in env_of(plain))

    tls = settings.model_copy(update={"worker_tls_secret": "rel-grpc-client"})
    pod = build_pod(job(), 1, tls)
    volume = {v["name"]: v for v in pod["spec"]["volumes"]}["tls"]
    assert volume["secret"]["secretName"] == "rel-grpc-client"
    mount = {m["name"]: m for m in pod["spec"]["containers"][0]["volumeMounts"]}["tls"]
    assert mount == {"name": "tls", "mountPath": "/etc/supersvg/tls", "readOnly": True}
    env = env_of(pod)
    # The names the worker's settings read, pointing at the Secret's keys.
    assert env["SUPERSVG_WORKER_TLS_CA_FILE"] == "/etc/supersvg/tls/ca.crt"
    assert env["SUPERSVG_WORKER_TLS_CERT_FILE"] == "/etc/supersvg/tls/tls.crt"
    assert env["SUPERSVG_WORKER_TLS_KEY_FILE"] == "/etc/supersvg/tls/tls.key"
