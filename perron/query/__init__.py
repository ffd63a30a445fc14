"""The monitor query language: parser → AST → stream matcher and SQL compiler (same meaning).

See docs/query-language.md for the user-facing reference.
"""

from __future__ import annotations

from .ast import And, Field, Hashtag, Mention, Near, Node, Not, Or, Phrase, Prefix, Term
from .doc import Doc, doc_of, fts_document, sqlite_created, tsvector_literal
from .match import Matcher, matches
from .parse import parse
from .sites import SiteTable, near_names, validate_sites
from .sql import compile_sql

__all__ = ["And", "Doc", "Field", "Hashtag", "Matcher", "Mention", "Near", "Node", "Not", "Or",
           "Phrase", "Prefix", "SiteTable", "Term", "compile_sql", "doc_of", "fts_document",
           "matches", "near_names", "parse", "sqlite_created", "tsvector_literal",
           "validate_sites"]
