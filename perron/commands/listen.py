"""``perron listen`` and ``perron sources …``: thin wrappers over :mod:`perron.live`."""

from __future__ import annotations

import json
import signal
import sys
import threading
from datetime import UTC, datetime
from typing import Any

import click

from ..errors import ConfigError
from ..store import open_store
from .common import db_option, handle_errors


def _pairs(values: tuple[str, ...], what: str, example: str) -> dict[str, str]:
    out = {}
    for v in values:
        if "=" not in v:
            raise ConfigError(f"bad {what} {v!r}", hint=f"write KEY=VALUE, e.g. {example}")
        k, val = v.split("=", 1)
        out[k.strip()] = val.strip()
    return out


@click.command("listen")
@click.argument("names", nargs=-1)
@click.option("--token", "tokens", multiple=True, metavar="KIND=TOKEN",
              help="A token by source kind (mastodon=…, reddit=…). Also: PERRON_<KIND>_TOKEN, "
                   "or [<kind>] token = … in perron.toml.")
@click.option("--batch-size", type=int, default=None,
              help="Events per write transaction [setting listen.batch_size, 500].")
@click.option("--flush-interval", type=float, default=None,
              help="Seconds before a partial batch is written [listen.flush_interval, 1.0].")
@click.option("--enrich/--no-enrich", default=True, show_default=True,
              help="Label new posts (language, sentiment, hostility, triage…) as they arrive.")
@db_option
@handle_errors
def listen_command(names: tuple[str, ...], tokens: tuple[str, ...], batch_size: int | None,
                   flush_interval: float | None, enrich: bool, db: str | None) -> None:
    """Listen live to the configured sources (all, or NAMES) until Ctrl-C / SIGTERM.

    Posts are matched against the monitors and stored as they arrive; each source's cursor is
    saved with its posts, so a restart resumes where it stopped, with nothing lost or doubled.
    """
    from ..live import run_listen

    token_map = _pairs(tokens, "--token", "--token mastodon=abc123")
    stop = threading.Event()

    def on_signal(signum: int, frame: Any) -> None:
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    with open_store(db) as store:
        click.echo(f"listening ({store.url}); Ctrl-C or SIGTERM stops cleanly", err=True)
        hook = None
        if enrich:
            from ..understand import enrich_store

            def hook(st: Any, post_ids: list[str]) -> None:
                enrich_store(st, post_ids=post_ids)

        summary = run_listen(store, list(names) or None, stop, enrich_batch=hook,
                             batch_size=batch_size, flush_interval=flush_interval,
                             tokens=token_map)
    click.echo(f"stopped: {summary.events:,} events, {summary.imported:,} new posts, "
               f"{summary.deleted:,} deleted, {summary.quarantined:,} quarantined", err=True)
    for name, message in summary.errors.items():
        click.secho(f"source {name} failed: {message}", fg="red", err=True)


@click.group("sources")
def sources_group() -> None:
    """Configure live sources (Bluesky Jetstream, Mastodon, RSS/Atom, Reddit)."""


@sources_group.command("add")
@click.argument("name")
@click.option("--kind", required=True, type=click.Choice(["jetstream", "mastodon", "rss",
                                                           "reddit"]))
@click.option("--endpoint", default=None, metavar="URL",
              help="Server or feed URL (Jetstream: wss://…; Mastodon: the instance; RSS: the "
                   "feed; Reddit: optional).")
@click.option("--option", "options", multiple=True, metavar="KEY=VALUE",
              help="Kind-specific option, repeatable (see docs/listening.md).")
@click.option("--replace", is_flag=True, help="Replace a source of the same name (its cursor "
                                               "is reset).")
@db_option
@handle_errors
def sources_add(name: str, kind: str, endpoint: str | None, options: tuple[str, ...],
                replace: bool, db: str | None) -> None:
    """Add a live source NAME."""
    from ..live import add_source

    opts = _pairs(options, "--option", "--option tag=montreal")
    with open_store(db) as store:
        add_source(store, name, kind, endpoint, opts, replace=replace)
    click.echo(f"source {name} added ({kind}); start it with `perron listen`")


@sources_group.command("list")
@click.option("--json", "as_json", is_flag=True)
@db_option
@handle_errors
def sources_list(as_json: bool, db: str | None) -> None:
    """List configured sources."""
    from ..live import list_sources

    with open_store(db) as store:
        specs = list_sources(store)
    if as_json:
        for s in specs:
            click.echo(json.dumps({"name": s.name, "kind": s.kind, "endpoint": s.endpoint,
                                   "options": s.options}, ensure_ascii=False))
        return
    if not specs:
        click.echo("no sources yet: `perron sources add NAME --kind …`")
    for s in specs:
        opts = " ".join(f"{k}={v}" for k, v in sorted(s.options.items()))
        click.echo(f"{s.name}\t{s.kind}\t{s.endpoint or '(default)'}\t{opts}")


@sources_group.command("remove")
@click.argument("name")
@db_option
@handle_errors
def sources_remove(name: str, db: str | None) -> None:
    """Remove a source (the posts it collected stay)."""
    from ..live import remove_source

    with open_store(db) as store:
        remove_source(store, name)
    click.echo(f"source {name} removed")


def _ago(iso: str | None, now: datetime) -> str:
    if not iso:
        return "never"
    dt = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    s = (now - dt).total_seconds()
    return f"{s:.0f}s ago" if s < 120 else f"{s / 60:.0f}min ago" if s < 7200 else \
        f"{s / 3600:.1f}h ago"


@sources_group.command("status")
@click.option("--json", "as_json", is_flag=True)
@db_option
@handle_errors
def sources_status(as_json: bool, db: str | None) -> None:
    """Per source: connected or not, last event, lag, events per minute, errors."""
    from ..live import source_status

    now = datetime.now(UTC)
    with open_store(db) as store:
        rows = source_status(store, now)
    if as_json:
        for r in rows:
            click.echo(json.dumps(r, ensure_ascii=False))
        return
    if not rows:
        click.echo("no sources yet: `perron sources add NAME --kind …`")
    for r in rows:
        lag = "-" if r["lag_s"] is None else f"{r['lag_s']:.1f}s"
        color = "green" if r["connected"] else "yellow" if r["state"] in (
            "reconnecting", "rate-limited", "starting") else "red"
        click.echo(f"{r['name']:<16} {r['kind']:<9} " + click.style(f"{r['state']:<12}", fg=color)
                   + f" last event {_ago(r['last_event_at'], now):<10} lag {lag:<7} "
                     f"{r['events_per_minute']:>8.0f}/min  {r['events']:,} events  "
                     f"{r['errors']} errors")
        if r["last_error"]:
            click.echo(f"{'':<16} last error: {r['last_error']}")


@click.group()
def _standalone() -> None:
    """listen and sources (until perron.cli registers them)."""


_standalone.add_command(listen_command)
_standalone.add_command(sources_group)

if __name__ == "__main__":
    sys.exit(_standalone())
