"""One GPU VM on AWS EC2 with boto3: quota check, AMI lookup, key pair, SSH-only security
group, on-demand or spot launch, status and terminate.

Credentials, region and endpoint come from boto3's usual sources (environment, profile,
``AWS_ENDPOINT_URL`` for a local emulator). Every AWS error becomes a :class:`CloudError`
whose message names the call and what to do.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from .record import ON_DEMAND_PRICES, PRICES_AS_OF, CloudError, InstanceRecord

__all__ = [
    "AMI_PARAMETERS",
    "QUOTA_CODES",
    "Ec2",
    "LaunchSpec",
    "QuotaCheck",
    "quota_verdict",
]

#: EC2 vCPU quotas that bound G and VT instances (Service Quotas codes).
QUOTA_CODES = {
    "on-demand": ("L-DB2E81BA", "Running On-Demand G and VT instances"),
    "spot": ("L-3819A6DF", "All G and VT Spot Instance Requests"),
}
#: Public SSM parameters tried in order for the newest AMI: the Deep Learning Base AMI
#: (NVIDIA driver, Docker and the container toolkit installed), then plain Ubuntu 22.04.
AMI_PARAMETERS = (
    "/aws/service/deeplearning/ami/x86_64/base-oss-nvidia-driver-gpu-ubuntu-22.04/latest/ami-id",
    "/aws/service/canonical/ubuntu/server/22.04/stable/current/amd64/hvm/ebs-gp2/ami-id",
)
#: The same AMIs by name, for regions (or emulators) without the public parameters.
AMI_NAME_FALLBACK = (("amazon", "Deep Learning*Ubuntu*"), ("099720109477", "ubuntu/images/*22.04*"))
_GPU_FAMILIES = ("g", "vt")

T = TypeVar("T")


@dataclass(frozen=True)
class QuotaCheck:
    """Enough vCPU quota for one more instance? ``limit``/``in_use`` None: unknown."""

    ok: bool
    needed: int
    limit: float | None
    in_use: int
    message: str


def quota_verdict(market: str, needed: int, limit: float | None, in_use: int) -> QuotaCheck:
    """Judge a quota reading; the message says how to raise a quota that is too small."""
    code, title = QUOTA_CODES[market]
    raise_it = (
        f"raise it in the Service Quotas console (EC2 > '{title}') or with: aws service-quotas "
        f"request-service-quota-increase --service-code ec2 --quota-code {code} "
        f"--desired-value {max(needed + in_use, 8)}"
    )
    if limit is None:
        return QuotaCheck(
            True, needed, None, in_use,
            f"could not read the '{title}' quota ({code}); if the launch fails with "
            f"VcpuLimitExceeded, {raise_it}",
        )  # fmt: skip
    if needed + in_use > limit:
        return QuotaCheck(
            False, needed, limit, in_use,
            f"'{title}' ({code}) allows {limit:g} vCPUs, {in_use} in use, this instance needs "
            f"{needed}: {raise_it} (approval can take a day or two)",
        )  # fmt: skip
    return QuotaCheck(True, needed, limit, in_use, f"'{title}': {in_use + needed}/{limit:g} vCPUs")


@dataclass(frozen=True)
class LaunchSpec:
    name: str
    instance_type: str = "g5.xlarge"
    spot: bool = False
    ami: str = ""  # empty: look it up (AMI_PARAMETERS)
    ami_parameter: str = ""  # another SSM parameter to read the AMI from
    key_name: str = "supersvg"
    security_group: str = "supersvg-ssh"
    ssh_cidr: str = "0.0.0.0/0"
    volume_gb: int = 200
    user_data: str = ""
    iam_instance_profile: str = ""  # lets the instance write checkpoints to S3
    bucket: str = ""


class Ec2:
    """The EC2 calls of ``supersvg cloud`` for one region."""

    def __init__(self, region: str | None = None, session: Any = None) -> None:
        session = session or boto3.session.Session(region_name=region)
        self.region: str = session.region_name or "us-east-1"
        self.ec2 = session.client("ec2", region_name=self.region)
        self.ssm = session.client("ssm", region_name=self.region)
        self.quotas = session.client("service-quotas", region_name=self.region)

    # ------------------------------------------------------------------ look-ups
    def vcpus(self, instance_type: str) -> int:
        info = _call(
            "describe_instance_types",
            lambda: self.ec2.describe_instance_types(InstanceTypes=[instance_type]),
        )
        types = info.get("InstanceTypes", [])
        if not types:
            raise CloudError(f"unknown instance type {instance_type!r} in {self.region}")
        return int(types[0]["VCpuInfo"]["DefaultVCpus"])

    def check_quota(self, instance_type: str, spot: bool) -> QuotaCheck:
        market = "spot" if spot else "on-demand"
        needed = self.vcpus(instance_type)
        try:
            quota = self.quotas.get_service_quota(
                ServiceCode="ec2", QuotaCode=QUOTA_CODES[market][0]
            )
            limit: float | None = float(quota["Quota"]["Value"])
        except (ClientError, BotoCoreError, KeyError):
            limit = None
        return quota_verdict(market, needed, limit, self._gpu_vcpus_in_use(spot))

    def _gpu_vcpus_in_use(self, spot: bool) -> int:
        pages = self.ec2.get_paginator("describe_instances").paginate(
            Filters=[{"Name": "instance-state-name", "Values": ["pending", "running"]}]
        )
        types: list[str] = []
        for page in _call("describe_instances", lambda: list(pages)):
            for reservation in page["Reservations"]:
                for inst in reservation["Instances"]:
                    family = inst["InstanceType"].split(".")[0].rstrip("0123456789dne")
                    if (
                        family in _GPU_FAMILIES
                        and (inst.get("InstanceLifecycle") == "spot") == spot
                    ):
                        types.append(inst["InstanceType"])
        return sum(self.vcpus(t) for t in types)

    def find_ami(self, parameter: str = "") -> tuple[str, str]:
        """(AMI id, where it came from): SSM parameters first, then a name search."""
        for name in [parameter] if parameter else AMI_PARAMETERS:
            try:
                value = self.ssm.get_parameter(Name=name)["Parameter"]["Value"]
                return str(value), f"ssm:{name}"
            except (ClientError, BotoCoreError) as exc:
                if parameter:
                    raise CloudError(
                        f"SSM parameter {parameter} not found in {self.region}"
                    ) from exc
        for owner, pattern in AMI_NAME_FALLBACK:
            images = self._images(owner, pattern)
            if images:
                newest = max(images, key=lambda i: i.get("CreationDate", ""))
                return str(newest["ImageId"]), f"name:{newest.get('Name', '')}"
        raise CloudError(f"no Deep Learning or Ubuntu 22.04 AMI found in {self.region}; pass --ami")

    def _images(self, owner: str, pattern: str) -> list[dict[str, Any]]:
        out = _call(
            "describe_images",
            lambda: self.ec2.describe_images(
                Owners=[owner], Filters=[{"Name": "name", "Values": [pattern]}]
            ),
        )
        return list(out["Images"])

    def hourly_price(self, instance_type: str, spot: bool) -> tuple[float | None, str]:
        if spot:
            history = _call(
                "describe_spot_price_history",
                lambda: self.ec2.describe_spot_price_history(
                    InstanceTypes=[instance_type],
                    ProductDescriptions=["Linux/UNIX", "Linux/UNIX (Amazon VPC)"],
                    StartTime=datetime.now(UTC),
                ),
            )["SpotPriceHistory"]
            if history:
                spot_price = max(float(h["SpotPrice"]) for h in history)
                return spot_price, f"spot price in {self.region} at launch (highest zone)"
        price = ON_DEMAND_PRICES.get(instance_type)
        if price is None:
            return None, "unknown (not in the built-in price list)"
        return price, f"on-demand, indicative ({PRICES_AS_OF})"

    # ------------------------------------------------------------------ set-up
    def ensure_key_pair(self, name: str, state_dir: Path) -> Path:
        """Reuse ``name`` when its private key is here; create it (0600 .pem) otherwise."""
        pem = state_dir / f"{name}.pem"
        existing = _call(
            "describe_key_pairs",
            lambda: self.ec2.describe_key_pairs(Filters=[{"Name": "key-name", "Values": [name]}]),
        )["KeyPairs"]
        if existing and pem.exists():
            return pem
        if existing:
            raise CloudError(
                f"key pair {name!r} exists in {self.region} but {pem} is missing; pass the "
                "folder holding it (--state-dir) or another --key-name"
            )
        key = _call("create_key_pair", lambda: self.ec2.create_key_pair(KeyName=name))
        state_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(pem, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(key["KeyMaterial"])
        return pem

    def ensure_security_group(self, name: str, cidr: str) -> str:
        """An SSH-only (port 22 from ``cidr``) group in the default VPC; reused by name."""
        found = _call(
            "describe_security_groups",
            lambda: self.ec2.describe_security_groups(
                Filters=[{"Name": "group-name", "Values": [name]}]
            ),
        )["SecurityGroups"]
        if found:
            return str(found[0]["GroupId"])
        group = _call(
            "create_security_group",
            lambda: self.ec2.create_security_group(
                GroupName=name, Description="SuperSVG training VM: SSH only"
            ),
        )["GroupId"]
        _call(
            "authorize_security_group_ingress",
            lambda: self.ec2.authorize_security_group_ingress(
                GroupId=group,
                IpPermissions=[
                    {
                        "IpProtocol": "tcp",
                        "FromPort": 22,
                        "ToPort": 22,
                        "IpRanges": [{"CidrIp": cidr, "Description": "SSH"}],
                    }
                ],
            ),
        )
        return str(group)

    # ------------------------------------------------------------------ life cycle
    def launch(self, spec: LaunchSpec, state_dir: Path) -> InstanceRecord:
        ami = spec.ami or self.find_ami(spec.ami_parameter)[0]
        pem = self.ensure_key_pair(spec.key_name, state_dir)
        group = self.ensure_security_group(spec.security_group, spec.ssh_cidr)
        args: dict[str, Any] = {
            "ImageId": ami,
            "InstanceType": spec.instance_type,
            "MinCount": 1,
            "MaxCount": 1,
            "KeyName": spec.key_name,
            "SecurityGroupIds": [group],
            "UserData": spec.user_data,
            "BlockDeviceMappings": [
                {
                    "DeviceName": "/dev/sda1",
                    "Ebs": {"VolumeSize": spec.volume_gb, "VolumeType": "gp3"},
                }
            ],
            "MetadataOptions": {"HttpTokens": "required", "HttpEndpoint": "enabled"},
            "TagSpecifications": [
                {
                    "ResourceType": "instance",
                    "Tags": [
                        {"Key": "Name", "Value": spec.name},
                        {"Key": "supersvg", "Value": "train"},
                    ],
                }
            ],
        }
        if spec.iam_instance_profile:
            args["IamInstanceProfile"] = {"Name": spec.iam_instance_profile}
        if spec.spot:
            args["InstanceMarketOptions"] = {
                "MarketType": "spot",
                "SpotOptions": {
                    "SpotInstanceType": "one-time",
                    "InstanceInterruptionBehavior": "terminate",
                },
            }
        price, source = self.hourly_price(spec.instance_type, spec.spot)
        inst = _call("run_instances", lambda: self.ec2.run_instances(**args))["Instances"][0]
        launched = inst.get("LaunchTime") or datetime.now(UTC)
        return InstanceRecord(
            name=spec.name,
            instance_id=str(inst["InstanceId"]),
            region=self.region,
            instance_type=spec.instance_type,
            market="spot" if spec.spot else "on-demand",
            launched_at=launched.astimezone(UTC).isoformat(),
            key_file=str(pem.resolve()),
            public_ip=str(inst.get("PublicIpAddress", "")),
            price_per_hour=price,
            price_source=source,
            bucket=spec.bucket,
            extra={"ami": ami, "security_group": group},
        )

    def describe(self, instance_id: str) -> dict[str, Any]:
        out = _call(
            "describe_instances", lambda: self.ec2.describe_instances(InstanceIds=[instance_id])
        )
        for reservation in out.get("Reservations", []):
            for inst in reservation["Instances"]:
                return dict(inst)
        raise CloudError(f"instance {instance_id} not found in {self.region}")

    def terminate(self, instance_id: str) -> str:
        out = _call(
            "terminate_instances", lambda: self.ec2.terminate_instances(InstanceIds=[instance_id])
        )
        return str(out["TerminatingInstances"][0]["CurrentState"]["Name"])


def _call(what: str, fn: Callable[[], T]) -> T:
    try:
        return fn()
    except ClientError as exc:
        err = exc.response.get("Error", {})
        code, message = err.get("Code", "Error"), err.get("Message", str(exc))
        hint = ""
        if code in ("VcpuLimitExceeded", "MaxSpotInstanceCountExceeded"):
            hint = " (the vCPU quota is too small: see `supersvg cloud quota`)"
        elif code in ("AuthFailure", "UnauthorizedOperation", "InvalidClientTokenId"):
            hint = " (check AWS credentials and IAM permissions)"
        elif code == "InsufficientInstanceCapacity":
            hint = " (no capacity now: try another region, zone or instance type)"
        raise CloudError(f"{what}: {code}: {message}{hint}") from exc
    except BotoCoreError as exc:
        raise CloudError(f"{what}: {exc}") from exc
