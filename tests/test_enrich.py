"""Known-answer tests of the shipped enrichment models (own French and English sentences)."""

from __future__ import annotations

import shutil
import socket
import zlib
from pathlib import Path

import pytest

from perron.enrich import language
from perron.enrich.backends import MODELS, LinearBackend, TransformersBackend, backend_for
from perron.enrich.classify import LABELS, TASKS, classify, enrich
from perron.enrich.features import DIM, N_DENSE, Featurizer, bucket
from perron.errors import PerronError
from perron.text import fold

KNOWN = [
    # (task, lang, text, expected label)
    ("sentiment", "fr", "Merci pour votre aide, service au top !", "positive"),
    ("sentiment", "fr", "Je suis fâché, ma commande n'est jamais arrivée", "negative"),
    ("sentiment", "fr", "Quelle honte, c'est vraiment nul et décevant", "negative"),
    ("sentiment", "en", "Thank you so much, I love this, great job!", "positive"),
    ("sentiment", "en", "This is the worst service ever, I hate it", "negative"),
    ("offensive", "en", "shut up you stupid idiot, you are a piece of shit", "offensive"),
    ("offensive", "en", "Have a lovely day everyone, see you tomorrow", "not_offensive"),
    ("offensive", "fr", "ferme ta gueule espèce de connard", "offensive"),
    ("offensive", "fr", "Très belle journée à tous, à demain", "not_offensive"),
    ("hate", "en", "Thanks for the lovely dinner with my family", "not_hate"),
    ("hate", "fr", "Merci pour ce beau concert hier soir", "not_hate"),
    ("irony", "en", "Oh great, another Monday morning. I just love being stuck in traffic "
                    "#not", "irony"),
    ("irony", "en", "The meeting is scheduled for 3pm in room 204", "not_irony"),
    ("complaint", "en", "@AcmeHelp my order never arrived and nobody answers, two weeks "
                        "waiting for a refund", "complaint"),
    ("complaint", "en", "Happy birthday to my best friend!", "not_complaint"),
    ("complaint", "fr", "Je suis fâché, ma commande n'est jamais arrivée", "complaint"),
    ("complaint", "fr", "Merci pour votre aide, service au top !", "not_complaint"),
    ("claim", "en", "BREAKING: police confirm two dead in shooting downtown, suspect "
                    "arrested", "claim"),
    ("claim", "en", "I love my cat so much lol", "not_claim"),
    ("claim", "fr", "URGENT : selon la police, deux morts dans une fusillade, le suspect "
                    "arrêté", "claim"),
    ("claim", "fr", "Merci pour votre aide, service au top !", "not_claim"),
]


@pytest.mark.parametrize(("task", "lang", "text", "expected"), KNOWN)
def test_known_answers(task: str, lang: str, text: str, expected: str) -> None:
    pred = classify(task, [text], lang=lang)[0]
    assert pred.label == expected, (pred.scores, pred.reasons)
    assert set(pred.scores) == set(LABELS[task])
    assert abs(sum(pred.scores.values()) - 1.0) < 1e-3
    assert pred.model.endswith(f"{task}-{lang}")


def test_reasons_name_real_words_of_the_post() -> None:
    text = "Quelle honte, c'est vraiment nul et décevant"
    pred = classify("sentiment", [text], lang="fr")[0]
    assert pred.reasons
    words_in_reasons = [r.split("« ")[1].split(" »")[0] for r in pred.reasons]
    assert all(w in text for w in words_in_reasons)
    assert all(r.endswith(")") and "(+" in r for r in pred.reasons)


def test_auto_language_routes_french_to_french_models() -> None:
    preds = classify("sentiment", ["Merci pour votre aide, service au top !",
                                   "This is the worst service ever, I hate it"])
    assert preds[0].model.endswith("sentiment-fr")
    assert preds[1].model.endswith("sentiment-en")


def test_language_detection_short_posts_and_und() -> None:
    got = [p.label for p in classify("language", [
        "Bonjour, je suis très content de ce service", "This is a great product, thanks",
        "merci beaucoup", "thank you so much", "ça marche", "😀😀😀", "1234 !!!", "",
        "asdf qwer zxcv"])]
    assert got == ["fr", "en", "fr", "en", "fr", "und", "und", "und", "und"]


def test_language_never_downloads(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise OSError("network disabled in this test")

    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)
    language._model.cache_clear()
    assert language.detect(["Le chat dort sur le canapé du salon"])[0][0] == "fr"
    assert language.model_path().name == "lid.176.ftz"


def test_enrich_every_task_and_determinism() -> None:
    texts = ["Merci pour votre aide, service au top !",
             "Je suis fâché, ma commande n'est jamais arrivée",
             "shut up you stupid idiot", "", "😀"]
    a = enrich(texts)
    b = enrich(list(reversed(texts)))[::-1]
    assert [set(r) for r in a] == [set(TASKS)] * len(texts)
    assert a == b
    assert a[0]["triage"].label == "concurrence"
    assert a[1]["triage"].label in ("restoration", "monitor_only")
    assert a[1]["triage"].reasons[0].startswith("Q1 non")
    assert a[3]["language"].label == "und"
    for row in a:
        for task in TASKS[1:-1]:
            assert row[task].label in LABELS[task]


def test_enrich_uses_given_languages() -> None:
    got = enrich(["service au top", "service au top"], langs=["fr", "en"])
    assert got[0]["sentiment"].model.endswith("-fr")
    assert got[1]["sentiment"].model.endswith("-en")


def test_features_are_stable_and_fold_accents() -> None:
    assert bucket("w:fache") == N_DENSE + zlib.crc32(b"w:fache") % (DIM - N_DENSE)
    f = Featurizer()
    toks = [t for _, t, _ in f.tokenize("#JeSuisFâché je n'aime PAS ça!!! @bob http://x.co")]
    assert toks == ["#jesuisfache", "je", "suis", "fache", "je", "ne", "aime", "pas", "ca", "!",
                    "<user>", "<url>"]
    assert fold("Fâché") == "fache"
    u1 = f.units(["pas bon"])
    u2 = f.units(["bon"])
    assert set(u1.ids.tolist()).isdisjoint({u2.ids[0]})  # negated "bon" is another unit


def test_linear_backend_from_an_explicit_directory(tmp_path: Path) -> None:
    for name in ("sentiment-fr.npz", "sentiment-fr.json", "lexicon-fr.json", "lexicon-en.json"):
        shutil.copy(MODELS / name, tmp_path / name)
    backend = backend_for("sentiment", "fr", str(tmp_path))
    assert isinstance(backend, LinearBackend)
    text = ["Quelle honte, c'est vraiment nul et décevant"]
    assert backend.predict(text)[0] == classify("sentiment", text, lang="fr")[0]


def test_transformers_backend_errors(tmp_path: Path) -> None:
    with pytest.raises(PerronError, match="not a Hugging Face model directory") as err:
        backend_for("sentiment", "fr", str(tmp_path))
    assert err.value.hint
    (tmp_path / "config.json").write_text("{}")
    try:
        import transformers  # noqa: F401
    except ImportError:
        with pytest.raises(PerronError, match="transformers package is not installed") as err:
            TransformersBackend(tmp_path, "sentiment")
        assert "pip install transformers" in (err.value.hint or "")
    with pytest.raises(PerronError, match="does not exist"):
        backend_for("sentiment", "fr", str(tmp_path / "missing"))


def test_unknown_task_and_language() -> None:
    with pytest.raises(PerronError):
        classify("toxicity", ["x"])
    with pytest.raises(PerronError):
        classify("sentiment", ["x"], lang="de")
    assert classify("sentiment", []) == []


PINNED = [  # outputs of the shipped models before the speed work; the fast paths must keep them
    ("shut up you stupid idiot, you are a piece of shit", "en", "offensive", "offensive",
     ["« stupid » (+4.7)", "« idiot » (+4.5)", "« shit » (+3.4)"]),
    ("shut up you stupid idiot, you are a piece of shit", "en", "sentiment", "negative",
     ["« stupid » (+1.2)", "« idiot » (+1.2)", "« shit » (+0.7)"]),
    ("Oh great, another Monday morning. I just love being stuck in traffic #not", "en", "irony",
     "irony", ["« great » (+1.3)", "« love » (+1.1)", "« Oh » (+0.7)"]),
]


def test_pinned_outputs() -> None:
    for text, lang, task, label, reasons in PINNED:
        pred = enrich([text], langs=[lang])[0][task]
        assert (pred.label, pred.reasons) == (label, reasons)


def test_batched_reasons_match_the_single_model_path() -> None:
    texts = ["shut up you stupid idiot", "Merci pour votre aide, service au top !",
             "Oh great, another Monday #not http://x.co @bob", "lol lol lol lol", "",
             "Quelle honte, c'est vraiment nul et décevant !!!", "😀 :) <3 #JeSuisFâché"]
    langs = ["en", "fr", "en", "en", "fr", "fr", "en"]
    rows = enrich(texts, langs=langs)
    for task in ("sentiment", "offensive", "hate", "irony", "complaint", "claim"):
        for lang in ("en", "fr"):
            idx = [i for i, lg in enumerate(langs) if lg == lang]
            single = LinearBackend(task, lang).predict([texts[i] for i in idx])
            for i, pred in zip(idx, single, strict=True):
                got = rows[i][task]
                assert (got.label, got.reasons) == (pred.label, pred.reasons)
                assert all(abs(got.scores[k] - pred.scores[k]) < 1e-6 for k in pred.scores)


def test_fast_sort_equals_lexsort() -> None:
    import numpy as np

    from perron.enrich.linear import _by_doc_then_value

    rng = np.random.default_rng(0)
    doc = np.sort(rng.integers(0, 50, 2000))
    val = np.round(rng.normal(size=2000), 1)  # many exact ties
    assert (_by_doc_then_value(doc, val) == np.lexsort((-val, doc))).all()
    assert len(_by_doc_then_value(doc[:0], val[:0])) == 0


def test_tokenizer_specials_and_language_cleaning() -> None:
    f = Featurizer()
    got = [(k, t) for k, t, _ in f.tokenize(
        "a@b x @bob #@al :) :-( <3 ^^ :'( http://x.co/#a www.a.b http URL don't")]
    assert got == [("w", "a"), ("w", "b"), ("w", "x"), ("s", "<user>"), ("s", "<user>"),
                   ("s", "<emo>:)"), ("s", "<emo>:("), ("s", "<emo><3"), ("s", "<emo>^^"),
                   ("s", "<emo>:'("), ("s", "<url>"), ("s", "<url>"), ("s", "<url>"),
                   ("s", "<url>"), ("w", "do"), ("w", "not")]
    for text in ("http://x.co/#a\tb", "#@bob\n#x", "a@b #c www.x#y\r", "plain text"):
        assert language._clean(text) == language._CLEAN.sub(" ", text)


def test_a_full_unit_table_starts_afresh_with_the_same_answers() -> None:
    """A long-running enricher must not grow with the vocabulary it reads: past ``max_units`` the
    featurizer empties its unit table before the next batch and the scorer scores units anew.
    Answers (labels, scores, reasons) must not change across those fresh starts."""
    from perron.enrich import classify as engine_module
    from perron.enrich import features

    texts = [text for _, _, text, _ in KNOWN[::2]] + ["Ma commande n'est jamais arrivée #JeSuisFâché",
                                                "pas bon du tout", "not bad at all lol"]
    before = enrich(texts)
    featurizer = engine_module._engine().set.featurizer
    featurizer.max_units = 50  # every batch below starts from an empty table
    start = featurizer.generation
    try:
        after = [row for i in range(0, len(texts), 3) for row in enrich(texts[i:i + 3])]
        after += [row for i in range(0, len(texts), 3) for row in enrich(texts[i:i + 3])]
        assert featurizer.generation >= start + 4
        assert len(featurizer.unit_buckets) < 50 + 200  # one small batch past the limit at most
    finally:
        featurizer.max_units = features._UNITS_MAX
    assert after == before + before
