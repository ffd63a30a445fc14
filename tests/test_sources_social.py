"""Focused tests of the Mastodon, ActivityPub outbox, Bluesky Jetstream and Reddit importers.

The golden files pin whole outputs; these tests name the behaviours that matter one by one.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from perron.errors import NormalizeError
from perron.models import Deletion, Interaction, Metrics, derived_interactions
from perron.sources.base import Malformed, Options, Record
from perron.sources.bluesky import Jetstream
from perron.sources.html_text import html_to_text, render_html
from perron.sources.mastodon import ActivityPubOutbox, MastodonStatuses, full_acct
from perron.sources.reddit import Reddit

FIXTURES = Path(__file__).parent / "fixtures" / "sources"
OPT = Options()
MASTO, OUTBOX, JET, REDDIT = MastodonStatuses(), ActivityPubOutbox(), Jetstream(), Reddit()


def _enc(obj: object) -> bytes:
    return json.dumps(obj, ensure_ascii=False).encode()


def _records(fmt, data: bytes) -> list[Record | Malformed]:
    return list(fmt.records(io.BytesIO(data), "x", OPT))


# -- HTML to text ----------------------------------------------------------------------------

def test_html_to_text_french_entities_and_breaks() -> None:
    html = ("<p>L&#39;&eacute;t&eacute; &agrave; Montr&eacute;al&nbsp;!</p>"
            "<p>&laquo;&nbsp;&Ccedil;a d&eacute;m&eacute;nage&nbsp;&raquo;<br />"
            "Tarte au sucre &amp; cr&egrave;me</p>")
    assert html_to_text(html) == ("L'été à Montréal\xa0!\n\n"
                                  "«\xa0Ça déménage\xa0»\nTarte au sucre & crème")


def test_html_to_text_rebuilds_mastodon_shortened_links_and_skips_tags() -> None:
    html = ('<p>Lire <a href="https://journal.example/un/long/chemin" rel="nofollow">'
            '<span class="invisible">https://</span><span class="ellipsis">journal.example/un'
            '</span><span class="invisible">/long/chemin</span></a> '
            '<a href="https://m.example/tags/gr%C3%A8ve" class="mention hashtag" rel="tag">'
            '#<span>grève</span></a> <script>alert(1)</script></p>')
    out = render_html(html)
    assert out.text == "Lire https://journal.example/un/long/chemin #grève"
    assert out.links == ["https://journal.example/un/long/chemin"]


# -- Mastodon REST ---------------------------------------------------------------------------

def _account(acct: str = "claire", host: str = "piaille.example", **kw: object) -> dict:
    user = acct.split("@")[0]
    return {"id": "1", "username": user, "acct": acct, "display_name": "", "note": "",
            "url": f"https://{host}/@{user}", **kw}


def _status(sid: str = "10", account: dict | None = None, **kw: object) -> dict:
    account = account or _account()
    host = account["url"].split("/")[2]
    return {"id": sid, "uri": f"https://{host}/users/{account['username']}/statuses/{sid}",
            "url": f"https://{host}/@{account['username']}/{sid}",
            "created_at": "2024-03-02T14:30:00.000Z", "content": "<p>Salut</p>",
            "account": account, **kw}


def test_reblog_links_repost_to_the_boosted_status_which_is_emitted_too() -> None:
    inner = _status("55", _account("bot@meteo.example", "meteo.example"))
    outer = _status("99", content="", reblog=inner)
    outer["uri"] += "/activity"
    batch = MASTO.normalize(_enc(outer), OPT)
    repost, boosted = batch.posts
    assert repost.kind == "repost" and boosted.kind == "post"
    assert repost.reposted_id == boosted.id == "mastodon:https://meteo.example/users/bot/statuses/55"
    assert {a.id for a in batch.authors} == {"mastodon:claire@piaille.example",
                                            "mastodon:bot@meteo.example"}
    kinds = [(i.kind, i.target_post_id) for i in derived_interactions(repost)]
    assert kinds == [("repost", boosted.id)]


def test_outbox_announce_and_rest_reblog_give_the_same_post_and_author_ids() -> None:
    outer = _status("99", content="", reblog=_status("55", _account("bot@m.example", "m.example")))
    outer["uri"] += "/activity"
    rest = MASTO.normalize(_enc(outer), OPT).posts[0]
    announce = {"id": outer["uri"], "type": "Announce",
                "actor": "https://piaille.example/users/claire",
                "published": "2024-03-02T14:30:00Z",
                "object": "https://m.example/users/bot/statuses/55"}
    exported = OUTBOX.normalize(_enc(announce), OPT).posts[0]
    assert (exported.id, exported.author_id, exported.reposted_id) == (
        rest.id, rest.author_id, rest.reposted_id)


def test_reply_parent_resolved_only_when_the_parent_author_is_local() -> None:
    remote = _account("bot@meteo.example", "meteo.example")
    remote["id"] = "7"
    local_parent = _status("11", in_reply_to_id="10", in_reply_to_account_id="1")
    post = MASTO.normalize(_enc(local_parent), OPT).posts[0]
    assert post.kind == "reply"
    assert post.parent_id == "mastodon:https://piaille.example/users/claire/statuses/10"
    assert post.in_reply_to_author_id == "mastodon:claire@piaille.example"

    mention = {"id": "7", "username": "bot", "acct": "bot@meteo.example",
               "url": "https://meteo.example/@bot"}
    remote_parent = _status("12", in_reply_to_id="300", in_reply_to_account_id="7",
                            mentions=[mention])
    post = MASTO.normalize(_enc(remote_parent), OPT).posts[0]
    assert post.kind == "reply" and post.parent_id is None  # 300 is a local id of a remote post
    assert post.in_reply_to_author_id == "mastodon:bot@meteo.example"
    assert post.mentions == ["bot@meteo.example"]


def test_mastodon_metrics_zero_is_kept_and_absent_is_unknown() -> None:
    counted = _status(replies_count=0, reblogs_count=0, favourites_count=0)
    assert MASTO.normalize(_enc(counted), OPT).posts[0].metrics == Metrics(
        replies=0, reposts=0, likes=0)
    assert MASTO.normalize(_enc(_status()), OPT).posts[0].metrics is None


def test_mastodon_author_fields_default_avatar_and_full_acct() -> None:
    acc = _account(avatar="https://piaille.example/avatars/original/missing.png", locked=True,
                   bot=False, followers_count=0, note="<p>Caf&eacute;</p>")
    author = MASTO.normalize(_enc(_status(account=acc)), OPT).authors[0]
    assert author.id == "mastodon:claire@piaille.example" and author.handle == author.native_id
    assert (author.default_avatar, author.protected, author.bot) == (True, True, False)
    assert author.followers == 0 and author.following is None and author.bio == "Café"
    assert full_acct("Bob@Social.Example", None) == "Bob@social.example"


def test_mastodon_records_stream_search_results_and_events() -> None:
    search = json.dumps({"accounts": [], "statuses": [_status("1"), _status("2")],
                         "hashtags": []}, indent=2).encode()
    recs = _records(MASTO, search)
    assert [r.location for r in recs] == ["status 1", "status 2"]
    assert MASTO.normalize(recs[1].raw, OPT).posts[0].native_id.endswith("/statuses/2")

    ws = {"stream": ["public"], "event": "update", "payload": json.dumps(_status("3"))}
    assert MASTO.normalize(_enc(ws), OPT).posts[0].native_id.endswith("/statuses/3")
    assert len(MASTO.normalize(_enc({"event": "delete", "payload": "3"}), OPT)) == 0

    sse = b":)\nevent: update\ndata: " + _enc(_status("4")) + b"\n\nevent: delete\ndata: 4\n"
    assert [r.location for r in _records(MASTO, sse)] == ["line 3"]


def test_mastodon_bad_record_is_a_normalize_error() -> None:
    with pytest.raises(NormalizeError, match="uri"):
        MASTO.normalize(_enc({"content": "<p>x</p>", "account": _account()}), OPT)


# -- ActivityPub outbox ----------------------------------------------------------------------

def test_outbox_note_reply_mentions_tags_and_language() -> None:
    create = {"type": "Create", "actor": "https://piaille.example/users/claire",
              "object": {"id": "https://piaille.example/users/claire/statuses/2", "type": "Note",
                         "published": "2024-03-02T14:31:10Z",
                         "inReplyTo": "https://m.example/users/bot/statuses/1",
                         "contentMap": {"fr": "<p>Oui&nbsp;!</p>"}, "content": "<p>Oui&nbsp;!</p>",
                         "tag": [{"type": "Mention", "href": "https://m.example/users/bot",
                                  "name": "@bot@m.example"},
                                 {"type": "Hashtag", "name": "#Grève"}]}}
    post = OUTBOX.normalize(_enc(create), OPT).posts[0]
    assert (post.kind, post.lang, post.text) == ("reply", "fr", "Oui\xa0!")
    assert post.parent_id == "mastodon:https://m.example/users/bot/statuses/1"
    assert post.in_reply_to_author_id == "mastodon:bot@m.example"
    assert (post.mentions, post.hashtags) == (["bot@m.example"], ["Grève"])


# -- Bluesky Jetstream -----------------------------------------------------------------------

DID = "did:plc:abc"


def _commit(collection: str, rkey: str, record: dict | None, op: str = "create") -> bytes:
    commit = {"rev": "r", "operation": op, "collection": collection, "rkey": rkey}
    if record is not None:
        commit["record"] = record
    return _enc({"did": DID, "time_us": 1732206349000167, "kind": "commit", "commit": commit})


def _span(text: str, part: str) -> dict:
    start = text.encode().index(part.encode())
    return {"byteStart": start, "byteEnd": start + len(part.encode())}


def test_facets_index_utf8_bytes_not_characters() -> None:
    text = "Été déjà là ? Écoutez @élodie.bsky.social #grève https://t.co/x"
    facets = [
        {"index": _span(text, "@élodie.bsky.social"),
         "features": [{"$type": "app.bsky.richtext.facet#mention", "did": "did:plc:e"}]},
        {"index": _span(text, "#grève"),
         "features": [{"$type": "app.bsky.richtext.facet#tag", "tag": "grève"}]},
        {"index": _span(text, "https://t.co/x"),
         "features": [{"$type": "app.bsky.richtext.facet#link", "uri": "https://ex.fr/long"}]}]
    # character offsets would be wrong here: 5 accented letters come before the mention
    start = facets[0]["index"]["byteStart"]
    assert text[start:start + 3] != "@él"
    post = JET.normalize(_commit("app.bsky.feed.post", "3k", {"text": text, "facets": facets,
                                                              "createdAt": "2024-11-21T16:00:00Z",
                                                              "langs": ["FR"]}), OPT).posts[0]
    assert post.mentions == ["élodie.bsky.social"]
    assert post.hashtags == ["grève"] and post.urls == ["https://ex.fr/long"]
    assert post.lang == "fr" and post.metrics is None
    assert post.id == f"bluesky:at://{DID}/app.bsky.feed.post/3k"
    assert post.url == f"https://bsky.app/profile/{DID}/post/3k"


def test_jetstream_delete_matches_the_created_post_id() -> None:
    created = JET.normalize(_commit("app.bsky.feed.post", "3k", {"text": "x"}), OPT).posts[0]
    batch = JET.normalize(_commit("app.bsky.feed.post", "3k", None, op="delete"), OPT)
    when = batch.deletions[0].deleted_at
    assert batch.deletions == [Deletion(post_id=created.id, deleted_at=when)] and not batch.posts
    assert when is not None and created.created_at == when  # no createdAt: time_us is used


def test_jetstream_repost_like_follow_are_interactions_not_posts() -> None:
    subject = {"uri": "at://did:plc:zzz/app.bsky.feed.post/3a", "cid": "c"}
    repost = JET.normalize(_commit("app.bsky.feed.repost", "r1", {"subject": subject}), OPT)
    assert repost.posts == [] and repost.interactions == [Interaction(
        kind="repost", actor_id=f"bluesky:{DID}", target_author_id="bluesky:did:plc:zzz",
        target_post_id="bluesky:at://did:plc:zzz/app.bsky.feed.post/3a",
        created_at=repost.interactions[0].created_at)]
    follow = JET.normalize(_commit("app.bsky.graph.follow", "f1", {"subject": "did:plc:zzz"}), OPT)
    assert follow.interactions[0].kind == "follow"
    assert follow.interactions[0].target_author_id == "bluesky:did:plc:zzz"
    assert len(JET.normalize(_commit("app.bsky.feed.like", "l1", None, op="delete"), OPT)) == 0
    with pytest.raises(NormalizeError):
        JET.normalize(_commit("app.bsky.feed.like", "l2", {"subject": "nope"}), OPT)


def test_jetstream_quote_with_media_and_reply() -> None:
    record = {"text": "vu", "reply": {"root": {"uri": "at://did:plc:r/app.bsky.feed.post/1"},
                                      "parent": {"uri": "at://did:plc:p/app.bsky.feed.post/2"}},
              "embed": {"$type": "app.bsky.embed.recordWithMedia",
                        "record": {"record": {"uri": "at://did:plc:q/app.bsky.feed.post/3"}},
                        "media": {"$type": "app.bsky.embed.images", "images": [
                            {"alt": "Une pancarte « Non »",
                             "image": {"ref": {"$link": "bafk"}, "mimeType": "image/jpeg"}}]}}}
    post = JET.normalize(_commit("app.bsky.feed.post", "3k", record), OPT).posts[0]
    assert post.kind == "reply" and post.quoted_id == "bluesky:at://did:plc:q/app.bsky.feed.post/3"
    assert post.root_id == "bluesky:at://did:plc:r/app.bsky.feed.post/1"
    assert post.in_reply_to_author_id == "bluesky:did:plc:p"
    assert [(m.kind, m.alt) for m in post.media] == [("photo", "Une pancarte « Non »")]


# -- Reddit ----------------------------------------------------------------------------------

def _comment(cid: str, parent: str, author: str, replies: object = "") -> dict:
    return {"kind": "t1", "data": {"id": cid, "name": f"t1_{cid}", "author": author,
                                   "body": f"réponse {cid}", "link_id": "t3_s", "parent_id": parent,
                                   "created_utc": 1709392000.0, "score": 0, "replies": replies,
                                   "permalink": f"/r/q/comments/s/t/{cid}/"}}


def _listing(*children: dict) -> dict:
    return {"kind": "Listing", "data": {"children": list(children)}}


def test_reddit_comment_tree_is_flattened_and_more_stubs_skipped() -> None:
    deep = _comment("c3", "t1_c2", "[deleted]")
    mid = _comment("c2", "t1_c1", "bea", _listing(deep, {"kind": "more", "data": {"count": 9}}))
    top = _comment("c1", "t3_s", "alix", _listing(mid))
    posts = REDDIT.normalize(_enc(_listing(top)), OPT).posts
    assert [p.id for p in posts] == ["reddit:t1_c1", "reddit:t1_c2", "reddit:t1_c3"]
    assert [p.parent_id for p in posts] == ["reddit:t3_s", "reddit:t1_c1", "reddit:t1_c2"]
    assert {p.root_id for p in posts} == {"reddit:t3_s"} and {p.kind for p in posts} == {"reply"}
    assert [p.in_reply_to_author_id for p in posts] == [None, "reddit:alix", "reddit:bea"]
    assert posts[2].author_id is None and posts[2].author_handle is None
    assert posts[0].metrics == Metrics(score=0)
    assert b"replies" not in posts[0].raw  # each reply keeps its own raw


def test_reddit_records_split_the_comments_page_pair() -> None:
    post = {"kind": "t3", "data": {"id": "s", "name": "t3_s", "title": "Titre", "selftext": "",
                                   "author": "alix", "created_utc": 1, "num_comments": 2}}
    pair = json.dumps([_listing(post), _listing(_comment("c1", "t3_s", "bea"),
                                                 _comment("c2", "t3_s", "cam"))], indent=1)
    recs = _records(REDDIT, pair.encode())
    assert len(recs) == 3 and all(isinstance(r, Record) for r in recs)
    first = REDDIT.normalize(recs[0].raw, OPT).posts[0]
    assert (first.id, first.title, first.metrics) == ("reddit:t3_s", "Titre",
                                                      Metrics(replies=2))


def test_reddit_bare_objects_detected_by_fields_and_hidden_score_is_unknown() -> None:
    comment = {"id": "c9", "body": "ok", "link_id": "t3_s", "parent_id": "t3_s", "author": "z",
               "created_utc": "1709392000", "score": 1, "score_hidden": True, "subreddit": "q"}
    post = REDDIT.normalize(_enc(comment), OPT).posts[0]
    assert post.id == "reddit:t1_c9" and post.kind == "reply" and post.metrics is None
    assert post.url == "https://www.reddit.com/r/q/comments/s/_/c9/"
    with pytest.raises(NormalizeError):
        REDDIT.normalize(_enc({"subreddit": "q"}), OPT)


# -- sniffing --------------------------------------------------------------------------------

@pytest.mark.parametrize(("path", "winner"), [
    ("mastodon/status_Mastodon.py.json", MASTO),
    ("mastodon/search_v2.json", MASTO),
    ("activitypub-outbox/outbox.json", OUTBOX),
    ("jetstream/jsonbench_greptimedb.jsonl", JET),
    ("reddit/comments_1b4xq2z.json", REDDIT),
    ("reddit/pushshift_dump.jsonl", REDDIT),
])
def test_each_format_sniffs_only_its_own_files(path: str, winner) -> None:
    head = (FIXTURES / path).read_bytes()[:65536]
    name = Path(path).name
    scores = {fmt.name: fmt.sniff(head, name) for fmt in (MASTO, OUTBOX, JET, REDDIT)}
    assert scores[winner.name] >= 80
    assert all(s == 0 for n, s in scores.items() if n != winner.name), scores
