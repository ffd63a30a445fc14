"""Focused checks of the three Twitter/X formats (the golden files cover whole fixtures)."""

from __future__ import annotations

import gzip
import json
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from perron.errors import NormalizeError
from perron.models import Metrics, derived_interactions
from perron.sources._twitter_common import clean_lang, parse_v1_date, unescape
from perron.sources.base import Format, Malformed, Options, Record
from perron.sources.detect import detect_format, open_input
from perron.sources.twitter_archive import TwitterArchive
from perron.sources.twitter_v1 import TwitterV1
from perron.sources.twitter_v2 import TwitterV2

FIXTURES = Path(__file__).parent / "fixtures" / "sources"
V1, V2, ARCHIVE = TwitterV1(), TwitterV2(), TwitterArchive()
CANDIDATES: dict[str, Format] = {f.name: f for f in (V1, V2, ARCHIVE)}
OPTS = Options()


def _records(fmt: Format, path: Path) -> list[Record | Malformed]:
    with open_input(path) as fp:
        return list(fmt.records(fp, path.name, OPTS))


def _status(**extra: object) -> dict:
    status = {"id_str": "11", "text": "bonjour", "created_at": "Wed Oct 10 20:19:24 +0000 2018",
              "user": {"id_str": "7", "screen_name": "alice", "followers_count": 0}}
    status.update(extra)
    return status


def _v1(obj: dict):
    return V1.normalize(json.dumps(obj).encode(), OPTS)


def _v2(obj: dict):
    return V2.normalize(json.dumps(obj).encode(), OPTS)


# --- metrics: unknown is not zero ----------------------------------------------------------


def test_v1_metrics_absent_are_unknown_and_zeros_are_kept() -> None:
    assert _v1(_status()).posts[0].metrics is None
    counted = _v1(_status(retweet_count=0, favorite_count=0)).posts[0].metrics
    assert counted == Metrics(reposts=0, likes=0)
    assert counted.replies is None and counted.quotes is None


def test_v2_metrics_absent_are_unknown() -> None:
    page = {"data": [{"id": "1", "text": "hi", "author_id": "9"}]}
    assert _v2(page).posts[0].metrics is None
    page["data"][0]["public_metrics"] = {"retweet_count": 0, "like_count": 4}
    assert _v2(page).posts[0].metrics == Metrics(reposts=0, likes=4)


def test_author_counts_zero_followers_is_zero_not_unknown() -> None:
    author = _v1(_status()).authors[0]
    assert author.followers == 0 and author.following is None


def test_reposts_do_not_carry_their_originals_counts() -> None:
    original = _status(id_str="10", retweet_count=500, favorite_count=900)
    batch = _v1(_status(text="RT @bob: x", retweet_count=500, favorite_count=0,
                        retweeted_status=original))
    repost, orig = batch.posts
    assert repost.metrics is None
    assert orig.metrics == Metrics(reposts=500, likes=900)


# --- geo: GeoJSON is longitude first --------------------------------------------------------


def test_v1_coordinates_are_lon_lat_and_legacy_geo_is_lat_lon() -> None:
    point = {"type": "Point", "coordinates": [-73.5673, 45.5017]}
    geo = _v1(_status(coordinates=point)).posts[0].geo
    assert geo is not None and (geo.lat, geo.lon) == (45.5017, -73.5673)
    legacy = _v1(_status(geo={"type": "Point", "coordinates": [48.8566, 2.3522]})).posts[0].geo
    assert legacy is not None and (legacy.lat, legacy.lon) == (48.8566, 2.3522)


def test_v1_place_bounding_box_becomes_west_south_east_north() -> None:
    ring = [[[2.22, 48.81], [2.22, 48.90], [2.47, 48.90], [2.47, 48.81]]]
    place = {"id": "p1", "full_name": "Paris, France", "country_code": "FR",
             "bounding_box": {"type": "Polygon", "coordinates": ring}}
    geo = _v1(_status(place=place)).posts[0].geo
    assert geo is not None and geo.bbox == (2.22, 48.81, 2.47, 48.90)
    assert geo.lat is None and geo.place_name == "Paris, France"


def test_v2_point_and_place_from_includes() -> None:
    page = {"data": [{"id": "1", "text": "ici", "geo": {
        "place_id": "pl", "coordinates": {"type": "Point", "coordinates": [4.83, 45.76]}}}],
        "includes": {"places": [{"id": "pl", "full_name": "Lyon, France", "country_code": "FR",
                                 "geo": {"bbox": [4.77, 45.70, 4.90, 45.81]}}]}}
    geo = _v2(page).posts[0].geo
    assert geo is not None
    assert (geo.lat, geo.lon) == (45.76, 4.83)
    assert geo.place_name == "Lyon, France" and geo.bbox == (4.77, 45.70, 4.90, 45.81)


# --- links between posts ---------------------------------------------------------------------


def test_v1_retweet_links_and_emits_the_original() -> None:
    original = _status(id_str="10", text="l'original #Tag @carol",
                       user={"id_str": "8", "screen_name": "bob"},
                       entities={"user_mentions": [{"screen_name": "carol"}]})
    batch = _v1(_status(text="RT @bob: l'original", retweeted_status=original,
                        entities={"user_mentions": [{"screen_name": "bob"}]}))
    repost, orig = batch.posts
    assert (repost.kind, repost.reposted_id, repost.quoted_id) == ("repost", "twitter:10", None)
    assert orig.id == "twitter:10" and orig.author_id == "twitter:8" and orig.kind == "post"
    assert {a.handle for a in batch.authors} == {"alice", "bob"}
    kinds = [i.kind for i in derived_interactions(repost)]
    assert kinds == ["repost"]  # no mention of @bob counted for a retweet
    assert [i.target_handle for i in derived_interactions(orig)] == ["carol"]


def test_v1_reply_and_quote() -> None:
    reply = _v1(_status(in_reply_to_status_id_str="5", in_reply_to_user_id_str="6",
                        quoted_status_id_str="4")).posts[0]
    assert (reply.kind, reply.parent_id, reply.in_reply_to_author_id, reply.quoted_id) == (
        "reply", "twitter:5", "twitter:6", "twitter:4")
    quote = _v1(_status(quoted_status=_status(id_str="4", text="cité"))).posts
    assert quote[0].kind == "quote" and quote[0].quoted_id == "twitter:4"
    assert quote[1].id == "twitter:4"


def test_v2_reply_that_quotes_and_referenced_tweets_become_posts() -> None:
    page = {"data": [{"id": "3", "text": "@b oui", "author_id": "1", "conversation_id": "2",
                      "in_reply_to_user_id": "2",
                      "referenced_tweets": [{"type": "replied_to", "id": "2"},
                                            {"type": "quoted", "id": "9"}]}],
            "includes": {"tweets": [{"id": "2", "text": "question ?", "author_id": "2"},
                                    {"id": "3", "text": "@b oui", "author_id": "1"}],
                         "users": [{"id": "1", "username": "a"}, {"id": "2", "username": "b"}]}}
    batch = _v2(page)
    reply = batch.posts[0]
    assert (reply.kind, reply.parent_id, reply.root_id, reply.quoted_id) == (
        "reply", "twitter:2", "twitter:2", "twitter:9")
    assert reply.in_reply_to_author_id == "twitter:2"
    assert [p.id for p in batch.posts] == ["twitter:3", "twitter:2"]  # no duplicate of 3
    assert batch.posts[1].url == "https://twitter.com/b/status/2"
    assert sorted(i.kind for i in derived_interactions(reply)) == ["quote", "reply"]


def test_v2_edit_of_points_at_the_first_version() -> None:
    tweet = {"id": "20", "text": "v2", "edit_history_tweet_ids": ["10", "20"]}
    assert _v2({"data": [tweet]}).posts[0].edit_of == "twitter:10"
    first = {"id": "10", "text": "v1", "edit_history_tweet_ids": ["10", "20"]}
    assert _v2({"data": [first]}).posts[0].edit_of is None


def test_v2_url_without_known_author() -> None:
    post = _v2({"data": [{"id": "77", "text": "x"}]}).posts[0]
    assert post.url == "https://twitter.com/i/web/status/77" and post.author_id is None


def test_v2_default_avatar_and_expanded_profile_url() -> None:
    user = {"id": "1", "username": "u", "url": "https://t.co/x",
            "profile_image_url": "https://abs.twimg.com/sticky/default_profile_images/d.png",
            "entities": {"url": {"urls": [{"expanded_url": "https://example.org"}]}}}
    author = _v2({"data": [user]}).authors[0]
    assert author.default_avatar is True and author.url == "https://example.org"


# --- records that are not posts ---------------------------------------------------------------


def test_v2_error_line_is_quarantined_with_its_reason() -> None:
    line = {"errors": [{"title": "operational-disconnect", "detail": "This stream has been "
                        "disconnected for operational reasons."}]}
    with pytest.raises(NormalizeError, match="operational-disconnect"):
        _v2(line)


def test_v2_empty_page_is_an_empty_batch() -> None:
    assert len(_v2({"data": [], "meta": {"result_count": 0}})) == 0


def test_v2_counts_are_not_tweets() -> None:
    with pytest.raises(NormalizeError, match="counts"):
        _v2({"data": [{"start": "2021-10-16T18:00:00Z", "end": "x", "tweet_count": 3}]})


def test_v1_delete_notice_becomes_a_deletion() -> None:
    batch = _v1({"delete": {"status": {"id": 5, "id_str": "5"}, "timestamp_ms": "1699390000000"}})
    assert [d.post_id for d in batch.deletions] == ["twitter:5"]
    assert batch.deletions[0].deleted_at == datetime(2023, 11, 7, 20, 46, 40, tzinfo=UTC)


def test_v1_status_without_text_is_rejected() -> None:
    with pytest.raises(NormalizeError, match="no text"):
        _v1({"id_str": "1", "user": {"id_str": "2"}})


# --- text, language, dates --------------------------------------------------------------------


def test_text_is_unescaped_once() -> None:
    assert unescape("a &amp; b &lt;3 &amp;lt;") == "a & b <3 &lt;"
    assert _v1(_status(full_text="Q&amp;R", text="trunc")).posts[0].text == "Q&R"


def test_pseudo_languages_are_unknown() -> None:
    assert [clean_lang(c) for c in ("fr", "EN", "und", "qme", "zxx", None)] == [
        "fr", "en", None, None, None, None]


def test_v1_extended_tweet_wins_over_truncated_text() -> None:
    extended = {"full_text": "début et fin #Fâché", "entities": {"hashtags": [{"text": "Fâché"}]}}
    post = _v1(_status(text="début…", truncated=True, extended_tweet=extended)).posts[0]
    assert post.text == "début et fin #Fâché" and post.hashtags == ["Fâché"]


def test_v1_date_with_offset() -> None:
    assert parse_v1_date("Wed Oct 10 22:19:24 +0200 2018") == datetime(
        2018, 10, 10, 20, 19, 24, tzinfo=UTC)
    with pytest.raises(NormalizeError, match="unreadable date"):
        parse_v1_date("2018-10-10")


@given(st.datetimes(min_value=datetime(2006, 3, 21), max_value=datetime(2100, 1, 1)))
def test_v1_date_round_trip(when: datetime) -> None:
    when = when.replace(microsecond=0, tzinfo=UTC)
    days = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
    months = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
    text = (f"{days[when.weekday()]} {months[when.month - 1]} {when.day:02d} "
            f"{when:%H:%M:%S} +0000 {when.year}")
    assert parse_v1_date(text) == when
    assert parse_v1_date(text).utcoffset() == timedelta(0)


# --- splitting inputs ---------------------------------------------------------------------------


def test_v1_one_line_array_is_streamed_item_by_item(tmp_path: Path) -> None:
    path = tmp_path / "dump.json"
    path.write_text(json.dumps([_status(id_str="1"), _status(id_str="2")]))
    recs = _records(V1, path)
    assert [r.location for r in recs] == ["item 1", "item 2"]


def test_v1_compact_search_response_line_yields_every_status(tmp_path: Path) -> None:
    path = tmp_path / "search.jsonl"
    path.write_text(json.dumps({"statuses": [_status(id_str="1"), _status(id_str="2")],
                                "search_metadata": {"count": 2}}) + "\n")
    (rec,) = _records(V1, path)
    assert isinstance(rec, Record)
    assert [p.id for p in V1.normalize(rec.raw, OPTS).posts] == ["twitter:1", "twitter:2"]


def test_pretty_search_response_is_streamed() -> None:
    recs = _records(V1, FIXTURES / "twitter-v1" / "search.json")
    assert [r.location for r in recs] == ["item 1", "item 2"]


def test_gzipped_v2_jsonl(tmp_path: Path) -> None:
    src = FIXTURES / "twitter-v2" / "two_tweets.jsonl"
    path = tmp_path / "two_tweets.jsonl.gz"
    path.write_bytes(gzip.compress(src.read_bytes()))
    assert detect_format(path, CANDIDATES).name == "twitter-v2"
    (rec,) = _records(V2, path)
    assert isinstance(rec, Record) and len(V2.normalize(rec.raw, OPTS).posts) == 2


def test_bom_before_jsonl(tmp_path: Path) -> None:
    path = tmp_path / "bom.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps(_status()).encode() + b"\n")
    (rec,) = _records(V1, path)
    assert isinstance(rec, Record) and V1.normalize(rec.raw, OPTS).posts[0].id == "twitter:11"


# --- the archive ------------------------------------------------------------------------------


def test_archive_owner_comes_from_a_sibling_account_js(tmp_path: Path) -> None:
    archive = FIXTURES / "twitter-archive"
    shutil.copy(archive / "tweets.js", tmp_path / "tweets.js")
    recs = _records(ARCHIVE, tmp_path / "tweets.js")
    assert ARCHIVE.normalize(recs[0].raw, OPTS).posts[0].author_id is None
    shutil.copy(archive / "owner" / "account.js", tmp_path / "account.js")
    with_owner = _records(ARCHIVE, tmp_path / "tweets.js")
    assert not any(b"contact@" in r.raw for r in with_owner)  # the e-mail is never carried
    batches = [ARCHIVE.normalize(r.raw, OPTS) for r in with_owner]
    post, owner = batches[1].posts[0], batches[1].authors[0]
    assert (owner.id, owner.handle, owner.name) == (
        "twitter:1000000002", "boulangerie_perron", "Boulangerie Perron")
    assert post.author_id == owner.id and post.author_handle == "boulangerie_perron"
    assert post.url == "https://twitter.com/boulangerie_perron/status/1600000000000000102"
    assert [i.kind for i in derived_interactions(post)] == ["reply", "mention"]


def test_archive_retweet_and_string_counts() -> None:
    recs = _records(ARCHIVE, FIXTURES / "twitter-archive" / "tweets.js")
    posts = [ARCHIVE.normalize(r.raw, OPTS).posts[0] for r in recs]
    assert [p.kind for p in posts] == ["post", "reply", "repost", "post", "post"]
    assert posts[0].metrics == Metrics(reposts=12, likes=57)
    assert posts[3].geo is not None and (posts[3].geo.lat, posts[3].geo.lon) == (45.5017, -73.5673)
    assert posts[3].edit_of == "twitter:1600000000000000104"


def test_archive_zip_is_detected_and_read() -> None:
    path = FIXTURES / "twitter-archive" / "twitter-2023-11-15-boulangerie.zip"
    assert detect_format(path, CANDIDATES).name == "twitter-archive"
    assert len(_records(ARCHIVE, path)) == 5


def test_archive_file_of_another_kind_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "like.js"
    path.write_text('window.YTD.like.part0 = [ {"like": {"tweetId": "1"}} ]')
    (rec,) = _records(ARCHIVE, path)
    assert isinstance(rec, Malformed) and "'like'" in rec.reason


# --- sniffing among formats ----------------------------------------------------------------------

OTHER_HEADS = {
    "mastodon": b'[{"id": "1", "created_at": "2023-01-01T00:00:00Z", "content": "<p>x</p>", '
                b'"account": {"id": "2", "username": "a", "acct": "a", "followers_count": 3}}]',
    "jetstream": b'{"did": "did:plc:abc", "time_us": 1725911162329308, "kind": "commit"}',
    "reddit": b'{"kind": "Listing", "data": {"children": [{"kind": "t3", "data": '
              b'{"name": "t3_abc", "id": "abc", "author": "x"}}]}}',
    "csv": b"id,text,author_id,created_at\n1,hello,2,2021-01-01\n",
}


@pytest.mark.parametrize("other", sorted(OTHER_HEADS))
def test_twitter_sniffers_leave_other_formats_alone(other: str) -> None:
    head = OTHER_HEADS[other]
    assert [fmt.sniff(head, "x.json") for fmt in CANDIDATES.values()] == [0, 0, 0]


@pytest.mark.parametrize(("fixture", "expected"), [
    ("twitter-v1/statuses.json", "twitter-v1"), ("twitter-v1/search.json", "twitter-v1"),
    ("twitter-v1/stream.jsonl", "twitter-v1"), ("twitter-v2/flat.jsonl", "twitter-v2"),
    ("twitter-v2/page.json", "twitter-v2"), ("twitter-v2/users.jsonl", "twitter-v2"),
    ("twitter-archive/tweet.js", "twitter-archive"),
])
def test_detect_among_twitter_formats(fixture: str, expected: str) -> None:
    assert detect_format(FIXTURES / fixture, CANDIDATES).name == expected


def test_delete_notice_alone_is_v1() -> None:
    head = b'{"delete":{"status":{"id":1,"id_str":"1","user_id":3,"user_id_str":"3"}}}\n'
    assert V1.sniff(head, "x.jsonl") > 0 and V2.sniff(head, "x.jsonl") == 0


def test_concatenated_pretty_objects_jq_style(tmp_path: Path) -> None:
    path = tmp_path / "pretty.json"
    path.write_text("\n".join(json.dumps(_status(id_str=str(i)), indent=2) for i in (1, 2, 3)))
    recs = _records(V1, path)
    assert [r.location for r in recs] == ["object 1", "object 2", "object 3"]
    assert V1.normalize(recs[2].raw, OPTS).posts[0].id == "twitter:3"


def test_v2_long_post_text_comes_from_note_tweet() -> None:
    tweet = {"id": "1", "text": "début…", "note_tweet": {
        "text": "début et la suite #Longue", "entities": {"hashtags": [{"tag": "Longue"}]}}}
    post = _v2({"data": [tweet]}).posts[0]
    assert post.text == "début et la suite #Longue" and post.hashtags == ["Longue"]
