"""``JobConfig``: the one definition of a job's settings, their defaults and bounds.

Every copy follows this module: the gateway's REST ``config`` (and so the OpenAPI
document), the proto's ``JobConfig`` (and its comments), the VectorizeJob CRD's
``spec.config``, the scheduler's validation, the worker's ``SUPERSVG_JOB_CONFIG`` and the
client. ``tests/unit/contract`` holds the CRD schema, the OpenAPI document and the proto
against it, so a new field is one edit here plus the copies the test names.

Two models: :class:`WorkerConfig` is what the worker runs with (it travels in
``SUPERSVG_JOB_CONFIG`` and in a VectorizeJob's ``spec.config``); :class:`JobConfig` adds
what only the service uses (priority, callback URL).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from supersvg.api.v1 import scheduler_pb2 as pb

__all__ = [
    "GRADIENTS",
    "MAX_CALLBACK_URL_CHARS",
    "MAX_COLORS",
    "MAX_ITERATIONS",
    "MAX_PATHS",
    "MAX_SEED",
    "OUTPUT_FORMATS",
    "PRESETS",
    "PRIORITIES",
    "JobConfig",
    "WorkerConfig",
    "config_error_message",
    "config_problems",
    "crd_name",
    "priority_from_proto",
    "priority_to_proto",
]

MAX_PATHS = 4096
MAX_COLORS = 4096
MAX_ITERATIONS = 10_000
MAX_SEED = 2**31 - 1
MAX_CALLBACK_URL_CHARS = 2048
PRESETS = ("auto", "photo", "illustration", "icon")
GRADIENTS = ("auto", "off")
OUTPUT_FORMATS = ("svg",)
PRIORITIES = ("low", "normal", "high")

Preset = Literal["auto", "photo", "illustration", "icon"]
Gradients = Literal["auto", "off"]
OutputFormat = Literal["svg"]
PriorityName = Literal["low", "normal", "high"]

_PRIORITY_FROM_PROTO: dict[int, PriorityName] = {
    int(pb.PRIORITY_LOW): "low",
    int(pb.PRIORITY_NORMAL): "normal",
    int(pb.PRIORITY_HIGH): "high",
}
_PRIORITY_TO_PROTO: dict[str, int] = {v: k for k, v in _PRIORITY_FROM_PROTO.items()}


class WorkerConfig(BaseModel):
    """The vectorization settings a worker runs with. Unknown keys are refused."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_paths: Annotated[
        int,
        Field(
            ge=1,
            le=MAX_PATHS,
            description="Most closed outlines in the SVG (subpaths, holes included).",
        ),
    ] = 256
    max_colors: Annotated[
        int | None,
        Field(
            ge=1,
            le=MAX_COLORS,
            description="Most distinct fill colours; null = no limit beyond max_paths.",
        ),
    ] = None
    gradients: Annotated[
        Gradients, Field(description="Gradient fills where they win (auto) or never (off).")
    ] = "auto"
    num_iterations: Annotated[
        int,
        Field(ge=0, le=MAX_ITERATIONS, description="Refinement iterations (0 = no refinement)."),
    ] = 100
    output_format: Annotated[OutputFormat, Field(description="Output format.")] = "svg"
    preset: Annotated[Preset, Field(description="Tuning preset for the kind of image.")] = "auto"
    seed: Annotated[
        int,
        Field(ge=0, le=MAX_SEED, description="Random seed (deterministic per seed and device)."),
    ] = 0

    # ---------------------------------------------------------------- VectorizeJob spec
    def to_crd(self) -> dict[str, Any]:
        """A VectorizeJob's ``spec.config`` (camelCase; a null ``maxColors`` is left out)."""
        return {crd_name(k): v for k, v in self.model_dump(mode="json").items() if v is not None}

    @classmethod
    def crd_to_fields(cls, spec_config: Mapping[str, Any]) -> dict[str, Any]:
        """``spec.config`` keys renamed to field names, values untouched (not validated:
        the worker validates and reports a bad config as its job's failure)."""
        by_crd = {crd_name(name): name for name in cls.model_fields}
        return {by_crd.get(k, k): v for k, v in spec_config.items()}

    @classmethod
    def from_stored(cls, values: Mapping[str, Any]) -> WorkerConfig:
        """A stored (already validated) config; unknown keys dropped, missing ones default."""
        return cls.model_construct(**_known(cls, values))

    @classmethod
    def from_crd(cls, spec_config: Mapping[str, Any]) -> WorkerConfig:
        return cls.model_validate(cls.crd_to_fields(spec_config))


class JobConfig(WorkerConfig):
    """A job's settings as the public API takes them: the worker's plus the service's."""

    priority: Annotated[PriorityName, Field(description="Queue priority.")] = "normal"
    callback_url: Annotated[
        str | None,
        Field(
            max_length=MAX_CALLBACK_URL_CHARS,
            description="HTTPS URL notified when the job ends; null = no callback.",
        ),
    ] = None

    def worker_config(self) -> WorkerConfig:
        """The part the worker runs with."""
        return WorkerConfig.model_validate(self.model_dump(include=set(WorkerConfig.model_fields)))

    # ---------------------------------------------------------------- proto
    def to_proto(self) -> pb.JobConfig:
        msg = pb.JobConfig(
            max_paths=self.max_paths,
            gradients=self.gradients,
            num_iterations=self.num_iterations,
            output_format=self.output_format,
            priority=priority_to_proto(self.priority),  # type: ignore[arg-type]
            callback_url=self.callback_url or "",
            preset=self.preset,
            seed=self.seed,
        )
        if self.max_colors is not None:
            msg.max_colors = self.max_colors
        return msg

    @classmethod
    def from_proto(cls, msg: pb.JobConfig) -> JobConfig:
        """Validated; empty strings and an unspecified priority mean the defaults, a zero
        ``max_paths`` is refused (it has no meaning), an unset ``max_colors`` is null.

        Raises:
            pydantic.ValidationError: a value out of bounds (see :func:`config_problems`).
        """
        return cls(
            max_paths=msg.max_paths,
            max_colors=msg.max_colors if msg.HasField("max_colors") else None,
            gradients=msg.gradients or "auto",  # type: ignore[arg-type]
            num_iterations=msg.num_iterations,
            output_format=msg.output_format or "svg",  # type: ignore[arg-type]
            priority=priority_from_proto(msg.priority),
            callback_url=msg.callback_url or None,
            preset=msg.preset or "auto",  # type: ignore[arg-type]
            seed=msg.seed,
        )

    @classmethod
    def from_record(
        cls, worker: Mapping[str, Any], priority: str, callback_url: str | None
    ) -> JobConfig:
        """Rebuild a job's config from its stored parts, without validating again (they
        were validated on submit); unknown stored keys are dropped, missing ones default."""
        return cls.model_construct(
            **_known(cls, worker), priority=priority, callback_url=callback_url or None
        )


def _known(model: type[BaseModel], values: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if k in model.model_fields}


def crd_name(field: str) -> str:
    """``max_paths`` -> ``maxPaths``: the VectorizeJob spelling of a field."""
    head, *rest = field.split("_")
    return head + "".join(part.title() for part in rest)


def priority_to_proto(priority: str) -> int:
    return _PRIORITY_TO_PROTO[priority]


def priority_from_proto(value: int) -> PriorityName:
    """Unspecified (0) or unknown values are ``normal``."""
    return _PRIORITY_FROM_PROTO.get(value, "normal")


def config_problems(exc: ValidationError) -> list[dict[str, str]]:
    """A validation error as the error model's ``details.errors`` (field + message)."""
    return [
        {"field": ".".join(str(p) for p in e["loc"]) or "config", "msg": e["msg"]}
        for e in exc.errors()
    ]


def config_error_message(exc: ValidationError) -> str:
    """One line naming every bad field (a job's error message)."""
    return "; ".join(f"{p['field']}: {p['msg']}" for p in config_problems(exc))
