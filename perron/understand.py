"""Enrichment of stored posts: labels with scores, model versions and reasons; human
corrections that always win; the workspace's fact sheet and triage thresholds; triage with the
author's history as context.

The models themselves live in :mod:`perron.enrich`; this module moves their output into the
store and reads it back.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, fields
from datetime import datetime
from typing import Any

from .enrich.classify import enrich
from .enrich.triage import Context, FactSheet, FalseClaim, TriageResult, TriageSettings, triage
from .enrich.types import LABELS, Prediction
from .errors import ConfigError, NotFound
from .store.base import CHUNK, Store, now_utc

BATCH = 1000


@dataclass
class EnrichSummary:
    posts: int = 0
    seconds: float = 0.0
    outcomes: dict[str, int] | None = None


# ---- settings and fact sheet ------------------------------------------------------------

def triage_settings(store: Store) -> TriageSettings:
    values = dict(store.query("SELECT key, value FROM settings WHERE key LIKE ?",
                                                   ["triage.%"]))
    st = TriageSettings()
    for f in fields(TriageSettings):
        raw = values.get(f"triage.{f.name}")
        if raw is not None:
            setattr(st, f.name, type(getattr(st, f.name))(json.loads(raw)))
    return st


def set_setting(store: Store, key: str, value: str) -> None:
    """Workspace settings; ``triage.*`` keys are the decision tree's thresholds."""
    if key.startswith("triage."):
        name = key.split(".", 1)[1]
        known = {f.name: f for f in fields(TriageSettings)}
        if name not in known:
            raise ConfigError(f"unknown setting {key!r}",
                              hint="triage settings: " + ", ".join(f"triage.{k}" for k in known))
        kind = type(getattr(TriageSettings(), name))
        try:
            kind(value)
        except ValueError:
            raise ConfigError(f"{key} needs a {kind.__name__}, got {value!r}",
                              hint=f"example: perron settings set {key} "
                                   f"{getattr(TriageSettings(), name)}") from None
        value = json.dumps(kind(value))
    with store.transaction():
        store.execute("DELETE FROM settings WHERE key = ?", [key])
        store.execute("INSERT INTO settings (key, value) VALUES (?, ?)", [key, value])


def settings_list(store: Store) -> dict[str, Any]:
    st = asdict(triage_settings(store))
    out: dict[str, Any] = {f"triage.{k}": v for k, v in st.items()}
    for key, value in store.query("SELECT key, value FROM settings ORDER BY key"):
        if not key.startswith("triage."):
            out[key] = value
    return out


def fact_sheet(store: Store) -> FactSheet:
    sheet = FactSheet()
    for kind, text, correction, sources in store.query(
            "SELECT kind, text, correction, sources FROM facts ORDER BY id"):
        if kind == "false_claim":
            sheet.false_claims.append(FalseClaim(text, correction or "",
                                                 json.loads(sources or "[]")))
        else:
            sheet.facts.append(text)
    return sheet


def add_fact(store: Store, text: str, *, false_claim: bool = False, correction: str | None = None,
             sources: Sequence[str] = ()) -> None:
    if false_claim and not correction:
        raise ConfigError("a known false claim needs its correction",
                          hint='say what is true: --correction "…" (and --source URL) on the '
                               'command line, the correction field in the dashboard or the API')
    with store.transaction():
        store.execute("INSERT INTO facts (kind, text, correction, sources, created_at) "
                      "VALUES (?,?,?,?,?)",
                      ["false_claim" if false_claim else "fact", text, correction,
                       json.dumps(list(sources)), store.ts(now_utc())])


def facts_list(store: Store) -> list[dict[str, Any]]:
    return [{"id": i, "kind": k, "text": t, "correction": c, "sources": json.loads(s or "[]")}
            for i, k, t, c, s in store.query(
                "SELECT id, kind, text, correction, sources FROM facts ORDER BY id")]


def remove_fact(store: Store, fact_id: int) -> None:
    if not store.scalar("SELECT 1 FROM facts WHERE id = ?", [fact_id]):
        raise NotFound(f"no fact {fact_id}", hint="list them with `perron facts list`")
    store.execute("DELETE FROM facts WHERE id = ?", [fact_id])


# ---- corrections ------------------------------------------------------------------------

def correct(store: Store, post_id: str, task: str, label: str, note: str | None = None,
            author: str | None = None) -> None:
    """A person overrules a label. Stored apart from model labels; always wins."""
    if task not in LABELS:
        raise ConfigError(f"unknown task {task!r}", hint="tasks: " + ", ".join(LABELS))
    if label not in LABELS[task]:
        raise ConfigError(f"{label!r} is not a {task} label",
                          hint="labels: " + ", ".join(LABELS[task]))
    store.get_post(post_id)
    with store.transaction():
        store.execute("DELETE FROM corrections WHERE post_id = ? AND task = ?", [post_id, task])
        store.execute("INSERT INTO corrections (post_id, task, label, note, author, created_at) "
                      "VALUES (?,?,?,?,?,?)",
                      [post_id, task, label, note, author, store.ts(now_utc())])


def corrections_export(store: Store, task: str | None = None) -> Iterator[dict[str, Any]]:
    """Human corrections as training data: text, task, label (and the model's label)."""
    sql = ("SELECT c.post_id, c.task, c.label, p.text, p.lang, l.label, c.note "
           "FROM corrections c JOIN posts p ON p.id = c.post_id "
           "LEFT JOIN labels l ON l.post_rowid = p.rowid AND l.task = c.task")
    params: list[Any] = []
    if task:
        sql += " WHERE c.task = ?"
        params.append(task)
    for pid, t, label, text, lang, model_label, note in store.query(sql + " ORDER BY c.post_id",
                                                                    params):
        yield {"post_id": pid, "task": t, "label": label, "text": text, "lang": lang,
               "model_label": model_label, "note": note}


# ---- labels -----------------------------------------------------------------------------

def _pred_row(store: Store, rowid: int, task: str, p: Prediction, now: Any) -> list[Any]:
    return [rowid, task, p.label, p.score, json.dumps(p.scores), json.dumps(p.reasons,
                                                                            ensure_ascii=False),
            p.model or "perron", p.version or "0", now]


def _write_labels(store: Store, rows: list[list[Any]]) -> None:
    store.executemany(
        "INSERT INTO labels (post_rowid, task, label, score, scores, reasons, model, version, "
        "created_at) VALUES (?,?,?,?,?,?,?,?,?) ON CONFLICT (post_rowid, task) DO UPDATE SET "
        "label = excluded.label, score = excluded.score, scores = excluded.scores, "
        "reasons = excluded.reasons, model = excluded.model, version = excluded.version, "
        "created_at = excluded.created_at", rows)


def _author_history(store: Store, author_ids: Sequence[str]) -> dict[str, tuple[int, int]]:
    """author id → (hostile posts, all posts) in this workspace (corrections win)."""
    out: dict[str, tuple[int, int]] = {}
    ids = sorted(set(a for a in author_ids if a))
    for i in range(0, len(ids), CHUNK):
        chunk = ids[i: i + CHUNK]
        marks = ",".join("?" * len(chunk))
        totals = dict(store.query(f"SELECT author_id, count(*) FROM posts WHERE author_id IN "
                                  f"({marks}) GROUP BY author_id", chunk))
        hostile = dict(store.query(
            f"SELECT p.author_id, count(DISTINCT p.rowid) FROM posts p JOIN labels l ON "
            f"l.post_rowid = p.rowid AND l.task IN ('offensive', 'hate') LEFT JOIN corrections c "
            f"ON c.post_id = p.id AND c.task = l.task WHERE p.author_id IN ({marks}) AND "
            f"COALESCE(c.label, l.label) IN ('offensive', 'hate') GROUP BY p.author_id", chunk))
        for a in chunk:
            out[a] = (int(hostile.get(a, 0)), int(totals.get(a, 0)))
    return out


def _corrections_for(store: Store, post_ids: Sequence[str]) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    for i in range(0, len(post_ids), CHUNK):
        chunk = list(post_ids[i: i + CHUNK])
        marks = ",".join("?" * len(chunk))
        for pid, task, label in store.query(
                f"SELECT post_id, task, label FROM corrections WHERE post_id IN ({marks})", chunk):
            out.setdefault(pid, {})[task] = label
    return out


def _apply_corrections(signals: dict[str, Prediction], corr: dict[str, str]) -> None:
    for task, label in corr.items():
        if task in LABELS and task != "triage":
            scores = {lab: 1.0 if lab == label else 0.0 for lab in LABELS[task]}
            signals[task] = Prediction(label, 1.0, scores, ["corrected by a person"], "human", "1")


def _enrich_rows(store: Store, rows: list[tuple], settings: TriageSettings, sheet: FactSheet,
                 outcomes: dict[str, int]) -> None:
    texts = [(f"{title}\n{text}" if title else text) for _, _, text, title, _, _ in rows]
    langs = [lang for *_, lang, _ in rows]
    results = enrich(texts, langs)
    now = store.ts(now_utc())
    with store.transaction():
        _write_labels(store, [_pred_row(store, r[0], task, p, now)
                              for r, res in zip(rows, results, strict=True)
                              for task, p in res.items() if task not in ("triage",)])
        authors = sorted({r[5] for r in rows if r[5]})
        history = _author_history(store, authors)
        followers = {a.id: a.followers for a in store.authors_by_id(authors).values()}
        corr = _corrections_for(store, [r[1] for r in rows])
        tri_rows = []
        for r, res, text in zip(rows, results, texts, strict=True):
            _apply_corrections(res, corr.get(r[1], {}))
            hostile, total = history.get(r[5], (0, 0))
            ctx = Context(author_hostile_posts=hostile, author_total_posts=total,
                          author_followers=followers.get(r[5]), facts=sheet, settings=settings)
            lang = "fr" if (res["language"].label == "fr" or (r[4] or "").startswith("fr")) \
                else "en"
            result = triage(res, text, ctx, lang=lang)
            outcomes[result.outcome] = outcomes.get(result.outcome, 0) + 1
            tri_rows.append(_pred_row(store, r[0], "triage", triage_prediction(result), now))
        _write_labels(store, tri_rows)


def triage_prediction(result: TriageResult) -> Prediction:
    """A triage result as a stored label: path and priority travel in ``scores``/``reasons``."""
    from .enrich.triage import as_prediction

    p = as_prediction(result)
    p.score = result.priority
    p.scores = {"priority": result.priority,
                "path": [{"question": s.question, "answer": s.answer, "evidence": s.evidence}
                         for s in result.path], "summary": result.summary(),
                "lang": result.lang}  # type: ignore[dict-item]
    return p


def current_versions() -> list[str]:
    """Versions of the sentiment models now in use (one per language): a post whose sentiment
    label carries another version was labelled by an older model and is relabelled."""
    from .enrich.classify import classify

    return sorted({p.version for p in classify("sentiment", ["x", "x"], lang="fr")}
                  | {p.version for p in classify("sentiment", ["x"], lang="en")})


def enrich_store(store: Store, *, relabel_all: bool = False, since: datetime | None = None,
                 post_ids: Sequence[str] | None = None,
                 progress: Callable[[int], None] | None = None) -> EnrichSummary:
    """Label what is new (no labels, or labels of an older model version), or everything."""
    import time

    t0 = time.perf_counter()
    summary = EnrichSummary(outcomes={})
    settings, sheet = triage_settings(store), fact_sheet(store)
    versions = current_versions()
    cond, params = [], []
    if not relabel_all:
        marks = ",".join("?" * len(versions))
        cond.append("NOT EXISTS (SELECT 1 FROM labels l WHERE l.post_rowid = p.rowid AND "
                    f"l.task = 'sentiment' AND l.version IN ({marks}))")
        params.extend(versions)
    if since is not None:
        cond.append("p.created_at >= ?")
        params.append(store.ts(since))
    if post_ids is not None:
        if not post_ids:
            return summary
        cond.append(f"p.id IN ({','.join('?' * len(post_ids))})")
        params.extend(post_ids)
    where = "".join(f" AND {c}" for c in cond)
    last = 0
    while True:
        rows = store.query(f"SELECT p.rowid, p.id, p.text, p.title, p.lang, p.author_id FROM "
                           f"posts p WHERE p.rowid > ?{where} ORDER BY p.rowid LIMIT ?",
                           [last, *params, BATCH])
        if not rows:
            break
        _enrich_rows(store, rows, settings, sheet, summary.outcomes)  # type: ignore[arg-type]
        summary.posts += len(rows)
        last = rows[-1][0]
        if progress:
            progress(summary.posts)
    summary.seconds = time.perf_counter() - t0
    return summary


def labels_of(store: Store, post_id: str) -> dict[str, dict[str, Any]]:
    """Every label of a post; a person's correction replaces the model's label."""
    rowid = store.scalar("SELECT rowid FROM posts WHERE id = ?", [post_id])
    if rowid is None:
        store.get_post(post_id)  # raises NotFound with a hint
    out: dict[str, dict[str, Any]] = {}
    for task, label, score, scores, reasons, model, version in store.query(
            "SELECT task, label, score, scores, reasons, model, version FROM labels "
            "WHERE post_rowid = ?", [rowid]):
        out[task] = {"label": label, "score": score, "scores": json.loads(scores or "{}"),
                     "reasons": json.loads(reasons or "[]"), "model": model, "version": version,
                     "corrected": False}
    for task, label, note, author in store.query(
            "SELECT task, label, note, author FROM corrections WHERE post_id = ?", [post_id]):
        entry = out.setdefault(task, {"scores": {}, "reasons": []})
        entry.update({"label": label, "corrected": True, "model_label": entry.get("label"),
                      "note": note, "by": author})
    return out


def triage_list(store: Store, *, monitor: str | None = None, outcome: str | None = None,
                limit: int = 50) -> list[dict[str, Any]]:
    """The triage queue, highest priority first (corrections to triage win)."""
    if outcome and outcome not in LABELS["triage"]:
        raise ConfigError(f"unknown outcome {outcome!r}",
                          hint="outcomes: " + ", ".join(LABELS["triage"]))
    sql = ("SELECT p.id, p.author_handle, p.created_at, p.text, COALESCE(c.label, l.label), "
           "l.score, l.scores FROM labels l JOIN posts p ON p.rowid = l.post_rowid "
           "LEFT JOIN corrections c ON c.post_id = p.id AND c.task = 'triage' "
           "WHERE l.task = 'triage'")
    params: list[Any] = []
    if outcome:
        sql += " AND COALESCE(c.label, l.label) = ?"
        params.append(outcome)
    if monitor:
        store.monitor_query(monitor)
        sql += " AND p.rowid IN (SELECT post_rowid FROM post_monitors WHERE monitor = ?)"
        params.append(monitor)
    rows = store.query(sql + " ORDER BY l.score DESC, p.id LIMIT ?", [*params, limit])
    out = []
    for pid, handle, created, text, label, _score, scores in rows:
        info = json.loads(scores or "{}")
        out.append({"id": pid, "author_handle": handle, "created_at": store._iso(created),
                    "text": text, "outcome": label, "priority": info.get("priority", 0.0),
                    "summary": info.get("summary", "")})
    return out
