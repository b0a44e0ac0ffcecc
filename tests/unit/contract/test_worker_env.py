"""The worker's environment, exit codes and the VectorizeJob spec of the job contract."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from supersvg.api.jobs import ExitCode, WorkerConfig, WorkerEnv, WorkerEnvError, is_retryable
from supersvg.api.jobs.vectorizejob import (
    LABEL_ATTEMPT,
    attempt_manifest,
    spec_with_defaults,
    worker_config_json,
)

pytestmark = pytest.mark.unit


def test_env_round_trip_and_defaults() -> None:
    env = WorkerEnv(
        job_id="job_1",
        input_key="jobs/job_1/input",
        output_prefix="jobs/job_1/",
        config={"max_paths": 8, "max_colors": 3},
        attempt=2,
        scheduler_addr="s:50051",
        worker_token="tok",
        traceparent="00-" + "a" * 32 + "-" + "b" * 16 + "-01",
        extra={"SUPERSVG_DEVICE": "cpu"},
    ).to_env()
    back = WorkerEnv.from_env(env)
    assert (back.job_id, back.attempt, back.device, back.worker_token) == ("job_1", 2, "cpu", "tok")
    assert back.worker_config() == WorkerConfig(max_paths=8, max_colors=3)
    minimal = WorkerEnv.from_env(
        {"SUPERSVG_JOB_ID": "j", "SUPERSVG_JOB_INPUT_KEY": "k", "SUPERSVG_JOB_OUTPUT_PREFIX": "p"}
    )
    assert minimal.output_prefix == "p/" and minimal.scheduler_addr == ""
    assert minimal.worker_config() == WorkerConfig()


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({}, "missing environment"),
        ({"SUPERSVG_JOB_CONFIG": "[1]"}, "must be a JSON object"),
        ({"SUPERSVG_JOB_ATTEMPT": "x"}, "invalid SUPERSVG_JOB_CONFIG or SUPERSVG_JOB_ATTEMPT"),
    ],
)
def test_bad_environment_is_refused(env: dict[str, str], message: str) -> None:
    base = {
        "SUPERSVG_JOB_ID": "j",
        "SUPERSVG_JOB_INPUT_KEY": "k",
        "SUPERSVG_JOB_OUTPUT_PREFIX": "p",
    }
    with pytest.raises(WorkerEnvError, match=message):
        WorkerEnv.from_env({**base, **env} if env else {})


def test_a_bad_config_is_found_by_the_worker_not_the_reader() -> None:
    env = WorkerEnv(job_id="j", input_key="k", output_prefix="p/", config={"max_paths": 0})
    with pytest.raises(ValidationError):
        env.worker_config()


def test_exit_codes() -> None:
    assert [int(c) for c in ExitCode] == [0, 1, 2, 3, 4]
    assert not is_retryable(ExitCode.OK) and not is_retryable(ExitCode.INVALID_INPUT)
    assert not is_retryable(ExitCode.CANCELLED)
    assert not is_retryable(ExitCode.MODEL_UNAVAILABLE)
    assert is_retryable(ExitCode.FAILED) and is_retryable(137) and is_retryable(None)


def test_attempt_manifest_and_operator_view_agree() -> None:
    manifest = attempt_manifest(
        name="job-1-a2",
        namespace="ns",
        job_id="job_1",
        tenant_id="tenant/a",
        attempt=2,
        priority="urgent",
        input_key="jobs/job_1/input",
        output_prefix="jobs/job_1/",
        config=WorkerConfig(max_colors=5, gradients="off"),
        device="cpu",
        token_secret="job-1-a2-token",
        extra_spec={"ttlSecondsAfterFinished": 60},
    )
    meta, spec = manifest["metadata"], manifest["spec"]
    assert (
        meta["labels"][LABEL_ATTEMPT] == "2" and meta["labels"]["supersvg.io/tenant"] == "tenant-a"
    )
    assert spec["priority"] == "normal" and spec["backoffLimit"] == 0
    assert spec["ttlSecondsAfterFinished"] == 60 and "schedulerAddr" not in spec
    # What the operator hands the worker is what the scheduler asked for.
    sent = json.loads(worker_config_json(spec_with_defaults(spec)))
    assert WorkerConfig.model_validate(sent) == WorkerConfig(max_colors=5, gradients="off")
