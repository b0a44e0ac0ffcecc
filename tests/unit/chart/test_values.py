"""values.yaml against values.schema.json: documented, covered by the schema, strict."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

CHART = Path(__file__).resolve().parents[3] / "charts" / "supersvg"
VALUES_TEXT = (CHART / "values.yaml").read_text()
VALUES = yaml.safe_load(VALUES_TEXT)
SCHEMA = json.loads((CHART / "values.schema.json").read_text())
KEY_LINE = re.compile(r"^(?P<indent> *)(?P<key>[A-Za-z][A-Za-z0-9]*):(?P<rest>.*)$")


def _validate(values: dict[str, Any]) -> None:
    jsonschema.Draft7Validator(SCHEMA).validate(values)


def test_schema_is_valid_and_accepts_the_defaults() -> None:
    jsonschema.Draft7Validator.check_schema(SCHEMA)
    _validate(VALUES)


def _free_form(path: list[str]) -> bool:
    """Whether the schema leaves the value at ``path`` (or one enclosing it) free-form."""
    node = SCHEMA
    for key in path:
        if "properties" not in node:
            return True
        node = node["properties"].get(key, {})
    return False


def test_every_value_is_commented() -> None:
    """Each value has its own comment; inside free-form blocks (resources, security contexts,
    tolerations...) the comment of the block covers its content."""
    lines = VALUES_TEXT.splitlines()
    stack: list[tuple[int, str, bool]] = []  # (indent, key, commented) of the enclosing keys
    missing = []
    count = 0
    for number, line in enumerate(lines):
        m = KEY_LINE.match(line)
        if not m:
            continue
        count += 1
        indent = len(m["indent"])
        while stack and stack[-1][0] >= indent:
            stack.pop()
        previous = next((lines[i] for i in range(number - 1, -1, -1) if lines[i].strip()), "")
        commented = previous.lstrip().startswith("#")
        path = [key for _, key, _ in stack] + [m["key"]]
        block = not m["rest"].strip()
        inherited = any(c for *_, c in stack)
        covered = commented or (inherited and (block or _free_form(path)))
        # Blocks of named settings need no comment of their own: their settings have one.
        named_block = block and not _free_form([*path, "?"]) and not m["rest"].strip()
        if not covered and not named_block:
            missing.append(f"line {number + 1}: {'.'.join(path)}")
        stack.append((indent, m["key"], commented))
    assert count > 100
    assert not missing, "values without a comment: " + ", ".join(missing)


def _undescribed(values: dict[str, Any], schema: dict[str, Any], prefix: str = "") -> set[str]:
    """Keys of ``values`` that the schema neither names nor admits as free-form."""
    found = set()
    properties = schema.get("properties", {})
    extra = schema.get("additionalProperties", True)
    for key, value in values.items():
        if key in properties:
            sub = properties[key]
            if isinstance(value, dict) and sub.get("type") == "object":
                found |= _undescribed(value, sub, f"{prefix}{key}.")
        elif not isinstance(extra, dict) and schema.get("type") == "object" and properties:
            found.add(prefix + key)
    return found


def test_schema_describes_every_value() -> None:
    assert _undescribed(VALUES, SCHEMA) == set()


def _with(path: str, value: Any) -> dict[str, Any]:
    values = copy.deepcopy(VALUES)
    node = values
    *parents, leaf = path.split(".")
    for key in parents:
        node = node.setdefault(key, {})
    node[leaf] = value
    return values


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("gateway.replicaCount", "2"),
        ("gateway.replicaCount", 0),
        ("gateway.typo", 1),
        ("vectorizer.gpu.count", 0),
        ("vectorizer.gpu.resourceName", "gpu"),
        ("gateway.service.type", "Internal"),
        ("gateway.maxUploadBytes", -1),
        ("objectStorage.endpoint", "https://s3.amazonaws.com"),
        ("objectStorage.bucket", "Bad_Bucket"),
        ("externalDatabase.sslmode", "sometimes"),
        ("externalDatabase.port", 70000),
        ("auth.bootstrapToken", "short"),
        ("postgresql.persistence.size", "8GB"),
        ("tracing.otlpEndpoint", "collector:4317"),
        ("gateway.resources", {"requests": {"cpu": "lots"}}),
        ("imagePullSecrets", ["regcred"]),
        ("gateway.bodyTimeoutSeconds", 0),
        ("tls.internal.enabled", "yes"),
        ("tls.internal.certManager.duration", "90 days"),
        ("tls.internal.certManager.issuerRef", {"name": "ca", "kind": "Secret"}),
        ("tls.internal.certManager.issuerRef", {"kind": "ClusterIssuer"}),
        ("tls.internal.generatedValidityDays", 0),
    ],
)
def test_schema_rejects_bad_values(path: str, value: Any) -> None:
    with pytest.raises(jsonschema.ValidationError):
        _validate(_with(path, value))


def test_external_stores_need_their_connection() -> None:
    values = _with("postgresql.enabled", False)
    with pytest.raises(jsonschema.ValidationError):
        _validate(values)
    values["externalDatabase"].update(host="db.internal", password="x")
    _validate(values)
    values["externalDatabase"].update(host="", password="", existingSecret="db-url")
    _validate(values)

    values = _with("minio.enabled", False)
    with pytest.raises(jsonschema.ValidationError):
        _validate(values)
    values["objectStorage"].update(endpoint="s3.amazonaws.com", existingSecret="s3")
    _validate(values)
