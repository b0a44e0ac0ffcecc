"""compose.yaml (and its GPU override) against the Compose specification's JSON schema, and
every image, environment variable and volume it names against the project."""

from __future__ import annotations

import copy
import json
import re
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from supersvg.common.settings import ComponentSettings
from supersvg.common.storage import StorageSettings
from supersvg.gateway.settings import GatewaySettings
from supersvg.scheduler.settings import SchedulerSettings

REPO = Path(__file__).resolve().parents[3]
COMPOSE = REPO / "compose.yaml"
GPU = REPO / "compose.gpu.yaml"
TRAIN_SH = REPO / "deploy" / "compose" / "train.sh"
CHART_TEMPLATES = REPO / "charts" / "supersvg" / "templates"
CHART_VALUES = REPO / "charts" / "supersvg" / "values.yaml"
TRAIN_MOUNTS = {"/data", "/workspace/output", "/workspace/logs", "/workspace/checkpoints"}
#: Settings classes each of our services reads (the variable prefix decides which).
SERVICE_SETTINGS: dict[str, list[type[ComponentSettings]]] = {
    "scheduler": [SchedulerSettings, StorageSettings, ComponentSettings],
    "gateway": [GatewaySettings, StorageSettings, ComponentSettings],
}
#: Third-party services: their variables are the ones the Helm chart gives the same image.
CHART_TEMPLATE_OF = {"postgres": "postgresql.yaml", "minio": "minio.yaml"}


def _load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(path.read_text())
    return data


def _schema() -> dict[str, Any]:
    vendor = resources.files("check_jsonschema.builtin_schemas.vendor")
    schema: dict[str, Any] = json.loads((vendor / "compose-spec.json").read_text())
    return schema


def _validate(doc: dict[str, Any]) -> None:
    schema = _schema()
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    cls(schema).validate(doc)


def _env_names(service: dict[str, Any]) -> set[str]:
    env = service.get("environment", {})
    if isinstance(env, list):
        return {item.split("=", 1)[0] for item in env}
    return set(env)


def _variables(text: str) -> set[str]:
    """Names interpolated as ``${NAME}``, ``${NAME:-default}`` or ``${NAME:?message}``."""
    return set(re.findall(r"\$\{([A-Z_][A-Z0-9_]*)", text))


def _mount(spec: str) -> tuple[str, str]:
    """``source:target[:mode]`` -> (source, target); the source may hold ``${VAR:-a:b}``."""
    match = re.fullmatch(r"((?:\$\{[^}]*\}|[^:$])+):(/[^:]*)(?::(?:ro|rw))?", spec)
    assert match, f"unreadable volume {spec!r}"
    return match.group(1), match.group(2)


def _image_repo(image: str) -> str:
    """``registry/path/name:tag`` -> ``name`` (compose variables left in place)."""
    return image.rsplit("/", 1)[-1].split(":", 1)[0]


@pytest.mark.parametrize("path", [COMPOSE, GPU], ids=lambda p: p.name)
def test_files_validate_against_the_compose_specification(path: Path) -> None:
    _validate(_load(path))


def test_the_validator_rejects_what_the_specification_forbids() -> None:
    doc = _load(COMPOSE)
    broken = copy.deepcopy(doc)
    broken["services"]["gateway"]["imagee"] = broken["services"]["gateway"].pop("image")
    with pytest.raises(jsonschema.ValidationError, match="imagee"):
        _validate(broken)
    broken = copy.deepcopy(doc)
    broken["services"]["train"]["profiles"] = "train"  # must be a list
    with pytest.raises(jsonschema.ValidationError):
        _validate(broken)


def test_every_built_image_is_a_project_dockerfile_with_that_title() -> None:
    for doc in (_load(COMPOSE), _load(GPU)):
        for name, service in doc["services"].items():
            if "build" not in service:
                continue
            dockerfile = REPO / service["build"]["context"] / service["build"]["dockerfile"]
            assert dockerfile.is_file(), (name, dockerfile)
            label = r'org\.opencontainers\.image\.title="([^"]+)"'
            title = re.search(label, dockerfile.read_text())
            assert title, dockerfile
            image = service.get("image") or _load(COMPOSE)["services"][name]["image"]
            assert _image_repo(image) == title.group(1), (name, image, dockerfile)
            for arg in service["build"].get("args", {}):
                assert re.search(rf"^ARG {arg}\b", dockerfile.read_text(), re.M), (name, arg)


def test_third_party_images_and_variables_are_the_charts() -> None:
    values = CHART_VALUES.read_text()
    services = _load(COMPOSE)["services"]
    for name, template in CHART_TEMPLATE_OF.items():
        assert f"image: {services[name]['image']}" in values, name
        chart_env = set(re.findall(r"- name: ([A-Z_]+)", (CHART_TEMPLATES / template).read_text()))
        assert _env_names(services[name]) <= chart_env, name
    # Every service is either ours (settings checked below), third-party, or the trainer.
    assert set(services) == set(SERVICE_SETTINGS) | set(CHART_TEMPLATE_OF) | {"train"}


def _settings_variable(cls: type[ComponentSettings], name: str) -> bool:
    prefix = str(cls.model_config.get("env_prefix", ""))
    return name.startswith(prefix) and name[len(prefix) :].lower() in cls.model_fields


@pytest.mark.parametrize("path", [COMPOSE, GPU], ids=lambda p: p.name)
def test_every_service_variable_is_a_setting_of_that_service(path: Path) -> None:
    for name, service in _load(path)["services"].items():
        if name not in SERVICE_SETTINGS:
            continue
        for var in _env_names(service):
            assert any(_settings_variable(cls, var) for cls in SERVICE_SETTINGS[name]), (
                f"{path.name}: {name} sets {var}, which no settings class of {name} reads"
            )


def test_the_trainer_variables_are_the_launchers() -> None:
    launcher = TRAIN_SH.read_text()
    read = set(re.findall(r'^([A-Z_]+)="\$\{\1:-', launcher, re.M))
    train = _load(COMPOSE)["services"]["train"]
    assert _env_names(train) <= read
    assert {"DATASET", "EPOCHS", "BATCH_SIZE", "LR"} <= _env_names(train)


def test_every_compose_variable_is_documented_in_the_file_header() -> None:
    text = COMPOSE.read_text()
    header = "".join(line for line in text.splitlines(keepends=True) if line.startswith("#"))
    for var in _variables(text) | _variables(GPU.read_text()):
        assert re.search(rf"\b{var}\b", header), f"${{{var}}} is not documented in compose.yaml"


def test_volumes_are_declared_or_project_paths_and_the_training_contract_holds() -> None:
    doc = _load(COMPOSE)
    declared = set(doc.get("volumes", {}))
    used: set[str] = set()
    for name, service in doc["services"].items():
        for spec in service.get("volumes", []):
            source, _ = _mount(spec)
            if source.startswith(("./", "/", "$")):
                if not source.startswith("$"):
                    assert (REPO / source).exists(), (name, source)
                else:
                    assert _variables(source) <= {"DATA_PATH", "WORKSPACE_PATH"}, (name, source)
            else:
                used.add(source)
    assert used == declared
    train = dict(reversed(_mount(v)) for v in doc["services"]["train"]["volumes"])
    assert set(train) >= TRAIN_MOUNTS
    assert train["/data"].startswith("${DATA_PATH:-"), "DATA_PATH binds another dataset folder"


def test_restart_policies_and_the_gpu_reservation() -> None:
    services = _load(COMPOSE)["services"]
    for name in ("postgres", "minio", "scheduler", "gateway"):
        assert services[name]["restart"] == "unless-stopped", name
    assert services["train"]["restart"] == "on-failure"
    assert services["train"]["profiles"] == ["train"]
    gpu = _load(GPU)["services"]
    for name in ("train", "scheduler"):
        devices = gpu[name]["deploy"]["resources"]["reservations"]["devices"]
        assert devices == [{"driver": "nvidia", "count": "all", "capabilities": ["gpu"]}]
