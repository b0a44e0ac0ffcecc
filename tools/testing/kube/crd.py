"""Check custom resources against a CRD's openAPIV3Schema, as the API server would.

The structural schema is turned into a JSON schema (jsonschema's Draft 7 validator):
``x-kubernetes-int-or-string`` becomes "integer or string", ``nullable`` allows null, and
objects with ``properties`` reject unknown fields unless they preserve them (the API server
prunes them silently; ``kubectl`` with server-side field validation reports them, which is
what a test wants to see). Defaults are applied first, as the API server does.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jsonschema
import yaml

__all__ = ["CrdSchema", "load_crd"]


def load_crd(path: Path) -> dict[str, Any]:
    return dict(yaml.safe_load(path.read_text()))


def _to_json_schema(node: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key == "properties":
            out[key] = {name: _to_json_schema(sub) for name, sub in value.items()}
        elif key in ("items", "additionalProperties", "not") and isinstance(value, Mapping):
            out[key] = _to_json_schema(value)
        elif key in ("anyOf", "allOf", "oneOf"):
            out[key] = [_to_json_schema(sub) for sub in value]
        elif key.startswith("x-kubernetes-") or key in ("nullable", "format"):
            continue  # handled below; formats are not asserted by the API server either
        else:
            out[key] = copy.deepcopy(value)
    if node.get("x-kubernetes-int-or-string"):
        out.pop("type", None)
        out.setdefault("anyOf", [{"type": "integer"}, {"type": "string"}])
    if node.get("nullable") and "type" in out:
        out["type"] = [out["type"], "null"]
    preserve = node.get("x-kubernetes-preserve-unknown-fields")
    if "properties" in node and "additionalProperties" not in node and not preserve:
        out["additionalProperties"] = False
    return out


def _apply_defaults(value: Any, schema: Mapping[str, Any]) -> Any:
    if isinstance(value, dict):
        for name, sub in (schema.get("properties") or {}).items():
            if name not in value and "default" in sub:
                value[name] = copy.deepcopy(sub["default"])
            if name in value:
                value[name] = _apply_defaults(value[name], sub)
        extra = schema.get("additionalProperties")
        if isinstance(extra, Mapping):
            for name in list(value):
                if name not in (schema.get("properties") or {}):
                    value[name] = _apply_defaults(value[name], extra)
    elif isinstance(value, list) and isinstance(schema.get("items"), Mapping):
        return [_apply_defaults(item, schema["items"]) for item in value]
    return value


class CrdSchema:
    """Validation and defaulting for one served version of a CRD."""

    def __init__(self, crd: Mapping[str, Any], version: str | None = None) -> None:
        versions = crd["spec"]["versions"]
        chosen = next(
            (v for v in versions if v["name"] == version)
            if version
            else (v for v in versions if v.get("storage"))
        )
        self.group: str = crd["spec"]["group"]
        self.version: str = chosen["name"]
        self.kind: str = crd["spec"]["names"]["kind"]
        self.structural: dict[str, Any] = chosen["schema"]["openAPIV3Schema"]
        self.json_schema = _to_json_schema(self.structural)
        jsonschema.Draft7Validator.check_schema(self.json_schema)
        self._validator = jsonschema.Draft7Validator(self.json_schema)

    def default(self, obj: Mapping[str, Any]) -> dict[str, Any]:
        """A copy of ``obj`` with the schema's defaults filled in."""
        result = _apply_defaults(copy.deepcopy(dict(obj)), self.structural)
        assert isinstance(result, dict)
        return result

    def errors(self, obj: Mapping[str, Any]) -> list[str]:
        """Readable validation errors (``spec.config.maxPaths: 0 is less than ...``)."""
        found = []
        for err in sorted(self._validator.iter_errors(obj), key=lambda e: list(e.path)):
            where = ".".join(str(p) for p in err.path) or "<root>"
            found.append(f"{where}: {err.message}")
        return found

    def validate(self, obj: Mapping[str, Any]) -> dict[str, Any]:
        """Default then validate; raise ValueError listing every problem."""
        defaulted = self.default(obj)
        problems = self.errors(defaulted)
        if problems:
            raise ValueError("; ".join(problems))
        return defaulted
