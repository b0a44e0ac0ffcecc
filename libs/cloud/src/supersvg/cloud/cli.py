"""``supersvg cloud``: one GPU VM on AWS EC2, and the tools its bootstrap runs on the host.

    supersvg cloud quota --instance-type g5.xlarge [--spot]
    supersvg cloud launch [--spot] [--instance-type g5.xlarge] [--dataset quickdraw] ...
    supersvg cloud status | ssh | logs | terminate [--name supersvg]
    supersvg cloud bootstrap-script > bootstrap.sh      # RunPod / Vast.ai / Lambda hosts
    supersvg cloud monitor | sync | spot-watch           # on the host (the bootstrap uses them)

Records live in ``--state-dir`` (``$SUPERSVG_CLOUD_DIR`` or ``./.supersvg-cloud``).
Exit codes: 0 done, 1 a cloud or host operation failed (the message says what to do),
2 usage, 3 the vCPU quota is too small for the launch.
"""

from __future__ import annotations

import argparse
import shlex
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .record import CloudError, InstanceRecord, cost_so_far, default_state_dir

__all__ = ["EXIT_QUOTA", "main", "register"]

EXIT_QUOTA = 3
_BOOTSTRAP_LOG = "/var/log/cloud-init-output.log"


def register(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``cloud`` subcommand to an argparse ``subparsers`` object."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "cloud", help="train on one rented GPU VM (AWS EC2; bootstrap for other hosts)"
    )
    add_commands(parser)
    return parser


def add_commands(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="cloud_command", required=True)

    def add(name: str, help_text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.add_argument("--state-dir", type=Path, default=None, help="records and key files")
        return p

    q = add("quota", "check the G/VT vCPU quota for an instance type and say how to raise it")
    q.add_argument("--instance-type", default="g5.xlarge")
    q.add_argument("--spot", action="store_true")
    q.add_argument("--region", default=None)
    q.set_defaults(func=_guard(_quota))

    la = add("launch", "launch an instance that bootstraps itself and starts training")
    la.add_argument("--name", default="supersvg", help="record name and Name tag")
    la.add_argument("--instance-type", default="g5.xlarge")
    la.add_argument("--spot", action="store_true", help="spot instead of on-demand")
    la.add_argument("--region", default=None)
    la.add_argument("--ami", default="", help="AMI id (default: newest Deep Learning Base AMI)")
    la.add_argument("--ami-parameter", default="", help="SSM parameter holding the AMI id")
    la.add_argument("--key-name", default="supersvg")
    la.add_argument("--security-group", default="supersvg-ssh")
    la.add_argument("--ssh-cidr", default="0.0.0.0/0", help="who may SSH in (e.g. your IP/32)")
    la.add_argument("--volume-gb", type=int, default=200)
    la.add_argument("--bucket", default="", help="S3 bucket for checkpoint sync")
    la.add_argument("--iam-instance-profile", default="", help="profile allowed to write it")
    la.add_argument("--dataset", default="test", choices=("test", "quickdraw", "icons", "all"))
    la.add_argument("--epochs", type=int, default=100)
    la.add_argument("--batch-size", type=int, default=32)
    la.add_argument("--lr", type=float, default=1e-3)
    la.add_argument("--repo-url", default="https://github.com/supersvg/supersvg.git")
    la.add_argument("--repo-ref", default="main")
    la.add_argument("--image", default="", help="prebuilt trainer image to pull (else built)")
    la.add_argument("--skip-quota-check", action="store_true")
    la.set_defaults(func=_guard(_launch))

    for name, text, func in (
        ("status", "state, address, uptime and cost so far of the saved instance", _status),
        ("ssh", "print (or --run) the SSH command for the saved instance", _ssh),
        ("logs", "print (or --run) the command showing the bootstrap log and training", _logs),
        ("terminate", "terminate the saved instance and report its cost", _terminate),
    ):
        p = add(name, text)
        p.add_argument("--name", default="supersvg")
        if name in ("ssh", "logs"):
            p.add_argument("--run", action="store_true", help="run the command instead")
        p.set_defaults(func=_guard(func))

    bs = add("bootstrap-script", "print the host bootstrap script (RunPod, Vast.ai, Lambda)")
    bs.set_defaults(func=_guard(_bootstrap_script))

    mo = add("monitor", "on the host: GPU use, last losses, checkpoint age of a run")
    mo.add_argument("--workspace", type=Path, required=True)
    mo.add_argument("--run", default="supersvg")
    mo.set_defaults(func=_guard(_monitor))

    sy = add("sync", "on the host: upload new or changed files of a folder to S3")
    sy.add_argument("folder", type=Path)
    sy.add_argument("url", help="s3://bucket/prefix")
    sy.set_defaults(func=_guard(_sync))

    sw = add("spot-watch", "on a spot host: run a command on an interruption notice")
    sw.add_argument("--on-notice", required=True, help="command to run (stop and sync)")
    sw.add_argument("--metadata-url", default=None, help="instance metadata base URL")
    sw.add_argument("--interval", type=float, default=5.0)
    sw.add_argument("--max-polls", type=int, default=None)
    sw.set_defaults(func=_guard(_spot_watch))


def _state(args: argparse.Namespace) -> Path:
    return Path(args.state_dir) if args.state_dir else default_state_dir()


def _quota(args: argparse.Namespace) -> int:
    from .ec2 import Ec2

    check = Ec2(args.region).check_quota(args.instance_type, args.spot)
    print(check.message)
    return 0 if check.ok else EXIT_QUOTA


def _launch(args: argparse.Namespace) -> int:
    from .ec2 import Ec2, LaunchSpec
    from .host import user_data

    ec2 = Ec2(args.region)
    if not args.skip_quota_check:
        check = ec2.check_quota(args.instance_type, args.spot)
        print(f"quota: {check.message}")
        if not check.ok:
            return EXIT_QUOTA
    settings = {
        "REPO_URL": args.repo_url, "REPO_REF": args.repo_ref, "IMAGE": args.image,
        "DATASET": args.dataset, "EPOCHS": str(args.epochs), "BATCH_SIZE": str(args.batch_size),
        "LR": f"{args.lr:g}", "RUN_NAME": args.name, "S3_BUCKET": args.bucket,
        "SPOT": "1" if args.spot else "0",
    }  # fmt: skip
    spec = LaunchSpec(
        name=args.name, instance_type=args.instance_type, spot=args.spot, ami=args.ami,
        ami_parameter=args.ami_parameter, key_name=args.key_name,
        security_group=args.security_group, ssh_cidr=args.ssh_cidr, volume_gb=args.volume_gb,
        user_data=user_data(settings), iam_instance_profile=args.iam_instance_profile,
        bucket=args.bucket,
    )  # fmt: skip
    state = _state(args)
    record = ec2.launch(spec, state)
    path = record.save(state)
    price = f"${record.price_per_hour:.3f}/h" if record.price_per_hour is not None else "unknown"
    print(
        f"launched {record.instance_id} ({record.instance_type}, {record.market}, {price}: "
        f"{record.price_source}) in {record.region}\n"
        f"record: {path}\n"
        f"the instance installs and starts training by itself; follow it with:\n"
        f"  supersvg cloud status --name {record.name}\n"
        f"  supersvg cloud logs --name {record.name} --run\n"
        f"terminate it when done (billing runs until then):\n"
        f"  supersvg cloud terminate --name {record.name}"
    )
    return 0


def _refresh(record: InstanceRecord, state: Path) -> dict[str, Any]:
    from .ec2 import Ec2

    inst = Ec2(record.region).describe(record.instance_id)
    ip = str(inst.get("PublicIpAddress", ""))
    if ip and ip != record.public_ip:
        record.public_ip = ip
        record.save(state)
    return inst


def _status(args: argparse.Namespace) -> int:
    state = _state(args)
    record = InstanceRecord.load(state, args.name)
    inst = _refresh(record, state)
    cost = cost_so_far(record)
    launched = datetime.fromisoformat(record.launched_at)
    hours = (datetime.now(UTC) - launched).total_seconds() / 3600
    print(
        f"{record.name}: {record.instance_id} {inst['State']['Name']} "
        f"({record.instance_type}, {record.market}, {record.region})\n"
        f"address: {record.public_ip or 'none yet'}\n"
        f"up: {hours:.2f} h since {record.launched_at}\n"
        "cost so far: "
        + (f"${cost:.2f} ({record.price_source})" if cost is not None else "unknown price")
    )
    return 0


def _ssh_argv(record: InstanceRecord, remote: str = "") -> list[str]:
    if not record.public_ip:
        raise CloudError(f"{record.instance_id} has no public address yet; try status again")
    argv = ["ssh", "-i", record.key_file, "-o", "StrictHostKeyChecking=accept-new"]
    argv.append(f"{record.ssh_user}@{record.public_ip}")
    return [*argv, remote] if remote else argv


def _ssh(args: argparse.Namespace) -> int:
    state = _state(args)
    record = InstanceRecord.load(state, args.name)
    _refresh(record, state)
    return _print_or_run(_ssh_argv(record), args.run)


def _logs(args: argparse.Namespace) -> int:
    state = _state(args)
    record = InstanceRecord.load(state, args.name)
    _refresh(record, state)
    remote = (
        f"sudo tail -n 40 {_BOOTSTRAP_LOG}; "
        f"sudo /opt/supersvg/bin/monitor_training.sh 2>/dev/null || true"
    )
    return _print_or_run(_ssh_argv(record, remote), args.run)


def _print_or_run(argv: list[str], run: bool) -> int:
    if not run:
        print(shlex.join(argv))
        return 0
    return subprocess.run(argv, check=False).returncode


def _terminate(args: argparse.Namespace) -> int:
    from .ec2 import Ec2

    state = _state(args)
    record = InstanceRecord.load(state, args.name)
    now_state = Ec2(record.region).terminate(record.instance_id)
    cost = cost_so_far(record)
    record.extra["terminated_at"] = datetime.now(UTC).isoformat()
    record.save(state)
    spent = f"${cost:.2f}" if cost is not None else "unknown"
    print(f"{record.instance_id}: {now_state}; cost so far {spent} ({record.price_source})")
    return 0


def _bootstrap_script(args: argparse.Namespace) -> int:
    from .host import bootstrap_script

    sys.stdout.write(bootstrap_script())
    return 0


def _monitor(args: argparse.Namespace) -> int:
    from .host import monitor_report

    print(monitor_report(args.workspace, args.run))
    return 0


def _sync(args: argparse.Namespace) -> int:
    from .host import sync_to_s3

    uploaded, unchanged = sync_to_s3(args.folder, args.url)
    print(f"{args.folder} -> {args.url}: {uploaded} uploaded, {unchanged} unchanged")
    return 0


def _spot_watch(args: argparse.Namespace) -> int:
    from .host import IMDS_URL, watch_spot

    def handler(action: str) -> int:
        return subprocess.run(args.on_notice, shell=True, check=False).returncode

    watch_spot(
        handler,
        base_url=args.metadata_url or IMDS_URL,
        interval=args.interval,
        max_polls=args.max_polls,
        say=lambda msg: print(msg, flush=True),
    )
    return 0


def _guard(func: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """Turn a :class:`CloudError` into its message on stderr and the exit code."""

    def run(args: argparse.Namespace) -> int:
        try:
            return int(func(args))
        except CloudError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return exc.exit_code

    return run


def main(argv: list[str] | None = None) -> int:
    """Stand-alone entry: ``supersvg-cloud ...`` (the same as ``supersvg cloud ...``)."""
    args_in = list(sys.argv[1:] if argv is None else argv)
    if args_in[:1] == ["cloud"]:
        args_in = args_in[1:]
    parser = argparse.ArgumentParser(prog="supersvg-cloud", description=__doc__.split("\n")[0])
    add_commands(parser)
    args = parser.parse_args(args_in)
    return int(args.func(args))


if __name__ == "__main__":
    raise SystemExit(main())
