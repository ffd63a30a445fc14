"""``perron alerts …`` (rules, run, list, show, ack/close, test) and ``perron spikes detect``.
Thin: open the store, call :mod:`perron.alerts` / :mod:`perron.analyze.spikes`, print."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from typing import Any

import click

from ..store import open_store
from .common import db_option as _db_option
from .common import handle_errors as _handle_errors

_now_option = click.option("--now", "now", default=None, metavar="ISO",
                           help="Evaluate as if it were this UTC time (replays, checks).")


def _parse_now(value: str | None) -> datetime:
    from ..alerts.records import parse_time
    from ..errors import ConfigError

    if not value:
        return datetime.now(UTC)
    try:
        return parse_time(value)  # type: ignore[return-value]
    except ValueError:
        raise ConfigError(f"bad --now {value!r}", hint="write 2024-05-10T15:20:00Z") from None


@click.group("alerts")
def alerts_group() -> None:
    """Alerts: spikes, first terms, influential authors, triage bursts, dead collectors."""


@alerts_group.group("rules")
def rules_group() -> None:
    """Alert rules: add, list, remove."""


@rules_group.command("add")
@click.argument("name")
@click.option("--kind", type=click.Choice(["spike", "first_term", "influential_author",
                                           "triage_burst", "collector_down"]),
              default="spike", show_default=True)
@click.option("--monitor", "-m", help="Monitor the rule watches.")
@click.option("--on", type=click.Choice(["volume", "negative"]),
              help="spike: volume of posts, or share of negative posts.")
@click.option("--interval", help="spike, triage_burst: bucket size (15m, 1h, 1d). Default 1h.")
@click.option("--sensitivity", type=float, help="spike: threshold in robust z units "
                                                "(default 12 volume, 4 negative).")
@click.option("--min-volume", type=float, help="spike: smallest bucket that may alert.")
@click.option("--recent", help="spike, triage_burst: report events this recent (default 1d).")
@click.option("--lookback", help="spike: history the detector sees (default 28d).")
@click.option("--baseline", help="spike, triage_burst: period the window is compared with.")
@click.option("--cooldown", help="No second alert on the same subject within this time (6h).")
@click.option("--lang", type=click.Choice(["fr", "en"]), help="Language of messages (fr).")
@click.option("--term", "terms", multiple=True, help="first_term: a term or #hashtag to watch.")
@click.option("--window", help="first_term, influential_author: how far back to look (1d).")
@click.option("--min-posts", type=int, help="first_term: posts a new hashtag needs (3).")
@click.option("--min-followers", type=int, help="influential_author: threshold (10000).")
@click.option("--outcome", "outcomes", multiple=True,
              help="triage_burst: outcomes counted (monitor_only, restoration).")
@click.option("--min-count", type=int, help="triage_burst: posts a burst needs (5).")
@click.option("--ratio", type=float, help="triage_burst: times the usual count (3).")
@click.option("--source", "sources", multiple=True, help="collector_down: source names (all).")
@click.option("--ok-status", "ok_statuses", multiple=True,
              help="collector_down: states that are fine (connected).")
@click.option("--silent", help="collector_down: alert after this long without events (30m).")
@click.option("--email", "emails", multiple=True, help="Send alerts to this address.")
@click.option("--webhook", "webhooks", multiple=True,
              help="POST alerts to this Slack/Mattermost-compatible webhook URL.")
@click.option("--replace", is_flag=True, help="Replace an existing rule of that name.")
@_db_option
@_handle_errors
def rules_add(name: str, kind: str, emails: tuple[str, ...], webhooks: tuple[str, ...],
              replace: bool, db: str | None, **options: Any) -> None:
    """Add an alert rule.

    \b
    perron alerts rules add pic-sncf --monitor sncf --on negative --cooldown 6h --email cm@x.fr
    perron alerts rules add sante --kind collector_down --silent 30m --webhook https://…
    """
    from ..alerts import add_rule, make_rule

    config = {k: (list(v) if isinstance(v, tuple) else v) for k, v in options.items()
              if v is not None and v != ()}
    config["channels"] = ([{"type": "email", "to": e} for e in emails]
                          + [{"type": "webhook", "url": u} for u in webhooks])
    rule = make_rule(kind, name, config)
    with open_store(db) as store:
        monitor = getattr(rule, "monitor", None)
        if monitor:
            store.monitor_query(monitor)  # fails with a hint when the monitor does not exist
        add_rule(store, rule, replace=replace)
    where = ", ".join(c.type for c in rule.channels) or "dashboard only"
    click.echo(f"rule {name!r} ({kind}) saved; alerts go to the store and: {where}")


def _channels(rule: Any) -> str:
    from ..alerts import redact

    return ", ".join(c.to if c.type == "email" else redact(c.url) for c in rule.channels) or "-"


@rules_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@_db_option
@_handle_errors
def rules_list(as_json: bool, db: str | None) -> None:
    from ..alerts import list_rules, redact

    with open_store(db, create=False) as store:
        rules = list_rules(store)
    for r in rules:
        if as_json:
            cfg = r.config()
            cfg["channels"] = [{**c, "url": redact(c["url"])} if "url" in c else c
                               for c in cfg["channels"]]
            click.echo(json.dumps({"name": r.name, "kind": r.kind, **cfg}, ensure_ascii=False))
        else:
            subject = getattr(r, "monitor", None) or ",".join(getattr(r, "sources", []) or [])
            click.echo(f"{r.name:20} {r.kind:18} {subject or '*':16} cooldown {r.cooldown:5} "
                       f"→ {_channels(r)}")
    if not rules and not as_json:
        click.echo("no alert rules yet: `perron alerts rules add NAME --monitor M`", err=True)


@rules_group.command("remove")
@click.argument("name")
@_db_option
@_handle_errors
def rules_remove(name: str, db: str | None) -> None:
    """Remove a rule (the alerts it fired stay)."""
    from ..alerts import remove_rule

    with open_store(db, create=False) as store:
        remove_rule(store, name)
    click.echo(f"rule {name!r} removed")


@alerts_group.command("run")
@click.option("--dry-run", is_flag=True, help="Evaluate and print; record and send nothing.")
@click.option("--rule", "only", multiple=True, help="Only these rules.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per rule.")
@_now_option
@_db_option
@_handle_errors
def alerts_run(dry_run: bool, only: tuple[str, ...], as_json: bool, now: str | None,
               db: str | None) -> None:
    """Evaluate every rule now, record new alerts and deliver them (cron it: every 5–15 min)."""
    from ..alerts import get_rule, run

    with open_store(db, create=False) as store:
        rules = [get_rule(store, n) for n in only] if only else None
        results = run(store, _parse_now(now), dry_run=dry_run, rules=rules)
    failed = 0
    for rr in results:
        failed += sum(1 for _, d in rr.deliveries if d.status != "sent")
        if as_json:
            click.echo(json.dumps(rr.to_dict(), ensure_ascii=False))
            continue
        extra = []
        if rr.duplicates:
            extra.append(f"{rr.duplicates} already recorded")
        if rr.cooled:
            extra.append(f"{rr.cooled} in cooldown")
        tail = f" ({', '.join(extra)})" if extra else ""
        if rr.error:
            failed += 1
            click.secho(f"{rr.rule}: error: {rr.error}", fg="red", err=True)
            continue
        click.echo(f"{rr.rule}: {len(rr.new)} new alert(s){tail}")
        for a in rr.new:
            click.echo(f"  {'(dry run) ' if dry_run else f'#{a.id} '}{a.title}")
        for aid, d in rr.deliveries:
            err = f" — {d.last_error}" if d.last_error else ""
            click.echo(f"    #{aid} {d.channel} → {d.recipient}: {d.status} "
                       f"after {d.attempts} attempt(s){err}")
    if not results and not as_json:
        click.echo("no alert rules: `perron alerts rules add NAME --monitor M`", err=True)
    failed += sum(1 for rr in results if rr.error) if as_json else 0
    if failed:
        click.echo(f"{failed} rule error(s) or failed delivery(ies); the alerts that fired are "
                   "in the store", err=True)
        sys.exit(1)


@alerts_group.command("list")
@click.option("--status", type=click.Choice(["open", "acknowledged", "closed"]))
@click.option("--rule", default=None, help="Only alerts of this rule.")
@click.option("--limit", "-n", type=int, default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@_db_option
@_handle_errors
def alerts_list(status: str | None, rule: str | None, limit: int, as_json: bool,
                db: str | None) -> None:
    """Alerts, newest first."""
    from ..alerts import list_alerts
    from ..alerts.records import iso

    with open_store(db, create=False) as store:
        alerts = list_alerts(store, status=status, rule=rule, limit=limit)
    for a in alerts:
        if as_json:
            click.echo(json.dumps(a.to_dict(), ensure_ascii=False))
        else:
            when = (iso(a.fired_at) or "")[:16].replace("T", " ")
            click.echo(f"#{a.id:<5} {when}  {a.status:12} {a.rule:16} {a.title}")
    if not alerts and not as_json:
        click.echo("no alerts", err=True)


@alerts_group.command("show")
@click.argument("alert_id", type=int)
@click.option("--json", "as_json", is_flag=True, help="The alert and its explanation as JSON.")
@click.option("--lang", type=click.Choice(["fr", "en"]), default="fr", show_default=True)
@_db_option
@_handle_errors
def alerts_show(alert_id: int, as_json: bool, lang: str, db: str | None) -> None:
    """An alert with its explanation (figures to check) and its delivery log."""
    from ..alerts import get_alert
    from ..alerts.render import text

    with open_store(db, create=False) as store:
        alert = get_alert(store, alert_id)
    if as_json:
        click.echo(json.dumps(alert.to_dict(), ensure_ascii=False, indent=2))
        return
    click.echo(text(alert, lang))
    if alert.deliveries:
        click.echo("\n" + ("Envois" if lang == "fr" else "Deliveries"))
        for d in alert.deliveries:
            err = f" — {d['last_error']}" if d["last_error"] else ""
            click.echo(f"  {d['channel']} → {d['recipient']}: {d['status']} "
                       f"({d['attempts']} attempt(s), {d['sent_at'] or '-'}){err}")


def _status_command(name: str, status: str, doc: str) -> None:
    @alerts_group.command(name, help=doc)
    @click.argument("alert_ids", type=int, nargs=-1, required=True)
    @_db_option
    @_handle_errors
    def cmd(alert_ids: tuple[int, ...], db: str | None) -> None:
        from ..alerts import set_status

        with open_store(db, create=False) as store:
            for aid in alert_ids:
                set_status(store, aid, status)
                click.echo(f"#{aid} {status}")


_status_command("ack", "acknowledged", "Acknowledge alerts (someone is on it).")
_status_command("close", "closed", "Close alerts.")
_status_command("reopen", "open", "Reopen alerts.")


@alerts_group.command("test")
@click.argument("rule")
@_now_option
@_db_option
@_handle_errors
def alerts_test(rule: str, now: str | None, db: str | None) -> None:
    """Evaluate RULE and send a test delivery (marked [TEST]) through its channels."""
    from ..alerts import send_test

    with open_store(db, create=False) as store:
        stored, results = send_test(store, rule, _parse_now(now))
    click.echo(f"#{stored.id} {stored.title}")
    for d in results:
        err = f" — {d.last_error}" if d.last_error else ""
        click.echo(f"  {d.channel} → {d.recipient}: {d.status} after {d.attempts} "
                   f"attempt(s){err}")
    if not results:
        click.echo("  this rule has no channels: the test alert is only in the store")
    if any(d.status != "sent" for d in results):
        sys.exit(1)


# ---- spikes ------------------------------------------------------------------------------------

@click.group("spikes")
def spikes_group() -> None:
    """Spike detection on a time series."""


@spikes_group.command("detect")
@click.argument("series", type=click.Path(dir_okay=False, allow_dash=True))
@click.option("--sensitivity", type=float, default=None,
              help="Threshold in robust z units (default 12).")
@click.option("--min-volume", type=float, default=None, help="Smallest value that may alert (5).")
@click.option("--cooldown", default=None, help="No new spike within this time (24h).")
@click.option("--season", type=click.Choice(["week", "day", "none"]), default=None,
              help="Seasonal baseline: hour-of-week (default), hour-of-day, none.")
@click.option("--sustained", default=None,
              help="Also score the totals of each clock-aligned window this long, for rises that "
                   "no single point shows (6h; `off` to judge points only).")
@click.option("--sustained-sensitivity", type=float, default=None,
              help="Threshold of those totals in robust z units (5).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per spike, with scores.")
@_handle_errors
def spikes_detect(series: str, sensitivity: float | None, min_volume: float | None,
                  cooldown: str | None, season: str | None, sustained: str | None,
                  sustained_sensitivity: float | None, as_json: bool) -> None:
    """Spikes of a `timestamp,value` CSV (header first): one ISO timestamp per line."""
    from dataclasses import replace

    from ..alerts.rules import parse_duration
    from ..analyze.spikes import SpikeSettings, detect, read_series_csv
    from ..errors import ConfigError

    times, values = read_series_csv(sys.stdin if series == "-" else series)
    settings = SpikeSettings()
    changes: dict[str, Any] = {}
    if sensitivity is not None:
        changes["sensitivity"] = sensitivity
    if min_volume is not None:
        changes["min_volume"] = min_volume
    if cooldown is not None:
        changes["cooldown"] = parse_duration(cooldown)
    if season is not None:
        changes["season"] = season
    if sustained is not None and sustained != "off":
        changes["sustained"] = parse_duration(sustained)
        if changes["sustained"].total_seconds() <= 0:
            raise ConfigError(f"--sustained must be a positive duration, not {sustained!r}",
                              hint="--sustained 1h, or --sustained off to judge points only")
    elif sustained == "off":
        changes["sustained"] = None
    if sustained_sensitivity is not None:
        changes["sustained_sensitivity"] = sustained_sensitivity
    for point in detect(times, values, replace(settings, **changes)):
        if as_json:
            click.echo(json.dumps(point.to_dict()))
        else:
            click.echo(point.at.isoformat())
