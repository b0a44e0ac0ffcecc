"""The served-model part of the job contract: one definition of a model's name, digest,
store layout, worker environment and VectorizeJob ``spec.model``, and of the metrics that
name the model, held against the CRD, the chart's values schema, the proto and the
gateway's OpenAPI document."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from supersvg.api.jobs import METRIC_FIELDS, ExitCode, WorkerConfig, WorkerEnv, is_retryable
from supersvg.api.jobs import worker_env as wenv
from supersvg.api.jobs.models import (
    MODEL_NAME_PATTERN,
    SHA256_PATTERN,
    ModelRef,
    manifest_key,
    model_key,
)
from supersvg.api.jobs.results import result_from_proto, result_to_proto
from supersvg.api.jobs.vectorizejob import attempt_manifest
from tools.testing.kube.crd import CrdSchema

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[3]
CRD_PATH = ROOT / "charts/supersvg/crds/vectorizejobs.yaml"
VALUES_SCHEMA = ROOT / "charts/supersvg/values.schema.json"
PROTO_PATH = ROOT / "protos/supersvg/api/v1/scheduler.proto"
DIGEST = "0123456789abcdef" * 4


@pytest.fixture(scope="module")
def crd() -> dict[str, Any]:
    return dict(yaml.safe_load(CRD_PATH.read_text()))


def _spec_model_schema(crd: dict[str, Any]) -> dict[str, Any]:
    root = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    return dict(root["properties"]["spec"]["properties"]["model"])


def test_crd_spec_model_follows_the_contract(crd: dict[str, Any]) -> None:
    schema = _spec_model_schema(crd)
    assert schema["required"] == ["name"]
    assert schema["properties"]["name"]["pattern"] == MODEL_NAME_PATTERN
    assert schema["properties"]["sha256"]["pattern"] == SHA256_PATTERN


def test_chart_values_accept_exactly_the_contract_names() -> None:
    props = json.loads(VALUES_SCHEMA.read_text())["properties"]["vectorizer"]["properties"]
    model = props["model"]["properties"]
    assert "checkpoint" not in props  # the old value no template read is gone
    # The chart's patterns are the contract's, plus "" (= not set).
    assert model["name"]["pattern"] == f"^({MODEL_NAME_PATTERN[1:-1]})?$"
    assert model["sha256"]["pattern"] == f"^({SHA256_PATTERN[1:-1]})?$"


def test_attempt_manifest_carries_the_model_and_validates(crd: dict[str, Any]) -> None:
    def manifest(model: ModelRef | None) -> dict[str, Any]:
        return attempt_manifest(
            name="job-1-a1",
            namespace="default",
            job_id="job_1",
            tenant_id="t",
            attempt=1,
            priority="normal",
            input_key="jobs/job_1/input",
            output_prefix="jobs/job_1/",
            config=WorkerConfig(),
            device="cpu",
            token_secret="job-1-a1-token",
            model=model,
        )

    schema = CrdSchema(crd)
    pinned = manifest(ModelRef("tiny-1", DIGEST))
    assert pinned["spec"]["model"] == {"name": "tiny-1", "sha256": DIGEST}
    assert schema.errors(pinned) == []
    assert manifest(ModelRef("tiny-1"))["spec"]["model"] == {"name": "tiny-1"}
    assert "model" not in manifest(None)["spec"]
    bad = manifest(None)
    bad["spec"]["model"] = {"name": "Bad Name", "sha256": "xyz"}
    errors = schema.errors(bad)
    assert len(errors) == 2, errors
    assert ModelRef.from_crd(pinned["spec"]["model"]) == ModelRef("tiny-1", DIGEST)
    assert ModelRef.from_crd(None) is None


@pytest.mark.parametrize(
    ("name", "sha256"),
    [("", ""), ("UPPER", ""), ("a/b", ""), ("x" * 64, ""), ("ok", "ABC"), ("ok", "0" * 63)],
)
def test_bad_model_refs_are_refused(name: str, sha256: str) -> None:
    with pytest.raises(ValueError, match="invalid"):
        ModelRef(name, sha256)


def test_worker_env_round_trips_the_model() -> None:
    base = {"job_id": "j", "input_key": "k", "output_prefix": "p/", "config": {}}
    env = WorkerEnv(**base, model=ModelRef("tiny-1", DIGEST)).to_env()  # type: ignore[arg-type]
    assert env[wenv.ENV_MODEL] == "tiny-1" and env[wenv.ENV_MODEL_SHA256] == DIGEST
    assert WorkerEnv.from_env(env).model == ModelRef("tiny-1", DIGEST)
    unpinned = WorkerEnv(**base, model=ModelRef("tiny-1")).to_env()  # type: ignore[arg-type]
    assert wenv.ENV_MODEL_SHA256 not in unpinned
    assert WorkerEnv.from_env(WorkerEnv(**base).to_env()).model is None  # type: ignore[arg-type]
    with pytest.raises(wenv.WorkerEnvError, match="SUPERSVG_MODEL"):
        WorkerEnv.from_env({**env, wenv.ENV_MODEL_SHA256: "nope"})


def test_store_layout_and_exit_code() -> None:
    assert model_key("tiny-1") == "models/tiny-1/model.pt"
    assert manifest_key("tiny-1") == "models/tiny-1/manifest.json"
    assert ExitCode.MODEL_UNAVAILABLE == 4 and not is_retryable(ExitCode.MODEL_UNAVAILABLE)


def test_metrics_name_the_model_in_proto_and_openapi(tmp_path: Path) -> None:
    from supersvg.common.storage import LocalArtifactStore
    from supersvg.gateway.app import create_app
    from supersvg.gateway.settings import GatewaySettings

    block = re.search(r"message JobMetrics \{(.*?)\}", PROTO_PATH.read_text(), re.S)
    assert block is not None
    proto_fields = re.findall(r"^\s*\w+ (\w+) = \d+;", block.group(1), re.M)
    assert proto_fields == list(METRIC_FIELDS)
    app = create_app(GatewaySettings(signing_key="k" * 32), LocalArtifactStore(tmp_path))
    openapi = app.openapi()["components"]["schemas"]["JobMetrics"]["properties"]
    assert list(openapi) == list(METRIC_FIELDS)
    metrics = {"num_paths": 3, "model": "tiny-1", "model_sha256": DIGEST}
    back = result_from_proto(result_to_proto({"svg_key": "s", "metrics": metrics}))
    assert back["metrics"]["model"] == "tiny-1" and back["metrics"]["model_sha256"] == DIGEST
    assert result_from_proto(result_to_proto({}))["metrics"]["model"] == ""
