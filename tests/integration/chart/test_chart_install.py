"""The chart installed by real Helm into the mock API under several values sets.

Each scenario is installed once per module (``helm install``, no wait, hooks completed by
helmkit.HookDriver); the rendered manifests and hooks are validated against the Kubernetes
schemas (kubernetes-validate, strict) and checked for what the scenario must produce.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from typing import Any

import kubernetes
import pytest

from supersvg.operator.model import LABEL_MANAGED_BY, MANAGER
from tools.testing import helmkit
from tools.testing.kube.fixtures import CRD_PATH, KubeCluster, start_kube_api

RELEASE = "supersvg"

EXTERNAL = {
    "postgresql": {"enabled": False},
    "minio": {"enabled": False},
    "externalDatabase": {
        "host": "db.prod.internal",
        "user": "svg",
        "password": "p@ss word/1",
        "sslmode": "verify-full",
    },
    "objectStorage": {
        "endpoint": "s3.eu-west-1.amazonaws.com",
        "bucket": "supersvg-prod",
        "region": "eu-west-1",
        "existingSecret": "supersvg-s3",
    },
    "auth": {"existingSecret": "supersvg-auth"},
    "webhooks": {"existingSecret": "supersvg-webhooks", "existingSecretKey": "secret"},
}
SCENARIOS: dict[str, dict[str, Any]] = {
    "defaults": {},
    "external-stores": EXTERNAL,
    "gpu-off": {"vectorizer": {"gpu": {"enabled": False}}},
    # Ingress on, and the training Job (disabled by default) on.
    "ingress-training": {
        "training": {"enabled": True, "datasetClaim": "datasets"},
        "gateway": {
            "ingress": {
                "enabled": True,
                "className": "nginx",
                "hosts": [
                    {"host": "svg.example.com", "paths": [{"path": "/", "pathType": "Prefix"}]}
                ],
                "tls": [{"secretName": "svg-tls", "hosts": ["svg.example.com"]}],
            }
        },
    },
    "network-policies": {"networkPolicy": {"enabled": True}},
    # Several scheduler replicas, a capacity from the GPU nodes, Kueue, renamed classes.
    "ha-admission": {
        "scheduler": {"replicaCount": 2, "leaderElection": {"leaseSeconds": 20}},
        "admission": {
            "maxQueueSize": 300,
            "maxRunningAttempts": 8,
            "gpuCapacity": {"enabled": True, "nodeSelector": "pool=gpu", "refreshSeconds": 10},
            "priorityClasses": {"high": {"name": "svg-urgent", "value": 5000}},
            "kueue": {"queueName": "vectorize"},
        },
    },
    # Everything optional off: accounts and RBAC managed outside, no hooks, no autoscaling.
    "minimal": {
        **EXTERNAL,
        "serviceAccount": {"create": False},
        "rbac": {"create": False},
        "tests": {"enabled": False},
        "scheduler": {"migrations": {"enabled": False}, "metricsPort": 0},
        "gateway": {"autoscaling": {"enabled": False}, "podDisruptionBudget": {"enabled": False}},
        "operator": {"metricsPort": 0},
        "admission": {"priorityClasses": {"create": False}},
    },
}


class Rendered:
    """One installed scenario: Helm's release, and its objects by (kind, name)."""

    def __init__(self, namespace: str, release: dict[str, Any]) -> None:
        self.namespace = namespace
        self.release = release
        self.docs = helmkit.manifests(release["manifest"])
        self.hooks = [
            d for h in release.get("hooks") or [] for d in helmkit.manifests(h["manifest"])
        ]
        self.by_key = {(d["kind"], d["metadata"]["name"]): d for d in self.docs + self.hooks}
        #: Deployments found on the API server after the install.
        self.stored_deployments: set[str] = set()
        #: The release after `helm test`, for scenarios that run it.
        self.tested: dict[str, Any] | None = None

    def get(self, kind: str, component: str) -> dict[str, Any]:
        name = f"{RELEASE}-{component}" if component else RELEASE
        return self.by_key[(kind, name)]

    def kinds(self) -> set[str]:
        return {kind for kind, _ in self.by_key}

    def of_kind(self, kind: str) -> list[dict[str, Any]]:
        return [d for (k, _), d in self.by_key.items() if k == kind]


@pytest.fixture(scope="module")
def render(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[[str], Rendered]]:
    """Install a scenario once, each into a mock API of its own, and keep what Helm rendered."""
    done: dict[str, Rendered] = {}

    def _render(scenario: str) -> Rendered:
        if scenario not in done:
            cluster = start_kube_api(tmp_path_factory.mktemp(scenario), with_crd=CRD_PATH.exists())
            try:
                helmkit.prepare_for_helm(cluster)
                namespace = f"scenario-{scenario}"
                helmkit.create_namespace(cluster, namespace)
                # The defaults also go through `helm test`.
                then = [{"action": "test", "release": RELEASE}] if scenario == "defaults" else []
                release, *tested = helmkit.install(
                    cluster, namespace, SCENARIOS[scenario], RELEASE, then=then
                )
                rendered = Rendered(namespace, release)
                rendered.tested = tested[0] if tested else None
                apps = kubernetes.client.AppsV1Api(cluster.api_client)
                rendered.stored_deployments = {
                    d.metadata.name for d in apps.list_namespaced_deployment(namespace).items
                }
            finally:
                cluster.stop()
            done[scenario] = rendered
        return done[scenario]

    yield _render


def _env(container: dict[str, Any]) -> dict[str, Any]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container.get("env", [])}


def _pod_spec(doc: dict[str, Any]) -> dict[str, Any]:
    return doc["spec"] if doc["kind"] == "Pod" else doc["spec"]["template"]["spec"]


def _workloads(r: Rendered) -> list[dict[str, Any]]:
    return [d for d in r.docs + r.hooks if d["kind"] in {"Deployment", "StatefulSet", "Job", "Pod"}]


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_every_rendered_manifest_is_valid_kubernetes(
    render: Callable[[str], Rendered], scenario: str
) -> None:
    r = render(scenario)
    assert r.release["info"]["status"] == "deployed"
    assert len(r.docs) >= (7 if scenario == "minimal" else 15)
    for doc in r.docs + r.hooks:
        helmkit.validate_strict(doc)


def test_the_charts_crds_are_valid_kubernetes() -> None:
    crds = [
        d
        for f in sorted((helmkit.CHART / "crds").glob("*.yaml"))
        for d in helmkit.manifests(f.read_text())
    ]
    assert {d["kind"] for d in crds} == {"CustomResourceDefinition"}
    for crd in crds:
        helmkit.validate_strict(crd)


def test_strict_validation_rejects_unknown_fields(render: Callable[[str], Rendered]) -> None:
    deployment = json.loads(json.dumps(render("defaults").get("Deployment", "gateway")))
    deployment["spec"]["template"]["spec"]["containers"][0]["livenesProbe"] = {}
    with pytest.raises(Exception, match="livenesProbe"):
        helmkit.validate_strict(deployment)


def test_defaults_install_the_whole_service(render: Callable[[str], Rendered]) -> None:
    r = render("defaults")
    for component in ("gateway", "scheduler", "operator"):
        r.get("Deployment", component)
    for component in ("postgresql", "minio"):
        r.get("StatefulSet", component)
    assert {"HorizontalPodAutoscaler", "PodDisruptionBudget", "Secret"} <= r.kinds()
    assert not {"Ingress", "NetworkPolicy"} & r.kinds()
    assert ("Job", f"{RELEASE}-training") not in r.by_key
    # Helm created the objects on the API server, not only rendered them.
    assert r.stored_deployments == {
        f"{RELEASE}-gateway",
        f"{RELEASE}-scheduler",
        f"{RELEASE}-operator",
    }


def _container(r: Rendered, component: str) -> dict[str, Any]:
    return r.get("Deployment", component)["spec"]["template"]["spec"]["containers"][0]


def test_component_wiring(render: Callable[[str], Rendered]) -> None:
    r = render("defaults")
    gateway = _container(r, "gateway")
    scheduler = _container(r, "scheduler")
    operator_dep = r.get("Deployment", "operator")
    operator = _container(r, "operator")

    assert gateway["ports"][0]["containerPort"] == 8080
    assert gateway["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert gateway["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert _env(gateway)["SUPERSVG_GATEWAY_SCHEDULER_ADDR"] == f"{RELEASE}-scheduler:50051"
    storage = [
        {"configMapRef": {"name": f"{RELEASE}-storage"}},
        {"secretRef": {"name": f"{RELEASE}-storage"}},
    ]
    assert gateway["envFrom"] == storage
    assert scheduler["envFrom"] == storage
    assert r.get("ConfigMap", "storage")["data"] == {
        "SUPERSVG_STORAGE_BACKEND": "s3",
        "SUPERSVG_S3_ENDPOINT": f"{RELEASE}-minio:9000",
        "SUPERSVG_S3_BUCKET": "supersvg",
        "SUPERSVG_S3_SECURE": "false",
        "SUPERSVG_S3_REGION": "us-east-1",
    }

    for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
        assert scheduler[probe]["grpc"] == {"port": 50051}
    assert {p["containerPort"] for p in scheduler["ports"]} == {50051, 9090}
    assert _env(scheduler)["SUPERSVG_SCHEDULER_METRICS_ADDR"] == "0.0.0.0:9090"
    env = _env(scheduler)
    assert env["SUPERSVG_SCHEDULER_EXECUTOR"] == "kubernetes"
    assert env["SUPERSVG_SCHEDULER_DATABASE_URL"]["secretKeyRef"] == {
        "name": RELEASE,
        "key": "database-url",
    }
    assert env["SUPERSVG_SCHEDULER_RETENTION_SECONDS"] == str(7 * 86400)
    assert env["SUPERSVG_SCHEDULER_K8S_NAMESPACE"] == {
        "fieldRef": {"fieldPath": "metadata.namespace"}
    }
    assert env["SUPERSVG_SCHEDULER_K8S_ACTIVE_DEADLINE_SECONDS"] == "1800"
    assert env["SUPERSVG_SCHEDULER_ADVERTISE_ADDR"] == f"{RELEASE}-scheduler:50051"
    assert json.loads(env["SUPERSVG_SCHEDULER_K8S_RESOURCES"]) == {
        "requests": {"cpu": "2", "memory": "8Gi"},
        "limits": {"memory": "16Gi", "nvidia.com/gpu": "1"},
    }
    assert json.loads(env["SUPERSVG_SCHEDULER_K8S_TOLERATIONS"]) == [
        {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}
    ]

    assert operator_dep["spec"]["replicas"] == 1
    assert operator_dep["spec"]["strategy"] == {"type": "Recreate"}
    assert operator["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "health"}
    assert {p["containerPort"] for p in operator["ports"]} == {8081, 9090}
    env = _env(operator)
    assert env["SUPERSVG_OPERATOR_WORKER_IMAGE"] == "ghcr.io/supersvg/supersvg-vectorizer:0.1.0"
    assert env["SUPERSVG_OPERATOR_GPU_RESOURCE"] == "nvidia.com/gpu"
    assert env["SUPERSVG_OPERATOR_WORKER_SERVICE_ACCOUNT"] == f"{RELEASE}-vectorizer"
    assert env["SUPERSVG_OPERATOR_STORAGE_CONFIGMAP"] == f"{RELEASE}-storage"
    assert env["SUPERSVG_OPERATOR_STORAGE_SECRET"] == f"{RELEASE}-storage"
    assert env["SUPERSVG_OPERATOR_SCHEDULER_ADDR"] == f"{RELEASE}-scheduler:50051"
    assert env["SUPERSVG_OPERATOR_NAMESPACE"] == {"fieldRef": {"fieldPath": "metadata.namespace"}}


def test_hooks_migrate_the_database_and_create_the_bucket(
    render: Callable[[str], Rendered],
) -> None:
    r = render("defaults")
    hooks = {h["name"]: h for h in r.release["hooks"]}
    migrations = hooks[f"{RELEASE}-migrations"]
    assert set(migrations["events"]) == {"post-install", "pre-upgrade"}
    assert migrations["last_run"]["phase"] == "Succeeded"
    job = r.get("Job", "migrations")
    container = job["spec"]["template"]["spec"]["containers"][0]
    assert container["command"] == ["supersvg-scheduler", "migrate"]
    assert "SUPERSVG_SCHEDULER_DATABASE_URL" in _env(container)
    bucket = hooks[f"{RELEASE}-minio-bucket"]
    assert set(bucket["events"]) == {"post-install", "post-upgrade"}


def _data(secret: dict[str, Any]) -> dict[str, str]:
    return {k: base64.b64decode(v).decode() for k, v in secret["data"].items()}


def test_generated_credentials_are_consistent(render: Callable[[str], Rendered]) -> None:
    r = render("defaults")
    data = _data(r.get("Secret", ""))
    assert data["database-url"] == (
        f"postgresql://supersvg:{data['postgres-password']}@{RELEASE}-postgresql:5432/supersvg"
        "?sslmode=disable"
    )
    assert data["bootstrap-token"].startswith("ssvg_") and len(data["bootstrap-token"]) == 48
    assert data["webhook-secret"].startswith("whsec_")
    assert len(base64.b64decode(data["webhook-secret"].removeprefix("whsec_"))) == 32
    storage = _data(r.get("Secret", "storage"))
    assert set(storage) == {"SUPERSVG_S3_ACCESS_KEY", "SUPERSVG_S3_SECRET_KEY"}
    assert len(storage["SUPERSVG_S3_SECRET_KEY"]) == 40
    # MinIO's root account is the one the services use.
    minio = r.get("StatefulSet", "minio")["spec"]["template"]["spec"]["containers"][0]
    assert _env(minio)["MINIO_ROOT_USER"]["secretKeyRef"] == {
        "name": f"{RELEASE}-storage",
        "key": "SUPERSVG_S3_ACCESS_KEY",
    }


def test_external_stores(render: Callable[[str], Rendered]) -> None:
    r = render("external-stores")
    assert not r.of_kind("StatefulSet")
    assert ("Job", f"{RELEASE}-minio-bucket") not in r.by_key
    # Only the database URL is the chart's; the rest comes from the existing Secrets.
    assert _data(r.get("Secret", "")) == {
        "database-url": "postgresql://svg:p%40ss%20word%2F1@db.prod.internal:5432/supersvg"
        "?sslmode=verify-full"
    }
    assert ("Secret", f"{RELEASE}-storage") not in r.by_key
    assert r.get("ConfigMap", "storage")["data"] == {
        "SUPERSVG_STORAGE_BACKEND": "s3",
        "SUPERSVG_S3_ENDPOINT": "s3.eu-west-1.amazonaws.com",
        "SUPERSVG_S3_BUCKET": "supersvg-prod",
        "SUPERSVG_S3_SECURE": "true",
        "SUPERSVG_S3_REGION": "eu-west-1",
    }
    scheduler = _container(r, "scheduler")
    assert {"secretRef": {"name": "supersvg-s3"}} in scheduler["envFrom"]
    env = _env(scheduler)
    assert env["SUPERSVG_SCHEDULER_BOOTSTRAP_TOKEN"]["secretKeyRef"] == {
        "name": "supersvg-auth",
        "key": "bootstrap-token",
    }
    assert env["SUPERSVG_SCHEDULER_CALLBACK_SECRET"]["secretKeyRef"] == {
        "name": "supersvg-webhooks",
        "key": "secret",
    }
    assert _env(_container(r, "operator"))["SUPERSVG_OPERATOR_STORAGE_SECRET"] == "supersvg-s3"


def test_minimal_install_leaves_out_every_optional_object(
    render: Callable[[str], Rendered],
) -> None:
    r = render("minimal")
    assert r.kinds() == {"ConfigMap", "Secret", "Service", "Deployment"}
    assert not r.release.get("hooks")
    assert r.get("Deployment", "gateway")["spec"]["replicas"] == 2
    operator = _container(r, "operator")
    assert [p["containerPort"] for p in operator["ports"]] == [8081]
    scheduler = _container(r, "scheduler")
    assert [p["containerPort"] for p in scheduler["ports"]] == [50051]
    assert "SUPERSVG_SCHEDULER_METRICS_ADDR" not in _env(scheduler)


def test_gpu_off_runs_cpu_workers(render: Callable[[str], Rendered]) -> None:
    r = render("gpu-off")
    assert _env(_container(r, "operator"))["SUPERSVG_OPERATOR_WORKER_IMAGE"] == (
        "ghcr.io/supersvg/supersvg-vectorizer-cpu:0.1.0"
    )
    env = _env(_container(r, "scheduler"))
    assert env["SUPERSVG_SCHEDULER_WORKER_DEVICE"] == "cpu"
    assert json.loads(env["SUPERSVG_SCHEDULER_K8S_RESOURCES"]) == {
        "requests": {"cpu": "2", "memory": "8Gi"},
        "limits": {"memory": "16Gi"},
    }
    assert "nvidia.com/gpu" not in r.release["info"]["notes"]


def test_ingress_routes_to_the_gateway_service(render: Callable[[str], Rendered]) -> None:
    r = render("ingress-training")
    ingress = r.get("Ingress", "gateway")
    service = r.get("Service", "gateway")
    assert ingress["spec"]["ingressClassName"] == "nginx"
    assert ingress["spec"]["tls"] == [{"secretName": "svg-tls", "hosts": ["svg.example.com"]}]
    (rule,) = ingress["spec"]["rules"]
    assert rule["host"] == "svg.example.com"
    backend = rule["http"]["paths"][0]["backend"]["service"]
    assert backend["name"] == service["metadata"]["name"]
    assert backend["port"]["name"] in {p["name"] for p in service["spec"]["ports"]}
    assert "https://svg.example.com/api/v1/health" in r.release["info"]["notes"]


def _matches(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())


def test_network_policies_select_the_right_pods(render: Callable[[str], Rendered]) -> None:
    r = render("network-policies")
    policies = {
        p["metadata"]["name"].removeprefix(f"{RELEASE}-"): p for p in r.of_kind("NetworkPolicy")
    }
    assert set(policies) == {
        "gateway",
        "scheduler",
        "operator",
        "vectorizer",
        "postgresql",
        "minio",
    }
    pod_labels = {
        d["metadata"]["name"].removeprefix(f"{RELEASE}-"): d["spec"]["template"]["metadata"][
            "labels"
        ]
        for d in r.docs + r.hooks
        if d["kind"] in {"Deployment", "StatefulSet", "Job"}
    }
    # The labels the operator gives every worker pod.
    pod_labels["vectorizer"] = {LABEL_MANAGED_BY: MANAGER}

    def admitted(policy: str) -> set[str]:
        peers = [
            p for rule in policies[policy]["spec"].get("ingress", []) for p in rule.get("from", [])
        ]
        return {
            name
            for name, labels in pod_labels.items()
            for peer in peers
            if _matches(peer["podSelector"]["matchLabels"], labels)
        }

    for name, policy in policies.items():
        selector = policy["spec"]["podSelector"]["matchLabels"]
        assert [n for n, labels in pod_labels.items() if _matches(selector, labels)] == [name]
    assert admitted("scheduler") == {"gateway", "vectorizer"}
    assert admitted("postgresql") == {"scheduler", "migrations"}
    assert admitted("minio") == {"gateway", "scheduler", "operator", "vectorizer", "minio-bucket"}
    assert "ingress" not in policies["vectorizer"]["spec"]  # workers accept nothing
    assert policies["gateway"]["spec"]["ingress"][0].get("from") is None  # public API


@pytest.mark.parametrize("scenario", ["defaults", "external-stores", "ingress-training"])
def test_every_container_is_locked_down(render: Callable[[str], Rendered], scenario: str) -> None:
    r = render(scenario)
    workloads = _workloads(r)
    assert len(workloads) >= 4
    for doc in workloads:
        spec = _pod_spec(doc)
        where = f"{doc['kind']}/{doc['metadata']['name']}"
        assert spec["securityContext"]["runAsNonRoot"] is True, where
        assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}, where
        for container in spec.get("initContainers", []) + spec["containers"]:
            sc = container["securityContext"]
            assert sc["readOnlyRootFilesystem"] is True, where
            assert sc["allowPrivilegeEscalation"] is False, where
            assert sc["capabilities"] == {"drop": ["ALL"]}, where
            assert sc["runAsNonRoot"] is True, where
            assert sc["seccompProfile"] == {"type": "RuntimeDefault"}, where
            # No shell wrappers: the command is the program itself.
            assert not container.get("command", ["-"])[0].endswith("sh"), where
        # Only the scheduler and the operator get an API token.
        account = spec.get("serviceAccountName", "")
        mounts_token = spec.get("automountServiceAccountToken", True)
        if account not in {f"{RELEASE}-scheduler", f"{RELEASE}-operator"}:
            assert mounts_token is False, where


def _rules(role: dict[str, Any]) -> set[tuple[str, str, str]]:
    return {
        (group, resource, verb)
        for rule in role["rules"]
        for group in rule["apiGroups"]
        for resource in rule["resources"]
        for verb in rule["verbs"]
    }


def _expand(group: str, resources: list[str], verbs: list[str]) -> set[tuple[str, str, str]]:
    return {(group, r, v) for r in resources for v in verbs}


def test_rbac_is_exactly_the_minimum(render: Callable[[str], Rendered]) -> None:
    r = render("defaults")
    roles = {d["metadata"]["name"]: d for d in r.of_kind("Role")}
    assert set(roles) == {f"{RELEASE}-operator", f"{RELEASE}-scheduler"}
    assert _rules(roles[f"{RELEASE}-operator"]) == (
        _expand(
            "supersvg.io", ["vectorizejobs"], ["get", "list", "watch", "patch", "update", "delete"]
        )
        | _expand("supersvg.io", ["vectorizejobs/status"], ["get", "patch", "update"])
        | _expand("supersvg.io", ["vectorizejobs/finalizers"], ["update"])
        | _expand("", ["pods"], ["get", "list", "watch", "create", "delete", "patch"])
        | _expand("", ["events"], ["create", "patch"])
    )
    assert _rules(roles[f"{RELEASE}-scheduler"]) == _expand(
        "supersvg.io", ["vectorizejobs"], ["get", "list", "watch", "create", "patch", "delete"]
    ) | _expand("", ["secrets"], ["create", "patch"]) | _expand(
        "coordination.k8s.io", ["leases"], ["get", "create", "update"]
    )
    bindings = {d["metadata"]["name"]: d for d in r.of_kind("RoleBinding")}
    for component in ("operator", "scheduler"):
        binding = bindings[f"{RELEASE}-{component}"]
        assert binding["roleRef"] == {
            "apiGroup": "rbac.authorization.k8s.io",
            "kind": "Role",
            "name": f"{RELEASE}-{component}",
        }
        assert binding["subjects"] == [
            {"kind": "ServiceAccount", "name": f"{RELEASE}-{component}", "namespace": r.namespace}
        ]
    assert len(bindings) == 2
    assert not r.of_kind("ClusterRoleBinding")

    accounts = {d["metadata"]["name"]: d for d in r.of_kind("ServiceAccount")}
    vectorizer = accounts[f"{RELEASE}-vectorizer"]
    assert vectorizer["automountServiceAccountToken"] is False
    assert all(
        s["name"] != vectorizer["metadata"]["name"]
        for b in bindings.values()
        for s in b["subjects"]
    )

    cluster_roles = {d["metadata"]["name"]: d for d in r.of_kind("ClusterRole")}
    viewer = cluster_roles[f"{r.namespace}-{RELEASE}-vectorizejob-viewer"]
    editor = cluster_roles[f"{r.namespace}-{RELEASE}-vectorizejob-editor"]
    assert set(cluster_roles) == {viewer["metadata"]["name"], editor["metadata"]["name"]}
    assert viewer["metadata"]["labels"]["rbac.authorization.k8s.io/aggregate-to-view"] == "true"
    assert editor["metadata"]["labels"]["rbac.authorization.k8s.io/aggregate-to-edit"] == "true"
    assert _rules(viewer) == _expand(
        "supersvg.io", ["vectorizejobs", "vectorizejobs/status"], ["get", "list", "watch"]
    )
    assert _rules(editor) == _expand(
        "supersvg.io",
        ["vectorizejobs"],
        ["get", "list", "watch", "create", "update", "patch", "delete", "deletecollection"],
    ) | _expand("supersvg.io", ["vectorizejobs/status"], ["get"])


def test_training_job_runs_on_a_gpu_with_the_dataset(render: Callable[[str], Rendered]) -> None:
    job = render("ingress-training").get("Job", "training")
    spec = job["spec"]["template"]["spec"]
    (container,) = spec["containers"]
    assert container["command"] == ["supersvg", "train"]
    assert container["resources"]["limits"]["nvidia.com/gpu"] == "1"
    assert container["resources"]["requests"]["nvidia.com/gpu"] == "1"
    assert container["image"] == "ghcr.io/supersvg/supersvg-vectorizer:0.1.0"
    volumes = {v["name"]: v for v in spec["volumes"]}
    assert volumes["data"]["persistentVolumeClaim"] == {"claimName": "datasets"}
    assert {"name": "data", "mountPath": "/data"} in container["volumeMounts"]
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in spec[
        "tolerations"
    ]


def test_helm_test_checks_health_and_submits_a_job(render: Callable[[str], Rendered]) -> None:
    tested = render("defaults").tested
    assert tested is not None
    (hook,) = [h for h in tested["hooks"] if "test" in h["events"]]
    assert hook["last_run"]["phase"] == "Succeeded"
    (pod,) = helmkit.manifests(hook["manifest"])
    container = pod["spec"]["containers"][0]
    script = container["command"][-1]
    assert '"/health"' in script and '"/vectorize/jobs"' in script
    env = _env(container)
    assert env["BASE_URL"] == f"http://{RELEASE}-gateway:80"
    assert env["API_TOKEN"]["secretKeyRef"] == {"name": RELEASE, "key": "bootstrap-token"}
    # The smoke script itself is valid Python.
    compile(script, "smoke.py", "exec")


def test_upgrade_keeps_generated_credentials(helm_cluster: KubeCluster, namespace: str) -> None:
    installed, upgraded = helmkit.install(
        helm_cluster,
        namespace,
        {},
        RELEASE,
        then=[{"action": "upgrade", "release": RELEASE, "values": {"logging": {"level": "DEBUG"}}}],
    )
    assert upgraded["version"] == 2

    def secrets(release: dict[str, Any]) -> dict[str, dict[str, str]]:
        docs = helmkit.manifests(release["manifest"])
        return {d["metadata"]["name"]: d["data"] for d in docs if d["kind"] == "Secret"}

    # Every generated credential (database, MinIO, bootstrap token, webhook secret) is kept.
    assert set(secrets(installed)) == {RELEASE, f"{RELEASE}-storage"}
    assert secrets(upgraded) == secrets(installed)
    gateway = next(
        d
        for d in helmkit.manifests(upgraded["manifest"])
        if d["kind"] == "Deployment" and d["metadata"]["name"] == f"{RELEASE}-gateway"
    )
    assert (
        _env(gateway["spec"]["template"]["spec"]["containers"][0])["SUPERSVG_LOG_LEVEL"] == "DEBUG"
    )


def test_admission_and_ha_values(render: Callable[[str], Rendered]) -> None:
    defaults = render("defaults")
    classes = {d["metadata"]["name"]: d for d in defaults.of_kind("PriorityClass")}
    assert {n: (c["value"], c["preemptionPolicy"]) for n, c in classes.items()} == {
        "supersvg-low": (1000, "Never"),
        "supersvg-normal": (2000, "Never"),
        "supersvg-high": (3000, "Never"),
    }
    assert not any(c["globalDefault"] for c in classes.values())
    env = _env(_container(defaults, "scheduler"))
    assert json.loads(env["SUPERSVG_SCHEDULER_K8S_PRIORITY_CLASSES"]) == {
        "low": "supersvg-low",
        "normal": "supersvg-normal",
        "high": "supersvg-high",
    }
    assert env["SUPERSVG_SCHEDULER_LEADER_ELECTION"] == "kubernetes"
    assert env["SUPERSVG_SCHEDULER_K8S_MAX_RUNNING_ATTEMPTS"] == "0"
    assert env["SUPERSVG_SCHEDULER_K8S_GPU_CAPACITY"] == "false"
    # One replica: no PodDisruptionBudget (it would block every drain).
    assert ("PodDisruptionBudget", f"{RELEASE}-scheduler") not in defaults.by_key
    nodes_roles = [d for d in defaults.of_kind("ClusterRole") if "-nodes" in d["metadata"]["name"]]
    assert not nodes_roles

    r = render("ha-admission")
    assert r.get("Deployment", "scheduler")["spec"]["replicas"] == 2
    pdb = r.get("PodDisruptionBudget", "scheduler")
    assert pdb["spec"]["minAvailable"] == 1
    assert (
        pdb["spec"]["selector"]["matchLabels"]
        == (r.get("Deployment", "scheduler")["spec"]["selector"]["matchLabels"])
    )
    env = _env(_container(r, "scheduler"))
    assert env["SUPERSVG_SCHEDULER_MAX_QUEUE_SIZE"] == "300"
    assert env["SUPERSVG_SCHEDULER_K8S_MAX_RUNNING_ATTEMPTS"] == "8"
    assert env["SUPERSVG_SCHEDULER_K8S_GPU_CAPACITY"] == "true"
    assert env["SUPERSVG_SCHEDULER_K8S_GPU_NODE_SELECTOR"] == "pool=gpu"
    assert env["SUPERSVG_SCHEDULER_K8S_CAPACITY_REFRESH_SECONDS"] == "10"
    assert env["SUPERSVG_SCHEDULER_K8S_KUEUE_QUEUE_NAME"] == "vectorize"
    assert env["SUPERSVG_SCHEDULER_LEADER_LEASE_SECONDS"] == "20"
    assert json.loads(env["SUPERSVG_SCHEDULER_K8S_PRIORITY_CLASSES"])["high"] == "svg-urgent"
    assert r.by_key[("PriorityClass", "svg-urgent")]["value"] == 5000
    # Reading the GPU nodes: list on nodes, nothing more, bound to the scheduler's account.
    (role,) = [d for d in r.of_kind("ClusterRole") if d["metadata"]["name"].endswith("-nodes")]
    assert _rules(role) == {("", "nodes", "list")}
    (binding,) = r.of_kind("ClusterRoleBinding")
    assert binding["roleRef"]["name"] == role["metadata"]["name"]
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": f"{RELEASE}-scheduler", "namespace": r.namespace}
    ]
