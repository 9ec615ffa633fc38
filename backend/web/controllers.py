"""Serves the manager page (/manager), its script, style and texts (/manager/i18n/ko),
and Leaflet from node_modules.

Leaflet is installed from the npm registry at setup (`./dev` runs `npm ci` in backend/web)
and served from here: the page never loads code from a CDN. Map tiles come from
FIELDSENSE_MAP_TILES when set; without it the map is a plain background on which routes,
visits and points still draw (offline use, the tests).
"""

import json
from pathlib import Path
from typing import Any

from litestar import Controller, Response, get
from litestar.datastructures import State
from litestar.params import FromPath
from litestar.router import Router
from litestar.static_files import create_static_files_router

from backend import i18n
from backend.errors import NotFound

WEB = Path(__file__).resolve().parent
LEAFLET = WEB / "node_modules" / "leaflet" / "dist"


class ManagerPageController(Controller):
    path = "/manager"
    include_in_schema = False

    @get("/", exclude_from_auth=True, media_type="text/html")
    async def page(self) -> Response[bytes]:
        return Response(
            (WEB / "static" / "manager.html").read_bytes(),
            media_type="text/html",
            headers={"cache-control": "no-cache"},
        )

    @get("/i18n/{locale:str}", exclude_from_auth=True)
    async def catalog(self, locale: FromPath[str]) -> Response[dict[str, str]]:
        """The page's texts in `locale` (backend/i18n/<locale>/LC_MESSAGES/web.po)."""
        if locale not in i18n.LOCALES:
            raise NotFound(f"no texts in {locale!r}")
        return Response(i18n.entries(locale, "web"), headers={"cache-control": "no-cache"})

    @get("/config.js", exclude_from_auth=True, media_type="application/javascript")
    async def config(self, state: State) -> str:
        settings: Any = state["settings"]
        cfg = {"tiles": settings.map_tiles_url, "attribution": settings.map_attribution}
        return f"window.FIELDSENSE_MAP = {json.dumps(cfg)};\n"


def static_routers() -> list[Router]:
    return [
        create_static_files_router(
            path="/manager/static",
            directories=[WEB / "static"],
            name="manager-static",
            opt={"exclude_from_auth": True},
        ),
        create_static_files_router(
            path="/manager/vendor/leaflet",
            directories=[LEAFLET],
            name="manager-leaflet",
            opt={"exclude_from_auth": True},
        ),
    ]
