"""What every command shares: the ``--db`` option and the translation of library errors into
a clean message, a hint and a meaningful exit code."""

from __future__ import annotations

import sys
from collections.abc import Callable
from functools import wraps
from typing import Any

import click

from ..errors import PerronError


def handle_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except PerronError as exc:
            click.secho(f"error: {exc.message}", fg="red", err=True)
            if getattr(exc, "query", None) is not None and getattr(exc, "column", None):
                click.echo(f"  {exc.query}\n  {' ' * (exc.column - 1)}^", err=True)
            if exc.hint:
                click.echo(f"hint: {exc.hint}", err=True)
            sys.exit(exc.exit_code)
        except BrokenPipeError:
            sys.exit(0)

    return wrapper


db_option = click.option("--db", envvar="PERRON_DB", default=None, metavar="PATH|URL",
                         help="Store: SQLite file (default ./perron.db) or postgresql:// URL. "
                              "[env: PERRON_DB]")
