"""The VectorizeJob CRD: structure, and examples/invalid jobs against its openAPIV3Schema."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from tools.testing.kube.crd import CrdSchema, load_crd
from tools.testing.kube.fixtures import CRD_PATH

ROOT = Path(__file__).resolve().parents[3]
EXAMPLES = sorted((ROOT / "examples").glob("vectorizejob*.yaml"))


@pytest.fixture(scope="module")
def crd() -> dict[str, Any]:
    return load_crd(CRD_PATH)


@pytest.fixture(scope="module")
def schema(crd: dict[str, Any]) -> CrdSchema:
    return CrdSchema(crd)


def _walk(node: Any, path: str = "") -> list[tuple[str, dict[str, Any]]]:
    found: list[tuple[str, dict[str, Any]]] = []
    if isinstance(node, dict):
        found.append((path, node))
        for key, value in node.items():
            found += _walk(value, f"{path}.{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            found += _walk(value, f"{path}[{i}]")
    return found


def test_crd_identity_and_columns(crd: dict[str, Any]) -> None:
    spec = crd["spec"]
    assert crd["metadata"]["name"] == "vectorizejobs.supersvg.io"
    assert spec["group"] == "supersvg.io" and spec["scope"] == "Namespaced"
    assert spec["names"]["kind"] == "VectorizeJob" and spec["names"]["shortNames"] == ["vj"]
    (version,) = spec["versions"]
    assert version["name"] == "v1alpha1" and version["served"] and version["storage"]
    assert version["subresources"] == {"status": {}}
    columns = {c["name"]: c["jsonPath"] for c in version["additionalPrinterColumns"]}
    assert columns["Phase"] == ".status.phase"
    assert columns["Progress"] == ".status.progress"
    assert columns["Paths"] == ".status.numPaths"
    assert columns["Age"] == ".metadata.creationTimestamp"


def test_schema_is_structural_without_unknown_fields_on_spec(crd: dict[str, Any]) -> None:
    root = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    spec = root["properties"]["spec"]
    assert not spec.get("x-kubernetes-preserve-unknown-fields")
    preserved = [p for p, n in _walk(spec) if n.get("x-kubernetes-preserve-unknown-fields")]
    assert preserved == [".properties.affinity"]  # a core/v1 Affinity, passed through
    for path, node in _walk(root):
        if "properties" in node:
            # Structural-schema rules the API server enforces.
            assert node.get("type") == "object", path
            assert node.get("additionalProperties") is not False, path
        if "default" in node and node.get("type") == "object":
            assert isinstance(node["default"], dict), path
    status = root["properties"]["status"]["properties"]
    for field in (
        "phase",
        "conditions",
        "attempts",
        "podName",
        "startTime",
        "completionTime",
        "message",
        "progress",
        "result",
        "numPaths",
    ):
        assert field in status, field
    assert set(status["phase"]["enum"]) >= {
        "Pending",
        "Running",
        "Succeeded",
        "Failed",
        "Cancelled",
    }


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_examples_are_valid(schema: CrdSchema, path: Path) -> None:
    for doc in yaml.safe_load_all(path.read_text()):
        assert doc["apiVersion"] == "supersvg.io/v1alpha1" and doc["kind"] == "VectorizeJob"
        assert schema.errors(schema.default(doc)) == []


def test_examples_exist() -> None:
    assert [p.name for p in EXAMPLES] == ["vectorizejob-cpu.yaml", "vectorizejob.yaml"]


def test_defaults_are_applied(schema: CrdSchema) -> None:
    job = schema.validate(
        {"spec": {"input": {"key": "a.png"}, "output": {"prefix": "out/"}}, "metadata": {}}
    )
    spec = job["spec"]
    assert spec["config"] == {
        "maxPaths": 256,
        "gradients": "auto",
        "numIterations": 100,
        "preset": "auto",
        "seed": 0,
        "outputFormat": "svg",
    }
    assert spec["resources"] == {"limits": {"nvidia.com/gpu": "1"}}
    assert (spec["backoffLimit"], spec["cancel"], spec["suspend"]) == (3, False, False)
    assert spec["priority"] == "normal" and spec["device"] == "auto"


BASE: dict[str, Any] = {
    "apiVersion": "supersvg.io/v1alpha1",
    "kind": "VectorizeJob",
    "metadata": {"name": "x"},
    "spec": {"input": {"key": "a.png"}, "output": {"prefix": "out/"}},
}


@pytest.mark.parametrize(
    ("change", "where"),
    [
        ({"config": {"maxPaths": 0}}, "spec.config.maxPaths"),
        ({"config": {"maxPaths": 4097}}, "spec.config.maxPaths"),
        ({"config": {"maxColors": 0}}, "spec.config.maxColors"),
        ({"config": {"gradients": "on"}}, "spec.config.gradients"),
        ({"config": {"numIterations": 10_001}}, "spec.config.numIterations"),
        ({"config": {"preset": "cartoon"}}, "spec.config.preset"),
        ({"config": {"numIterations": -1}}, "spec.config.numIterations"),
        ({"config": {"maxpaths": 10}}, "spec.config"),  # unknown (misspelt) field
        ({"input": {}}, "spec.input"),  # key is required
        ({"output": {"prefix": "no-slash"}}, "spec.output.prefix"),
        ({"backoffLimit": 99}, "spec.backoffLimit"),
        ({"activeDeadlineSeconds": 0}, "spec.activeDeadlineSeconds"),
        ({"priority": "urgent"}, "spec.priority"),
        ({"cancel": "yes"}, "spec.cancel"),
        ({"resources": {"limits": {"memory": "lots"}}}, "spec.resources.limits.memory"),
        ({"tolerations": [{"operator": "Maybe"}]}, "spec.tolerations.0.operator"),
        ({"jobId": "has spaces"}, "spec.jobId"),
        ({"gpus": 2}, "spec"),  # unknown field on spec
    ],
)
def test_invalid_jobs_are_rejected_with_the_reason(
    schema: CrdSchema, change: dict[str, Any], where: str
) -> None:
    job = copy.deepcopy(BASE)
    for key, value in change.items():
        if isinstance(value, dict) and isinstance(job["spec"].get(key), dict):
            job["spec"][key] = {**job["spec"][key], **value}
            if value == {}:
                job["spec"][key] = {}
        else:
            job["spec"][key] = value
    with pytest.raises(ValueError) as err:
        schema.validate(job)
    assert any(p.startswith(where + ":") for p in str(err.value).split("; ")), str(err.value)


def test_missing_spec_is_rejected(schema: CrdSchema) -> None:
    with pytest.raises(ValueError, match="'spec' is a required property"):
        schema.validate({"apiVersion": "supersvg.io/v1alpha1", "kind": "VectorizeJob"})
