"""``jobworker serve`` and ``jobworker keys``: the HTTP service and its API keys.

The server's modules (and Litestar, uvicorn) are imported only inside ``serve``, so the rest of
the command line stays fast and works without the ``server`` extra.
"""

from __future__ import annotations

import os

import click

from ..store.apikeys import SCOPES, ApiKey
from .common import State, echo_json, pass_state

__all__ = ["keys", "serve"]


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option("--port", type=int, default=8000, show_default=True)
@click.option(
    "--legacy-key-env",
    metavar="VAR",
    default="SECRETARY_SERVICE_API_KEY",
    show_default=True,
    help="Environment variable holding the old system's shared key (accepted as one key "
    "with scopes submit and read); unset: not accepted.",
)
@click.option(
    "--upload-root",
    type=click.Path(file_okay=False),
    default="jobworker-uploads",
    show_default=True,
    help="Uploaded inputs go to <this>/<job_id>/ (make it an input root of the workers).",
)
@click.option(
    "--max-body-mb",
    type=float,
    default=100.0,
    show_default=True,
    help="Largest upload accepted (JSON bodies: 1 MB).",
)
@click.option(
    "--rate",
    type=float,
    default=50.0,
    show_default=True,
    help="Requests per second per key (bursts of 4x); 0: no limit.",
)
@click.option(
    "--cors-origin",
    "cors_origins",
    multiple=True,
    metavar="ORIGIN",
    help="Allow this origin by CORS (repeatable); none: no CORS headers.",
)
@click.option(
    "--allow-unknown-type",
    is_flag=True,
    help="Accept job types whose plugin this server lacks (workers have it).",
)
@pass_state
def serve(
    state: State,
    host: str,
    port: int,
    legacy_key_env: str,
    upload_root: str,
    max_body_mb: float,
    rate: float,
    cors_origins: tuple[str, ...],
    allow_unknown_type: bool,
) -> None:
    """Serve the REST API, the old system's routes and the dashboard (docs/server.md)."""
    try:
        import uvicorn

        from ..server import ServerConfig, create_app
    except ImportError as exc:
        raise click.ClickException(
            f"the server needs its extra [server]: pip install './core[server]' in the jobworker "
            f"checkout (jobworker is not on PyPI) ({exc})"
        ) from exc
    from pathlib import Path

    config = ServerConfig(
        host=host,
        port=port,
        legacy_key=os.environ.get(legacy_key_env) or None,
        max_body_bytes=int(max_body_mb * 1024 * 1024),
        rate_per_second=rate,
        rate_burst=max(1, int(rate * 4)),
        cors_origins=cors_origins,
        upload_root=Path(upload_root).resolve(),
        output_root=state.settings.output_root,
        allow_unknown_type=allow_unknown_type,
    )
    app = create_app(state.client, config)
    click.echo(
        f"jobworker serve: dashboard and API on http://{host}:{port}/ "
        f"(OpenAPI at /schema/openapi.json)",
        err=True,
    )
    uvicorn.run(app, host=host, port=port, log_level="warning", timeout_graceful_shutdown=2)


@click.group()
def keys() -> None:
    """API keys of the HTTP server (stored hashed in the store; a token is shown once)."""


@keys.command("create")
@click.argument("name")
@click.option(
    "--scope",
    "scopes",
    multiple=True,
    type=click.Choice(SCOPES),
    default=("submit",),
    show_default=True,
    help="Repeatable.",
)
@click.option("--json", "as_json", is_flag=True)
@pass_state
def keys_create(state: State, name: str, scopes: tuple[str, ...], as_json: bool) -> None:
    """Create a key; its token is printed once and cannot be shown again."""
    key, token = ApiKey.new(name, list(scopes))
    state.client.api_keys().add(key)
    if as_json:
        echo_json({**key.public(), "token": token})
    else:
        click.echo(f"key {key.key_id} ({name}, scopes {', '.join(key.scopes)})")
        click.echo(f"token (shown once): {token}")


@keys.command("list")
@click.option("--json", "as_json", is_flag=True)
@pass_state
def keys_list(state: State, as_json: bool) -> None:
    """List keys (never their tokens)."""
    found = state.client.api_keys().list()
    if as_json:
        echo_json([k.public() for k in found])
        return
    for key in found:
        revoked = f" revoked {key.revoked_at.isoformat()}" if key.revoked_at else ""
        click.echo(f"{key.key_id}  {key.name}  {','.join(key.scopes)}{revoked}")


@keys.command("revoke")
@click.argument("key_id")
@pass_state
def keys_revoke(state: State, key_id: str) -> None:
    """Revoke a key: its token stops working at once."""
    if not state.client.api_keys().revoke(key_id):
        raise click.ClickException(f"no active key {key_id}")
    click.echo(f"revoked {key_id}")
