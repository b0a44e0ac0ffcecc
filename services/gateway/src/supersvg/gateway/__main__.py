"""``python -m supersvg.gateway`` / ``supersvg-gateway``: serve the API with uvicorn."""

from __future__ import annotations

import logging
import sys

__all__ = ["main"]


def main() -> int:
    import uvicorn

    from supersvg.common.logging import configure_logging
    from supersvg.common.settings import ConfigurationError
    from supersvg.common.storage import StorageSettings, create_store
    from supersvg.common.tracing import configure_tracing
    from supersvg.gateway.app import create_app
    from supersvg.gateway.middleware import RequestIdLogFilter
    from supersvg.gateway.protocol import protocol_with_header_timeout
    from supersvg.gateway.settings import GatewaySettings

    try:
        settings = GatewaySettings.from_env()
        storage = StorageSettings.from_env()
    except ConfigurationError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    configure_logging("gateway", settings.log_level, settings.log_format)
    for handler in logging.getLogger().handlers:
        handler.addFilter(RequestIdLogFilter())
    configure_tracing("supersvg-gateway", settings.otlp_endpoint)
    app = create_app(settings, create_store(storage))
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        http=protocol_with_header_timeout(settings.header_timeout_seconds),
        log_config=None,  # keep our JSON handler on the root logger
        access_log=False,  # the middleware logs each request with its ids
        proxy_headers=True,
        timeout_graceful_shutdown=10,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
