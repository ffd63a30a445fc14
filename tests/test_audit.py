"""Audience audit: profile readers for every format, the shipped model, rules and summary.

All accounts here are synthetic (the Cresci 2015 data is research-only and stays in shared/).
"""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from perron.analyze.audit import (
    FEATURES,
    AuditModel,
    audit,
    creation_bursts,
    follow_back_marker,
    load_model,
)
from perron.analyze.profiles import AccountProfile, read_profiles
from perron.errors import SourceError

NOW = datetime(2024, 6, 1, tzinfo=UTC)


def v1_user(uid: int, screen_name: str, **kw: object) -> dict:
    user = {"id": uid, "id_str": str(uid), "name": screen_name.title(), "screen_name": screen_name,
            "description": "Boulangère à Lyon, je parle de pain et de vélo", "url": None,
            "location": "Lyon", "followers_count": 340, "friends_count": 280,
            "statuses_count": 5200, "favourites_count": 900, "listed_count": 12,
            "created_at": "Thu Sep 08 13:20:35 +0000 2011", "default_profile": False,
            "default_profile_image": False, "verified": False, "protected": False,
            "lang": None, "profile_image_url_https": "https://pbs.twimg.com/profile_images/1/a.jpg"}
    user.update(kw)
    return user


FAKE = v1_user(
    900, "kelly_fb4829", name="Kelly #TeamFollowBack",
    description="#TeamFollowBack #F4F 100% follow back",
    followers_count=12, friends_count=2000, statuses_count=8, favourites_count=0, listed_count=0,
    created_at="Mon Jan 08 10:00:00 +0000 2024", default_profile=True, default_profile_image=True,
    location=None, profile_image_url_https="https://abs.twimg.com/sticky/default_profile_images/"
                                           "default_profile_normal.png")
HUMAN = v1_user(901, "claire_lyon", url="https://claire.example")


def write(path: Path, content: object, jsonl: bool = False) -> Path:
    if jsonl:
        path.write_text("\n".join(json.dumps(x, ensure_ascii=False) for x in content) + "\n",
                        encoding="utf-8")
    else:
        path.write_text(json.dumps(content, ensure_ascii=False), encoding="utf-8")
    return path


# --------------------------------------------------------------------------- readers

def test_twitter_v1_array_pages_and_jsonl_read_the_same(tmp_path: Path) -> None:
    a, bad_a = read_profiles(write(tmp_path / "a.json", [FAKE, HUMAN]))
    b, bad_b = read_profiles(write(tmp_path / "b.json", {"users": [FAKE, HUMAN],
                                                         "next_cursor": 0}))
    c, bad_c = read_profiles(write(tmp_path / "c.jsonl", [FAKE, HUMAN], jsonl=True))
    assert a == b == c and not (bad_a or bad_b or bad_c)
    fake = a[0]
    assert fake.id == "twitter:900" and fake.screen_name == "kelly_fb4829"
    assert (fake.followers, fake.following, fake.posts, fake.favourites) == (12, 2000, 8, 0)
    assert fake.created_at == datetime(2024, 1, 8, 10, tzinfo=UTC)
    assert fake.default_avatar is True and a[1].default_avatar is False


def test_gzip_input(tmp_path: Path) -> None:
    path = tmp_path / "f.jsonl.gz"
    path.write_bytes(gzip.compress((json.dumps(HUMAN) + "\n").encode()))
    profiles, _ = read_profiles(path)
    assert [p.screen_name for p in profiles] == ["claire_lyon"]


def test_twitter_v2_twarc_pages(tmp_path: Path) -> None:
    users = [{"id": "11", "username": "nouveau_compte", "name": "N", "created_at":
              "2024-05-01T12:00:00.000Z", "description": "", "protected": False,
              "public_metrics": {"followers_count": 3, "following_count": 4001,
                                 "tweet_count": 2, "listed_count": 0},
              "profile_image_url": "https://abs.twimg.com/sticky/default_profile_images/"
                                   "default_profile_normal.png"},
             {"id": "12", "username": "marc", "name": "Marc",
              "created_at": "2010-05-01T12:00:00.000Z", "description": "prof d'histoire",
              "public_metrics": {"followers_count": 800, "following_count": 500,
                                 "tweet_count": 12000, "listed_count": 20, "like_count": 300}}]
    pages = [{"data": users[:1], "meta": {"result_count": 1}},
             {"data": users[1:], "meta": {"result_count": 1}, "__twarc": {"version": "2.14"}}]
    profiles, bad = read_profiles(write(tmp_path / "following.jsonl", pages, jsonl=True))
    assert not bad and [p.id for p in profiles] == ["twitter:11", "twitter:12"]
    first = profiles[0]
    assert (first.followers, first.following, first.posts) == (3, 4001, 2)
    assert first.favourites is None  # not in the payload: unknown, not zero
    assert first.default_profile is None and first.default_avatar is True
    assert first.bio is None  # empty description


def test_bluesky_get_followers_response(tmp_path: Path) -> None:
    page = {"subject": {"did": "did:plc:owner", "handle": "owner.bsky.social"},
            "cursor": "abc",
            "followers": [
                {"did": "did:plc:aaa", "handle": "alice.bsky.social", "displayName": "Alice",
                 "description": "chercheuse", "avatar": "https://cdn.bsky.app/img/a.jpg",
                 "followersCount": 120, "followsCount": 90, "postsCount": 400,
                 "createdAt": "2023-05-01T10:00:00.000Z", "indexedAt": "2024-01-01T00:00:00Z"},
                {"did": "did:plc:bbb", "handle": "bbb123456.bsky.social",
                 "createdAt": "2024-05-30T10:00:00.000Z",
                 "labels": [{"val": "bot", "src": "did:plc:bbb"}]}]}
    profiles, bad = read_profiles(write(tmp_path / "followers.json", page))
    assert not bad and [p.id for p in profiles] == ["bluesky:did:plc:aaa", "bluesky:did:plc:bbb"]
    alice, bot = profiles
    assert alice.default_avatar is False and bot.default_avatar is True
    assert alice.favourites is None and alice.listed is None and alice.default_profile is None
    assert bot.followers is None and bot.bot is True  # counts absent: unknown


def test_mastodon_accounts(tmp_path: Path) -> None:
    accounts = [{"id": "1", "username": "jeanne", "acct": "jeanne@piaille.fr",
                 "display_name": "Jeanne", "note": "<p>Journaliste &amp; cycliste</p>",
                 "url": "https://piaille.fr/@jeanne", "avatar": "https://piaille.fr/a.png",
                 "followers_count": 1500, "following_count": 300, "statuses_count": 9000,
                 "created_at": "2022-11-02T00:00:00.000Z", "bot": False, "locked": False,
                 "fields": [{"name": "site", "value": '<a href="https://jeanne.example">x</a>'}]},
                {"id": "2", "username": "x", "acct": "x", "display_name": "", "note": "",
                 "url": "https://mastodon.social/@x",
                 "avatar": "https://mastodon.social/avatars/original/missing.png",
                 "followers_count": 0, "following_count": 0, "statuses_count": 0,
                 "created_at": "2024-05-31T00:00:00.000Z", "bot": True}]
    profiles, bad = read_profiles(write(tmp_path / "followers.json", accounts))
    assert not bad
    jeanne, x = profiles
    assert jeanne.id == "mastodon:https://piaille.fr/@jeanne"
    assert jeanne.bio == "Journaliste & cycliste" and jeanne.url == "https://jeanne.example"
    assert x.default_avatar is True and x.bot is True and x.bio is None


CSV_HEADER = ("id,name,screen_name,statuses_count,followers_count,friends_count,"
              "favourites_count,listed_count,created_at,url,lang,time_zone,location,"
              "default_profile,default_profile_image,geo_enabled,profile_image_url,"
              "profile_banner_url,description,updated\n")


def test_csv_bad_rows_are_quarantined_and_the_rest_audited(tmp_path: Path) -> None:
    rows = [
        '"1","Ann","ann","981","101","233","28","1","Thu Sep 08 13:20:35 +0000 2011",,"fr",'
        '"Paris","Paris",,,"1","http://a0.twimg.com/profile_images/1/a_normal.jpg",NULL,'
        '"Prof de maths","2015-02-14 10:54:49"',
        '"2","Bob","bob","many","18","343","0","0","Thu Sep 08 13:20:35 +0000 2012",,"en",,,'
        '"1",,,"http://x/a.png",NULL,,"2015-02-14 10:54:49"',
        '"3","Cy","cy","36","18","343","0","0","not a date",,"en",,,"1",,,"http://x/a.png",'
        'NULL,,"2015-02-14 10:54:49"',
        '"4","Dee","dee","36","18","343","0","0","Sun Jan 06 10:00:00 +0000 2013",,"en",,,'
        '"1",,,"http://x/a.png",NULL,,"2015-02-14 10:54:49"',
        '"5","too","many","cells"' + ",x" * 30,
    ]
    path = tmp_path / "users.csv"
    path.write_text(CSV_HEADER + "\n".join(rows) + "\n", encoding="utf-8")
    profiles, bad = read_profiles(path)
    assert [p.screen_name for p in profiles] == ["ann", "dee"]
    assert [q.location for q in bad] == ["row 3", "row 4", "row 6"]
    assert "statuses_count" in bad[0].reason or "posts" in bad[0].reason
    assert "date" in bad[1].reason and "cells" in bad[2].reason
    ann = profiles[0]
    assert ann.default_profile is False and ann.default_avatar is False  # empty cell = false
    assert ann.observed_at == datetime(2015, 2, 14, 10, 54, 49, tzinfo=UTC)
    rows_out, summary = audit(profiles, now=NOW, quarantined=len(bad))
    assert summary.accounts == 2 and summary.quarantined == 3
    assert len(rows_out) == 2


def test_unknown_format_lists_known_ones(tmp_path: Path) -> None:
    with pytest.raises(SourceError) as err:
        read_profiles(write(tmp_path / "x.json", [{"foo": 1}, {"bar": 2}]))
    assert "twitter-v1" in str(err.value) and "bluesky" in str(err.value)
    with pytest.raises(SourceError):
        read_profiles(write(tmp_path / "y.json", [HUMAN]), fmt="myspace")
    empty = tmp_path / "empty.json"
    empty.write_text("")
    with pytest.raises(SourceError):
        read_profiles(empty)


def test_mixed_and_broken_items_are_quarantined(tmp_path: Path) -> None:
    path = tmp_path / "mixed.jsonl"
    path.write_text(json.dumps(HUMAN) + "\n{not json\n"
                    + json.dumps({"did": "did:plc:z", "handle": "z.bsky.social"}) + "\n"
                    + json.dumps(v1_user(5, "neg", followers_count=-3)) + "\n")
    profiles, bad = read_profiles(path)
    assert [p.screen_name for p in profiles] == ["claire_lyon"]
    assert [q.location for q in bad] == ["line 2", "line 3", "line 4"]
    assert "bluesky" in bad[1].reason and "negative" in bad[2].reason


# --------------------------------------------------------------------------- model and rules

def _profiles(tmp_path: Path, users: list[dict]) -> list[AccountProfile]:
    profiles, bad = read_profiles(write(tmp_path / "u.json", users))
    assert not bad
    return profiles


def test_obvious_follow_back_fake_is_suspicious_with_reasons(tmp_path: Path) -> None:
    rows, summary = audit(_profiles(tmp_path, [FAKE, HUMAN]), now=NOW)
    fake, human = rows
    assert fake.label == "suspicious" and fake.score > 0.95
    assert "follows 2,000, followed by 12" in fake.reasons
    assert "default avatar" in fake.reasons or "default profile (never customised)" in fake.reasons
    assert "#TeamFollowBack in bio" in fake.reasons
    assert fake.follow_back is True and fake.mass_inviter is True
    assert human.label == "real" and human.score < 0.2
    assert not human.follow_back and not human.mass_inviter and human.reasons == []
    assert summary.accounts == 2 and summary.suspicious_share == 0.5
    assert summary.quality_score == 50.0


def test_reasons_in_french(tmp_path: Path) -> None:
    rows, _ = audit(_profiles(tmp_path, [FAKE]), now=NOW, lang="fr")
    assert "suit 2\u202f000 comptes, suivi par 12" in rows[0].reasons
    assert "#TeamFollowBack dans la bio" in rows[0].reasons


def test_follow_back_marker_variants() -> None:
    for bio in ("je follow back !", "#TFB", "Follow4Follow", "100% FOLLOW BACK", "#F4F",
                "Je FÖLLOW back"):
        assert follow_back_marker(bio), bio
    assert follow_back_marker("Hi #TeamFollowBack!") == "#TeamFollowBack"
    for bio in ("je suis back de vacances", "follow the money", "Chef #TF1", None):
        assert not follow_back_marker(bio), bio


def test_unknown_features_do_not_count_as_zero() -> None:
    model = load_model()
    base = AccountProfile(id="bluesky:did:plc:q", source="bluesky", screen_name="q",
                          followers=300, following=250, posts=4000,
                          created_at=datetime(2023, 1, 1, tzinfo=UTC), default_avatar=False,
                          bio="photographe")
    rows, _ = audit([base], now=NOW, model=model)
    assert rows[0].label == "real"  # unknown favourites / lists / theme are not "none"


def test_model_json_round_trip_and_sane_signs() -> None:
    model = load_model()
    again = AuditModel.from_json(json.loads(json.dumps(model.to_json())))
    assert again.features == FEATURES and (again.coef == model.coef).all()
    coef = dict(zip(model.features, model.coef, strict=True))
    assert coef["log_following_per_follower"] > 0 and coef["log_followers"] < 0
    assert coef["log_posts"] < 0 and coef["default_profile"] >= 0
    cv = model.meta["cv"]["views"]["twitter-v1.1"]
    assert cv["f1"] >= 0.95  # figures recorded at training time


def test_creation_burst_detected_over_the_list() -> None:
    start = datetime(2012, 3, 1, 9, 0, tzinfo=UTC)
    spread = [datetime(2009, 1, 1, tzinfo=UTC) + timedelta(days=7 * i + 0.3 * (i % 5))
              for i in range(300)]
    batch = [start + timedelta(seconds=15 * i) for i in range(37)]
    created = spread + batch + [None]
    sizes = creation_bursts(created)
    assert sizes[:300] == [0] * 300
    assert sizes[300:337] == [37] * 37 and sizes[-1] == 0
    profiles = [AccountProfile(id=f"twitter:{i}", source="twitter", screen_name=f"u{i}",
                               created_at=c, followers=100, following=100, posts=1000)
                for i, c in enumerate(created)]
    rows, _ = audit(profiles, now=NOW)
    assert "account created in a burst (37 accounts within 10 min)" in rows[310].reasons
    assert not any("burst" in r for r in rows[5].reasons)


def test_reciprocity_from_follow_edges_marks_follow_back() -> None:
    owner = AccountProfile(id="twitter:1", source="twitter", screen_name="owner", followers=40,
                           following=40, posts=3000, created_at=datetime(2015, 1, 1, tzinfo=UTC))
    edges = [(f"twitter:{i}", "twitter:1") for i in range(100, 140)]
    edges += [("twitter:1", f"twitter:{i}") for i in range(100, 138)]  # follows back 38 of 40
    rows, summary = audit([owner], follows=edges, now=NOW)
    assert rows[0].follow_back is True
    assert rows[0].reasons == ["follows back 95.0% of its 40 followers (given edges)"]
    assert summary.follow_back_share == 1.0


def test_deterministic_and_summary_text(tmp_path: Path) -> None:
    profiles = _profiles(tmp_path, [FAKE, HUMAN, v1_user(3, "paul", followers_count=2100,
                                                         friends_count=2050)])
    a = audit(profiles, now=NOW)
    assert audit(profiles, now=NOW) == a
    b = audit(list(reversed(profiles)), now=NOW)  # order does not change any verdict
    assert b[0] == a[0][::-1] and b[1] == a[1]
    rows, summary = a
    assert rows[2].follow_back and "near-total reciprocity" in rows[2].reasons[-1]
    fr, en = summary.text("fr"), summary.text("en")
    assert "3 comptes" in fr and "66,7\u00a0% réels" in fr and "Score de qualité" in fr
    assert "66.7% real" in en and "quality score: 33/100" in en
    empty_rows, empty = audit([], now=NOW, quarantined=2)
    assert empty_rows == [] and "Aucun compte" in empty.text("fr") and "2" in empty.text("fr")


def test_accounts_without_counts_are_not_judged(tmp_path: Path) -> None:
    path = tmp_path / "followers.csv"  # Bluesky-style export: did, handle, created_at only
    path.write_text("did,handle,display_name,created_at\n"
                    "did:plc:a1,new1.bsky.social,,2024-05-30T10:06:11.463Z\n"
                    "did:plc:a2,new2.bsky.social,Ana,2024-05-31T16:19:20.059Z\n")
    profiles, bad = read_profiles(path)
    assert not bad and profiles[0].id == "bluesky:did:plc:a1"
    assert profiles[1].name == "Ana" and profiles[0].followers is None
    rows, summary = audit(profiles, now=NOW)
    assert [r.label for r in rows] == ["unknown", "unknown"] and rows[0].score is None
    assert summary.unknown == 2 and summary.real_share == 0.0
    assert "no account could be judged" in summary.text("en")


def test_profile_from_store_author() -> None:
    from perron.analyze.profiles import from_author
    from perron.models import Author

    author = Author(id="twitter:900", source="twitter", native_id="900", handle="kelly_fb4829",
                    bio="#TeamFollowBack", followers=12, following=2000, posts=8,
                    created_at=datetime(2024, 1, 8, tzinfo=UTC), default_avatar=True)
    rows, _ = audit([from_author(author)], now=NOW)
    assert rows[0].label == "suspicious" and rows[0].follow_back
