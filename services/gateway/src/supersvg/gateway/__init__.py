"""SuperSVG public REST API (section 8 of the service contract): ``create_app(settings)``."""

from supersvg.gateway.app import create_app
from supersvg.gateway.settings import GatewaySettings

__all__ = ["GatewaySettings", "create_app"]
