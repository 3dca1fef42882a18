"""The application: routers, limits, error handlers, OpenAPI, the change hub's lifespan."""

from __future__ import annotations

import importlib.util
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from litestar import Litestar
from litestar.config.cors import CORSConfig
from litestar.contrib.jinja import JinjaTemplateEngine
from litestar.datastructures import State
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.openapi.spec import Components, SecurityScheme
from litestar.plugins.attrs import AttrsSchemaPlugin
from litestar.static_files import create_static_files_router
from litestar.template.config import TemplateConfig

from ..client import Client
from ..plugins import core_version
from .api_jobs import jobs_router, upload_router
from .api_meta import meta_router, public_router
from .auth import RateLimiter
from .config import ServerConfig
from .dashboard import dashboard_router
from .errors import exception_handlers
from .events import ChangeHub, events_router
from .legacy import legacy_router

__all__ = ["create_app"]

HERE = Path(__file__).parent
#: Where the browsable OpenAPI document's Swagger UI files are served from (the server's own
#: copy: the page needs nothing from outside).
SWAGGER_ASSETS = "/static/swagger"


def swagger_ui_files() -> Path:
    """The folder of Swagger UI's built files, as the package ``swagger-ui-py`` ships them
    (found without importing it: its ``__init__`` loads adapters for other frameworks)."""
    spec = importlib.util.find_spec("swagger_ui")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("jobworker serve needs swagger-ui-py (pip install 'jobworker[server]')")
    return Path(next(iter(spec.submodule_search_locations))) / "static"


def swagger_page() -> SwaggerRenderPlugin:
    """Swagger UI from :data:`SWAGGER_ASSETS` instead of Litestar's default CDN."""
    return SwaggerRenderPlugin(
        js_url=f"{SWAGGER_ASSETS}/swagger-ui-bundle.js",
        css_url=f"{SWAGGER_ASSETS}/swagger-ui.css",
        standalone_preset_js_url=f"{SWAGGER_ASSETS}/swagger-ui-standalone-preset.js",
        favicon=f"<link rel='icon' type='image/png' href='{SWAGGER_ASSETS}/favicon-32x32.png'>",
    )


def create_app(client: Client, config: ServerConfig | None = None) -> Litestar:
    """The ASGI application serving ``client``'s store (run it with uvicorn)."""
    config = config or ServerConfig()
    hub = ChangeHub(client, config.poll_seconds)

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        hub.start()
        try:
            yield
        finally:
            hub.stop()

    return Litestar(
        route_handlers=[
            jobs_router,
            upload_router(config.max_body_bytes),
            meta_router,
            public_router,
            events_router,
            legacy_router,
            dashboard_router,
            create_static_files_router(path=SWAGGER_ASSETS, directories=[swagger_ui_files()]),
            create_static_files_router(path="/static", directories=[HERE / "static"]),
        ],
        state=State(
            {
                "client": client,
                "config": config,
                "api_keys": client.api_keys(),
                "limiter": RateLimiter(config.rate_per_second, config.rate_burst),
                "hub": hub,
            }
        ),
        lifespan=[lifespan],
        exception_handlers=exception_handlers,
        request_max_body_size=config.max_json_bytes,
        cors_config=CORSConfig(allow_origins=list(config.cors_origins))
        if config.cors_origins
        else None,
        plugins=[AttrsSchemaPlugin()],
        template_config=TemplateConfig(directory=HERE / "templates", engine=JinjaTemplateEngine),
        openapi_config=OpenAPIConfig(
            title="jobworker",
            version=core_version(),
            description="Submit and follow background jobs; see docs/server.md.",
            path="/schema",
            render_plugins=[swagger_page()],
            components=Components(
                security_schemes={
                    "apiKey": SecurityScheme(type="http", scheme="bearer"),
                }
            ),
            security=[{"apiKey": []}],
        ),
        debug=False,
    )
