"""The ``perron`` command line: thin. Each command opens the library, calls it, and turns
library errors into a clean message and a meaningful exit code."""

from __future__ import annotations

import csv
import json
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from . import __version__
from .commands.common import db_option, handle_errors
from .store import open_store


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="perron")
def main() -> None:
    """perron — French-first social listening. Collect, understand, triage, measure."""


@main.command()
@db_option
@handle_errors
def init(db: str | None) -> None:
    """Create (or upgrade) the store."""
    with open_store(db) as store:
        click.echo(f"store ready: {store.url} ({store.dialect})")


def _progress(enabled: bool) -> Callable[[str, int, int], None] | None:
    if not enabled:
        return None
    last = [0.0]

    def report(file: str, records: int, imported: int) -> None:
        now = time.monotonic()
        if now - last[0] > 0.5:
            last[0] = now
            click.echo(f"\r  {Path(file).name}: {records:,} records read, {imported:,} new posts",
                       nl=False, err=True)

    return report


def _parse_map(spec: str | None) -> dict[str, str]:
    from .errors import ConfigError

    if not spec:
        return {}
    out = {}
    for part in spec.split(","):
        if "=" not in part:
            raise ConfigError(f"bad --map entry {part!r}",
                              hint="write FIELD=COLUMN pairs: --map id=tweet_id,text=body")
        k, v = part.split("=", 1)
        out[k.strip()] = v.strip()
    return out


@main.command("import")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--format", "fmt", default="auto", show_default=True,
              help="Input format (see `perron formats`); auto-detected by default.")
@click.option("--map", "mapping", metavar="FIELD=COLUMN,…",
              help="Column mapping for --format csv: id=…,text=…,author=…,created_at=…,lang=…")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON lines.")
@click.option("--progress/--no-progress", default=None, help="Progress on stderr (default: on a tty).")
@db_option
@handle_errors
def import_(paths: tuple[Path, ...], fmt: str, mapping: str | None, as_json: bool,
            progress: bool | None, db: str | None) -> None:
    """Import files (twarc, X archives, Mastodon, Jetstream, Reddit, RSS, WXR, CSV…).

    Gzip and zstd files are read transparently. Re-importing adds nothing; bad records are
    quarantined (see `perron quarantine list`) and the rest goes in.
    """
    from .pipeline import import_paths
    from .sources.base import Options

    show = sys.stderr.isatty() if progress is None else progress
    with open_store(db) as store:
        summaries = import_paths(store, paths, fmt, Options(mapping=_parse_map(mapping)),
                                 _progress(show))
        if show:
            click.echo("", err=True)
        total_q = 0
        for s in summaries:
            total_q += s.quarantined
            if as_json:
                click.echo(json.dumps(s.to_dict()))
            else:
                click.echo(f"{s.file} [{s.format}]: {s.records:,} records read, "
                           f"{s.imported:,} posts imported, {s.present:,} already present, "
                           f"{s.quarantined:,} quarantined"
                           + (f", {s.deleted:,} deleted" if s.deleted else "")
                           + f" ({s.seconds:.1f} s)")
        if total_q and not as_json:
            click.echo("some records were quarantined: see `perron quarantine list`", err=True)


@main.command()
def formats() -> None:
    """List the import formats."""
    from .plugins import formats as all_formats

    for name, fmt in sorted(all_formats().items()):
        click.echo(f"{name:20} {fmt.title}")


def _table(rows: list[dict[str, Any]]) -> None:
    width = shutil.get_terminal_size((120, 20)).columns
    for r in rows:
        when = (r.get("created_at") or "")[:16].replace("T", " ")
        text = " ".join((r.get("text") or "").split())
        who = ("@" + r["author_handle"] if r.get("author_handle") else "—")[:18]
        head = f"{when:16}  {r.get('source', ''):9}  {who:18}  "
        room = max(20, width - len(head))
        click.echo(head + (text[: room - 1] + "…" if len(text) > room else text))


@main.command()
@click.argument("query", required=False, default="")
@click.option("--monitor", "-m", help="Only posts tagged by this monitor.")
@click.option("--limit", "-n", type=int, default=None,
              help="At most N posts (table default: 20; --json/--csv: every match).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@click.option("--csv", "as_csv", is_flag=True, help="CSV with a header row.")
@click.option("--oldest", is_flag=True, help="Oldest first (default: newest first).")
@db_option
@handle_errors
def search(query: str, monitor: str | None, limit: int | None, as_json: bool, as_csv: bool,
           oldest: bool, db: str | None) -> None:
    """Search stored posts with the monitor query language (see README)."""
    if not query and not monitor:
        raise click.UsageError("give a QUERY or --monitor NAME")
    with open_store(db, create=False) as store:
        if not (as_json or as_csv) and limit is None:
            limit = 20
        rows = store.search(query or None, monitor=monitor, limit=limit, oldest_first=oldest)
        if as_json:
            for r in rows:
                click.echo(json.dumps(r, ensure_ascii=False))
        elif as_csv:
            cols = ["id", "source", "author_handle", "created_at", "text", "url", "lang", "kind",
                    "title", "likes", "reposts", "replies", "quotes"]
            out = csv.DictWriter(sys.stdout, fieldnames=cols, extrasaction="ignore")
            out.writeheader()
            for r in rows:
                out.writerow(r)
        else:
            found = list(rows)
            _table(found)
            click.echo(f"({len(found)} shown)" if found else "no match", err=True)


@main.command()
@click.option("--json", "as_json", is_flag=True)
@db_option
@handle_errors
def stats(as_json: bool, db: str | None) -> None:
    """Counts by source, day, language, kind and monitor."""
    with open_store(db, create=False) as store:
        data = store.stats()
        totals = {t: store.count(t) for t in ("posts", "authors", "interactions", "quarantine")}
        if as_json:
            click.echo(json.dumps({"totals": totals, **{k: dict(v) for k, v in data.items()}},
                                  ensure_ascii=False))
            return
        click.echo("  ".join(f"{k}: {v:,}" for k, v in totals.items()))
        for key, title in (("source", "by source"), ("language", "by language"),
                           ("kind", "by kind"), ("monitor", "by monitor"),
                           ("day", "by day (latest)")):
            if data[key]:
                click.echo(f"\n{title}")
                for name, n in data[key][:10]:
                    click.echo(f"  {name:24} {n:>9,}")


@main.command()
@click.option("--format", "fmt", type=click.Choice(["csv", "jsonl", "parquet"]), default="csv",
              show_default=True)
@click.option("--output", "-o", type=click.Path(path_type=Path), required=True,
              help="File to write ('-' for stdout, not with parquet).")
@click.option("--query", "-q", default=None, help="Only posts matching this query.")
@click.option("--monitor", "-m", default=None, help="Only posts tagged by this monitor.")
@db_option
@handle_errors
def export(fmt: str, output: Path, query: str | None, monitor: str | None, db: str | None) -> None:
    """Export posts: CSV (twarc-csv compatible columns), JSONL (normalized) or Parquet."""
    from .export import export as do_export

    with open_store(db, create=False) as store:
        posts = None
        if query or monitor:
            ids = (r["id"] for r in store.search(query, monitor=monitor, oldest_first=True))
            posts = (store.get_post(i) for i in ids)
        if str(output) == "-":
            if fmt == "parquet":
                raise click.UsageError("parquet needs a file: use --output FILE.parquet")
            n = do_export(store, fmt, sys.stdout.buffer, posts)
        else:
            with open(output, "wb") as out:
                n = do_export(store, fmt, out, posts)
        click.echo(f"{n:,} posts written to {output}", err=True)


@main.group()
def quarantine() -> None:
    """Records that could not be imported: list, show, retry."""


@quarantine.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@click.option("--all", "include_resolved", is_flag=True, help="Include resolved entries.")
@db_option
@handle_errors
def quarantine_list(as_json: bool, include_resolved: bool, db: str | None) -> None:
    with open_store(db, create=False) as store:
        entries = store.quarantine_list(include_resolved)
        for e in entries:
            if as_json:
                click.echo(json.dumps(e.to_dict(), ensure_ascii=False))
            else:
                state = " (resolved)" if e.resolved_at else ""
                click.echo(f"#{e.id} {e.file} {e.location} [{e.format}]{state}: {e.reason}")
        if not entries and not as_json:
            click.echo("quarantine is empty", err=True)


@quarantine.command("show")
@click.argument("qid", type=int)
@click.option("--raw", is_flag=True, help="Print only the raw bytes (to edit and retry).")
@db_option
@handle_errors
def quarantine_show(qid: int, raw: bool, db: str | None) -> None:
    with open_store(db, create=False) as store:
        e = store.quarantine_get(qid)
        if raw:
            sys.stdout.buffer.write(e.raw)
            return
        click.echo(json.dumps(e.to_dict(), ensure_ascii=False, indent=2))


@quarantine.command("retry")
@click.argument("ids", nargs=-1, type=int)
@click.option("--raw-file", type=click.File("rb"), help="Replace the raw record (one ID) first.")
@click.option("--map", "mapping", help="Column mapping, for CSV records.")
@db_option
@handle_errors
def quarantine_retry(ids: tuple[int, ...], raw_file: Any, mapping: str | None,
                     db: str | None) -> None:
    """Normalize quarantined records again (all, or IDS) after a fix."""
    from .pipeline import retry_quarantine
    from .sources.base import Options

    if raw_file is not None and len(ids) != 1:
        raise click.UsageError("--raw-file needs exactly one ID")
    with open_store(db, create=False) as store:
        ok, failed = retry_quarantine(store, list(ids) or None,
                                      raw_file.read() if raw_file else None,
                                      Options(mapping=_parse_map(mapping)))
        click.echo(f"{ok} resolved, {failed} still failing")
        if failed:
            sys.exit(1)


@main.group()
def monitor() -> None:
    """Saved queries that tag posts as they arrive."""


@monitor.command("add")
@click.argument("name")
@click.argument("query")
@click.option("--replace", is_flag=True, help="Replace an existing monitor of that name.")
@click.option("--no-backfill", is_flag=True, help="Do not tag the posts already stored.")
@db_option
@handle_errors
def monitor_add(name: str, query: str, replace: bool, no_backfill: bool, db: str | None) -> None:
    with open_store(db) as store:
        store.monitor_add(name, query, replace=replace)
        msg = f"monitor {name!r} saved"
        if not no_backfill:
            msg += f"; {store.backfill(name):,} stored posts match"
        click.echo(msg)


@monitor.command("list")
@click.option("--json", "as_json", is_flag=True)
@db_option
@handle_errors
def monitor_list(as_json: bool, db: str | None) -> None:
    with open_store(db, create=False) as store:
        counts = dict(store.stats()["monitor"])
        for name, query in store.monitors().items():
            if as_json:
                click.echo(json.dumps({"name": name, "query": query, "posts": counts.get(name, 0)},
                                      ensure_ascii=False))
            else:
                click.echo(f"{name:20} {counts.get(name, 0):>8,}  {query}")


@monitor.command("show")
@click.argument("name")
@click.option("--limit", "-n", type=int, default=10)
@db_option
@handle_errors
def monitor_show(name: str, limit: int, db: str | None) -> None:
    with open_store(db, create=False) as store:
        click.echo(f"{name}: {store.monitor_query(name)}")
        _table(list(store.search(None, monitor=name, limit=limit)))


@monitor.command("remove")
@click.argument("name")
@db_option
@handle_errors
def monitor_remove(name: str, db: str | None) -> None:
    with open_store(db, create=False) as store:
        store.monitor_remove(name)
        click.echo(f"monitor {name!r} removed")


@monitor.command("backfill")
@click.argument("name")
@db_option
@handle_errors
def monitor_backfill(name: str, db: str | None) -> None:
    """Run a monitor over every stored post."""
    with open_store(db, create=False) as store:
        click.echo(f"{store.backfill(name):,} posts match {name!r}")


def _register() -> None:
    """Command groups that live in perron/commands/, added explicitly (no discovery)."""
    from .commands import alerts, influence, listen, sites, understand, web

    for cmd, name in ((understand.enrich_command, "enrich"),
                      (understand.classify_command, "classify"),
                      (understand.eval_command, "eval"), (understand.triage_group, "triage"),
                      (understand.label_group, "label"), (understand.facts_group, "facts"),
                      (understand.settings_group, "settings")):
        main.add_command(cmd, name)
    for cmd in (influence.influencers_command, influence.audit_command, influence.graph_group,
                influence.ratecard_group, influence.influence_check_command,
                alerts.alerts_group, alerts.spikes_group, sites.sites_group,
                listen.listen_command, listen.sources_group, web.serve_command,
                web.workspace_group, web.users_group, web.tokens_group):
        main.add_command(cmd)


def _help_everywhere(cmd: click.Command) -> None:
    """``-h`` works on every command, however it is invoked: click caches a command's help option
    the first time it builds one, so inheriting it from the parent context is not enough."""
    cmd.context_settings.setdefault("help_option_names", ["-h", "--help"])
    if getattr(cmd, "_help_option", None) is not None:  # built before this ran (click ≥ 8.2)
        cmd._help_option = None  # type: ignore[attr-defined]
    for sub in getattr(cmd, "commands", {}).values():
        _help_everywhere(sub)


_register()
_help_everywhere(main)

if __name__ == "__main__":
    main()
