"""The saved instance record (what ``status``, ``ssh``, ``logs`` and ``terminate`` read) and
the indicative prices behind the cost-so-far estimate."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

__all__ = [
    "ON_DEMAND_PRICES",
    "PRICES_AS_OF",
    "CloudError",
    "InstanceRecord",
    "cost_so_far",
    "default_state_dir",
]

#: Indicative on-demand Linux prices, USD per hour, us-east-1: AWS list prices as of 2025
#: (re-check on the EC2 on-demand pricing page; other regions differ). Spot launches use
#: the region's current spot price instead (describe_spot_price_history).
PRICES_AS_OF = "2025 list prices, us-east-1"
ON_DEMAND_PRICES: dict[str, float] = {
    "g4dn.xlarge": 0.526,
    "g4dn.2xlarge": 0.752,
    "g5.xlarge": 1.006,
    "g5.2xlarge": 1.212,
    "g5.4xlarge": 1.624,
    "g6.xlarge": 0.805,
    "g6.2xlarge": 0.978,
    "g6e.xlarge": 1.861,
    "p3.2xlarge": 3.06,
}


class CloudError(Exception):
    """A cloud operation failed; the message says what to do. Exit code 1 (usage: 2)."""

    exit_code = 1


def default_state_dir() -> Path:
    """Where records and key files live: ``$SUPERSVG_CLOUD_DIR`` or ``./.supersvg-cloud``."""
    return Path(os.environ.get("SUPERSVG_CLOUD_DIR", ".supersvg-cloud"))


@dataclass
class InstanceRecord:
    """One launched instance, saved as ``<state dir>/<name>.json``."""

    name: str
    instance_id: str
    region: str
    instance_type: str
    market: str  # on-demand | spot
    launched_at: str  # ISO 8601, UTC
    key_file: str
    ssh_user: str = "ubuntu"
    public_ip: str = ""
    price_per_hour: float | None = None  # USD; None when unknown
    price_source: str = ""
    bucket: str = ""
    extra: dict[str, str] = field(default_factory=dict)

    def path(self, state_dir: Path) -> Path:
        return state_dir / f"{self.name}.json"

    def save(self, state_dir: Path) -> Path:
        state_dir.mkdir(parents=True, exist_ok=True)
        target = self.path(state_dir)
        tmp = target.with_name(target.name + ".tmp")
        tmp.write_text(json.dumps(asdict(self), indent=2, sort_keys=True) + "\n")
        os.replace(tmp, target)
        return target

    @classmethod
    def load(cls, state_dir: Path, name: str) -> InstanceRecord:
        path = state_dir / f"{name}.json"
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError:
            raise CloudError(
                f"no instance record {path}; launch one with `supersvg cloud launch`"
            ) from None
        except (OSError, json.JSONDecodeError) as exc:
            raise CloudError(f"cannot read the instance record {path}: {exc}") from exc
        return cls(**data)


def cost_so_far(record: InstanceRecord, now: datetime | None = None) -> float | None:
    """USD spent since launch at the recorded hourly price (None when the price is unknown).

    EC2 bills Linux instances per second; the estimate ignores storage and data transfer.
    """
    if record.price_per_hour is None:
        return None
    now = now or datetime.now(UTC)
    hours = max(0.0, (now - datetime.fromisoformat(record.launched_at)).total_seconds() / 3600)
    return round(hours * record.price_per_hour, 4)
