"""The chart's internal mutual TLS and its Ingress limits, installed by real Helm into the mock
API: the documented production values (docs/operations.md), cert-manager mode, and an upgrade.

The chart-generated certificates are used for a real mTLS handshake on loopback; the
Ingress body-size and timeout annotations are checked against the gateway settings the
same render gives (the 20 MB upload itself is in tests/integration/service).
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID
from grpc_health.v1 import health_pb2, health_pb2_grpc

from supersvg.common.grpc import create_server
from supersvg.common.tls import TlsFiles
from supersvg.gateway.app import FORM_OVERHEAD_BYTES
from tools.testing import helmkit
from tools.testing.kube.fixtures import CRD_PATH, KubeCluster, start_kube_api

RELEASE = "supersvg"
NAMESPACE = "prod"
MIB = 1024 * 1024


class Release:
    def __init__(self, release: dict[str, Any]) -> None:
        self.release = release
        self.docs = helmkit.manifests(release["manifest"])
        self.by_key = {(d["kind"], d["metadata"]["name"]): d for d in self.docs}

    def get(self, kind: str, component: str) -> dict[str, Any]:
        return self.by_key[(kind, f"{RELEASE}-{component}")]

    def container(self, component: str) -> dict[str, Any]:
        return self.get("Deployment", component)["spec"]["template"]["spec"]["containers"][0]

    def env(self, component: str) -> dict[str, Any]:
        return {
            e["name"]: e.get("value", e.get("valueFrom")) for e in self.container(component)["env"]
        }

    def secret(self, component: str) -> dict[str, bytes]:
        data = self.get("Secret", component)["data"]
        return {k: base64.b64decode(v) for k, v in data.items()}


@pytest.fixture(scope="module")
def install(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., list[Release]]]:
    def _install(values: dict[str, Any], then: list[dict[str, Any]] | None = None) -> list[Release]:
        cluster: KubeCluster = start_kube_api(
            tmp_path_factory.mktemp("kube"), with_crd=CRD_PATH.exists()
        )
        try:
            helmkit.prepare_for_helm(cluster)
            helmkit.create_namespace(cluster, NAMESPACE)
            results = helmkit.install(cluster, NAMESPACE, values, RELEASE, then=then or [])
        finally:
            cluster.stop()
        return [Release(r) for r in results if isinstance(r, dict) and "manifest" in r]

    yield _install


@pytest.fixture(scope="module")
def production(install: Callable[..., list[Release]]) -> Release:
    (release,) = install(helmkit.documented_production_values())
    return release


def test_production_values_render_valid_kubernetes(production: Release) -> None:
    assert production.release["info"]["status"] == "deployed"
    for doc in production.docs:
        helmkit.validate_strict(doc)


def test_ingress_body_size_and_timeouts_come_from_the_gateway_limits(production: Release) -> None:
    ingress = production.get("Ingress", "gateway")
    annotations = ingress["metadata"]["annotations"]
    gateway = production.env("gateway")
    max_upload = int(gateway["SUPERSVG_GATEWAY_MAX_UPLOAD_BYTES"])
    size = annotations["nginx.ingress.kubernetes.io/proxy-body-size"]
    assert re.fullmatch(r"[0-9]+m", size), size
    proxy_limit = int(size[:-1]) * MIB
    # Every body the gateway reads (image + form overhead) passes the proxy, with room for an
    # oversized image to reach the gateway and get the API's JSON 413, not nginx's HTML one.
    assert proxy_limit >= max_upload + FORM_OVERHEAD_BYTES + MIB
    assert proxy_limit < max_upload + FORM_OVERHEAD_BYTES + 2 * MIB
    timeout = gateway["SUPERSVG_GATEWAY_BODY_TIMEOUT_SECONDS"]
    assert annotations["nginx.ingress.kubernetes.io/proxy-read-timeout"] == timeout
    assert annotations["nginx.ingress.kubernetes.io/proxy-send-timeout"] == timeout


def test_ingress_annotations_follow_the_values_and_user_keys_win(
    install: Callable[..., list[Release]],
) -> None:
    ingress = {
        "enabled": True,
        "annotations": {"nginx.ingress.kubernetes.io/proxy-read-timeout": "900"},
    }
    (release,) = install(
        {"gateway": {"maxUploadBytes": 50 * MIB, "bodyTimeoutSeconds": 120, "ingress": ingress}}
    )
    annotations = release.get("Ingress", "gateway")["metadata"]["annotations"]
    # 50 MiB + 256 KiB rounds up to 51 MiB, plus 1 MiB.
    assert annotations["nginx.ingress.kubernetes.io/proxy-body-size"] == "52m"
    assert annotations["nginx.ingress.kubernetes.io/proxy-send-timeout"] == "120"
    assert annotations["nginx.ingress.kubernetes.io/proxy-read-timeout"] == "900"
    assert release.env("gateway")["SUPERSVG_GATEWAY_MAX_UPLOAD_BYTES"] == str(50 * MIB)


def test_components_mount_their_certificates(production: Release) -> None:
    mounts = {
        "scheduler": f"{RELEASE}-grpc-server-tls",
        "gateway": f"{RELEASE}-grpc-client-tls",
    }
    for component, secret in mounts.items():
        prefix = f"SUPERSVG_{component.upper()}_"
        env = production.env(component)
        assert env[prefix + "TLS_CA_FILE"] == "/etc/supersvg/tls/ca.crt"
        assert env[prefix + "TLS_CERT_FILE"] == "/etc/supersvg/tls/tls.crt"
        assert env[prefix + "TLS_KEY_FILE"] == "/etc/supersvg/tls/tls.key"
        pod = production.get("Deployment", component)["spec"]["template"]["spec"]
        volume = {v["name"]: v for v in pod["volumes"]}["tls"]
        assert volume["secret"]["secretName"] == secret
        mount = {m["name"]: m for m in pod["containers"][0]["volumeMounts"]}["tls"]
        assert mount["mountPath"] == "/etc/supersvg/tls" and mount["readOnly"]
    # Workers: the operator mounts the client Secret into each pod.
    assert production.env("operator")["SUPERSVG_OPERATOR_WORKER_TLS_SECRET"] == mounts["gateway"]
    # Probes cannot present a certificate: they use the plaintext health-only port.
    scheduler = production.container("scheduler")
    assert production.env("scheduler")["SUPERSVG_SCHEDULER_HEALTH_LISTEN_ADDR"] == "0.0.0.0:50052"
    for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
        assert scheduler[probe]["grpc"]["port"] == 50052
    assert {"name": "grpc-health", "containerPort": 50052, "protocol": "TCP"} in scheduler["ports"]


def _sans(pem: bytes) -> list[str]:
    cert = x509.load_pem_x509_certificate(pem)
    return cert.extensions.get_extension_for_class(
        x509.SubjectAlternativeName
    ).value.get_values_for_type(x509.DNSName)


async def test_generated_certificates_make_a_working_mtls_pair(
    production: Release, tmp_path: Path
) -> None:
    server, client = production.secret("grpc-server-tls"), production.secret("grpc-client-tls")
    assert server["ca.crt"] == client["ca.crt"]
    host = f"{RELEASE}-scheduler"
    assert _sans(server["tls.crt"]) == [
        host,
        f"{host}.{NAMESPACE}",
        f"{host}.{NAMESPACE}.svc",
        f"{host}.{NAMESPACE}.svc.cluster.local",
    ]
    usages = x509.load_pem_x509_certificate(client["tls.crt"]).extensions.get_extension_for_class(
        x509.ExtendedKeyUsage
    )
    assert ExtendedKeyUsageOID.CLIENT_AUTH in usages.value
    # The scheduler's address as the chart gives it matches the certificate's first name.
    assert production.env("gateway")["SUPERSVG_GATEWAY_SCHEDULER_ADDR"] == f"{host}:50051"

    folder = tmp_path / "server"
    folder.mkdir()
    for name, data in server.items():
        (folder / name).write_bytes(data)
    srv, port, health = create_server("127.0.0.1:0", tls=TlsFiles.in_dir(folder))
    await srv.start()
    await health.set_serving(True)
    try:
        creds = grpc.ssl_channel_credentials(client["ca.crt"], client["tls.key"], client["tls.crt"])
        options = [("grpc.ssl_target_name_override", host), ("grpc.use_local_subchannel_pool", 1)]
        async with grpc.aio.secure_channel(f"127.0.0.1:{port}", creds, options=options) as ch:
            resp = await health_pb2_grpc.HealthStub(ch).Check(
                health_pb2.HealthCheckRequest(), timeout=5
            )
        assert resp.status == health_pb2.HealthCheckResponse.SERVING
        # The CA alone (no client certificate) is refused.
        bare = grpc.ssl_channel_credentials(client["ca.crt"])
        async with grpc.aio.secure_channel(f"127.0.0.1:{port}", bare, options=options) as ch:
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await health_pb2_grpc.HealthStub(ch).Check(
                    health_pb2.HealthCheckRequest(), timeout=5
                )
        assert err.value.code() == grpc.StatusCode.UNAVAILABLE
    finally:
        await srv.stop(0)


def test_generated_certificates_survive_an_upgrade(install: Callable[..., list[Release]]) -> None:
    values = {"tls": {"internal": {"enabled": True}}}
    installed, upgraded = install(
        values, then=[{"action": "upgrade", "release": RELEASE, "values": values}]
    )
    for component in ("grpc-server-tls", "grpc-client-tls"):
        assert upgraded.secret(component) == installed.secret(component)


def test_cert_manager_issues_and_renews(install: Callable[..., list[Release]]) -> None:
    cm = {"enabled": True, "duration": "720h", "renewBefore": "240h"}
    (release,) = install({"tls": {"internal": {"enabled": True, "certManager": cm}}})
    kinds = {kind for kind, _ in release.by_key}
    assert ("Secret", f"{RELEASE}-grpc-server-tls") not in release.by_key
    assert {"Issuer", "Certificate"} <= kinds
    ca = release.get("Certificate", "internal-ca")["spec"]
    assert ca["isCA"] and ca["privateKey"]["rotationPolicy"] == "Never"
    assert ca["issuerRef"]["name"] == release.get("Issuer", "selfsigned")["metadata"]["name"]
    assert release.get("Issuer", "internal-ca")["spec"]["ca"]["secretName"] == ca["secretName"]
    server = release.get("Certificate", "grpc-server-tls")["spec"]
    client = release.get("Certificate", "grpc-client-tls")["spec"]
    assert server["secretName"] == f"{RELEASE}-grpc-server-tls"
    assert client["secretName"] == f"{RELEASE}-grpc-client-tls"
    assert "server auth" in server["usages"] and "client auth" in client["usages"]
    assert f"{RELEASE}-scheduler.{NAMESPACE}.svc" in server["dnsNames"]
    for spec in (server, client):
        assert (spec["duration"], spec["renewBefore"]) == ("720h", "240h")
        assert spec["issuerRef"] == {
            "name": f"{RELEASE}-internal-ca",
            "kind": "Issuer",
            "group": "cert-manager.io",
        }

    # An existing issuer replaces the chart's CA.
    ref = {"name": "corp-ca", "kind": "ClusterIssuer"}
    (own,) = install(
        {"tls": {"internal": {"enabled": True, "certManager": {"enabled": True, "issuerRef": ref}}}}
    )
    assert ("Certificate", f"{RELEASE}-internal-ca") not in own.by_key
    assert own.get("Certificate", "grpc-server-tls")["spec"]["issuerRef"] == {
        **ref,
        "group": "cert-manager.io",
    }


def test_tls_off_by_default_adds_nothing(install: Callable[..., list[Release]]) -> None:
    (release,) = install({})
    assert not any(name.endswith("-tls") for _, name in release.by_key)
    assert not any(k.startswith("SUPERSVG_SCHEDULER_TLS") for k in release.env("scheduler"))
    assert release.container("scheduler")["livenessProbe"]["grpc"]["port"] == 50051
