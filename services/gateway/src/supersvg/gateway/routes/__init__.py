"""The gateway's routes, one module per concern; ``create_app`` includes :data:`ROUTERS`."""

from supersvg.gateway.routes import artifacts, health, jobs, submit, web

__all__ = ["ROUTERS"]

ROUTERS = (health.router, submit.router, jobs.router, artifacts.router, web.router)
