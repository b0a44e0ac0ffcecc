"""The web page (``/``) and its static files."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI
from fastapi.responses import FileResponse, Response
from fastapi.staticfiles import StaticFiles

from supersvg.gateway.dependencies import SettingsDep
from supersvg.gateway.errors import ApiError
from supersvg.gateway.settings import GatewaySettings

__all__ = ["mount_static", "router"]

router = APIRouter()


@router.get("/", include_in_schema=False)
async def index(settings: SettingsDep) -> Response:
    page = settings.static_path() / "index.html"
    if not page.is_file():
        raise ApiError(404, "NOT_FOUND", "no web page is installed")
    return FileResponse(page, media_type="text/html")


def mount_static(app: FastAPI, settings: GatewaySettings) -> None:
    """Serve ``/static`` when the installed package has the folder."""
    static = settings.static_path()
    if static.is_dir():
        app.mount("/static", StaticFiles(directory=static), name="static")
