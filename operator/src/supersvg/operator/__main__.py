"""``supersvg-operator``: run the operator (settings from SUPERSVG_OPERATOR_* variables)."""

from __future__ import annotations

import sys

import kopf

from supersvg.common.logging import configure_logging
from supersvg.common.settings import ConfigurationError
from supersvg.common.tracing import configure_tracing
from supersvg.operator.settings import OperatorSettings

__all__ = ["main"]


def main() -> int:
    try:
        config = OperatorSettings.from_env()  # fail fast, before connecting anywhere
    except ConfigurationError as exc:
        print(f"supersvg-operator: {exc}", file=sys.stderr)
        return 2
    configure_logging("supersvg-operator", config.log_level, config.log_format)
    configure_tracing("supersvg-operator", config.otlp_endpoint)
    from supersvg.operator import handlers  # noqa: F401 - registers the handlers

    liveness = f"http://0.0.0.0:{config.health_port}/healthz" if config.health_port else None
    kopf.run(
        memo=kopf.Memo(config=config),  # the handlers use these settings, read once here
        standalone=True,  # one replica (Recreate); no peering objects needed
        clusterwide=not config.namespace,
        namespaces=[config.namespace] if config.namespace else [],
        liveness_endpoint=liveness,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
