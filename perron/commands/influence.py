"""Influence and audience commands: ``influencers``, ``audit``, ``graph export``, ``ratecard``,
``influence-check``. Thin: open the store, call :mod:`perron.analyze`, print."""

from __future__ import annotations

import csv
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from ..store import open_store
from .common import db_option as _db_option
from .common import handle_errors as _handle_errors


class _When(click.ParamType):
    name = "DATE"

    def convert(self, value: Any, param: Any, ctx: Any) -> datetime:
        if isinstance(value, datetime):
            return value
        try:
            dt = datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
        except ValueError:
            self.fail(f"{value!r} is not a date: write 2024-06-01 or 2024-06-01T14:30 (UTC "
                      "unless an offset is given)", param, ctx)
        return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


_since = click.option("--since", type=_When(), default=None,
                      help="Only what happened at or after DATE (UTC), e.g. 2024-06-01.")
_until = click.option("--until", type=_When(), default=None,
                      help="Only what happened before DATE (UTC; exclusive).")


def _pct(v: float | None) -> str:
    if v is None:
        return "?"
    return f"{100 * v:.2f}%" if v < 0.01 else f"{100 * v:.1f}%"


def _n(v: int | None) -> str:
    return "?" if v is None else f"{v:,}"


# --------------------------------------------------------------------------- influencers

_COLUMNS = ["rank", "id", "handle", "tier", "score", "reposts", "quotes", "replies", "mentions",
            "recommendations", "listed", "graph_rank", "engagement_rate_followers",
            "engagement_rate_posts", "advocacy", "followers", "cost_low", "cost_high",
            "currency"]


def _explain(s: Any) -> str:
    lines = [f"@{s.handle or s.id} ({s.id}) — score {s.score:.1f} / 100, tier {s.tier or '?'}, "
             f"followers {_n(s.followers)}", ""]
    lines.append(f"{'part':16} {'value':>12} {'normalized':>11} {'weight':>7} {'points':>7}"
                 "  formula")
    for p in s.parts.values():
        if p.value is None:
            value = "unknown"
        elif p.name == "engagement":
            value = _pct(p.value)
        elif isinstance(p.value, float) and not p.value.is_integer():
            value = f"{p.value:.3f}"
        else:
            value = f"{p.value:,.0f}"
        lines.append(f"{p.name:16} {value:>12} {p.normalized:>11.3f} {p.weight:>7.2f} "
                     f"{p.points:>7.2f}  {p.formula}")
    lines.append(f"{'total':16} {'':>12} {'':>11} {'':>7} {s.score:>7.2f}")
    per_post = "?" if s.engagement_rate_posts is None else f"{s.engagement_rate_posts:.1f}"
    advocacy = ("unknown (no sentiment label)" if s.advocacy is None
                else f"{s.advocacy:+.2f} from {s.advocacy_posts} labelled posts")
    cost = s.cost.text() if s.cost else "unknown (tier unknown)"
    lines += ["", f"posts in the window: {s.posts}; engagement on them (platform counts): "
                  f"{_n(s.engagement)}; rate by followers {_pct(s.engagement_rate_followers)}, "
                  f"per post {per_post}",
              f"advocacy: {advocacy}; estimated cost per post: {cost}"]
    return "\n".join(lines)


@click.command("influencers")
@click.argument("monitor")
@_since
@_until
@click.option("--top", "-n", type=int, default=20, show_default=True, help="How many authors.")
@click.option("--advocates", is_flag=True,
              help="Only advocates: positive about the subject, below the macro tier.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line, with breakdown.")
@click.option("--csv", "as_csv", is_flag=True, help="CSV with a header row.")
@click.option("--explain", metavar="HANDLE", help="Break one author's score down into its parts.")
@_db_option
@_handle_errors
def influencers_command(monitor: str, since: datetime | None, until: datetime | None, top: int,
                        advocates: bool, as_json: bool, as_csv: bool, explain: str | None,
                        db: str | None) -> None:
    """Rank the authors of MONITOR by what people do with them (reposts, quotes, replies,
    mentions, #FF, lists, graph rank, engagement, advocacy), not by their followers."""
    from ..analyze.graph import csv_cell
    from ..analyze.influence import influencers
    from ..errors import NotFound

    if as_json and as_csv:
        raise click.UsageError("choose one of --json and --csv")
    with open_store(db, create=False) as store:
        report = influencers(store, monitor, since, until)
    if explain:
        s = report.find(explain)
        if s is None:
            raise NotFound(f"no author {explain!r} in the conversation of monitor {monitor!r}",
                           hint="give a handle from `perron influencers MONITOR` (window "
                                "options apply)")
        click.echo(_explain(s))
        return
    rows = (report.advocates() if advocates else report.scores)[:top]
    if as_json:
        for rank, s in enumerate(rows, 1):
            click.echo(json.dumps({"rank": rank, **s.to_dict()}, ensure_ascii=False))
        return
    if as_csv:
        out = csv.writer(sys.stdout)
        out.writerow(_COLUMNS)
        for rank, s in enumerate(rows, 1):
            d = s.to_dict()
            cost = s.cost.to_dict() if s.cost else {}
            d.update(rank=rank, score=round(s.score, 3), cost_low=cost.get("low"),
                     cost_high=cost.get("high"), currency=cost.get("currency"))
            out.writerow(["" if d.get(c) is None else csv_cell(d[c]) for c in _COLUMNS])
        return
    if not rows:
        click.echo("no author found" + (" with positive advocacy below the macro tier"
                                         if advocates else ""), err=True)
        return
    head = (f"{'#':>3} {'handle':20} {'tier':5} {'score':>5}  {'RT':>6} {'quote':>5} "
            f"{'reply':>5} {'@':>5} {'#FF':>3} {'lists':>6} {'rank×n':>6} {'eng%':>6} "
            f"{'adv':>5}  {'followers':>10}  cost/post")
    click.echo(head)
    n = len(report.graph.nodes)
    for rank, s in enumerate(rows, 1):
        handle = (s.handle or s.id)[:20]
        adv = "?" if s.advocacy is None else f"{s.advocacy:+.2f}"
        click.echo(f"{rank:>3} {handle:20} {s.tier or '?':5} {s.score:>5.1f}  {s.reposts:>6,} "
                   f"{s.quotes:>5,} {s.replies:>5,} {s.mentions:>5,} {s.recommendations:>3} "
                   f"{_n(s.listed):>6} {s.graph_rank * n:>6.1f} "
                   f"{_pct(s.engagement_rate_followers):>6} {adv:>5}  {_n(s.followers):>10}  "
                   f"{s.cost.text() if s.cost else '?'}")
    note = " (placeholder prices: `perron ratecard set FILE`)" if report.card.note and \
        "PLACEHOLDER" in report.card.note else ""
    click.echo(f"{len(rows)} of {len(report.scores)} authors; score = weighted parts, see "
               f"--explain HANDLE{note}", err=True)


# --------------------------------------------------------------------------- audit

_AUDIT_COLUMNS = ["id", "screen_name", "label", "score", "follow_back", "mass_inviter", "reasons"]


@click.command("audit")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--format", "fmt", default="auto", show_default=True,
              help="twitter-v1, twitter-v2, bluesky, mastodon, csv or auto.")
@click.option("--csv", "as_csv", is_flag=True, help="Rows as CSV on stdout (summary on stderr).")
@click.option("--json", "as_json", is_flag=True,
              help="Rows as JSON lines on stdout (summary on stderr).")
@click.option("--lang", type=click.Choice(["fr", "en"]), default="fr", show_default=True,
              help="Language of the reasons and summary.")
@click.option("--as-of", "as_of", type=_When(), default=None,
              help="Reference date for account ages when the file does not say when it was "
                   "collected (default: now).")
@_handle_errors
def audit_command(path: Path, fmt: str, as_csv: bool, as_json: bool, lang: str,
                  as_of: datetime | None) -> None:
    """Audit a follower list: real, bought/fake, follow-back and mass-inviter accounts, with
    the reasons for each, and an audience-quality score.

    Without --csv/--json: the accounts with something to report, then the summary."""
    from ..analyze.audit import audit
    from ..analyze.graph import csv_cell
    from ..analyze.profiles import read_profiles

    if as_json and as_csv:
        raise click.UsageError("choose one of --json and --csv")
    profiles, bad = read_profiles(path, fmt)
    rows, summary = audit(profiles, lang=lang, quarantined=len(bad), now=as_of)
    machine = as_csv or as_json
    if as_csv:
        out = csv.writer(sys.stdout)
        out.writerow(_AUDIT_COLUMNS)
        for r in rows:
            out.writerow([csv_cell(r.id), csv_cell(r.screen_name), r.label,
                          "" if r.score is None else f"{r.score:.4f}", int(r.follow_back),
                          int(r.mass_inviter), csv_cell("; ".join(r.reasons))])
    elif as_json:
        for r in rows:
            click.echo(json.dumps({"id": r.id, "screen_name": r.screen_name, "label": r.label,
                                   "score": r.score, "follow_back": r.follow_back,
                                   "mass_inviter": r.mass_inviter, "reasons": r.reasons},
                                  ensure_ascii=False))
    else:
        quiet = 0
        for r in rows:
            if r.label == "real" and not r.reasons:
                quiet += 1
                continue
            score = "" if r.score is None else f" {r.score:.2f}"
            why = f": {'; '.join(r.reasons)}" if r.reasons else ""
            click.echo(f"{r.label:10}{score:5} @{r.screen_name or r.id}{why}")
        if quiet:
            click.echo(f"({quiet:,} real account{'s' if quiet > 1 else ''} with nothing to "
                       "report not listed; --csv or --json give every account)")
        click.echo("")
    for q in bad:
        click.echo(f"{path.name} {q.location}: {q.reason}", err=True)
    click.echo(summary.text(lang), err=machine)


# --------------------------------------------------------------------------- graph export

@click.group("graph")
def graph_group() -> None:
    """The interaction graph of a monitor (Gephi, yEd, Cytoscape, igraph, networkx)."""


@graph_group.command("export")
@click.argument("monitor")
@click.option("--format", "fmt", type=click.Choice(["gexf", "graphml", "csv"]), default="gexf",
              show_default=True)
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="File to write (csv: the edges; the nodes go to FILE_nodes.csv).")
@_since
@_until
@_db_option
@_handle_errors
def graph_export(monitor: str, fmt: str, output: Path, since: datetime | None,
                 until: datetime | None, db: str | None) -> None:
    """Export who-acts-on-whom with PageRank, community, followers and tier per node."""
    from ..analyze.influence import export_graph, influencers, write_nodes_csv

    with open_store(db, create=False) as store:
        report = influencers(store, monitor, since, until)
    nodes = export_graph(report, fmt, output)
    lost = sum(report.graph.unresolved.values())
    click.echo(f"{len(nodes):,} nodes, {len(report.graph.src):,} edges written to {output}"
               + (f" ({lost:,} interactions left out: their target post is not in the store)"
                  if lost else ""), err=True)
    if fmt == "csv":
        nodes_path = output.with_name(output.stem + "_nodes.csv")
        write_nodes_csv(nodes_path, nodes)
        click.echo(f"nodes written to {nodes_path}", err=True)


# --------------------------------------------------------------------------- rate card

@click.group("ratecard")
def ratecard_group() -> None:
    """Price ranges per follower tier, used for the cost estimate of `perron influencers`."""


@ratecard_group.command("show")
@click.option("--json", "as_json", is_flag=True, help="The card as JSON (a file `set` accepts).")
@_db_option
@_handle_errors
def ratecard_show(as_json: bool, db: str | None) -> None:
    """Show the rate card in use."""
    from ..analyze.ratecard import load_card

    with open_store(db) as store:
        card, is_default = load_card(store)
    if as_json:
        click.echo(json.dumps(card.to_dict(), ensure_ascii=False, indent=2))
        return
    click.echo(card.to_markdown())
    if is_default:
        click.echo("(the default card: placeholder prices; replace them with "
                   "`perron ratecard set FILE`)", err=True)


@ratecard_group.command("set")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@_db_option
@_handle_errors
def ratecard_set(file: Path, db: str | None) -> None:
    """Use the rate card in FILE (TOML or JSON) from now on."""
    from ..analyze.ratecard import read_card_file, save_card

    card = read_card_file(file)
    with open_store(db) as store:
        save_card(store, card)
    click.echo(f"rate card saved ({card.currency}, tiers: {', '.join(card.tiers)})")


# --------------------------------------------------------------------------- Cha et al.

@click.command("influence-check")
@click.argument("monitor", required=False)
@_since
@_until
@click.option("--top-share", type=float, default=0.10, show_default=True,
              help="Share of authors in the 'top' of each ranking.")
@click.option("--json", "as_json", is_flag=True)
@_db_option
@_handle_errors
def influence_check_command(monitor: str | None, since: datetime | None,
                            until: datetime | None, top_share: float, as_json: bool,
                            db: str | None) -> None:
    """The million-follower check (Cha et al. 2010): do followers, reposts, mentions and
    graph rank rank the same authors on top? Spearman's ρ and top overlap per pair."""
    from ..analyze.influence import follower_check

    if not 0 < top_share <= 1:
        raise click.BadParameter("must be in (0, 1]", param_hint="--top-share")
    with open_store(db, create=False) as store:
        check = follower_check(store, monitor, since, until, top_share)
    if as_json:
        click.echo(json.dumps({
            "monitor": monitor, "authors": check.authors, "top_share": check.top_share,
            "pairs": [{"a": a, "b": b, "authors": check.pairs_n[(a, b)],
                       "spearman": None if rho != rho else rho,
                       "top_overlap": None if check.top_overlap[(a, b)] != check.top_overlap[
                           (a, b)] else check.top_overlap[(a, b)]}
                      for (a, b), rho in check.spearman.items()]}, ensure_ascii=False))
        return
    click.echo(f"{check.authors:,} authors with a post"
               + (f" in monitor {monitor!r}" if monitor else "") + "\n")
    click.echo(check.to_markdown(), nl=False)
