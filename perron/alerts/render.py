"""An alert as a person reads it: plain text, HTML (e-mail), and a Slack/Mattermost payload.

Texts exist in French and English; the explanation's figures are printed as they are stored, so
what the e-mail says can be checked against ``perron alerts show ID --json``.
"""

from __future__ import annotations

import html
from typing import Any

from .records import StoredAlert, iso

_L = {
    "fr": {"rule": "Règle", "kind": "Type", "fired": "Déclenchée", "status": "Statut",
           "window": "Fenêtre", "observed": "Observé", "expected": "Attendu", "score": "Score",
           "baseline": "Référence", "posts": "posts", "terms": "Termes surreprésentés",
           "hashtags": "Mots-dièse surreprésentés", "mentions": "Comptes mentionnés",
           "authors": "Auteurs surreprésentés", "sources": "Sources",
           "top_posts": "Posts à vérifier", "notes": "Notes", "details": "Détails",
           "test": "CECI EST UN TEST — aucune action n'est demandée.",
           "footer": "Envoyé par perron. Détails : perron alerts show {id}",
           "against": "contre", "share": "Part négative", "first": "Premier post",
           "author": "Auteur", "post": "Post", "source": "Source", "reasons": "Raisons"},
    "en": {"rule": "Rule", "kind": "Kind", "fired": "Fired", "status": "Status",
           "window": "Window", "observed": "Observed", "expected": "Expected", "score": "Score",
           "baseline": "Baseline", "posts": "posts", "terms": "Over-represented terms",
           "hashtags": "Over-represented hashtags", "mentions": "Accounts mentioned",
           "authors": "Over-represented authors", "sources": "Sources",
           "top_posts": "Posts to check", "notes": "Notes", "details": "Details",
           "test": "THIS IS A TEST — no action needed.",
           "footer": "Sent by perron. Details: perron alerts show {id}",
           "against": "against", "share": "Negative share", "first": "First post",
           "author": "Author", "post": "Post", "source": "Source", "reasons": "Reasons"},
}
FAMILIES = ("hashtags", "terms", "authors", "mentions", "sources")
MIN_Z = 2.0  # keys printed after the first need this score (the JSON keeps them all)


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def _post_line(p: dict[str, Any]) -> str:
    who = f"@{p['author']}" if p.get("author") else "?"
    url = f" {p['url']}" if p.get("url") else ""
    return f"{p.get('id')} — {who} ({(p.get('created_at') or '')[:16]}): {p.get('text', '')}{url}"


def sections(alert: StoredAlert, lang: str = "fr") -> list[tuple[str, list[str]]]:
    """(heading, lines) pairs shared by every format."""
    L = _L[lang]
    e = alert.explanation
    head = [f"{L['rule']}: {alert.rule} ({alert.kind})", f"{L['fired']}: {iso(alert.fired_at)}",
            f"{L['status']}: {alert.status}"]
    if e.get("test"):
        head.insert(0, L["test"])
    out: list[tuple[str, list[str]]] = [("", head)]
    kind = alert.kind
    figures: list[str] = []
    if "window" in e:
        figures.append(f"{L['window']}: {e['window']['start']} → {e['window']['end']}")
    if kind == "spike":
        figures.append(f"{L['observed']}: {_fmt(e['observed'])}   {L['expected']}: "
                       f"{_fmt(e['expected'])}   {L['score']}: {_fmt(e['score'])} "
                       f"(≥ {_fmt(e['sensitivity'])})")
        if e.get("measure") == "negative":
            figures.append(f"{L['share']}: {e['negative_posts']}/{e['labelled_posts']} "
                           f"({L['expected']} {_fmt(e['expected_share'])})")
        b = e.get("baseline", {})
        figures.append(f"{L['baseline']}: {b.get('start')} → {b.get('end')}, "
                       f"{b.get('posts')} {L['posts']}")
    elif kind == "triage_burst":
        figures.append(f"{L['observed']}: {e['count']} {e['outcomes']}   {L['expected']}: "
                       f"{_fmt(e['expected'])}")
    elif kind == "influential_author":
        a = e["author"]
        figures.append(f"{L['author']}: @{a.get('handle')} ({a.get('name') or ''}) — "
                       f"{a.get('followers')} followers ≥ {e['threshold']}")
        figures.append(f"{L['post']}: {_post_line({**e['post'], 'author': a.get('handle')})}")
    elif kind == "first_term":
        figures.append(f"« {e['term']} » — {e['posts_so_far']} {L['posts']}")
        figures.append(f"{L['first']}: {_post_line(e['first_post'])}")
    elif kind == "collector_down":
        figures.append(f"{L['source']}: {e['source']} ({e['source_kind']}) — {L['status']}: "
                       f"{e['status']}; last event: {e['last_event_at']}; "
                       f"{L['reasons']}: {', '.join(e['reasons'])}")
        if e.get("last_error"):
            figures.append(f"last error: {e['last_error']}")
    if figures:
        out.append((L["details"], figures))
    if "summary" in e:
        out.append(("", [e["summary"].get(lang, "")]))
    over = e.get("over_represented", {})
    for fam in FAMILIES:
        items = [o for i, o in enumerate(over.get(fam) or []) if i == 0 or o["score"] >= MIN_Z]
        if items:
            out.append((L[fam], [
                f"{o['key']}: {o['window_count']} {L['posts']} {L['against']} "
                f"{o['baseline_count']} (×{o['lift']:.1f}, z={o['score']:.1f}, G²={o['g2']:.1f})"
                for o in items[:5]]))
    posts = e.get("top_posts") or [p for p in e.get("posts", []) if isinstance(p, dict)]
    if posts:
        out.append((L["top_posts"], [_post_line(p) for p in posts[:5]]))
    if e.get("authors") and kind in ("first_term", "triage_burst"):
        out.append((L["authors"].split()[0], [f"@{a['author']}: {a['posts']}"
                                               for a in e["authors"][:5]]))
    notes = list(e.get("notes", [])) + ([e["note"]] if e.get("note") else [])
    if notes:
        out.append((L["notes"], notes))
    return out


def text(alert: StoredAlert, lang: str = "fr") -> str:
    lines = [alert.title, ""]
    for heading, body in sections(alert, lang):
        if heading:
            lines.append(heading)
        lines.extend(("  " + b) if heading else b for b in body)
        lines.append("")
    lines.append(_L[lang]["footer"].format(id=alert.id))
    return "\n".join(lines)


def html_body(alert: StoredAlert, lang: str = "fr") -> str:
    esc = html.escape
    parts = [f"<html><body><h2>{esc(alert.title)}</h2>"]
    for heading, body in sections(alert, lang):
        if heading:
            parts.append(f"<h3>{esc(heading)}</h3>")
        parts.append("<ul>" + "".join(f"<li>{esc(b)}</li>" for b in body) + "</ul>")
    parts.append(f"<p><small>{esc(_L[lang]['footer'].format(id=alert.id))}</small></p>")
    parts.append("</body></html>")
    return "".join(parts)


def markdown(alert: StoredAlert, lang: str = "fr") -> str:
    """Markdown both Slack (mrkdwn) and Mattermost render the same: no links syntax, no
    emphasis that differs between them, bare URLs (both autolink)."""
    lines = [("[TEST] " if alert.is_test and not alert.title.startswith("[TEST]") else "")
             + alert.title]
    for heading, body in sections(alert, lang)[1:]:
        if heading:
            lines.append(f"\n{heading}")
        lines.extend(f"• {b}" for b in body)
    return "\n".join(lines)


def webhook_payload(alert: StoredAlert, lang: str = "fr") -> dict[str, Any]:
    """Slack / Mattermost incoming-webhook JSON: ``text`` (markdown), ``attachments`` with the
    key figures, and perron's own ``alert`` object (ignored by chat tools, used by scripts)."""
    L = _L[lang]
    fields = [{"title": L["rule"], "value": alert.rule, "short": True},
              {"title": L["kind"], "value": alert.kind, "short": True}]
    e = alert.explanation
    if alert.monitor:
        fields.append({"title": "Monitor", "value": alert.monitor, "short": True})
    if "window" in e:
        fields.append({"title": L["window"], "value": f"{e['window']['start']} → "
                       f"{e['window']['end']}", "short": False})
    if "observed" in e:
        fields.append({"title": L["observed"], "value": _fmt(e["observed"]), "short": True})
        fields.append({"title": L["expected"], "value": _fmt(e["expected"]), "short": True})
    color = "#888888" if alert.is_test else "#d1242f"
    summary = e.get("summary", {}).get(lang) or alert.title
    return {
        "text": markdown(alert, lang),
        "attachments": [{"fallback": alert.title, "color": color, "title": alert.title,
                         "text": summary, "fields": fields, "footer": "perron",
                         "ts": int(alert.fired_at.timestamp())}],
        "alert": alert.to_dict(),
    }
