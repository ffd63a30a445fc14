"""Compile a query AST to a boolean SQL expression over ``posts AS <alias>``.

Text is answered by the full-text index: SQLite FTS5 (``posts_fts``, one MATCH per maximal
text subtree, binary ``NOT`` inside FTS5 where possible) or PostgreSQL ``tsvector @@ tsquery``
(one tsquery per maximal text subtree). Every user value travels as a parameter. Every
expression is two-valued (never NULL), so ``NOT`` means the same as in the stream matcher.

Column assumptions: ``source``, ``kind``, ``has_*`` and (PostgreSQL) ``tsv`` are NOT NULL;
``lang``, ``handle_key`` and ``created_at`` may be NULL (unknown never matches a field test).
``near:SITE`` is :func:`perron.places.site_sql` (reads ``lat``, ``lon`` and ``data``'s
``geo.bbox``; SQLite needs :func:`perron.places.register_sqlite` on the connection); an unknown
site compiles to a false expression, like the stream matcher.
"""

from __future__ import annotations

from typing import Literal

from ..places import site_sql
from .ast import And, Field, Hashtag, Mention, Near, Node, Not, Or, Phrase, Prefix, Term, is_text
from .doc import sqlite_created
from .parse import parse_date
from .sites import SitesArg, SiteTable

Dialect = Literal["sqlite", "postgresql"]
_COLUMNS = {"lang": "lang", "author": "handle_key", "source": "source", "is": "kind"}


# --- SQLite FTS5 -------------------------------------------------------------------------------

def _fq(token: str) -> str:
    return '"' + token.replace('"', '""') + '"'


def _fts_leaf_alts(node: Term | Hashtag | Mention | Prefix) -> list[str]:
    if isinstance(node, (Hashtag, Mention)):
        return [_fq(node.token)]
    if isinstance(node, Term):
        return [_fq(a) for a in (node.word, "#" + node.word, "@" + node.word)]
    stem = node.stem
    alts = [stem] if stem[0] in "#@" else [stem, "#" + stem, "@" + stem]
    return [_fq(a) + "*" for a in alts]


def _any(parts: list[str]) -> str:
    return parts[0] if len(parts) == 1 else "(" + " OR ".join(parts) + ")"


def fts5_expr(node: Node) -> str | None:
    """A positive FTS5 query for ``node``, or None when FTS5 cannot express it alone."""
    if isinstance(node, (Term, Hashtag, Mention, Prefix)):
        return _any(_fts_leaf_alts(node))
    if isinstance(node, Phrase):
        return _fq(" ".join(node.words))
    if isinstance(node, Near):
        return _any([f"NEAR({a} {b}, {node.distance})" for a in _fts_leaf_alts(node.left)
                     for b in _fts_leaf_alts(node.right)])
    if isinstance(node, Or):
        parts = [fts5_expr(c) for c in node.children]
        return None if None in parts else "(" + " OR ".join(parts) + ")"  # type: ignore[arg-type]
    if isinstance(node, And):
        pos, neg, rest = _split_and(node)
        if rest or not pos:
            return None
        return _and_not(pos, neg)
    return None


def _split_and(node: And) -> tuple[list[str], list[str], list[Node]]:
    """Children as (positive FTS5 parts, negated FTS5 parts, the rest)."""
    pos: list[str] = []
    neg: list[str] = []
    rest: list[Node] = []
    for child in node.children:
        if isinstance(child, Not):
            expr = fts5_expr(child.child)
            (neg.append(expr) if expr is not None else rest.append(child))
        else:
            expr = fts5_expr(child)
            (pos.append(expr) if expr is not None else rest.append(child))
    return pos, neg, rest


def _and_not(pos: list[str], neg: list[str]) -> str:
    out = pos[0] if len(pos) == 1 else "(" + " AND ".join(pos) + ")"
    if neg:
        out = f"({out} NOT {_any(neg)})"
    return out


class _Compiler:
    def __init__(self, dialect: Dialect, alias: str, sites: SiteTable) -> None:
        if dialect not in ("sqlite", "postgresql"):
            raise ValueError(f"unknown SQL dialect {dialect!r}")
        self.dialect = dialect
        self.a = alias
        self.sites = sites
        self.ph = "?" if dialect == "sqlite" else "%s"
        self.params: list = []

    def p(self, value: object) -> str:
        self.params.append(value)
        return self.ph

    def fts(self, query: str) -> str:
        return (f"{self.a}.rowid IN (SELECT rowid FROM posts_fts WHERE posts_fts MATCH "
                f"{self.p(query)})")

    def tsq(self, query: str) -> str:
        return f"{self.a}.tsv @@ {self.p(query)}::tsquery"

    def node(self, node: Node) -> str:
        if self.dialect == "postgresql" and is_text(node):
            return self.tsq(tsquery(node))
        if self.dialect == "sqlite":
            expr = fts5_expr(node)
            if expr is not None:
                return self.fts(expr)
        if isinstance(node, Not):
            return f"NOT ({self.node(node.child)})"
        if isinstance(node, And):
            return self.and_(node)
        if isinstance(node, Or):
            return self.or_(node)
        if isinstance(node, Field):
            return self.field(node)
        raise TypeError(f"cannot compile {node!r}")  # pragma: no cover

    def and_(self, node: And) -> str:
        parts: list[str] = []
        rest: list[Node] = list(node.children)
        if self.dialect == "sqlite":
            pos, neg, rest = _split_and(node)
            if pos:
                parts.append(self.fts(_and_not(pos, neg)))
            else:
                rest = list(node.children)
        else:
            text = [c for c in rest if is_text(c)]
            if text:
                parts.append(self.tsq(" & ".join(_tsq_group(c) for c in text)))
                rest = [c for c in rest if not is_text(c)]
        parts.extend(self.node(c) for c in rest)
        return "(" + " AND ".join(parts) + ")"

    def or_(self, node: Or) -> str:
        parts: list[str] = []
        if self.dialect == "sqlite":
            text = [e for e in map(fts5_expr, node.children) if e is not None]
            rest = [c for c in node.children if fts5_expr(c) is None]
            if text:
                parts.append(self.fts(" OR ".join(text)))
        else:
            ttext = [c for c in node.children if is_text(c)]
            rest = [c for c in node.children if not is_text(c)]
            if ttext:
                parts.append(self.tsq(" | ".join(_tsq_group(c) for c in ttext)))
        parts.extend(self.node(c) for c in rest)
        return "(" + " OR ".join(parts) + ")"

    def field(self, node: Field) -> str:
        a, name, v = self.a, node.name, node.value
        if name in _COLUMNS:
            col = f"{a}.{_COLUMNS[name]}"
            return f"({col} IS NOT NULL AND {col} = {self.p(v)})"
        if name == "near":
            site = self.sites.find(v)
            if site is None:
                return "1 = 0"
            sql, params = site_sql(site, self.dialect, a, self.sites.max_km)
            self.params.extend(params)
            return sql
        if name == "has":
            col = f"{a}.has_{v}"
            return f"{col} = 1" if self.dialect == "sqlite" else f"{col} IS TRUE"
        dt = parse_date(v)
        value = sqlite_created(dt) if self.dialect == "sqlite" else dt
        op = ">=" if name == "since" else "<"
        return f"({a}.created_at IS NOT NULL AND {a}.created_at {op} {self.p(value)})"


# --- PostgreSQL tsquery ----------------------------------------------------------------------

def _tq(token: str) -> str:
    return "'" + token.replace("\\", "\\\\").replace("'", "''") + "'"


def _tsq_leaf(node: Term | Hashtag | Mention | Prefix) -> str:
    if isinstance(node, (Hashtag, Mention)):
        return _tq(node.token)
    if isinstance(node, Term):
        w = node.word
        return f"( {_tq(w)} | {_tq('#' + w)} | {_tq('@' + w)} )"
    s = node.stem
    if s[0] in "#@":
        return _tq(s) + ":*"
    return f"( {_tq(s)}:* | {_tq('#' + s)}:* | {_tq('@' + s)}:* )"


def _tsq_group(node: Node) -> str:
    return "( " + tsquery(node) + " )"


def tsquery(node: Node) -> str:
    """A PostgreSQL tsquery literal for a text-only node (see :func:`is_text`)."""
    if isinstance(node, (Term, Hashtag, Mention, Prefix)):
        return _tsq_leaf(node)
    if isinstance(node, Phrase):
        return "( " + " <-> ".join(_tq(w) for w in node.words) + " )"
    if isinstance(node, Near):
        left, right = _tsq_leaf(node.left), _tsq_leaf(node.right)
        parts = []
        for k in range(node.distance + 2):
            parts.append(f"( {left} <{k}> {right} )")
            if k:
                parts.append(f"( {right} <{k}> {left} )")
        return "( " + " | ".join(parts) + " )"
    if isinstance(node, Not):
        return "!" + _tsq_group(node.child)
    if isinstance(node, And):
        return " & ".join(_tsq_group(c) for c in node.children)
    if isinstance(node, Or):
        return " | ".join(_tsq_group(c) for c in node.children)
    raise TypeError(f"not a text node: {node!r}")


def compile_sql(node: Node, dialect: Dialect, alias: str = "p", sites: SitesArg = None,
                max_km: float | None = None) -> tuple[str, list]:
    """``(where_sql, params)``: a boolean expression over ``posts AS alias`` meaning ``node``.

    Placeholders are ``?`` for sqlite and ``%s`` for postgresql (psycopg). ``sites`` and
    ``max_km`` resolve ``near:NAME`` as :class:`~perron.query.match.Matcher` does."""
    if not alias.isidentifier():
        raise ValueError(f"bad SQL alias {alias!r}")
    c = _Compiler(dialect, alias, SiteTable(sites, max_km))
    return c.node(node), c.params
