"""The interactive API documentation at ``/docs``, served whole from this machine.

FastAPI's own page loads Swagger UI from a CDN, which offices without internet
access (the machines sttdesk is made for) cannot reach. The same page is built
here with Swagger UI's script and style sheet served from the installed
``fastapi-offline`` package, under ``/docs/assets``.
"""

from __future__ import annotations

import importlib.util
import logging
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from .errors import ApiStartError

log = logging.getLogger(__name__)

DOCS_URL = "/docs"
ASSETS_URL = "/docs/assets"
#: The package whose ``static`` folder holds Swagger UI 5 (it reads the OpenAPI 3.1 FastAPI writes).
ASSETS_PACKAGE = "fastapi_offline"
#: Files the page loads; all must be there or the page is blank.
ASSET_FILES = ("swagger-ui-bundle.js", "swagger-ui.css", "favicon.png")


def assets_folder() -> Path:
    """The folder of Swagger UI's files; ApiStartError when the package is missing or incomplete."""
    spec = importlib.util.find_spec(ASSETS_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ApiStartError(f"the package '{ASSETS_PACKAGE}' (Swagger UI for /docs) is not installed")
    folder = Path(next(iter(spec.submodule_search_locations))) / "static"
    missing = [name for name in ASSET_FILES if not (folder / name).is_file()]
    if missing:
        raise ApiStartError(f"Swagger UI files are missing from {folder}: {', '.join(missing)}")
    return folder


def install_docs_page(app: FastAPI) -> None:
    """Serve ``/docs`` and its assets on ``app`` (created with ``docs_url=None``)."""
    app.mount(ASSETS_URL, StaticFiles(directory=assets_folder()), name="docs-assets")
    title = f"{app.title} {app.version} – API"

    @app.get(DOCS_URL, include_in_schema=False)
    async def docs_page(request: Request) -> HTMLResponse:
        # root_path keeps the links right behind a reverse proxy that serves the API under a prefix
        root = request.scope.get("root_path", "")
        return get_swagger_ui_html(
            openapi_url=f"{root}{app.openapi_url}",
            title=title,
            swagger_js_url=f"{root}{ASSETS_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{ASSETS_URL}/swagger-ui.css",
            swagger_favicon_url=f"{root}{ASSETS_URL}/favicon.png",
            oauth2_redirect_url=None,
        )
