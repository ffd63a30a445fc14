"""Spike explanations: over-represented terms, hashtags, authors, sources; checkable figures."""

from __future__ import annotations

import json
import math

import pytest

from perron.analyze.explain import STOP_WORDS, ExplainPost, Overrep, explain
from perron.text import tokens


def _baseline() -> list[ExplainPost]:
    texts = [
        "Le train de 8 h est à l'heure ce matin, merci",
        "Quelle belle journée pour voyager en TER avec les enfants",
        "J'adore le wifi dans le TGV, c'est très pratique #voyage",
        "The train was on time today and the staff were nice",
        "Retard de dix minutes à Lyon mais rien de grave #voyage",
    ]
    return [ExplainPost.from_text(f"b{i}", texts[i % len(texts)], author=f"habitue{i % 40}",
                                  source="mastodon", engagement=1)
            for i in range(200)]


def _window() -> list[ExplainPost]:
    posts = []
    for i in range(30):
        author = "syndicat_rail" if i < 12 else f"voyageur{i}"
        text = ["Encore une #Grève surprise, aucun train ce matin !",
                "#GREVE des contrôleurs : les trains sont supprimés à Montréal et à Lyon",
                "La grève continue, l'État ne répond pas #grève"][i % 3]
        posts.append(ExplainPost.from_text(f"w{i}", text, author=author, source="bluesky",
                                           engagement=100 if i == 7 else i % 5))
    posts.append(ExplainPost.from_text("w-calm", "Le train est à l'heure, merci", "habitue1",
                                       "mastodon"))
    return posts


def test_the_dominant_french_hashtag_and_author_rank_first_with_their_counts() -> None:
    result = explain(_window(), _baseline(), top=5)
    assert result.window_posts == 31 and result.baseline_posts == 200
    tag = result.hashtags[0]
    assert tag.key == "#greve"  # #Grève, #GREVE and #grève are one hashtag
    assert (tag.window_count, tag.baseline_count) == (30, 0)
    assert math.isclose(tag.window_rate, 30 / 31) and tag.baseline_rate == 0
    assert math.isclose(tag.lift, (30.5 / 32) / (0.5 / 201))
    assert tag.score > 3 and tag.g2 > 10.83
    author = result.authors[0]
    assert (author.key, author.window_count, author.baseline_count) == ("syndicat_rail", 12, 0)
    assert result.sources[0].key == "bluesky" and result.sources[0].window_count == 30
    # a key as frequent in the baseline as in the window is not "over-represented"
    assert all(o.key != "#voyage" for o in result.hashtags)
    assert all(o.key != "mastodon" for o in result.sources)


def test_terms_are_folded_and_never_stop_words() -> None:
    result = explain(_window(), _baseline(), top=50)
    keys = [o.key for o in result.terms]
    assert "greve" in keys and "grève" not in keys
    assert "montreal" in keys  # accents folded
    assert "etat" in keys  # l'État: elision dropped, accent folded
    assert not set(keys) & STOP_WORDS
    for stop in ("le", "la", "les", "des", "est", "the", "and", "l", "a", "ne", "pas"):
        assert stop not in keys
    greve = next(o for o in result.terms if o.key == "greve")  # the word, not the hashtag
    assert (greve.window_count, greve.baseline_count) == (10, 0)


def test_stop_words_are_folded_forms() -> None:
    assert "etre" in STOP_WORDS and "tres" in STOP_WORDS and "deja" in STOP_WORDS
    assert all(w == w.lower() and w.isascii() for w in STOP_WORDS)


def test_unfolded_tokens_given_directly_are_folded() -> None:
    window = [ExplainPost(f"w{i}", ["Grève", "SNCF"], "a", "rss") for i in range(5)]
    baseline = [ExplainPost(f"b{i}", ["greve"], "b", "rss") for i in range(5)]
    keys = {o.key: o for o in explain(window, baseline).terms}
    assert "sncf" in keys and "greve" not in keys  # greve is as frequent in both periods


def test_top_posts_carry_the_explanation_and_copies_show_once() -> None:
    result = explain(_window(), _baseline(), top=5)
    assert "w-calm" not in result.top_posts
    assert result.top_posts[0] == "w7"  # carries the top keys and has the most engagement
    texts = {p.id: tuple(p.tokens) for p in _window()}
    assert len({texts[i] for i in result.top_posts}) == len(result.top_posts)


def test_min_count_and_empty_inputs() -> None:
    window = [ExplainPost.from_text("w1", "#rare une seule fois", "x", "rss")]
    assert explain(window, _baseline()).hashtags == []
    assert explain(window, _baseline(), min_count=1).hashtags[0].key == "#rare"
    empty = explain([], _baseline())
    assert empty.window_posts == 0 and empty.terms == [] and empty.top_posts == []
    no_base = explain(_window(), [])
    assert no_base.hashtags[0].key == "#greve" and no_base.hashtags[0].baseline_count == 0


def test_to_dict_is_json_ready_and_summary_reads_in_both_languages() -> None:
    result = explain(_window(), _baseline(), top=3)
    data = json.loads(json.dumps(result.to_dict()))
    assert data["hashtags"][0]["key"] == "#greve" and data["hashtags"][0]["window_count"] == 30
    assert set(Overrep.__dataclass_fields__) == set(data["terms"][0])
    fr = result.summary("fr")
    assert "#greve (30 posts contre 0" in fr and "@syndicat_rail (12 posts contre 0" in fr
    assert fr.startswith("Fenêtre du pic : 31 posts")
    en = result.summary("en")
    assert "#greve (30 posts against 0" in en and en.startswith("Spike window: 31 posts")
    with pytest.raises(ValueError):
        result.summary("de")


def test_explain_accepts_generators() -> None:
    result = explain((p for p in _window()), (p for p in _baseline()))
    assert result.hashtags[0].key == "#greve"
    assert tokens("#Grève")[0] == "#greve"
