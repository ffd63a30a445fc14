"""Query string → AST. Errors point at a 1-based column and suggest a fix.

Grammar (precedence NEAR > NOT > AND, implicit or explicit > OR)::

    query   := or END
    or      := and (OR and)*
    and     := unary ([AND] unary)*
    unary   := (NOT | '-') unary | near
    near    := primary (NEAR/n primary)?
    primary := '(' or ')' | leaf
    leaf    := word | prefix* | "phrase" | field:value | near:"site name"

Keywords are case-insensitive, with French synonyms: ET = AND, OU = OR, SAUF = NOT.
Quote a keyword to search it as a word: ``"ou"``.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from datetime import UTC, datetime

from ..errors import QueryError
from ..text import handle_token, tokens
from .ast import (
    KEYWORDS,
    NEAR_OPERANDS,
    Field,
    Hashtag,
    Mention,
    Near,
    Node,
    Not,
    Phrase,
    Prefix,
    Term,
    and_,
    or_,
)

FIELDS = ("lang", "author", "source", "is", "has", "since", "until", "near")
IS_VALUES = ("post", "reply", "repost", "quote")
HAS_VALUES = ("link", "media", "geo")
_OPS = {"and": "AND", "et": "AND", "or": "OR", "ou": "OR", "not": "NOT", "sauf": "NOT"}
_NEAR = re.compile(r"near(/(\d*))?", re.IGNORECASE)
_FIELD = re.compile(r"([A-Za-z_]+):(.*)", re.DOTALL)
_SPECIAL = '()"'
MIN_PREFIX = 2
MAX_NEAR = 100


@dataclass(slots=True)
class _Tok:
    kind: str  # ( ) AND OR NOT NEG NEAR PHRASE WORD END
    text: str
    col: int  # 1-based
    near: int = 0
    quoted: str | None = None  # near:"Usine Saint-Jérôme": the text between the quotes


def _fail(query: str, col: int, message: str, hint: str) -> QueryError:
    return QueryError(message, hint=hint, column=col, query=query)


def _lex(query: str) -> list[_Tok]:
    out: list[_Tok] = []
    i, n = 0, len(query)
    while i < n:
        ch = query[i]
        if ch.isspace():
            i += 1
        elif ch in "()":
            out.append(_Tok(ch, ch, i + 1))
            i += 1
        elif ch == '"':
            end = query.find('"', i + 1)
            if end < 0:
                raise _fail(query, i + 1, "unclosed quote",
                            'add a closing " at the end of the phrase')
            out.append(_Tok("PHRASE", query[i + 1:end], i + 1))
            i = end + 1
        elif ch == "-" and i + 1 < n and not query[i + 1].isspace() and query[i + 1] != ")":
            out.append(_Tok("NEG", ch, i + 1))
            i += 1
        else:
            j = i
            while j < n and not query[j].isspace() and query[j] not in _SPECIAL:
                j += 1
            word = query[i:j]
            low = word.lower()
            near = _NEAR.fullmatch(word)
            if low == "near:" and j < n and query[j] == '"':  # a quoted site name
                end = query.find('"', j + 1)
                if end < 0:
                    raise _fail(query, j + 1, "unclosed quote",
                                'add a closing " after the site name')
                out.append(_Tok("WORD", query[i:end + 1], i + 1, quoted=query[j + 1:end]))
                j = end + 1
            elif low in _OPS:
                out.append(_Tok(_OPS[low], word, i + 1))
            elif near and (word[:4] == "NEAR" or near.group(1)):
                if not near.group(2):
                    raise _fail(query, i + 1, "NEAR needs a distance",
                                "write NEAR/5 for 'at most 5 words apart'")
                if int(near.group(2)) > MAX_NEAR:
                    raise _fail(query, i + 1, f"NEAR distance too large: {word}",
                                f"use at most NEAR/{MAX_NEAR}; for looser co-occurrence use AND")
                out.append(_Tok("NEAR", word, i + 1, int(near.group(2))))
            else:
                out.append(_Tok("WORD", word, i + 1))
            i = j
    out.append(_Tok("END", "", n + 1))
    return out


class _Parser:
    def __init__(self, query: str) -> None:
        self.query = query
        self.toks = _lex(query)
        self.i = 0

    def peek(self) -> _Tok:
        return self.toks[self.i]

    def take(self) -> _Tok:
        tok = self.toks[self.i]
        self.i += 1
        return tok

    def error(self, tok: _Tok, message: str, hint: str) -> QueryError:
        return _fail(self.query, tok.col, message, hint)

    def parse(self) -> Node:
        if self.peek().kind == "END":
            raise self.error(self.peek(), "empty query",
                             "type words to look for, e.g. écologie OR climat")
        node = self.or_()
        tok = self.peek()
        if tok.kind == ")":
            raise self.error(tok, "unbalanced parenthesis: ')' without '('",
                             "remove this ')' or add a '(' before it")
        if tok.kind != "END":  # pragma: no cover - every other token starts a term
            raise self.error(tok, f"unexpected {tok.text!r}", "check the query syntax")
        return node

    def or_(self) -> Node:
        parts = [self.and_()]
        while self.peek().kind == "OR":
            self.take()
            parts.append(self.and_())
        return or_(*parts)

    def and_(self) -> Node:
        parts = [self.unary()]
        while True:
            kind = self.peek().kind
            if kind == "AND":
                self.take()
            elif kind not in ("WORD", "PHRASE", "(", "NOT", "NEG"):
                break
            parts.append(self.unary())
        return and_(*parts)

    def unary(self) -> Node:
        if self.peek().kind in ("NOT", "NEG"):
            self.take()
            return Not(self.unary())
        return self.near()

    def near(self) -> Node:
        left = self.primary()
        if self.peek().kind != "NEAR":
            return left
        op = self.take()
        right = self.primary()
        for side in (left, right):
            if not isinstance(side, NEAR_OPERANDS):
                raise self.error(op, "NEAR links two single words",
                                 "use words, #hashtags, @mentions or prefixes* on both sides; "
                                 "for phrases combine with AND")
        if self.peek().kind == "NEAR":
            raise self.error(self.peek(), "NEAR links exactly two words",
                             "write (a NEAR/3 b) AND (b NEAR/3 c)")
        return Near(left, right, op.near)  # type: ignore[arg-type]

    def primary(self) -> Node:
        tok = self.take()
        if tok.kind == "(":
            if self.peek().kind == ")":
                raise self.error(self.peek(), "empty parentheses", "put words between ( and )")
            node = self.or_()
            if self.peek().kind != ")":
                raise self.error(tok, "unbalanced parenthesis: '(' is never closed",
                                 "add a ')' to close it")
            self.take()
            return node
        if tok.kind == "PHRASE":
            words = tuple(tokens(tok.text))
            if not words:
                raise self.error(tok, "empty phrase", "put at least one word between the quotes")
            return Phrase(words)
        if tok.kind == "WORD":
            return self.leaf(tok)
        prev = self.toks[self.i - 2] if self.i >= 2 else None
        if tok.kind in ("END", ")") and prev and prev.kind in ("AND", "OR", "NOT", "NEG", "NEAR"):
            raise self.error(prev, f"{prev.text!r} needs something after it",
                             f"add a word after {prev.text!r} or remove it")
        if tok.kind == ")":
            raise self.error(tok, "unbalanced parenthesis: ')' without '('",
                             "remove this ')' or add a '(' before it")
        raise self.error(tok, f"{tok.text!r} needs a word before and after it",
                         f"add a word before {tok.text!r} or remove it")

    def leaf(self, tok: _Tok) -> Node:
        word = tok.text
        if tok.quoted is not None:
            return self.field(tok, "near", tok.quoted, quoted=True)
        field = _FIELD.fullmatch(word)
        if field and not word.startswith(("#", "@")) and "://" not in word:
            return self.field(tok, field.group(1).lower(), field.group(2))
        if "*" in word.rstrip("*") or word.endswith("**"):
            raise self.error(tok, "a wildcard * is only allowed at the end of a word",
                             "write eco* to find ecologie, economie…")
        if word.endswith("*"):
            toks = tokens(word[:-1])
            if len(toks) != 1:
                raise self.error(tok, "a prefix* must be a single word",
                                 "remove the hyphen or apostrophe, or quote a phrase instead")
            stem = toks[0]
            if len(stem.lstrip("#@")) < MIN_PREFIX:
                raise self.error(tok, f"prefix too short: {word!r}",
                                 f"give at least {MIN_PREFIX} letters before *")
            return Prefix(stem)
        toks = tokens(word)
        if not toks:
            raise self.error(tok, f"{word!r} contains no word to search",
                             "URLs, punctuation and emoji are not indexed; use has:link for links")
        if len(toks) > 1:
            return Phrase(tuple(toks))
        t = toks[0]
        if t in KEYWORDS:  # e.g. "and!": a keyword word can only be written as a phrase
            return Phrase((t,))
        if t[0] == "#":
            return Hashtag(t)
        if t[0] == "@":
            return Mention(t)
        return Term(t)

    def field(self, tok: _Tok, name: str, value: str, quoted: bool = False) -> Node:
        vcol = tok.col + len(name) + 1 + quoted
        if name not in FIELDS:
            aliases = {"langue": "lang", "language": "lang", "auteur": "author", "from": "author",
                       "site": "near", "lieu": "near", "pres": "near", "place": "near"}
            close = difflib.get_close_matches(name, FIELDS + tuple(aliases), n=1, cutoff=0.5)
            guess = aliases.get(close[0], close[0]) if close else None
            hint = (f"did you mean {guess}:?" if guess else
                    "known fields: " + ", ".join(f + ":" for f in FIELDS)) + \
                " (quote the text to search it as words)"
            raise self.error(tok, f"unknown field {name}:", hint)
        if name == "near":
            value = value.strip()
        if not value:
            raise self.error(tok, f"{name}: needs a value", _FIELD_HINTS[name])
        if name == "near":  # a site name, kept as written: resolved when the query runs
            return Field(name, value)
        low = value.lower()
        if name == "lang":
            primary = low.replace("_", "-").split("-")[0]
            if not re.fullmatch(r"[a-z]{2,3}", primary):
                raise _fail(self.query, vcol, f"bad language {value!r}", _FIELD_HINTS[name])
            return Field(name, primary)
        if name == "author":
            handle = handle_token(value)[1:]
            if not handle:
                raise _fail(self.query, vcol, f"bad handle {value!r}", _FIELD_HINTS[name])
            return Field(name, handle)
        if name == "source":
            if not re.fullmatch(r"[a-z0-9_.\-]+", low):
                raise _fail(self.query, vcol, f"bad source {value!r}", _FIELD_HINTS[name])
            return Field(name, low)
        if name in ("is", "has"):
            allowed = IS_VALUES if name == "is" else HAS_VALUES
            if low not in allowed:
                raise _fail(self.query, vcol, f"bad value for {name}: {value!r}",
                            f"{name}: takes one of " + ", ".join(allowed))
            return Field(name, low)
        dt = parse_date(value)
        if dt is None:
            raise _fail(self.query, vcol, f"bad date {value!r}", _FIELD_HINTS[name])
        return Field(name, format_date(dt))


_FIELD_HINTS = {
    "lang": "write a language code, e.g. lang:fr or lang:en",
    "author": "write a handle, e.g. author:@lemonde or author:lemonde",
    "source": "write a source name, e.g. source:twitter, source:bluesky, source:rss",
    "is": "is: takes one of " + ", ".join(IS_VALUES),
    "has": "has: takes one of " + ", ".join(HAS_VALUES),
    "since": "write a date as YYYY-MM-DD (e.g. since:2024-03-01) or an ISO datetime",
    "until": "write a date as YYYY-MM-DD (e.g. until:2024-04-01) or an ISO datetime",
    "near": 'write a site name, e.g. near:usine or near:"Usine Saint-Jérôme" (list them with '
            "`perron sites list`)",
}


def parse_date(value: str) -> datetime | None:
    """``YYYY-MM-DD`` (00:00 UTC) or an ISO datetime (naive = UTC); None when invalid."""
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}([T ][0-9:.]+(Z|[+-]\d{2}:?\d{2})?)?", value):
        return None
    try:
        dt = datetime.fromisoformat(value)
    except ValueError:
        return None
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


def format_date(dt: datetime) -> str:
    """Canonical form of a field date: ``2024-03-01`` at midnight UTC, else full ISO with Z."""
    dt = dt.astimezone(UTC)
    if (dt.hour, dt.minute, dt.second, dt.microsecond) == (0, 0, 0, 0):
        return dt.strftime("%Y-%m-%d")
    fmt = "%Y-%m-%dT%H:%M:%S.%fZ" if dt.microsecond else "%Y-%m-%dT%H:%M:%SZ"
    return dt.strftime(fmt)


def parse(query: str) -> Node:
    """Parse a monitor query. Raises :class:`perron.errors.QueryError` with column and hint."""
    return _Parser(query).parse()
