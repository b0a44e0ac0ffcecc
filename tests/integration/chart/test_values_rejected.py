"""Values that break values.schema.json are rejected by Helm before anything is installed."""

from __future__ import annotations

from typing import Any

import kubernetes

from tools.testing import helmkit
from tools.testing.kube.fixtures import KubeCluster

# (values, a fragment the error must name)
BAD_VALUES: list[tuple[dict[str, Any], str]] = [
    ({"gateway": {"replicaCount": "two"}}, "replicaCount"),
    ({"gatewy": {"replicaCount": 2}}, "gatewy"),
    ({"vectorizer": {"gpu": {"count": 0}}}, "count"),
    ({"postgresql": {"enabled": False}}, "externalDatabase"),
    (
        {"minio": {"enabled": False}, "objectStorage": {"accessKey": "a", "secretKey": "b"}},
        "endpoint",
    ),
    ({"logging": {"level": "verbose"}}, "level"),
    (
        {
            "gateway": {
                "ingress": {
                    "enabled": True,
                    "hosts": [{"host": "a.example", "paths": [{"path": "/", "pathType": "Any"}]}],
                }
            }
        },
        "pathType",
    ),
    ({"training": {"enabled": True}}, "datasetClaim"),
    ({"image": {"pullPolicy": "Sometimes"}}, "pullPolicy"),
    ({"webhooks": {"signingSecret": "not-a-standard-webhooks-secret"}}, "signingSecret"),
    ({"scheduler": {"leaderElection": {"leaseSeconds": 1}}}, "leaseSeconds"),
    ({"admission": {"priorityClasses": {"preemptionPolicy": "Always"}}}, "preemptionPolicy"),
    ({"vectorizer": {"tolerations": [{"key": "x", "operator": "Maybe"}]}}, "operator"),
    # The former checkpoint path (read by no template) is refused, not silently ignored.
    ({"vectorizer": {"checkpoint": "/models/last.pt"}}, "checkpoint"),
    ({"vectorizer": {"model": {"name": "Icons V1"}}}, "name"),
    ({"vectorizer": {"model": {"name": "icons-v1", "sha256": "abc"}}}, "sha256"),
]


def test_bad_values_are_rejected_by_the_schema(helm_cluster: KubeCluster, namespace: str) -> None:
    steps = [
        {"action": "install", "release": f"bad-{i}", "values": values, "expect_error": True}
        for i, (values, _) in enumerate(BAD_VALUES)
    ]
    results = helmkit.helm(steps, cluster=helm_cluster, namespace=namespace)
    assert len(results) == len(BAD_VALUES)
    for (values, field), result in zip(BAD_VALUES, results, strict=True):
        assert isinstance(result, dict) and "error" in result, f"accepted: {values}"
        assert "schema" in result["error"], result["error"]
        assert field in result["error"], (field, result["error"])
    # Nothing reached the API server.
    apps = kubernetes.client.AppsV1Api(helm_cluster.api_client)
    assert apps.list_namespaced_deployment(namespace).items == []


def test_the_same_overrides_done_right_are_accepted(
    helm_cluster: KubeCluster, namespace: str
) -> None:
    good = {
        "gateway": {"replicaCount": 3, "autoscaling": {"enabled": False}},
        "vectorizer": {
            "gpu": {"count": 2},
            "tolerations": [{"key": "x", "operator": "Equal", "value": "y"}],
            "model": {"name": "icons-v1"},
        },
        "logging": {"level": "DEBUG"},
        "image": {"pullPolicy": "Always"},
        "webhooks": {"signingSecret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"},
        "postgresql": {"enabled": False},
        "externalDatabase": {"host": "db.internal", "password": "secret"},
    }
    (release,) = helmkit.install(helm_cluster, namespace, good, "good")
    assert release["info"]["status"] == "deployed"
    docs = helmkit.manifests(release["manifest"])
    (gateway,) = [
        d for d in docs if d["kind"] == "Deployment" and "gateway" in d["metadata"]["name"]
    ]
    assert gateway["spec"]["replicas"] == 3
    (scheduler,) = [
        d for d in docs if d["kind"] == "Deployment" and "scheduler" in d["metadata"]["name"]
    ]
    env = {
        e["name"]: e.get("value")
        for e in scheduler["spec"]["template"]["spec"]["containers"][0]["env"]
    }
    assert env["SUPERSVG_SCHEDULER_MODEL"] == "icons-v1"
    assert "SUPERSVG_SCHEDULER_MODEL_SHA256" not in env  # unpinned: the manifest's digest
    assert not [d for d in docs if d["kind"] == "HorizontalPodAutoscaler"]
