"""A Kubernetes API for tests: kmock's emulator with the protocol gaps of kmock 0.8 fixed.

kmock (by kopf's author) serves discovery, keeps objects in memory and lets tests add their
own reactions. Version 0.8 does not follow the API server's protocol closely enough for kopf
and the ``kubernetes`` client (see docs/kubernetes.md, "Testing"); :class:`KubeApi` keeps
kmock's server, request parsing, reactions, discovery and object store, and replaces the
object life cycle:

- create answers 201 and fills uid, creationTimestamp, resourceVersion, generation;
  ``generateName`` is honoured; an existing name is 409 AlreadyExists;
- every write bumps a cluster-wide resourceVersion; a write whose body carries an older
  resourceVersion is 409 Conflict; JSON patches whose ``test`` fails are 422 Invalid;
- PUT replaces, and ``/status`` is a real subresource (status writes only touch status,
  main-resource writes keep status) for resources that declare it;
- lists carry kind, apiVersion and the list's resourceVersion; label and field selectors
  filter lists and watches;
- watches replay only the events after the given resourceVersion (410 Gone when it was
  compacted away), end after ``timeoutSeconds``, and send ADDED/MODIFIED/DELETED;
- delete honours finalizers (deletionTimestamp, then removal when they are gone) and
  deletes dependents by ownerReferences (a simple garbage collector);
- ``/api/v1/namespaces`` works; errors carry canonical Status reasons.
"""

from __future__ import annotations

import asyncio
import base64
import collections
import copy
import datetime
import json
import random
import re
import string
import time
import uuid
from collections.abc import AsyncIterator, Mapping
from typing import Any, ClassVar

import aiohttp.web
import attrs
import jsonpatch
import kmock
from kmock._internal import apps, enums, rendering
from kmock._internal.references import resource as Resource

from tools.testing.kube.crd import CrdSchema

__all__ = ["ApiError", "KubeApi", "ResourceSpec", "parse_label_selector"]

_CANONICAL = {
    400: "BadRequest",
    404: "NotFound",
    405: "MethodNotAllowed",
    409: "Conflict",
    410: "Gone",
    415: "UnsupportedMediaType",
    422: "Invalid",
    500: "InternalError",
}
_PATCH_TYPES = {
    "application/json-patch+json",
    "application/merge-patch+json",
    "application/strategic-merge-patch+json",
}
_ALL_VERBS = {"create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"}


@attrs.frozen
class ApiError(kmock.KubernetesError):
    """An API error with a canonical Status reason (NotFound, AlreadyExists, Conflict...)."""

    status: int = 500
    reason: str | None = None
    message: str | None = None
    details: Any | None = None


def _gvp(res: Any) -> tuple[str, str, str]:
    return (res.group, res.version, res.plural)


def _now() -> str:
    return datetime.datetime.now(tz=datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@attrs.frozen
class ResourceSpec:
    """A resource to declare for discovery: ``group/version/plural`` and what it is."""

    path: str
    kind: str
    namespaced: bool = True
    subresources: tuple[str, ...] = ()
    shortnames: tuple[str, ...] = ()
    singular: str | None = None


CORE_RESOURCES = (
    ResourceSpec("v1/namespaces", "Namespace", namespaced=False, subresources=("status",)),
    ResourceSpec("v1/pods", "Pod", subresources=("status", "log"), shortnames=("po",)),
    ResourceSpec("v1/events", "Event", shortnames=("ev",)),
    ResourceSpec("v1/configmaps", "ConfigMap", shortnames=("cm",)),
    ResourceSpec("v1/secrets", "Secret"),
    ResourceSpec("v1/serviceaccounts", "ServiceAccount", shortnames=("sa",)),
    ResourceSpec("v1/services", "Service", shortnames=("svc",)),
    ResourceSpec("events.k8s.io/v1/events", "Event", shortnames=("ev",)),
    ResourceSpec("coordination.k8s.io/v1/leases", "Lease"),
    ResourceSpec("v1/nodes", "Node", namespaced=False, shortnames=("no",)),
)

# ---------------------------------------------------------------------------- selectors

_SET_TERM = re.compile(r"^\s*([^\s!=]+)\s+(in|notin)\s+\(([^)]*)\)\s*$")


def parse_label_selector(text: str) -> list[tuple[str, str, tuple[str, ...]]]:
    """Parse ``a=b,c!=d,e in (f,g),!h,i`` into (key, operator, values) terms."""
    terms: list[tuple[str, str, tuple[str, ...]]] = []
    parts: list[str] = []
    depth, current = 0, ""
    for ch in text:  # split on commas outside parentheses
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += ch
    parts.append(current)
    for raw in parts:
        part = raw.strip()
        if not part:
            continue
        if m := _SET_TERM.match(part):
            values = tuple(v.strip() for v in m.group(3).split(",") if v.strip())
            terms.append((m.group(1), m.group(2), values))
        elif "!=" in part:
            key, value = part.split("!=", 1)
            terms.append((key.strip(), "!=", (value.strip(),)))
        elif "==" in part or "=" in part:
            key, value = re.split("==?", part, maxsplit=1)
            terms.append((key.strip(), "=", (value.strip(),)))
        elif part.startswith("!"):
            terms.append((part[1:].strip(), "!", ()))
        elif re.fullmatch(r"[A-Za-z0-9./_-]+", part):
            terms.append((part, "exists", ()))
        else:
            raise ApiError(400, "BadRequest", f"unable to parse requirement: {part!r}")
    return terms


def _labels_match(labels: Mapping[str, str], terms: list[tuple[str, str, tuple[str, ...]]]) -> bool:
    for key, op, values in terms:
        present = key in labels
        value = labels.get(key)
        if op == "=":
            ok = present and value == values[0]
        elif op == "!=":
            ok = not present or value != values[0]
        elif op == "in":
            ok = present and value in values
        elif op == "notin":
            ok = not present or value not in values
        elif op == "exists":
            ok = present
        else:  # "!"
            ok = not present
        if not ok:
            return False
    return True


def _age(timestamp: str) -> str:
    """A creation time as kubectl shows ages: 5s, 3m, 2h, 4d."""
    try:
        then = datetime.datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
    except ValueError:
        return timestamp
    seconds = max(0, int((datetime.datetime.now(tz=datetime.UTC) - then).total_seconds()))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def _field(obj: Mapping[str, Any], path: str) -> Any:
    cur: Any = obj
    for part in path.split("."):
        if not isinstance(cur, Mapping):
            return None
        cur = cur.get(part)
    return cur


def _fields_match(obj: Mapping[str, Any], selector: str) -> bool:
    for raw in selector.split(","):
        term = raw.strip()
        if not term:
            continue
        negate = "!=" in term
        key, value = re.split("!=|==?", term, maxsplit=1)
        actual = _field(obj, key.strip())
        actual_s = "" if actual is None else str(actual)
        if (actual_s == value.strip()) == negate:
            return False
    return True


# ---------------------------------------------------------------------------- the server


@attrs.define(kw_only=True)
class KubeApi(kmock.KubernetesEmulator):
    """kmock's Kubernetes emulator with the API server's protocol (see the module docstring)."""

    # Events kept for watch resumption; older ones are "compacted" (410 Gone when asked for).
    history_limit: int = 10_000

    _rv: int = attrs.field(default=1, init=False)
    _compacted_rv: int = attrs.field(default=0, init=False)
    _log: list[tuple[int, Any, dict[str, Any]]] = attrs.field(factory=list, init=False)
    _tick: asyncio.Event | None = attrs.field(default=None, init=False)
    _outcomes: dict[int, tuple[int, Any]] = attrs.field(factory=dict, init=False)
    _closing: bool = attrs.field(default=False, init=False)
    _watch_epoch: int = attrs.field(default=0, init=False)
    #: Watch streams being served, per resource plural (tests wait for their watchers).
    open_watches: collections.Counter[str] = attrs.field(factory=collections.Counter, init=False)
    _schemas: dict[Any, CrdSchema] = attrs.field(factory=dict, init=False)
    _columns: dict[Any, list[dict[str, Any]]] = attrs.field(factory=dict, init=False)

    NAMESPACES_PATH: ClassVar[re.Pattern[str]] = re.compile(
        r"^/api/v1/namespaces(/[^/]+)?(/status)?/?$"
    )

    def __attrs_post_init__(self) -> None:
        super().__attrs_post_init__()
        # kmock routes no PUT; replace and status-replace are served from the outcome.
        self.fallback[enums.method.PUT] << self._serve_outcome

    # ------------------------------------------------------------------ declaration

    def declare(self, *specs: ResourceSpec) -> None:
        """Make resources discoverable (kind, scope, subresources, short names, verbs)."""
        for spec in specs:
            self.resources[spec.path] = kmock.ResourceInfo(
                kind=spec.kind,
                namespaced=spec.namespaced,
                singular=spec.singular or spec.kind.lower(),
                verbs=_ALL_VERBS,
                shortnames=set(spec.shortnames),
                subresources=set(spec.subresources),
            )

    def declare_crd(self, crd: Mapping[str, Any]) -> None:
        """Declare every served version of a CustomResourceDefinition manifest."""
        spec = crd["spec"]
        names = spec["names"]
        for version in spec["versions"]:
            if not version.get("served", True):
                continue
            key = Resource(spec["group"], version["name"], names["plural"])
            self._schemas[key] = CrdSchema(crd, version["name"])
            self._columns[key] = list(version.get("additionalPrinterColumns") or [])
            self.declare(
                ResourceSpec(
                    f"{spec['group']}/{version['name']}/{names['plural']}",
                    names["kind"],
                    namespaced=spec.get("scope", "Namespaced") == "Namespaced",
                    subresources=tuple(version.get("subresources", {}) or {}),
                    shortnames=tuple(names.get("shortNames", ())),
                    singular=names.get("singular"),
                )
            )

    @property
    def resource_version(self) -> int:
        """The latest resourceVersion of the whole "cluster"."""
        return self._rv

    def close_watches(self) -> None:
        """End every open watch stream (before the server stops, so it stops at once)."""
        self._closing = True
        self._notify()

    def drop_watches(self) -> None:
        """End the open watch streams (as a load balancer dropping connections does)."""
        self._watch_epoch += 1
        self._notify()

    def compact(self) -> None:
        """Forget the watch history (as etcd compaction does): older watches get 410 Gone."""
        self._compacted_rv = self._rv
        self._log.clear()

    # ------------------------------------------------------------------ request entry

    async def __call__(self, raw_request: aiohttp.web.BaseRequest) -> aiohttp.web.StreamResponse:
        # kmock's path parser takes `/api/v1/namespaces[/x]` for a namespace prefix; give it the
        # shape of a namespaced path and undo the namespace in _handle().
        m = self.NAMESPACES_PATH.match(raw_request.path)
        if m:
            suffix = (m.group(1) or "") + (m.group(2) or "")
            rel = raw_request.rel_url.with_path(f"/api/v1/namespaces/-/namespaces{suffix}")
            raw_request = raw_request.clone(rel_url=rel)
        # The API server parses booleans like Go does; the kubernetes client sends `watch=True`
        # while kmock only recognises `watch=true`.
        watch = raw_request.query.get("watch")
        if watch is not None and watch != "true" and watch.lower() in ("1", "t", "true"):
            query = dict(raw_request.query)
            query["watch"] = "true"
            raw_request = raw_request.clone(rel_url=raw_request.rel_url.with_query(query))
        return await super().__call__(raw_request)

    def _ns(self, request: rendering.Request) -> str | None:
        """The request's namespace; None for cluster-scoped resources (see __call__)."""
        info = self._info(request.resource) if request.resource is not None else None
        if info is not None and not info.namespaced:
            return None
        return request.namespace

    def _info(self, res: Any) -> kmock.ResourceInfo | None:
        key = Resource(res.group, res.version, res.plural)
        if key not in self.resources:
            return None
        return self.resources[key]

    async def _handle(self, request: rendering.Request) -> aiohttp.web.StreamResponse:
        res = request.resource
        if res is None or res.plural is None:
            return await apps.RawHandler._handle(self, request)
        info = self._info(res)
        if info is None and request.action is not None:
            raise ApiError(404, "NotFound", f"the server could not find the resource {res.plural}")

        method = request.method
        outcome: tuple[int, Any] | None = None
        async with self._lock:
            if request.action == enums.action.CREATE and request.subresource is None:
                outcome = self._create(request, info)
            elif request.name is not None and method == enums.method.PATCH:
                outcome = self._update(request, info, replace=False)
            elif request.name is not None and method == enums.method.PUT:
                outcome = self._update(request, info, replace=True)
            elif request.name is not None and request.action == enums.action.DELETE:
                outcome = self._delete(request)
            elif method not in (enums.method.GET, enums.method.HEAD):
                raise ApiError(405, "MethodNotAllowed", f"{method} is not supported here")
        if outcome is not None:
            self._outcomes[request.id] = outcome
            self._notify()
        try:
            return await apps.RawHandler._handle(self, request)
        finally:
            self._outcomes.pop(request.id, None)

    async def _render_error(self, exc: Exception) -> aiohttp.web.StreamResponse:
        if isinstance(exc, kmock.KubernetesError):
            reason = exc.reason if isinstance(exc, ApiError) else None
            reason = reason or _CANONICAL.get(exc.status, "InternalError")
            return aiohttp.web.json_response(
                {
                    "apiVersion": "v1",
                    "kind": "Status",
                    "metadata": {},
                    "status": "Failure",
                    "code": exc.status,
                    "reason": reason,
                    "message": exc.message or reason,
                    "details": exc.details or {},
                },
                status=exc.status,
            )
        return await super()._render_error(exc)

    # ------------------------------------------------------------------ writes

    def _key(self, res: Any, namespace: str | None, name: str) -> tuple[Any, str | None, str]:
        return (Resource(res.group, res.version, res.plural), namespace, name)

    def _current(self, key: tuple[Any, str | None, str]) -> dict[str, Any] | None:
        if key not in self.objects:
            return None
        obj = self.objects[key]
        return None if obj.deleted else copy.deepcopy(obj.raw)

    def _record(self, key: tuple[Any, str | None, str], kind: str, body: dict[str, Any]) -> None:
        """Store a new version (or a deletion) and log the watch event."""
        self._rv += 1
        body.setdefault("metadata", {})["resourceVersion"] = str(self._rv)
        if kind == "ADDED" and key not in self.objects:
            self.objects[key] = body
        elif kind == "DELETED":
            self.objects[key].history.append(body)
            self.objects[key].delete()
        else:
            self.objects[key].history.append(body)
        self._log.append((self._rv, key[0], {"type": kind, "object": copy.deepcopy(body)}))
        if len(self._log) > self.history_limit:
            dropped = self._log[: len(self._log) - self.history_limit]
            self._compacted_rv = dropped[-1][0]
            del self._log[: len(dropped)]

    def _admit(self, res: Any, body: dict[str, Any]) -> dict[str, Any]:
        """Default and validate a custom resource against its CRD schema (422 if invalid)."""
        if (res.group, res.plural) == ("", "secrets") and body.get("stringData"):
            # As the API server: stringData is write-only, merged into data as base64.
            data = dict(body.get("data") or {})
            for key, value in body.pop("stringData").items():
                data[key] = base64.b64encode(str(value).encode()).decode()
            body["data"] = data
        schema = self._schemas.get(Resource(res.group, res.version, res.plural))
        if schema is None:
            return body
        try:
            return schema.validate(body)
        except ValueError as exc:
            name = body.get("metadata", {}).get("name", "")
            raise ApiError(
                422,
                "Invalid",
                f'{schema.kind}.{schema.group} "{name}" is invalid: {exc}',
                {"name": name, "group": schema.group, "kind": schema.kind},
            ) from None

    def _notify(self) -> None:
        tick, self._tick = self._tick, asyncio.Event()
        if tick is not None:
            tick.set()

    def _create(self, request: rendering.Request, info: Any) -> tuple[int, Any]:
        res = request.resource
        assert res is not None
        body = request.data
        if not isinstance(body, dict):
            raise ApiError(400, "BadRequest", "the body must be a JSON object")
        body = copy.deepcopy(body)
        meta = body.setdefault("metadata", {})
        namespaced = info is None or bool(info.namespaced)
        namespace = (self._ns(request) or meta.get("namespace")) if namespaced else None
        if info is not None and info.namespaced and not namespace:
            raise ApiError(422, "Invalid", "metadata.namespace: Required value")
        if meta.get("namespace") and namespace and meta["namespace"] != namespace:
            raise ApiError(400, "BadRequest", "the namespace of the object does not match the URL")
        if not meta.get("name"):
            prefix = meta.get("generateName")
            if not prefix:
                raise ApiError(422, "Invalid", "metadata.name: Required value (or generateName)")
            alphabet = string.ascii_lowercase + string.digits
            while True:
                name = prefix + "".join(random.choices(alphabet, k=5))
                if self._current(self._key(res, namespace, name)) is None:
                    break
            meta["name"] = name
        if not re.fullmatch(r"[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?", meta["name"]):
            raise ApiError(422, "Invalid", f"metadata.name: Invalid value: {meta['name']!r}")
        key = self._key(res, namespace, meta["name"])
        if self._current(key) is not None:
            raise ApiError(
                409,
                "AlreadyExists",
                f'{res.plural} "{meta["name"]}" already exists',
                {"name": meta["name"], "group": res.group, "kind": res.plural},
            )
        if namespace:
            meta["namespace"] = namespace
        meta["uid"] = str(uuid.uuid4())
        meta["creationTimestamp"] = _now()
        meta["generation"] = 1
        meta.pop("resourceVersion", None)
        meta.pop("deletionTimestamp", None)
        body["apiVersion"] = f"{res.group}/{res.version}" if res.group else res.version
        if info is not None and info.kind:
            body["kind"] = info.kind
        body = self._admit(res, body)
        if request.params.get("dryRun"):
            body["metadata"]["resourceVersion"] = str(self._rv)
            return 201, body
        self._record(key, "ADDED", body)
        return 201, copy.deepcopy(body)

    def _not_found(self, request: rendering.Request) -> ApiError:
        res = request.resource
        assert res is not None
        return ApiError(
            404,
            "NotFound",
            f'{res.plural} "{request.name}" not found',
            {"name": request.name, "group": res.group, "kind": res.plural},
        )

    def _update(self, request: rendering.Request, info: Any, *, replace: bool) -> tuple[int, Any]:
        assert request.resource is not None and request.name is not None
        key = self._key(request.resource, self._ns(request), request.name)
        old = self._current(key)
        if old is None:
            raise self._not_found(request)
        sub = request.subresource
        if sub not in (None, "status"):
            raise ApiError(405, "MethodNotAllowed", f"subresource {sub} cannot be written")
        body = request.data
        if replace:
            if not isinstance(body, dict):
                raise ApiError(400, "BadRequest", "the body must be a JSON object")
            new = copy.deepcopy(body)
            claimed = (body.get("metadata") or {}).get("resourceVersion")
        else:
            content_type = request.headers.get("Content-Type", "").split(";")[0].strip()
            is_custom = Resource(*_gvp(request.resource)) in self._schemas
            if content_type == "application/json-patch+json" and not isinstance(body, list):
                raise ApiError(400, "BadRequest", "a JSON patch must be a JSON array")
            if content_type == "application/strategic-merge-patch+json" and is_custom:
                # As the API server: custom resources have no patch strategies.
                raise ApiError(
                    415,
                    "UnsupportedMediaType",
                    "strategic merge patch is not supported for custom resources; "
                    "use application/merge-patch+json",
                )
            if content_type not in _PATCH_TYPES:
                raise ApiError(415, "UnsupportedMediaType", f"unsupported patch: {content_type}")
            if isinstance(body, list):
                try:
                    new = jsonpatch.apply_patch(copy.deepcopy(old), body)
                except jsonpatch.JsonPatchTestFailed as exc:
                    raise ApiError(422, "Invalid", f"the JSON patch test failed: {exc}") from None
                except (jsonpatch.JsonPatchException, jsonpatch.JsonPointerException) as exc:
                    message = f"the JSON patch does not apply: {exc}"
                    raise ApiError(422, "Invalid", message) from None
                claimed = None
            elif isinstance(body, dict):
                # Merge and strategic merge both merge maps; lists are replaced whole here.
                obj = kmock.Object(copy.deepcopy(old))
                obj.patch(copy.deepcopy(body))
                new = copy.deepcopy(obj.raw)
                claimed = (body.get("metadata") or {}).get("resourceVersion")
            else:
                raise ApiError(400, "BadRequest", "the patch must be a JSON object or array")
        if claimed is not None and str(claimed) != old["metadata"]["resourceVersion"]:
            raise ApiError(
                409,
                "Conflict",
                f'Operation cannot be fulfilled on {request.resource.plural} "{request.name}": '
                "the object has been modified; please apply your changes to the latest version",
                {"name": request.name, "kind": request.resource.plural},
            )
        has_status = info is not None and "status" in info.subresources
        if sub == "status":
            merged = copy.deepcopy(old)
            if "status" in new:
                merged["status"] = new["status"]
            else:
                merged.pop("status", None)
            new = merged
        elif has_status:
            new.pop("status", None)
            if "status" in old:
                new["status"] = old["status"]
        # Server-owned metadata survives any write.
        meta = new.setdefault("metadata", {})
        for field in ("uid", "creationTimestamp", "namespace", "name", "deletionTimestamp"):
            if field in old["metadata"]:
                meta[field] = old["metadata"][field]
            else:
                meta.pop(field, None)
        new["apiVersion"], new["kind"] = old.get("apiVersion"), old.get("kind")
        generation = int(old["metadata"].get("generation", 1))
        if {k: v for k, v in new.items() if k not in ("metadata", "status")} != {
            k: v for k, v in old.items() if k not in ("metadata", "status")
        }:
            generation += 1
        meta["generation"] = generation
        meta["resourceVersion"] = old["metadata"]["resourceVersion"]
        new = self._admit(request.resource, new)
        if new == old:
            return 200, new  # a no-op write keeps the resourceVersion and sends no event
        if meta.get("deletionTimestamp") and not meta.get("finalizers"):
            self._record(key, "MODIFIED", new)
            self._remove(key, new)
            return 200, copy.deepcopy(new)
        self._record(key, "MODIFIED", new)
        return 200, copy.deepcopy(new)

    def _delete(self, request: rendering.Request) -> tuple[int, Any]:
        assert request.resource is not None and request.name is not None
        key = self._key(request.resource, self._ns(request), request.name)
        old = self._current(key)
        if old is None:
            raise self._not_found(request)
        options = request.data if isinstance(request.data, dict) else {}
        precond = (options.get("preconditions") or {}).get("resourceVersion")
        if precond is not None and str(precond) != old["metadata"]["resourceVersion"]:
            raise ApiError(409, "Conflict", "the resourceVersion precondition failed")
        if old["metadata"].get("finalizers"):
            if not old["metadata"].get("deletionTimestamp"):
                old["metadata"]["deletionTimestamp"] = _now()
                old["metadata"]["deletionGracePeriodSeconds"] = 0
                self._record(key, "MODIFIED", old)
            return 200, copy.deepcopy(old)
        self._remove(key, old)
        return 200, copy.deepcopy(old)

    def _remove(self, key: tuple[Any, str | None, str], body: dict[str, Any]) -> None:
        """Remove an object and collect its dependents (ownerReferences), as the GC does."""
        body = copy.deepcopy(body)
        self._record(key, "DELETED", body)
        uid = body["metadata"].get("uid")
        for dep_key, dep in list(self.objects.items()):
            if dep.deleted:
                continue
            refs = dep.raw.get("metadata", {}).get("ownerReferences") or []
            if uid and any(ref.get("uid") == uid for ref in refs):
                dep_body = copy.deepcopy(dep.raw)
                if dep_body["metadata"].get("finalizers"):
                    if not dep_body["metadata"].get("deletionTimestamp"):
                        dep_body["metadata"]["deletionTimestamp"] = _now()
                        self._record(dep_key, "MODIFIED", dep_body)
                else:
                    self._remove(dep_key, dep_body)

    # ------------------------------------------------------------------ reads

    def _matches(self, request: rendering.Request, key: Any, body: Mapping[str, Any]) -> bool:
        res, namespace, name = key
        req = request.resource
        assert req is not None
        if (res.group, res.version, res.plural) != (req.group, req.version, req.plural):
            return False
        if self._ns(request) is not None and namespace != self._ns(request):
            return False
        if request.name is not None and name != request.name:
            return False
        labels = request.params.get("labelSelector")
        if labels and not _labels_match(
            body.get("metadata", {}).get("labels") or {}, parse_label_selector(labels)
        ):
            return False
        fields = request.params.get("fieldSelector")
        return not (fields and not _fields_match(body, fields))

    async def _serve_outcome(self, request: rendering.Request) -> Any:
        if request.id not in self._outcomes:
            raise ApiError(405, "MethodNotAllowed", "not supported")
        status, body = self._outcomes[request.id]
        return rendering.Response(status=status, payload=body)

    async def _serve_create(self, request: rendering.Request) -> Any:
        return await self._serve_outcome(request)

    async def _serve_update(self, request: rendering.Request) -> Any:
        return await self._serve_outcome(request)

    async def _serve_delete(self, request: rendering.Request) -> Any:
        return await self._serve_outcome(request)

    async def _serve_fetch(self, request: rendering.Request) -> Any:
        assert request.resource is not None and request.name is not None
        body = self._current(self._key(request.resource, self._ns(request), request.name))
        if body is None:
            raise self._not_found(request)
        if request.subresource not in (None, "status"):
            raise ApiError(404, "NotFound", f"subresource {request.subresource} is not served")
        if self._wants_table(request):
            return self._table(request.resource, [body], self._rv)
        return body

    async def _serve_list(self, request: rendering.Request) -> Any:
        res = request.resource
        assert res is not None
        info = self._info(res)
        if info is None:
            raise ApiError(404, "NotFound", f"the server could not find the resource {res.plural}")
        async with self._lock:
            items = [
                copy.deepcopy(obj.raw)
                for key, obj in self.objects.items()
                if not obj.deleted and self._matches(request, key, obj.raw)
            ]
            rv = self._rv
        items.sort(key=lambda o: (o["metadata"].get("namespace") or "", o["metadata"]["name"]))
        if self._wants_table(request):
            return self._table(res, items, rv)
        return {
            "apiVersion": f"{res.group}/{res.version}" if res.group else res.version,
            "kind": f"{info.kind}List",
            "metadata": {"resourceVersion": str(rv)},
            "items": items,
        }

    async def _serve_watch(self, request: rendering.Request) -> AsyncIterator[Any]:
        assert request.resource is not None
        plural = str(request.resource.plural)
        epoch = self._watch_epoch  # a drop from now on ends this watch
        self.open_watches[plural] += 1
        try:
            async for item in self._watch_events(request, epoch):
                yield item
        finally:
            self.open_watches[plural] -= 1

    async def _watch_events(self, request: rendering.Request, epoch: int) -> AsyncIterator[Any]:
        # Send the headers at once: clients wait for them before reading the stream.
        yield b""
        params = request.params
        timeout = float(params["timeoutSeconds"]) if params.get("timeoutSeconds") else None
        deadline = None if timeout is None else time.monotonic() + timeout
        since_text = params.get("resourceVersion") or "0"
        pending: list[dict[str, Any]] = []
        async with self._lock:
            if since_text == "0":
                since = self._rv
                for key, obj in self.objects.items():
                    if not obj.deleted and self._matches(request, key, obj.raw):
                        pending.append({"type": "ADDED", "object": copy.deepcopy(obj.raw)})
            else:
                try:
                    since = int(since_text)
                except ValueError:
                    since = -1
                if since < self._compacted_rv:
                    yield {
                        "type": "ERROR",
                        "object": {
                            "apiVersion": "v1",
                            "kind": "Status",
                            "metadata": {},
                            "status": "Failure",
                            "code": 410,
                            "reason": "Expired",
                            "message": f"too old resource version: {since_text} "
                            f"({self._compacted_rv})",
                        },
                    }
                    return
        for event in pending:
            yield event
        while not self._closing and epoch == self._watch_epoch:
            if self._tick is None:
                self._tick = asyncio.Event()
            tick = self._tick
            fresh = [
                ev
                for rv, res, ev in self._log
                if rv > since and self._matches(request, self._event_key(res, ev), ev["object"])
            ]
            if self._log:
                since = max(since, self._log[-1][0])
            for event in fresh:
                yield event
            if fresh:
                continue
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                return
            try:
                await asyncio.wait_for(tick.wait(), remaining)
            except TimeoutError:
                return

    @staticmethod
    def _wants_table(request: rendering.Request) -> bool:
        return "as=Table" in request.headers.get("Accept", "")

    def _table(self, res: Any, items: list[dict[str, Any]], rv: int) -> dict[str, Any]:
        """A meta.k8s.io/v1 Table (what `kubectl get` prints), with the CRD's columns."""
        columns = self._columns.get(Resource(*_gvp(res)), [])
        if not columns:
            columns = [{"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}]
        definitions = [{"name": "Name", "type": "string", "format": "name", "priority": 0}]
        for col in columns:
            definitions.append(
                {
                    "name": col["name"],
                    "type": col.get("type", "string"),
                    "format": col.get("format", ""),
                    "description": col.get("description", ""),
                    "priority": col.get("priority", 0),
                }
            )
        rows = []
        for item in items:
            cells: list[Any] = [item["metadata"]["name"]]
            for col in columns:
                value = _field(item, col["jsonPath"].lstrip("."))
                if col.get("type") == "date" and value:
                    value = _age(str(value))
                cells.append(value)
            partial = {
                "kind": "PartialObjectMetadata",
                "apiVersion": "meta.k8s.io/v1",
                "metadata": item["metadata"],
            }
            rows.append({"cells": cells, "object": partial})
        return {
            "kind": "Table",
            "apiVersion": "meta.k8s.io/v1",
            "metadata": {"resourceVersion": str(rv)},
            "columnDefinitions": definitions,
            "rows": rows,
        }

    async def _serve_version(self, request: rendering.Request) -> Any:
        # kmock repeats short names on subresources ("vj" would be ambiguous for kubectl).
        payload: Any = await super()._serve_version(request)
        for entry in payload.get("resources", []):
            if "/" in entry["name"]:
                entry["shortNames"], entry["categories"], entry["singularName"] = [], [], ""
                entry["verbs"] = ["get", "patch", "update"]
        return payload

    @staticmethod
    def _event_key(res: Any, event: Mapping[str, Any]) -> Any:
        meta = event["object"].get("metadata", {})
        return (res, meta.get("namespace"), meta.get("name"))

    # ------------------------------------------------------------------ helpers for tests

    def dump(self) -> str:
        """Every live object as JSON (for failure messages)."""
        live = [obj.raw for _, obj in self.objects.items() if not obj.deleted]
        return json.dumps(live, indent=1, default=str)
