"""CLI for understanding: enrich, classify, eval, triage, labels, facts, settings."""

from __future__ import annotations

import csv
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

import click

from ..enrich.types import LABELS, TASKS
from ..errors import ConfigError
from ..store import open_store
from .common import db_option, handle_errors


def _read_lines(fp: IO[str]) -> list[str]:
    # split on \n only: U+2028 inside a post is content, not a line break
    data = fp.read()
    lines = data.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [line.rstrip("\r") for line in lines]


@click.command()
@click.option("--all", "relabel_all", is_flag=True, help="Relabel every post.")
@click.option("--since", type=click.DateTime(["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S"]),
              help="Only posts created on or after this date (UTC).")
@click.option("--json", "as_json", is_flag=True)
@db_option
@handle_errors
def enrich_command(relabel_all: bool, since: datetime | None, as_json: bool,
                   db: str | None) -> None:
    """Label posts: language, sentiment, hostility, irony, complaint, claim and triage.

    By default only what is new (or labelled by an older model version).
    """
    from ..understand import enrich_store

    with open_store(db, create=False) as store:
        s = enrich_store(store, relabel_all=relabel_all,
                         since=since.replace(tzinfo=UTC) if since else None)
        if as_json:
            click.echo(json.dumps({"posts": s.posts, "seconds": round(s.seconds, 2),
                                   "triage": s.outcomes}))
            return
        rate = s.posts / s.seconds if s.seconds else 0
        click.echo(f"{s.posts:,} posts labelled in {s.seconds:.1f} s ({rate:,.0f}/s)")
        for outcome, n in sorted((s.outcomes or {}).items(), key=lambda kv: -kv[1]):
            click.echo(f"  {outcome:14} {n:>8,}")


@click.command()
@click.option("--task", required=True, type=click.Choice(TASKS))
@click.option("--lang", default="auto", type=click.Choice(["auto", "fr", "en"]),
              show_default=True)
@click.option("--json", "as_json", is_flag=True,
              help="One object per line: label, scores, reasons, model, version.")
@click.argument("file", type=click.File("r", encoding="utf-8"), default="-")
@handle_errors
def classify_command(task: str, lang: str, as_json: bool, file: IO[str]) -> None:
    """Classify one text per line (FILE or stdin); one label per line, in order."""
    from ..enrich.classify import classify

    texts = _read_lines(file)
    out = sys.stdout
    for start in range(0, len(texts), 2000):
        for p in classify(task, texts[start: start + 2000], lang=lang):
            if as_json:
                out.write(json.dumps({"label": p.label, "score": round(p.score, 4),
                                      "scores": p.scores, "reasons": p.reasons,
                                      "model": p.model, "version": p.version},
                                     ensure_ascii=False, default=str) + "\n")
            else:
                out.write(p.label + "\n")


@click.command()
@click.option("--task", required=True, type=click.Choice([t for t in TASKS if t != "triage"]))
@click.option("--text", "text_file", required=True, type=click.File("r", encoding="utf-8"))
@click.option("--labels", "labels_file", required=True, type=click.File("r", encoding="utf-8"))
@click.option("--lang", default="auto", type=click.Choice(["auto", "fr", "en"]))
@handle_errors
def eval_command(task: str, text_file: IO[str], labels_file: IO[str], lang: str) -> None:
    """Print the task's official metric on a labelled file pair."""
    from ..enrich.classify import classify
    from ..evaluate import metric_name, normalize_gold, score

    texts = _read_lines(text_file)
    gold = _read_lines(labels_file)
    if task == "language":
        gold_n = [g.strip() for g in gold]
    else:
        gold_n = [normalize_gold(task, g) for g in gold]
    if len(gold_n) != len(texts):
        raise ConfigError(f"{len(texts)} texts but {len(gold_n)} labels",
                          hint="both files need one line per item")
    pred = [p.label for p in classify(task, texts, lang=lang)]
    click.echo(f"{task} {metric_name(task)}: {score(task, gold_n, pred):.2f} "
               f"(n={len(texts):,})")


@click.group("triage")
def triage_group() -> None:
    """The USAF Web Posting Response Assessment: queue and explanations."""


@triage_group.command("list")
@click.option("--monitor", "-m")
@click.option("--outcome", type=click.Choice(LABELS["triage"]))
@click.option("--limit", "-n", type=int, default=20, show_default=True)
@click.option("--json", "as_json", is_flag=True)
@db_option
@handle_errors
def triage_list_cmd(monitor: str | None, outcome: str | None, limit: int, as_json: bool,
                    db: str | None) -> None:
    """Posts by priority with their recommended outcome."""
    from ..understand import triage_list

    with open_store(db, create=False) as store:
        for r in triage_list(store, monitor=monitor, outcome=outcome, limit=limit):
            if as_json:
                click.echo(json.dumps(r, ensure_ascii=False))
            else:
                text = " ".join((r["text"] or "").split())[:70]
                click.echo(f"{r['priority']:5.1f}  {r['outcome']:13}  {r['id']:32}  {text}")


@triage_group.command("explain")
@click.argument("post_id")
@click.option("--json", "as_json", is_flag=True)
@db_option
@handle_errors
def triage_explain_cmd(post_id: str, as_json: bool, db: str | None) -> None:
    """Why a post got its outcome: every question, its answer and evidence, and all labels."""
    from ..understand import labels_of

    with open_store(db, create=False) as store:
        post = store.get_post(post_id)
        labels = labels_of(store, post_id)
        if as_json:
            click.echo(json.dumps({"id": post_id, "text": post.text, "labels": labels},
                                  ensure_ascii=False, default=str))
            return
        click.echo(f"{post_id}  @{post.author_handle or '—'}\n  {post.text}\n")
        tri = labels.get("triage")
        if not tri:
            click.echo("not labelled yet: run `perron enrich`")
            return
        info = tri.get("scores", {})
        for step in info.get("path", []):
            mark = "oui/yes" if step["answer"] else "non/no"
            click.echo(f"  {step['question']}  →  {mark}"
                       + (f"   [{step['evidence']}]" if step["evidence"] else ""))
        suffix = f" (corrected; model said {tri.get('model_label')})" if tri.get("corrected") else ""
        click.echo(f"  ⇒ {tri['label']}{suffix}   priority {info.get('priority', 0):.1f}\n")
        for task, lab in labels.items():
            if task == "triage":
                continue
            why = "; ".join(lab.get("reasons", [])[:4])
            flag = " (corrected)" if lab.get("corrected") else ""
            score = lab.get("score")
            click.echo(f"  {task:10} {lab['label']:14}{flag} "
                       f"{'' if score is None else f'{score:.2f}'}  {why}")


@click.group("label")
def label_group() -> None:
    """Human corrections: they are stored apart and always win."""


@label_group.command("set")
@click.argument("post_id")
@click.argument("task", type=click.Choice(list(LABELS)))
@click.argument("label")
@click.option("--note")
@click.option("--by", "author", help="Who corrects (shown in the audit trail).")
@db_option
@handle_errors
def label_set(post_id: str, task: str, label: str, note: str | None, author: str | None,
              db: str | None) -> None:
    from ..understand import correct

    with open_store(db, create=False) as store:
        correct(store, post_id, task, label, note, author)
        click.echo(f"{post_id}: {task} = {label} (human correction)")


@label_group.command("export")
@click.option("--task", type=click.Choice(list(LABELS)))
@click.option("--format", "fmt", type=click.Choice(["jsonl", "csv"]), default="jsonl")
@click.option("-o", "--output", type=click.Path(path_type=Path), default="-")
@db_option
@handle_errors
def label_export(task: str | None, fmt: str, output: Path, db: str | None) -> None:
    """Export human corrections as training data (text, task, label)."""
    from ..understand import corrections_export

    with open_store(db, create=False) as store:
        rows = list(corrections_export(store, task))
    out = sys.stdout if str(output) == "-" else open(output, "w", encoding="utf-8", newline="")
    try:
        if fmt == "jsonl":
            for r in rows:
                out.write(json.dumps(r, ensure_ascii=False) + "\n")
        else:
            w = csv.DictWriter(out, fieldnames=["post_id", "task", "label", "text", "lang",
                                                "model_label", "note"])
            w.writeheader()
            w.writerows(rows)
    finally:
        if out is not sys.stdout:
            out.close()
    click.echo(f"{len(rows)} corrections exported", err=True)


@click.group("facts")
def facts_group() -> None:
    """The workspace's fact sheet: facts and known false claims (for triage Q4)."""


@facts_group.command("add")
@click.argument("text")
@click.option("--false-claim", is_flag=True, help="TEXT is a known false claim.")
@click.option("--correction", help="What is true (required for a false claim).")
@click.option("--source", "sources", multiple=True, help="A link backing the correction.")
@db_option
@handle_errors
def facts_add(text: str, false_claim: bool, correction: str | None, sources: tuple[str, ...],
              db: str | None) -> None:
    """Add a fact (a post contradicting it is "fix the facts") or, with --false-claim, a known
    false claim and its correction."""
    from ..understand import add_fact

    with open_store(db) as store:
        add_fact(store, text, false_claim=false_claim, correction=correction, sources=sources)
        click.echo("false claim added" if false_claim else "fact added")


@facts_group.command("list")
@click.option("--json", "as_json", is_flag=True)
@db_option
@handle_errors
def facts_list_cmd(as_json: bool, db: str | None) -> None:
    from ..understand import facts_list

    with open_store(db, create=False) as store:
        for f in facts_list(store):
            if as_json:
                click.echo(json.dumps(f, ensure_ascii=False))
            else:
                extra = f" → {f['correction']}" if f["correction"] else ""
                click.echo(f"#{f['id']} [{f['kind']}] {f['text']}{extra}")


@facts_group.command("remove")
@click.argument("fact_id", type=int)
@db_option
@handle_errors
def facts_remove(fact_id: int, db: str | None) -> None:
    from ..understand import remove_fact

    with open_store(db, create=False) as store:
        remove_fact(store, fact_id)
        click.echo(f"fact {fact_id} removed")


@click.group("settings")
def settings_group() -> None:
    """Workspace settings stored in the store (e.g. triage thresholds)."""


@settings_group.command("list")
@db_option
@handle_errors
def settings_list_cmd(db: str | None) -> None:
    from ..understand import settings_list

    with open_store(db) as store:
        for k, v in settings_list(store).items():
            click.echo(f"{k} = {v}")


@settings_group.command("set")
@click.argument("key")
@click.argument("value")
@db_option
@handle_errors
def settings_set_cmd(key: str, value: str, db: str | None) -> None:
    from ..understand import set_setting

    with open_store(db) as store:
        set_setting(store, key, value)
        click.echo(f"{key} = {value}")
