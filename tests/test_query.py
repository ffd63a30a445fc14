"""Unit tests of the monitor query language: every construct, in French and English."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime

import pytest

from perron.errors import QueryError
from perron.models import Geo, Media, Post
from perron.query import (
    And,
    Field,
    Hashtag,
    Matcher,
    Mention,
    Near,
    Not,
    Or,
    Phrase,
    Prefix,
    Term,
    compile_sql,
    doc_of,
    fts_document,
    matches,
    parse,
    sqlite_created,
    tsvector_literal,
)


def post(text: str = "", **kw) -> Post:
    kw.setdefault("source", "twitter")
    return Post(id="twitter:1", native_id="1", text=text, **kw)


def hit(query: str, text: str = "", **kw) -> bool:
    return matches(parse(query), doc_of(post(text, **kw)))


# --- words, accents, elisions, hashtags, mentions ---------------------------------------------

@pytest.mark.parametrize("query, text", [
    ("etat", "Réforme de l'État"),
    ("État", "l'etat"),
    ("l'État", "ETAT"),
    ("Montreal", "Bienvenue à Montréal !"),
    ("montréal", "MONTREAL"),
    ("oeuvre", "chef-d'œuvre"),
    ("écologie", "#Écologie"),
    ("écologie", "merci @ecologie"),
    ("climate", "Climate change is real."),
    ("il", "qu'il vienne"),
    ("ici", "jusqu'ici tout va bien"),
])
def test_word_matches(query: str, text: str) -> None:
    assert hit(query, text)


@pytest.mark.parametrize("query, text", [
    ("etat", "états"),  # no stemming
    ("#écologie", "l'écologie politique"),  # a hashtag is not the plain word
    ("@ecologie", "#ecologie"),
    ("#ecologie", "@ecologie"),
    ("ecologie", "https://example.org/ecologie"),  # URLs are not words
    ("climat", "#climatdebat"),
])
def test_word_does_not_match(query: str, text: str) -> None:
    assert not hit(query, text)


def test_hashtag_and_mention() -> None:
    assert hit("#écologie", "Vive l'#ECOLOGIE")
    assert hit("@Le-Monde.fr", "lu dans @le_monde_fr")
    assert parse("#Écologie") == Hashtag("#ecologie")
    assert parse("@Le-Monde.fr") == Mention("@le_monde_fr")


def test_multi_token_term_becomes_phrase() -> None:
    assert parse("peut-être") == Phrase(("peut", "etre"))
    assert parse("aujourd'hui") == Phrase(("aujourd", "hui"))
    assert hit("peut-être", "Peut être demain")
    assert not hit("peut-être", "être ou ne pas peut")


def test_phrase() -> None:
    assert hit('"air france"', "Grève chez AIR FRANCE ce matin")
    assert not hit('"air france"', "France: l'air est pur")
    assert not hit('"air france"', "air #france")  # phrases match plain words only
    assert hit('"écologie"', "l'écologie")
    assert not hit('"écologie"', "#écologie")
    assert hit('"the climate crisis"', "The climate crisis, again.")


def test_prefix() -> None:
    assert hit("eco*", "l'économie")
    assert hit("eco*", "#EcoloGie")
    assert hit("eco*", "@ecolo_fr")
    assert not hit("eco*", "la récolte")
    assert hit("#eco*", "#ecologie")
    assert not hit("#eco*", "ecologie")
    assert parse("Éco*") == Prefix("eco")


# --- boolean operators --------------------------------------------------------------------------

def test_and_or_not_and_french_keywords() -> None:
    assert parse("a b") == parse("a AND b") == parse("a et b") == And((Term("a"), Term("b")))
    assert parse("a OR b") == parse("a ou b") == parse("a or b") == Or((Term("a"), Term("b")))
    assert parse("-a") == parse("NOT a") == parse("SAUF a") == Not(Term("a"))
    assert hit("grève -SNCF", "grève à Air France")
    assert not hit("grève SAUF sncf", "grève à la SNCF")
    assert hit("-spam", "rien à voir")  # a negative-only query matches everything else
    assert not hit("-spam", "du SPAM")


def test_precedence() -> None:
    # NOT > AND > OR
    assert parse("a OR b c") == Or((Term("a"), And((Term("b"), Term("c")))))
    assert parse("NOT a b") == And((Not(Term("a")), Term("b")))
    assert parse("(a OR b) c") == And((Or((Term("a"), Term("b"))), Term("c")))
    assert hit("climat OR écologie grève", "le climat")
    assert not hit("(climat OR écologie) grève", "le climat")


def test_quoted_keyword_is_a_word() -> None:
    assert parse('"ou"') == Phrase(("ou",))
    assert hit('"or" "ou" argent', "or ou argent")
    with pytest.raises(QueryError):
        parse("or ou argent")


# --- NEAR ------------------------------------------------------------------------------------

def test_near() -> None:
    q = "grève NEAR/2 SNCF"
    assert parse(q) == Near(Term("greve"), Term("sncf"), 2)
    assert hit(q, "grève à la SNCF")  # 2 words between
    assert hit(q, "la SNCF en grève")  # either order
    assert not hit(q, "grève ce matin à la SNCF")  # 4 words between
    assert hit("climate NEAR/0 change", "climate change")
    assert not hit("climate NEAR/0 change", "climate and change")
    assert hit("#climat near/1 @ecologie", "#climat par @ecologie")
    assert hit("eco* NEAR/1 crise", "crise économique")


# --- fields ----------------------------------------------------------------------------------

def test_fields() -> None:
    assert hit("lang:fr", lang="fr-CA")
    assert hit("lang:FR", lang="fr")
    assert not hit("lang:fr", lang="en")
    assert not hit("lang:fr")
    assert matches(parse("lang:fr"), doc_of(post(lang="en"), lang="fr"))  # detected wins
    assert hit("author:@Le-Monde.fr", author_handle="le_monde_fr")
    assert hit("author:ÉcoloGie", author_handle="@ecologie")
    assert not hit("author:bob")
    assert hit("source:bluesky", source="bluesky") and not hit("source:bluesky")
    assert hit("is:reply", kind="reply") and not hit("is:reply")
    assert hit("is:post") and hit("is:quote", kind="quote")
    assert hit("has:link", "voir https://x.fr") and hit("has:link", urls=["https://x.fr"])
    assert not hit("has:link", "rien")
    assert hit("has:media", media=[Media(kind="photo")]) and not hit("has:media")
    assert hit("has:geo", geo=Geo(lat=1.0, lon=2.0))
    assert hit("has:geo", geo=Geo(bbox=(0.0, 0.0, 1.0, 1.0)))
    assert not hit("has:geo", geo=Geo(place_name="Paris"))


def test_since_until_boundaries() -> None:
    midnight = datetime(2024, 3, 1, tzinfo=UTC)
    before = datetime(2024, 2, 29, 23, 59, 59, 999999, tzinfo=UTC)
    assert hit("since:2024-03-01", created_at=midnight)  # inclusive
    assert not hit("since:2024-03-01", created_at=before)
    assert not hit("until:2024-03-01", created_at=midnight)  # exclusive
    assert hit("until:2024-03-01", created_at=before)
    assert not hit("since:2000-01-01") and not hit("until:2100-01-01")  # unknown date
    assert hit("since:2024-03-01T10:00:00+02:00", created_at=datetime(2024, 3, 1, 8, tzinfo=UTC))
    assert parse("until:2024-03-01T10:00") == Field("until", "2024-03-01T10:00:00Z")
    assert parse("since:2024-03-01T00:00:00Z") == Field("since", "2024-03-01")


# --- errors ------------------------------------------------------------------------------------

@pytest.mark.parametrize("query, column, in_message, in_hint", [
    ("", 1, "empty query", "type words"),
    ("(climat OR écologie", 1, "never closed", "')'"),
    ("climat)", 7, "without '('", "remove"),
    ('grève "air france', 7, "unclosed quote", 'closing "'),
    ("climat AND", 8, "needs something after", "AND"),
    ("OR climat", 1, "needs a word before", "OR"),
    ("climat OR OR x", 11, "needs a word before", "OR"),
    ("langue:fr", 1, "unknown field langue:", "did you mean lang:?"),
    ("auteur:bob", 1, "unknown field", "did you mean author:?"),
    ("is:retweet", 4, "bad value for is:", "post, reply, repost, quote"),
    ("has:photo", 5, "bad value for has:", "link, media, geo"),
    ("since:2024-13-01", 7, "bad date", "YYYY-MM-DD"),
    ("since:hier", 7, "bad date", "YYYY-MM-DD"),
    ("grève NEAR sncf", 7, "NEAR needs a distance", "NEAR/5"),
    ("grève NEAR/ sncf", 7, "NEAR needs a distance", "NEAR/5"),
    ("grève NEAR/500 sncf", 7, "too large", "NEAR/100"),
    ('"air france" NEAR/3 grève', 14, "single words", "AND"),
    ("e*", 1, "prefix too short", "at least"),
    ("e*co", 1, "only allowed at the end", "eco*"),
    ("🔥", 1, "no word", "emoji"),
    ("()", 2, "empty parentheses", "between"),
    ("(climat ET not)", 12, "needs something after", "remove"),
    ("a -", 3, "no word", "punctuation"),
])
def test_errors(query: str, column: int, in_message: str, in_hint: str) -> None:
    with pytest.raises(QueryError) as info:
        parse(query)
    err = info.value
    assert in_message in err.message
    assert in_hint in (err.hint or "")
    assert err.column == column
    assert err.query == query
    assert "^" in str(err) or query == ""


# --- canonical printing -----------------------------------------------------------------------

@pytest.mark.parametrize("query, canonical", [
    ("Écologie ET (climat OU #Climat) SAUF spam", "ecologie (climat OR #climat) -spam"),
    ("NOT (a OR b)", "NOT (a OR b)"),
    ('-"air france" lang:FR-ca', '-"air france" lang:fr'),
    ("a near/3 @B", "a NEAR/3 @b"),
])
def test_canonical_str(query: str, canonical: str) -> None:
    assert str(parse(query)) == canonical
    assert parse(canonical) == parse(query)


# --- matcher ------------------------------------------------------------------------------------

def test_matcher_runs_many_monitors() -> None:
    m = Matcher({
        "ecologie": "écologie OR #climat",
        "airfrance": '"air france" -pub',
        "negative": "-écologie",
        "fr": "lang:fr",
        "since": "since:2024-01-01",
        "prefix": "eco*",
        "near": "grève NEAR/3 sncf",
        "node": parse("#climat"),
    })
    doc = doc_of(post("L'écologie et #Climat chez Air France", lang="fr",
                      created_at=datetime(2024, 5, 1, tzinfo=UTC)))
    assert m.match(doc) == ["airfrance", "ecologie", "fr", "node", "prefix", "since"]
    doc2 = doc_of(post("Grève à la SNCF", lang="en"))
    assert m.match(doc2) == ["near", "negative"]
    assert m.match(doc2) == ["near", "negative"]  # cached token lookups give the same answer


def test_matcher_rejects_bad_query() -> None:
    with pytest.raises(QueryError):
        Matcher({"bad": "lang:"})


# --- SQL ---------------------------------------------------------------------------------------

def test_sql_never_interpolates_user_text() -> None:
    evil = "x' DROP TABLE posts; \"bobby; DELETE\" author:o'neil source:a;b"
    for dialect in ("sqlite", "postgresql"):
        with pytest.raises(QueryError):
            compile_sql(parse(evil), dialect)  # source:a;b is invalid
        sql, params = compile_sql(parse(evil.replace(" source:a;b", "")), dialect)
        assert "DROP" not in sql and "bobby" not in sql and "neil" not in sql
        assert any("bobby" in str(p) for p in params)


def test_sqlite_end_to_end() -> None:
    db = sqlite3.connect(":memory:")
    db.executescript("""
        CREATE TABLE posts (id TEXT UNIQUE, source TEXT, handle_key TEXT, lang TEXT, kind TEXT,
          has_link INTEGER, has_media INTEGER, has_geo INTEGER, created_at TEXT);
        CREATE VIRTUAL TABLE posts_fts USING fts5(tokens, content='',
          tokenize="unicode61 remove_diacritics 0 tokenchars '#@_'");
    """)
    texts = {"a": "Réforme de l'État", "b": "#Écologie à Montréal", "c": "l'écologie, enfin",
             "d": "grève à la SNCF"}
    for pid, text in texts.items():
        d = doc_of(post(text, lang="fr"))
        cur = db.execute("INSERT INTO posts VALUES (?,?,?,?,?,?,?,?,?)",
                         (pid, d.source, d.handle, d.lang, d.kind, d.has_link, d.has_media,
                          d.has_geo, sqlite_created(d.created_at)))
        db.execute("INSERT INTO posts_fts (rowid, tokens) VALUES (?,?)",
                   (cur.lastrowid, fts_document(d.tokens)))

    def ids(q: str) -> set[str]:
        sql, params = compile_sql(parse(q), "sqlite")
        return {r[0] for r in db.execute(f"SELECT id FROM posts AS p WHERE {sql}", params)}

    assert ids("etat") == {"a"}
    assert ids("écologie") == {"b", "c"}
    assert ids("#écologie") == {"b"}
    assert ids("montreal OR sncf") == {"b", "d"}
    assert ids("-écologie lang:fr") == {"a", "d"}
    assert ids("grève NEAR/2 sncf") == {"d"}
    assert ids("eco* -#eco*") == {"c"}


def test_index_documents() -> None:
    toks = ("a", "#x", "a", "it's", "b\\c")
    assert fts_document(toks) == "a #x a it's b\\c"
    assert tsvector_literal(toks) == "'a':1,3 '#x':2 'it''s':4 'b\\\\c':5"
    long = tsvector_literal([f"w{i}" for i in range(20000)])
    assert "'w16381':16382 'w16382':16383 'w16383':16383" in long
    assert long.endswith("'w19999':16383")
    assert tsvector_literal(["y"] * 300).count(",") == 255  # PostgreSQL keeps 256 positions
    assert tsvector_literal([]) == ""
    assert sqlite_created(datetime(2024, 3, 1, 1, 2, 3, tzinfo=UTC)) == \
        "2024-03-01T01:02:03.000000Z"
    assert sqlite_created(None) is None
