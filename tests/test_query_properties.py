"""Property tests: the stream matcher, SQLite FTS5 and PostgreSQL agree on every query.

Random posts (French/English words with accents and elisions, hashtags, mentions, URLs, emoji,
random fields) are written to a real SQLite database and a real PostgreSQL database with the
store's schema; random queries must select the same ids in all three evaluators.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from perron.models import Geo, Media, Post
from perron.query import Matcher, compile_sql, doc_of, matches, parse
from perron.query.ast import (
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
    is_text,
    or_,
)
from perron.query.doc import fts_document, sqlite_created, tsvector_literal
from perron.text import _PER_CHARACTER, _fold_text, fold

PIECES = [
    "écologie", "Ecologie", "ÉCOLOGIE", "l'État", "état", "Montréal", "montreal", "climat",
    "grève", "Air", "France", "air-france", "peut-être", "aujourd'hui", "qu'il", "jusqu'ici",
    "d'eau", "œuvre", "oeuvre", "économie", "eco", "écolo", "the", "and", "ou", "or", "il",
    "#écologie", "#Climat", "#eco_logie", "#ÉtatDeDroit", "@Le-Monde.fr", "@ecologie", "@climat",
    "https://ex.com/ecologie", "www.climat.fr", ",", "!", "...", "🔥", "😀", "«", "»", "(", ")",
    "2024", "L'écologie", "air\nfrance", "montréalais", "near", "NEAR", "AND",
]
SOURCES = ["twitter", "bluesky", "rss"]
LANGS = [None, "fr", "fr-CA", "en", "EN-us"]
HANDLES = [None, "Le-Monde.fr", "ÉcoloGie", "bob", "@bob"]
BASE = datetime(2024, 3, 1, tzinfo=UTC)
DATES = [None, BASE, BASE - timedelta(microseconds=1), BASE + timedelta(hours=10),
         BASE + timedelta(days=1), BASE - timedelta(days=1, hours=2)]

CORE = ["écologie", "l'État", "climat", "Air", "France", "#écologie", "@climat", "économie",
        "montréal", "il", "peut-être"]
text_st = st.lists(st.one_of(st.sampled_from(CORE), st.sampled_from(PIECES)),
                   max_size=10).map(" ".join)


@st.composite
def posts_st(draw: st.DrawFn) -> list[Post]:
    n = draw(st.integers(1, 12))
    out = []
    for i in range(n):
        out.append(Post(
            id=f"t:{i}", source=draw(st.sampled_from(SOURCES)), native_id=str(i),
            text=draw(text_st), title=draw(st.one_of(st.none(), text_st)),
            author_handle=draw(st.sampled_from(HANDLES)), lang=draw(st.sampled_from(LANGS)),
            kind=draw(st.sampled_from(["post", "reply", "repost", "quote"])),
            urls=draw(st.sampled_from([[], ["https://a.b/c"]])),
            media=draw(st.sampled_from([[], [Media(kind="photo")]])),
            geo=draw(st.sampled_from([None, Geo(lat=1.0, lon=2.0), Geo(place_name="x"),
                                      Geo(bbox=(0.0, 0.0, 1.0, 1.0))])),
            created_at=draw(st.sampled_from(DATES)),
        ))
    return out


WORDS = ["ecologie", "etat", "montreal", "climat", "greve", "air", "france", "eco", "oeuvre",
         "il", "ici", "eau", "economie", "the", "peut", "etre", "ecolo", "montrealais", "2024",
         "near"]
single_st = st.one_of(
    st.sampled_from(WORDS).map(Term),
    st.sampled_from(["#ecologie", "#climat", "#eco_logie", "#etatdedroit"]).map(Hashtag),
    st.sampled_from(["@le_monde_fr", "@ecologie", "@climat"]).map(Mention),
    st.sampled_from(["eco", "#eco", "@le", "cli", "mon", "ecologie", "fr"]).map(Prefix),
)
leaf_st = st.one_of(
    single_st,
    st.sampled_from([("air", "france"), ("peut", "etre"), ("aujourd", "hui"), ("etat",),
                     ("ecologie", "etat"), ("#climat", "ecologie"), ("il", "ici"),
                     ("and",), ("ou",), ("near", "and")]).map(Phrase),
    st.builds(Near, single_st, single_st, st.integers(0, 3)),
    st.builds(Field, st.just("lang"), st.sampled_from(["fr", "en", "de"])),
    st.builds(Field, st.just("author"), st.sampled_from(["le_monde_fr", "ecologie", "bob"])),
    st.builds(Field, st.just("source"), st.sampled_from(SOURCES)),
    st.builds(Field, st.just("is"), st.sampled_from(["post", "reply", "repost", "quote"])),
    st.builds(Field, st.just("has"), st.sampled_from(["link", "media", "geo"])),
    st.builds(Field, st.sampled_from(["since", "until"]),
              st.sampled_from(["2024-03-01", "2024-03-01T10:00:00Z", "2024-03-02"])),
)
query_st: st.SearchStrategy[Node] = st.recursive(
    leaf_st,
    lambda kids: st.one_of(
        kids.map(Not),
        st.lists(kids, min_size=2, max_size=3).map(lambda xs: and_(*xs)),
        st.lists(kids, min_size=2, max_size=3).map(lambda xs: or_(*xs)),
    ),
    max_leaves=6,
)

SQLITE_SCHEMA = """
CREATE TABLE posts (id TEXT UNIQUE, source TEXT NOT NULL, handle_key TEXT, lang TEXT,
  kind TEXT NOT NULL, has_link INTEGER NOT NULL, has_media INTEGER NOT NULL,
  has_geo INTEGER NOT NULL, created_at TEXT);
CREATE VIRTUAL TABLE posts_fts USING fts5(tokens, content='',
  tokenize="unicode61 remove_diacritics 0 tokenchars '#@_'");
"""
PG_SCHEMA = """
CREATE TABLE posts (rowid BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, id TEXT UNIQUE,
  source TEXT NOT NULL, handle_key TEXT, lang TEXT, kind TEXT NOT NULL,
  has_link BOOLEAN NOT NULL, has_media BOOLEAN NOT NULL, has_geo BOOLEAN NOT NULL,
  created_at TIMESTAMPTZ, tsv TSVECTOR NOT NULL);
CREATE INDEX posts_tsv ON posts USING GIN (tsv);
"""


@pytest.fixture
def pg(pg_url: str):
    import psycopg

    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(PG_SCHEMA)
        yield conn


def _rows(posts: list[Post]):
    for post in posts:
        d = doc_of(post)
        yield post.id, d


def _sqlite_ids(posts: list[Post], queries: list[Node]) -> list[set[str]]:
    db = sqlite3.connect(":memory:")
    db.executescript(SQLITE_SCHEMA)
    for pid, d in _rows(posts):
        cur = db.execute(
            "INSERT INTO posts (id, source, handle_key, lang, kind, has_link, has_media, "
            "has_geo, created_at) VALUES (?,?,?,?,?,?,?,?,?)",
            (pid, d.source, d.handle, d.lang, d.kind, int(d.has_link), int(d.has_media),
             int(d.has_geo), sqlite_created(d.created_at)))
        db.execute("INSERT INTO posts_fts (rowid, tokens) VALUES (?, ?)",
                   (cur.lastrowid, fts_document(d.tokens)))
    out = []
    for q in queries:
        sql, params = compile_sql(q, "sqlite")
        out.append({r[0] for r in db.execute(f"SELECT id FROM posts AS p WHERE {sql}", params)})
    db.close()
    return out


def _pg_ids(conn, posts: list[Post], queries: list[Node]) -> list[set[str]]:
    conn.execute("DELETE FROM posts")
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO posts (id, source, handle_key, lang, kind, has_link, has_media, has_geo,"
            " created_at, tsv) VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s::tsvector)",
            [(pid, d.source, d.handle, d.lang, d.kind, d.has_link, d.has_media, d.has_geo,
              d.created_at, tsvector_literal(d.tokens)) for pid, d in _rows(posts)])
    out = []
    for q in queries:
        sql, params = compile_sql(q, "postgresql")
        # text-only queries also go through the GIN index (planners skip it on tiny tables)
        conn.execute(f"SET enable_seqscan = {'off' if is_text(q) else 'on'}")
        rows = conn.execute(f"SELECT id FROM posts AS p WHERE {sql}", params).fetchall()
        out.append({r[0] for r in rows})
    return out


@settings(max_examples=400, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(posts=posts_st(), queries=st.lists(query_st, min_size=1, max_size=8))
def test_matcher_sqlite_postgresql_agree(pg, posts: list[Post], queries: list[Node]) -> None:
    docs = {p.id: doc_of(p) for p in posts}
    expected = [{pid for pid, d in docs.items() if matches(q, d)} for q in queries]
    # the parser reads back what it printed, and the matcher's index changes nothing
    parsed = [parse(str(q)) for q in queries]
    assert parsed == queries
    matcher = Matcher({f"m{i:02}": str(q) for i, q in enumerate(queries)})
    by_stream = [set() for _ in queries]
    for pid, d in docs.items():
        for name in matcher.match(d):
            by_stream[int(name[1:])].add(pid)
    assert by_stream == expected
    assert _sqlite_ids(posts, queries) == expected
    assert _pg_ids(pg, posts, queries) == expected


@settings(max_examples=300, deadline=None)
@given(query_st)
def test_str_round_trip(node: Node) -> None:
    assert parse(str(node)) == node


RAW_PIECES = ["écologie", "L'ÉTAT", "and", "OR", "ou", "ET", "sauf", "NOT", "-", "(", ")", '"',
              "NEAR/2", "near/0", "NEAR", "eco*", "*", "#Climat", "@Le-Monde.fr", "lang:FR",
              "langue:fr", "is:reply", "is:x", "has:geo", "since:2024-13-01", "until:2024-03-01",
              "author:", "peut-être", "🔥", ",", "e*", "a**"]


@settings(max_examples=500, deadline=None)
@given(st.lists(st.sampled_from(RAW_PIECES), max_size=8), st.booleans())
def test_parser_never_crashes(pieces: list[str], glue: bool) -> None:
    """Any string either parses to a node that prints back to itself, or raises QueryError
    with a column inside the query."""
    from perron.errors import QueryError

    query = ("" if glue else " ").join(pieces)
    try:
        node = parse(query)
    except QueryError as exc:
        assert exc.hint and exc.query == query
        assert exc.column is not None and 1 <= exc.column <= len(query) + 1
        return
    assert parse(str(node)) == node


SURFACES = {"ecologie": ["écologie", "Écologie", "ECOLOGIE", "l'écologie"],
            "etat": ["État", "l'État", "etat", "d'ÉTAT"], "montreal": ["Montréal", "MONTREAL"],
            "oeuvre": ["œuvre", "Œuvre", "oeuvre"], "il": ["qu'il", "IL"], "climat": ["Climat"]}


@st.composite
def surface_st(draw: st.DrawFn, depth: int = 0) -> tuple[Node, str]:
    """A node and one of the many ways a user may type it (case, accents, elisions, French)."""
    if depth >= 2 or draw(st.booleans()):
        word = draw(st.sampled_from(sorted(SURFACES)))
        surface = draw(st.sampled_from(SURFACES[word]))
        kind = draw(st.sampled_from(["term", "tag", "prefix", "near", "lang"]))
        if kind == "tag":
            return Hashtag("#" + word), "#" + surface.split("'")[-1]
        if kind == "prefix":
            return Prefix(word), surface.split("'")[-1] + "*"
        if kind == "near":
            return (Near(Term(word), Term("climat"), 2),
                    f"{surface} {draw(st.sampled_from(['NEAR/2', 'near/2']))} CLIMAT")
        if kind == "lang":
            return Field("lang", "fr"), draw(st.sampled_from(["lang:fr", "LANG:FR-ca"]))
        return Term(word), surface
    kids = draw(st.lists(surface_st(depth + 1), min_size=1, max_size=3))
    op = draw(st.sampled_from(["and", "or", "not"]))
    if op == "not":
        node, text = kids[0]
        return Not(node), draw(st.sampled_from(["-", "NOT ", "sauf ", "Not "])) + f"({text})"
    joiner = draw(st.sampled_from([" ", " AND ", " et ", " ET "] if op == "and"
                                  else [" OR ", " ou ", " Or "]))
    build = and_ if op == "and" else or_
    return build(*(n for n, _ in kids)), joiner.join(f"({t})" for _, t in kids)


@settings(max_examples=300, deadline=None)
@given(surface_st())
def test_surface_forms_parse_to_the_same_node(pair: tuple[Node, str]) -> None:
    node, text = pair
    assert parse(text) == node


# --- folding: the per-character fast path means the same as folding the whole text ----------

_FAST_ALPHABET = st.sampled_from(
    [chr(c) for a, b in _PER_CHARACTER for c in range(a, b)]
    + [chr(c) for c in range(32, 127)] + ["\u0301", "ﬁ", "각", "ا"])


@settings(max_examples=3000, deadline=None)
@given(st.one_of(st.text(), st.text(alphabet=_FAST_ALPHABET)))
def test_fold_fast_path_equals_folding_the_whole_text(text: str) -> None:
    assert fold(text) == _fold_text(text)
    assert fold("L’Élysée 😀 Œuvre…") == "l'elysee 😀 oeuvre..."
