"""One rented GPU VM for training: AWS EC2 (``supersvg cloud``) and a host bootstrap for
RunPod, Vast.ai and Lambda machines. Only boto3; no torch, nothing of the services."""

from __future__ import annotations

from .record import CloudError, InstanceRecord, cost_so_far

__all__ = ["CloudError", "InstanceRecord", "cost_so_far"]
