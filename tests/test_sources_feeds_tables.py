"""Feeds (RSS/Atom, WordPress comment feeds, WXR) and CSV tables (twarc-csv, 4CAT, mapped CSV)."""

from __future__ import annotations

import inspect
import io
from datetime import UTC, datetime
from pathlib import Path

import msgspec
import pytest

from perron.errors import NormalizeError, SourceError
from perron.models import Batch, Post
from perron.sources.base import Malformed, Options, Record
from perron.sources.feeds import RssFormat, WxrFormat
from perron.sources.tables import FourCatFormat, MappedCsvFormat, TwarcCsvFormat, parse_when

FIXTURES = Path(__file__).parent / "fixtures" / "sources"


def read_all(fmt, path: Path, options: Options | None = None) -> tuple[list[Record], list[Batch]]:
    options = options or Options()
    with open(path, "rb") as fp:
        records = [r for r in fmt.records(fp, path.name, options) if isinstance(r, Record)]
    return records, [fmt.normalize(r.raw, options) for r in records]


def posts_of(batches: list[Batch]) -> dict[str, Post]:
    return {p.id: p for b in batches for p in b.posts}


# --- WordPress WXR -----------------------------------------------------------------------------


def test_wxr_threads_comments_under_their_post_and_parent_comment() -> None:
    _, batches = read_all(WxrFormat(), FIXTURES / "wxr" / "export.xml")
    posts = posts_of(batches)
    post = "wordpress:carnet.exemple.fr/412"
    assert posts[post].kind == "post"
    assert posts[post].author_id == "wordpress:carnet.exemple.fr/elise"
    first = posts[f"{post}#comment-1287"]
    answer = posts[f"{post}#comment-1290"]
    thanks = posts[f"{post}#comment-1291"]
    assert (first.kind, first.parent_id, first.root_id) == ("reply", post, post)
    assert answer.parent_id == first.id and answer.root_id == post
    assert thanks.parent_id == answer.id
    # the blogger answering in her comments is the same author as the post's
    assert answer.author_id == posts[post].author_id
    assert answer.in_reply_to_author_id == first.author_id
    assert thanks.in_reply_to_author_id == posts[post].author_id
    assert first.url == "https://carnet.exemple.fr/2024/03/repondre-aux-trolls/#comment-1287"


def test_wxr_skips_spam_attachments_and_menu_items() -> None:
    _, batches = read_all(WxrFormat(), FIXTURES / "wxr" / "export.xml")
    ids = set(posts_of(batches))
    assert "wordpress:carnet.exemple.fr/412#comment-1295" not in ids  # spam
    assert "wordpress:carnet.exemple.fr/7" not in ids  # attachment
    assert "wordpress:carnet.exemple.fr/9" not in ids  # nav_menu_item
    assert "wordpress:carnet.exemple.fr/2" in ids  # a page is a post
    assert sum(1 for b in batches if not b.posts) == 2  # empty batches, not errors
    draft = posts_of(batches)["wordpress:carnet.exemple.fr/430"]
    assert draft.created_at is None  # a draft has no publication date (not year -1)


def test_wxr_never_keeps_email_or_ip_addresses() -> None:
    records, batches = read_all(WxrFormat(), FIXTURES / "wxr" / "export.xml")
    source = (FIXTURES / "wxr" / "export.xml").read_bytes()
    secrets = [b"jp.lavoie@courriel.exemple", b"elise.tremblay@courriel.exemple",
               b"nadia.r@courriel.exemple", b"192.0.2.10", b"198.51.100.7"]
    assert all(s in source for s in secrets)  # the export has them…
    for rec in records:  # …the records already do not
        assert not any(s in rec.raw for s in secrets)
    for batch in batches:
        for p in batch.posts:
            assert p.raw is not None and not any(s in p.raw for s in secrets)
        without_raw = [msgspec.structs.replace(p, raw=None) for p in batch.posts]
        dumped = msgspec.json.encode(Batch(posts=without_raw, authors=batch.authors))
        assert b"@courriel.exemple" not in dumped
    # a commenter who typed an e-mail address as name stays anonymous
    anon = posts_of(batches)["wordpress:carnet.exemple.fr/412#comment-1302"]
    assert anon.author_id is None and anon.author_handle is None
    assert anon.hashtags == ["ServiceClient"]


def test_wxr_truncated_export_keeps_what_was_read() -> None:
    with open(FIXTURES / "wxr" / "broken-truncated.xml", "rb") as fp:
        got = list(WxrFormat().records(fp, "x.xml", Options()))
    assert isinstance(got[-1], Malformed) and "line" in got[-1].location
    posts = posts_of([WxrFormat().normalize(r.raw, Options()) for r in got[:-1]])
    assert "wordpress:carnet.exemple.fr/412" in posts


# --- RSS / Atom --------------------------------------------------------------------------------


def test_comment_feed_items_reply_to_the_post_of_the_blog_feed() -> None:
    _, blog = read_all(RssFormat(), FIXTURES / "rss" / "blog-fr.xml")
    _, comments = read_all(RssFormat(), FIXTURES / "rss" / "comments-feed.xml")
    post = posts_of(blog)["rss:https://carnet.exemple.fr/2024/03/repondre-aux-trolls/"]
    assert post.metrics is not None and post.metrics.replies == 3
    replies = list(posts_of(comments).values())
    assert len(replies) == 3
    for reply in replies:
        assert reply.kind == "reply"
        assert reply.parent_id == post.id and reply.root_id == post.id
        assert reply.id.startswith(post.id + "#comment-")
    # the same person is the same author in the blog feed and in the comment feed
    by_elise = [r for r in replies if r.author_handle == "Élise Tremblay"]
    assert by_elise and by_elise[0].author_id == post.author_id


def test_rss_text_title_language_and_links() -> None:
    _, batches = read_all(RssFormat(), FIXTURES / "rss" / "blog-fr.xml")
    post = posts_of(batches)["rss:https://carnet.exemple.fr/2024/03/repondre-aux-trolls/"]
    assert post.lang == "fr"  # fr-FR
    assert post.title == "Répondre aux trolls\u00a0? Pas toujours…"
    assert "C’est souvent une erreur." in post.text and "<" not in post.text
    assert "alert" not in post.text  # scripts are not text
    assert post.urls == ["https://exemple.org/grille-de-reponse"]
    assert post.hashtags == ["VeilleSociale"]  # from the text; categories are not hashtags
    assert post.created_at == datetime(2024, 3, 5, 7, 30, tzinfo=UTC)


def test_rss_author_email_is_dropped() -> None:
    item = (b'<rss version="2.0"><channel><link>https://b.exemple/</link><item>'
            b"<title>T</title><link>https://b.exemple/1</link>"
            b"<author>someone@b.exemple</author><description>x</description></item>"
            b"</channel></rss>")
    [rec] = RssFormat().records(io.BytesIO(item), "f.xml", Options())
    assert isinstance(rec, Record)
    batch = RssFormat().normalize(rec.raw, Options())
    assert batch.posts[0].author_handle is None and batch.authors == []


def test_atom_thread_reply_and_xhtml_content() -> None:
    _, batches = read_all(RssFormat(), FIXTURES / "rss" / "atom.xml")
    posts = posts_of(batches)
    comment = posts["rss:https://notes.exemple.ca/2024/03/deneigement#c1042"]
    assert comment.parent_id == "rss:https://notes.exemple.ca/2024/03/deneigement"
    listing = posts["rss:https://notes.exemple.ca/2024/02/liste"]
    assert "citer ses sources" in listing.text and "<li>" not in listing.text
    assert listing.lang == "fr"  # xml:lang="fr-CA" on the feed


def test_rss_streams_items_before_the_end_of_a_large_feed(tmp_path: Path) -> None:
    path = tmp_path / "big.xml"
    with open(path, "w", encoding="utf-8") as f:
        f.write('<rss version="2.0"><channel><link>https://b.exemple/</link>')
        for i in range(5000):
            f.write(f"<item><title>Billet {i}</title><link>https://b.exemple/{i}</link>"
                    f"<description>Texte numéro {i} de l’été.</description></item>")
        f.write("</channel></rss>")
    size = path.stat().st_size
    with open(path, "rb") as fp:
        gen = RssFormat().records(fp, path.name, Options())
        assert inspect.isgenerator(gen)
        first = next(gen)
        assert isinstance(first, Record) and fp.tell() < size / 4
        assert sum(1 for _ in gen) == 4999


# --- CSV ---------------------------------------------------------------------------------------

HEADER = "post_id,date,user,body"


def _row(**values: str) -> bytes:
    return msgspec.json.encode(values)


def test_csv_without_mapping_lists_the_columns() -> None:
    raw = _row(post_id="1", date="2024-01-01", user="lea", body="Bonjour")
    with pytest.raises(NormalizeError) as err:
        MappedCsvFormat().normalize(raw, Options())
    assert "post_id, date, user, body" in (err.value.hint or "")
    assert "--map id=post_id,text=body" in (err.value.hint or "")


def test_csv_records_refuse_a_bad_mapping_once_with_the_columns() -> None:
    data = f"{HEADER}\n1,2024-01-01,lea,Bonjour\n".encode()
    with pytest.raises(SourceError) as err:
        list(MappedCsvFormat().records(io.BytesIO(data), "x.csv", Options()))
    assert "post_id, date, user, body" in (err.value.hint or "")
    bad = Options(mapping={"id": "post_id", "text": "texte"})
    with pytest.raises(SourceError) as err:
        list(MappedCsvFormat().records(io.BytesIO(data), "x.csv", bad))
    assert "text=texte" in err.value.message
    assert "post_id, date, user, body" in (err.value.hint or "")
    typo = Options(mapping={"id": "post_id", "text": "body", "likez": "x"})
    with pytest.raises(NormalizeError, match="unknown field"):
        MappedCsvFormat().normalize(_row(post_id="1", body="x"), typo)


@pytest.mark.parametrize(("value", "expected"), [
    ("2024-03-05T08:30:00Z", datetime(2024, 3, 5, 8, 30, tzinfo=UTC)),
    ("2024-03-05T08:30:00.000Z", datetime(2024, 3, 5, 8, 30, tzinfo=UTC)),
    ("2024-03-05T09:30:00+01:00", datetime(2024, 3, 5, 8, 30, tzinfo=UTC)),
    ("2024-03-05T08:30:00", datetime(2024, 3, 5, 8, 30, tzinfo=UTC)),
    ("2024-03-05 08:30:00", datetime(2024, 3, 5, 8, 30, tzinfo=UTC)),
    ("2024-03-05 08:30:00 UTC", datetime(2024, 3, 5, 8, 30, tzinfo=UTC)),
    ("Tue, 05 Mar 2024 03:30:00 -0500", datetime(2024, 3, 5, 8, 30, tzinfo=UTC)),
    ("1709627400", datetime(2024, 3, 5, 8, 30, tzinfo=UTC)),
    ("1709627400.0", datetime(2024, 3, 5, 8, 30, tzinfo=UTC)),
    ("1709627400000", datetime(2024, 3, 5, 8, 30, tzinfo=UTC)),
])
def test_dates_in_every_accepted_form_become_utc(value: str, expected: datetime) -> None:
    got = parse_when(value)
    assert got == expected and got.utcoffset().total_seconds() == 0
    options = Options(mapping={"id": "id", "text": "t", "created_at": "d"})
    post = MappedCsvFormat().normalize(_row(id="1", t="x", d=value), options).posts[0]
    assert post.created_at == expected


def test_a_bad_date_names_its_column() -> None:
    options = Options(mapping={"id": "id", "text": "t", "created_at": "quand"})
    with pytest.raises(NormalizeError, match="'quand'"):
        MappedCsvFormat().normalize(_row(id="1", t="x", quand="demain matin"), options)


def test_french_row_with_accents_hashtags_and_mentions() -> None:
    data = ("id;auteur;texte;langue\n"
            "42;Zoé;\"L'été indien à Montréal, c'est #ÉtéIndien et #grève — merci @Hélène_B !\";"
            "fr-CA\n").encode("utf-8-sig")
    options = Options(mapping={"id": "id", "text": "texte", "author": "auteur", "lang": "langue"})
    [rec] = MappedCsvFormat().records(io.BytesIO(data), "f.csv", options)
    assert isinstance(rec, Record) and rec.location == "row 1, line 2"
    batch = MappedCsvFormat().normalize(rec.raw, options)
    post = batch.posts[0]
    assert post.text.startswith("L'été indien à Montréal")
    assert post.hashtags == ["ÉtéIndien", "grève"]
    assert post.mentions == ["Hélène_B"]
    assert post.lang == "fr" and post.id == "csv:42" and post.author_id == "csv:Zoé"
    assert post.metrics is None  # no count column: unknown, not 0


def test_tab_separated_and_windows_1252_tables() -> None:
    data = "id\ttexte\n7\tCafé très amer, 5 €\n".encode("cp1252")
    options = Options(mapping={"id": "id", "text": "texte"})
    [rec] = MappedCsvFormat().records(io.BytesIO(data), "f.tsv", options)
    assert isinstance(rec, Record)
    assert MappedCsvFormat().normalize(rec.raw, options).posts[0].text == "Café très amer, 5 €"


def test_ten_thousand_rows_stream_without_reading_the_whole_file(tmp_path: Path) -> None:
    path = tmp_path / "big.csv"
    with open(path, "w", encoding="utf-8", newline="") as f:
        f.write("id,text,created_at\n")
        for i in range(10_000):
            f.write(f'{i},"Message numéro {i}, à propos de #perron",'
                    f"2024-01-01 00:00:{i % 60:02d}\n")
    size = path.stat().st_size
    options = Options(mapping={"id": "id", "text": "text", "created_at": "created_at"})
    fmt = MappedCsvFormat()
    with open(path, "rb") as fp:
        gen = fmt.records(fp, path.name, options)
        assert inspect.isgenerator(gen)
        first = next(gen)
        assert isinstance(first, Record) and fp.tell() < size / 4  # yielded before the end
        rest = list(gen)
        n, last = 1 + len(rest), rest[-1]
        assert not fp.closed  # the caller's stream is left open
    assert n == 10_000 and isinstance(last, Record)
    assert last.location == "row 10000, line 10001"
    assert fmt.normalize(last.raw, options).posts[0].hashtags == ["perron"]


def test_sniffing_prefers_specific_tables() -> None:
    twarc = (FIXTURES / "twarc-csv" / "tweets.csv").read_bytes()[:65536]
    fourcat = (FIXTURES / "4cat" / "forum.csv").read_bytes()
    plain = b"post_id,date,user,body\n1,2024-01-01,lea,Bonjour\n"
    assert TwarcCsvFormat().sniff(twarc, "t.csv") > MappedCsvFormat().sniff(twarc, "t.csv") > 0
    assert FourCatFormat().sniff(twarc, "t.csv") == 0
    assert FourCatFormat().sniff(fourcat, "f.csv") > MappedCsvFormat().sniff(fourcat, "f.csv")
    assert TwarcCsvFormat().sniff(fourcat, "f.csv") == 0
    assert MappedCsvFormat().sniff(plain, "x.csv") == 5
    assert TwarcCsvFormat().sniff(plain, "x.csv") == FourCatFormat().sniff(plain, "x.csv") == 0
    wxr = (FIXTURES / "wxr" / "export.xml").read_bytes()
    assert WxrFormat().sniff(wxr, "e.xml") > RssFormat().sniff(wxr, "e.xml")
    assert MappedCsvFormat().sniff(wxr, "e.xml") == 0
    assert MappedCsvFormat().sniff(b'{"id": 1, "text": "x"}\n', "t.jsonl") == 0


def test_twarc_csv_rows_match_the_json_importer_ids() -> None:
    _, batches = read_all(TwarcCsvFormat(), FIXTURES / "twarc-csv" / "tweets.csv")
    posts = posts_of(batches)
    reply = posts["twitter:1380242064382775299"]
    assert reply.kind == "reply" and reply.parent_id == "twitter:1380211244381179904"
    assert reply.author_id == "twitter:1299126856243961856"
    assert "\n" in reply.text and "\\n" not in reply.text  # twarc-csv escapes line breaks
    retweet = posts["twitter:1380242280532049920"]
    assert retweet.kind == "repost" and retweet.metrics is None  # counts are the original's
    assert retweet.reposted_id == "twitter:1380214942931021832"
    quote = posts["twitter:1380242237263581184"]
    assert quote.quoted_id == "twitter:1380227493475590152" and quote.hashtags == ["Obama", "Soros"]
