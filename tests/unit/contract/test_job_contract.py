"""Every copy of the job's settings follows ``supersvg.api.jobs.JobConfig``: the REST
``config`` in the OpenAPI document, the VectorizeJob CRD's ``spec.config``, the proto's
``JobConfig`` (fields and their comments), the client's ``submit`` keywords and the CLI
flags. Each checker returns the disagreements; the second half feeds them deliberately
mismatched copies to show they catch what they are for."""

from __future__ import annotations

import copy
import inspect
import re
import types
import typing
from pathlib import Path
from typing import Any

import annotated_types
import pytest
import yaml
from google.protobuf.descriptor import FieldDescriptor
from pydantic import BaseModel

from supersvg.api.jobs import JobConfig, WorkerConfig, crd_name
from supersvg.api.v1 import scheduler_pb2 as pb

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[3]
CRD_PATH = ROOT / "charts/supersvg/crds/vectorizejobs.yaml"
PROTO_PATH = ROOT / "protos/supersvg/api/v1/scheduler.proto"
#: Fields whose proto type is an enum rather than a string.
PROTO_ENUMS = {"priority": "Priority"}

Rule = dict[str, Any]


# ---------------------------------------------------------------- the truth: JobConfig
def rules(model: type[BaseModel]) -> dict[str, Rule]:
    """Type, bounds, allowed values, default and nullability of each field, read from the
    model's own field definitions (not from a schema generated from them)."""
    out: dict[str, Rule] = {}
    for name, info in model.model_fields.items():
        base, nullable = info.annotation, False
        if typing.get_origin(base) in (typing.Union, types.UnionType):
            args = typing.get_args(base)
            nullable = type(None) in args
            (base,) = [a for a in args if a is not type(None)]
        rule: Rule = {"default": info.default, "nullable": nullable}
        if typing.get_origin(base) is typing.Literal:
            rule["type"], rule["enum"] = "string", list(typing.get_args(base))
        else:
            rule["type"] = {int: "integer", str: "string"}[base]
        for meta in info.metadata:
            if isinstance(meta, annotated_types.Ge):
                rule["minimum"] = meta.ge
            elif isinstance(meta, annotated_types.Le):
                rule["maximum"] = meta.le
            elif isinstance(meta, annotated_types.MaxLen):
                rule["maxLength"] = meta.max_length
        out[name] = rule
    return out


def schema_rule(prop: dict[str, Any]) -> Rule:
    """The same view of one JSON-schema property (OpenAPI or CRD)."""
    variants = prop.get("anyOf") or [prop]
    kinds = [v for v in variants if v.get("type") != "null"]
    nullable = len(kinds) < len(variants) or bool(prop.get("nullable"))
    (kind,) = kinds
    rule: Rule = {"default": prop.get("default"), "nullable": nullable, "type": kind.get("type")}
    if "enum" in kind:
        rule["type"], rule["enum"] = "string", list(kind["enum"])
    elif "const" in kind:
        rule["type"], rule["enum"] = "string", [kind["const"]]
    for key in ("minimum", "maximum", "maxLength"):
        if key in kind:
            rule[key] = kind[key]
    return rule


def compare(where: str, expected: dict[str, Rule], found: dict[str, Rule]) -> list[str]:
    problems = [f"{where}: missing field {n}" for n in expected.keys() - found.keys()]
    problems += [f"{where}: unknown field {n}" for n in found.keys() - expected.keys()]
    for name in expected.keys() & found.keys():
        for key in expected[name].keys() | found[name].keys():
            want, got = expected[name].get(key), found[name].get(key)
            if want != got:
                problems.append(f"{where}: {name}.{key} is {got!r}, JobConfig says {want!r}")
    return problems


# ---------------------------------------------------------------- the copies
def crd_problems(crd: dict[str, Any]) -> list[str]:
    """``spec.config`` of the CRD against WorkerConfig (camelCase; null = no default)."""
    root = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    props = root["properties"]["spec"]["properties"]["config"]["properties"]
    expected = {}
    for name, rule in rules(WorkerConfig).items():
        # A CRD cannot default to null: a nullable field is simply left out.
        expected[crd_name(name)] = {**rule, "nullable": False}
    found = {name: schema_rule(p) for name, p in props.items()}
    problems = compare("CRD spec.config", expected, found)
    priority = root["properties"]["spec"]["properties"]["priority"]
    problems += compare(
        "CRD spec", {"priority": rules(JobConfig)["priority"]}, {"priority": schema_rule(priority)}
    )
    return problems


def openapi_problems(document: dict[str, Any]) -> list[str]:
    """The submit endpoint's ``config`` part against JobConfig."""
    body = document["paths"]["/api/v1/vectorize/jobs"]["post"]["requestBody"]
    config = body["content"]["multipart/form-data"]["schema"]["properties"]["config"]
    found = {name: schema_rule(p) for name, p in config["properties"].items()}
    problems = compare("OpenAPI config", rules(JobConfig), found)
    if config.get("additionalProperties") is not False:
        problems.append("OpenAPI config: unknown keys must be refused")
    if config.get("required"):
        problems.append(f"OpenAPI config: no field is required, not {config['required']}")
    return problems


def proto_fields(descriptor: Any) -> dict[str, Rule]:
    return {
        f.name: {
            "type": "string" if f.type == FieldDescriptor.TYPE_STRING else f.type,
            "enum": f.enum_type.name if f.enum_type else None,
            "presence": f.has_presence,
        }
        for f in descriptor.fields
    }


def proto_problems(fields: dict[str, Rule], source: str) -> list[str]:
    """The proto's JobConfig fields (types, presence) and each field's comment (bounds,
    values and default as JobConfig has them) against JobConfig."""
    truth = rules(JobConfig)
    problems = [f"proto: missing field {n}" for n in truth.keys() - fields.keys()]
    problems += [f"proto: unknown field {n}" for n in fields.keys() - truth.keys()]
    block = re.search(r"message JobConfig \{(.*?)\n\}", source, re.S)
    assert block, "no JobConfig message in the proto"
    comments = dict(re.findall(r"^\s*(?:optional\s+)?\w+ (\w+) = \d+;\s*//(.*)$", block[1], re.M))
    ints = (FieldDescriptor.TYPE_INT32, FieldDescriptor.TYPE_INT64)
    for name in truth.keys() & fields.keys():
        rule, field = truth[name], fields[name]
        if name in PROTO_ENUMS:
            ok = field["enum"] == PROTO_ENUMS[name]
        elif rule["type"] == "integer":
            ok = field["type"] in ints
        else:
            ok = field["type"] == "string"
        if not ok:
            problems.append(f"proto: {name} has type {field}, JobConfig says {rule['type']}")
        if rule["nullable"] and rule["type"] == "integer" and not field["presence"]:
            problems.append(f"proto: {name} is nullable and must be `optional`")
        comment = comments.get(name, "")
        wanted = []
        if "minimum" in rule:
            wanted.append(f"{rule['minimum']}..{rule['maximum']}")
        if "enum" in rule:
            wanted.append(" | ".join(rule["enum"]))
        if "maxLength" in rule:
            wanted.append(f"at most {rule['maxLength']} characters")
        if rule["default"] is None:
            wanted.append("unset" if rule["type"] == "integer" else "empty")
        elif len(rule.get("enum", [None, None])) > 1:
            wanted.append(f"default {rule['default']}")
        problems += [
            f"proto: comment of {name} should say {w!r}: {comment.strip()!r}"
            for w in wanted
            if w not in comment
        ]
    return problems


def client_problems(submit: Any, flags: set[str]) -> list[str]:
    """Client.submit takes every field as a keyword; `remote submit` has a flag for each."""
    params = set(inspect.signature(submit).parameters)
    problems = [f"client: submit() lacks {n}=" for n in JobConfig.model_fields if n not in params]
    aliases = {"num_iterations": "--iterations"}
    for name in JobConfig.model_fields:
        flag = aliases.get(name, "--" + name.replace("_", "-"))
        if flag not in flags:
            problems.append(f"client CLI: remote submit lacks {flag}")
    return problems


# ---------------------------------------------------------------- inputs
@pytest.fixture(scope="module")
def crd() -> dict[str, Any]:
    return yaml.safe_load(CRD_PATH.read_text())


@pytest.fixture(scope="module")
def openapi(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    from supersvg.common.storage import LocalArtifactStore
    from supersvg.gateway.app import create_app
    from supersvg.gateway.settings import GatewaySettings

    store = LocalArtifactStore(tmp_path_factory.mktemp("artifacts"))
    app = create_app(GatewaySettings(signing_key="k" * 32), store)
    return app.openapi()


@pytest.fixture(scope="module")
def proto_source() -> str:
    return PROTO_PATH.read_text()


def submit_flags() -> set[str]:
    import argparse

    from supersvg.client import cli

    parser = argparse.ArgumentParser()
    cli.register(parser.add_subparsers())
    remote = parser._subparsers._group_actions[0].choices["remote"]  # type: ignore[union-attr]
    actions = next(a for a in remote._actions if isinstance(a, argparse._SubParsersAction))
    return {s for a in actions.choices["submit"]._actions for s in a.option_strings}


# ---------------------------------------------------------------- the contract holds
def test_crd_follows_job_config(crd: dict[str, Any]) -> None:
    assert crd_problems(crd) == []


def test_openapi_follows_job_config(openapi: dict[str, Any]) -> None:
    assert openapi_problems(openapi) == []


def test_proto_follows_job_config(proto_source: str) -> None:
    assert proto_problems(proto_fields(pb.JobConfig.DESCRIPTOR), proto_source) == []


def test_client_follows_job_config() -> None:
    from supersvg.client import Client

    assert client_problems(Client.submit, submit_flags()) == []


def test_round_trips_keep_every_field() -> None:
    config = JobConfig(
        max_paths=64,
        max_colors=12,
        gradients="off",
        num_iterations=7,
        priority="high",
        callback_url="https://example.com/hook",
        preset="icon",
        seed=5,
    )
    assert JobConfig.from_proto(config.to_proto()) == config
    worker = config.worker_config()
    assert WorkerConfig.from_crd(worker.to_crd()) == worker
    assert worker.to_crd()["maxColors"] == 12
    unset = JobConfig.from_proto(JobConfig().to_proto())
    assert unset == JobConfig() and unset.max_colors is None
    assert "maxColors" not in JobConfig().worker_config().to_crd()


# ---------------------------------------------------------------- and catches drift
def _crd_config(crd: dict[str, Any]) -> dict[str, Any]:
    root = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    props: dict[str, Any] = root["properties"]["spec"]["properties"]["config"]["properties"]
    return props


def test_crd_checker_catches_a_mismatched_copy(crd: dict[str, Any]) -> None:
    drifted = copy.deepcopy(crd)
    props = _crd_config(drifted)
    props["maxPaths"]["maximum"] = 10_000  # the limit the CRD had before the contract
    del props["maxColors"]
    props["gradients"]["default"] = "off"
    problems = crd_problems(drifted)
    assert any("maxPaths.maximum is 10000" in p for p in problems), problems
    assert any("missing field maxColors" in p for p in problems), problems
    assert any("gradients.default is 'off'" in p for p in problems), problems


def test_openapi_checker_catches_a_mismatched_copy(openapi: dict[str, Any]) -> None:
    drifted = copy.deepcopy(openapi)
    body = drifted["paths"]["/api/v1/vectorize/jobs"]["post"]["requestBody"]
    config = body["content"]["multipart/form-data"]["schema"]["properties"]["config"]
    config["properties"]["num_iterations"]["maximum"] = 100_000
    config["properties"]["extra_knob"] = {"type": "integer"}
    del config["additionalProperties"]
    problems = openapi_problems(drifted)
    assert any("num_iterations.maximum is 100000" in p for p in problems), problems
    assert any("unknown field extra_knob" in p for p in problems), problems
    assert any("unknown keys must be refused" in p for p in problems), problems


def test_proto_checker_catches_a_mismatched_copy(proto_source: str) -> None:
    fields = proto_fields(pb.JobConfig.DESCRIPTOR)
    fields["max_colors"] = {**fields["max_colors"], "presence": False}
    del fields["gradients"]
    wrong_comment = proto_source.replace("// 1..4096, default 256", "// 1..10000, default 256")
    assert wrong_comment != proto_source
    problems = proto_problems(fields, wrong_comment)
    assert any("max_colors is nullable" in p for p in problems), problems
    assert any("missing field gradients" in p for p in problems), problems
    assert any("comment of max_paths should say '1..4096'" in p for p in problems), problems


def test_client_checker_catches_a_missing_option() -> None:
    def submit(image: Any, *, max_paths: int | None = None) -> None: ...

    problems = client_problems(submit, {"--max-paths"})
    assert "client: submit() lacks max_colors=" in problems
    assert "client CLI: remote submit lacks --gradients" in problems
