"""`perron serve`, `perron workspace …`, `perron users …`, `perron tokens …`: thin commands over
``perron.web``. Registered by perron/cli.py."""

from __future__ import annotations

import secrets
from pathlib import Path

import click

from ..store import resolve_url
from ..web.control import ROLES, Control
from .common import handle_errors

# --db names the *control* store here (workspaces, users, tokens); same option otherwise
db_option = click.option("--db", envvar="PERRON_DB", default=None, metavar="PATH|URL",
                         help="Control store: SQLite file (default ./perron.db) or "
                              "postgresql:// URL. [env: PERRON_DB]")


def _control(db: str | None) -> Control:
    return Control.open(resolve_url(db))



def default_workers() -> int:
    """``perron serve``'s worker processes when ``--workers`` is not given: one per CPU, at
    most 8. One process is held back by the GIL handing over between the event loop and the
    database threads: two workers on 2 CPUs serve the 1M-post inbox at ~2x the requests/s."""
    import os

    return min(8, os.cpu_count() or 1)


@click.command("serve")
@db_option
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Interface to listen on (keep 127.0.0.1 behind a reverse proxy).")
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--secure-cookies", is_flag=True,
              help="Mark cookies Secure and send HSTS (set when served over https).")
@click.option("--api-rate", default=600, show_default=True, type=int,
              help="API requests per minute per token (per worker process).")
@click.option("--workers", default=None, type=click.IntRange(1, 64),
              help="Worker processes (rate limits and caches are per process). "
                   "[default: one per CPU, at most 8]")
@handle_errors
def serve_command(db: str | None, host: str, port: int, secure_cookies: bool,
                  api_rate: int, workers: int | None) -> None:
    """Serve the dashboard, the inbox and the HTTP API."""
    import os

    import uvicorn

    from ..web import create_app

    workers = workers or default_workers()
    url = resolve_url(db)
    app = create_app(url, secure_cookies=secure_cookies, api_rate=(api_rate, 60))
    click.echo(f"perron: http://{host}:{port}/  (API description: /api/openapi.json)", err=True)
    common = {"host": host, "port": port, "log_level": "warning", "proxy_headers": True,
              "server_header": False}
    if workers == 1:
        uvicorn.run(app, **common)  # type: ignore[arg-type]
        return
    os.environ.update({"PERRON_WEB_CONTROL": url, "PERRON_WEB_SECURE": "1" if secure_cookies
                       else "0", "PERRON_WEB_API_RATE": str(api_rate),
                       "PERRON_WEB_PARENT": str(os.getpid())})
    uvicorn.run("perron.web.app:from_environment", factory=True, workers=workers,
                **common)  # type: ignore[arg-type]


@click.group("workspace")
def workspace_group() -> None:
    """Workspaces: one per client or brand, each with its own store."""


@workspace_group.command("add")
@db_option
@click.argument("name")
@click.option("--store", "store_url", default=None, metavar="PATH|URL",
              help="The workspace's own store (default: a SQLite file next to the control store).")
@handle_errors
def workspace_add(db: str | None, name: str, store_url: str | None) -> None:
    """Create a workspace."""
    ws = _control(db).workspace_add(name, store_url)
    click.echo(f"workspace {ws.slug}: {ws.name} → {ws.store_url}")


@workspace_group.command("list")
@db_option
@handle_errors
def workspace_list(db: str | None) -> None:
    """List workspaces."""
    for ws in _control(db).workspaces():
        click.echo(f"{ws.slug}\t{ws.name}\t{ws.store_url}")


@click.group("users")
def users_group() -> None:
    """Users and their role in each workspace."""


@users_group.command("add")
@db_option
@click.argument("email")
@click.option("--workspace", required=True, help="Workspace id (see `perron workspace list`).")
@click.option("--role", required=True, type=click.Choice(ROLES))
@click.option("--password-file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Read the password from this file (first line).")
@click.option("--generate", is_flag=True, help="Generate a password and print it once.")
@click.option("--lang", type=click.Choice(["fr", "en"]), default="fr", show_default=True)
@handle_errors
def users_add(db: str | None, email: str, workspace: str, role: str, password_file: Path | None,
              generate: bool, lang: str) -> None:
    """Create a user (or reset their password) and give them a role in a workspace."""
    control = _control(db)
    control.workspace(workspace)
    shown = None
    if password_file:
        password = password_file.read_text(encoding="utf-8").splitlines()[0].strip()
    elif generate or not click.get_text_stream("stdin").isatty():
        password = shown = secrets.token_urlsafe(15)
    else:
        password = click.prompt("password", hide_input=True, confirmation_prompt=True)
    control.user_add(email, password, lang)
    control.grant(email, workspace, role)
    click.echo(f"user {email.lower()}: {role} in {workspace}")
    if shown:
        click.echo(f"password (shown once): {shown}")


@users_group.command("list")
@db_option
@click.option("--workspace", required=True)
@handle_errors
def users_list(db: str | None, workspace: str) -> None:
    """List a workspace's members and roles."""
    for email, role in _control(db).members(workspace):
        click.echo(f"{email}\t{role}")


@click.group("tokens")
def tokens_group() -> None:
    """API tokens (only a hash is stored)."""


@tokens_group.command("create")
@db_option
@click.option("--user", "email", required=True)
@handle_errors
def tokens_create(db: str | None, email: str) -> None:
    """Create an API token; it is printed once, alone on the last line."""
    token = _control(db).token_create(email)
    click.echo("send it as `Authorization: Bearer <token>`; it will not be shown again:", err=True)
    click.echo(token)
