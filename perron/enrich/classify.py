"""Runtime API of the Understand layer: ``classify`` one task, ``enrich`` every task at once.

Language choice per post: ``lang="fr"`` or ``"en"`` forces the model; ``"auto"`` detects the
language of each post; French posts get the French models, every other language (and ``und``)
gets the English models, which learned from far more data. The detected code is still reported
by the ``language`` task. ``enrich`` featurizes a batch once and scores every model on it
(the hot path); ``triage`` there is context-free (no author history, no fact sheet): call
:func:`perron.enrich.triage.triage` with a :class:`~perron.enrich.triage.Context` for the rest.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import lru_cache

import numpy as np

from perron.enrich import language
from perron.enrich.backends import LEARNED_TASKS, MODELS, load_lexicons
from perron.enrich.features import Featurizer
from perron.enrich.linear import LinearModel, ModelSet, load_model, probabilities
from perron.enrich.triage import as_prediction, triage
from perron.enrich.types import LABELS, TASKS, Prediction
from perron.errors import PerronError

__all__ = ["TASKS", "LABELS", "Prediction", "classify", "enrich"]


class _Engine:
    def __init__(self) -> None:
        self.models: dict[tuple[str, str], LinearModel] = {}
        for task in LEARNED_TASKS:
            for lang in ("en", "fr"):
                self.models[(task, lang)] = load_model(MODELS, f"{task}-{lang}")
        self.set = ModelSet(Featurizer(load_lexicons()), list(self.models.values()))

    def run(self, tasks: Sequence[str], texts: Sequence[str],
            model_langs: list[str]) -> dict[str, list[Prediction]]:
        u = self.set.featurizer.units(texts, model_langs)
        raw, per_entry = self.set.raw(u)
        is_fr = np.array([lg == "fr" for lg in model_langs], dtype=bool)
        n = len(texts)
        fr_l = is_fr.astype(int).tolist()
        plan = []
        cols = np.empty((len(tasks), n), dtype=np.int64)
        signs = np.empty((len(tasks), n), dtype=np.float64)
        for i, task in enumerate(tasks):
            m_en, m_fr = self.models[(task, "en")], self.models[(task, "fr")]
            k = m_en.columns
            c_en, c_fr = self.set.col0[m_en.name], self.set.col0[m_fr.name]
            probs = np.where(is_fr[:, None],
                             probabilities(m_fr, raw[:, c_fr:c_fr + k]),
                             probabilities(m_en, raw[:, c_en:c_en + k]))
            best = probs.argmax(axis=1)
            col0 = np.where(is_fr, c_fr, c_en)
            if k == 1:
                cols[i], signs[i] = col0, np.where(best == 0, 1.0, -1.0)
            else:
                cols[i], signs[i] = col0 + best, 1.0
            plan.append((task, m_en, m_fr, best, probs))
        why_all = self.set.reasons_many(u, per_entry, cols, signs)
        out: dict[str, list[Prediction]] = {}
        for (task, m_en, m_fr, best, probs), why in zip(plan, why_all, strict=True):
            labels = m_en.labels
            names = (f"perron-linear/{m_en.name}", f"perron-linear/{m_fr.name}")
            versions = (m_en.version, m_fr.version)
            rounded = np.round(probs.astype(np.float64), 4).tolist()
            if len(labels) == 2:
                a, z = labels
                out[task] = [
                    Prediction(labels[b], row[b], {a: row[0], z: row[1]}, r, names[fr],
                               versions[fr])
                    for b, row, r, fr in zip(best.tolist(), rounded, why, fr_l, strict=True)
                ]
            else:
                out[task] = [
                    Prediction(labels[b], row[b], dict(zip(labels, row, strict=True)), r,
                               names[fr], versions[fr])
                    for b, row, r, fr in zip(best.tolist(), rounded, why, fr_l, strict=True)
                ]
        return out


@lru_cache(maxsize=1)
def _engine() -> _Engine:
    return _Engine()


def _language_predictions(texts: Sequence[str]) -> list[Prediction]:
    out = []
    threshold = language.settings()["threshold"]
    name = language.MODEL_NAME
    for code, conf in language.detect(texts):
        reason = (f"fastText lid.176 {conf:.2f}" if code != "und"
                  else f"unsure (best {conf:.2f} < {threshold})")
        out.append(Prediction(code, conf, {code: conf}, [reason], name, "176"))
    return out


def _model_langs(texts: Sequence[str], lang: str | Sequence[str | None] | None,
                 detected: list[Prediction] | None) -> list[str]:
    if isinstance(lang, str) and lang != "auto":
        if lang not in ("fr", "en"):
            raise PerronError(f"unknown language {lang!r}", hint="use 'fr', 'en' or 'auto'")
        return [lang] * len(texts)
    given = list(lang) if lang is not None and not isinstance(lang, str) else [None] * len(texts)
    need = [i for i, g in enumerate(given) if not g]
    if need and detected is None:
        found = language.detect([texts[i] for i in need])
        for i, (code, _) in zip(need, found, strict=True):
            given[i] = code
    elif detected is not None:
        for i in need:
            given[i] = detected[i].label
    return ["fr" if (g or "").lower().startswith("fr") else "en" for g in given]


def classify(task: str, texts: Sequence[str], lang: str = "auto") -> list[Prediction]:
    """Predictions of one task for a batch of texts (``lang``: "fr", "en" or "auto")."""
    if task not in TASKS:
        raise PerronError(f"unknown task {task!r}", hint=f"tasks: {', '.join(TASKS)}")
    texts = list(texts)
    if not texts:
        return []
    if task == "language":
        return _language_predictions(texts)
    if task == "triage":
        return [r["triage"] for r in enrich(texts, None if lang == "auto" else [lang] * len(texts))]
    with _no_cyclic_gc():
        return _engine().run([task], texts, _model_langs(texts, lang, None))[task]


@contextmanager
def _no_cyclic_gc() -> Iterator[None]:
    """Pause Python's cyclic garbage collector for one batch (restored after, even on error).

    A batch allocates tens of thousands of small objects (predictions, dicts, lists) and none of
    them forms a reference cycle, so reference counting frees them all; without the pause the
    collector keeps re-scanning the featurizer's large caches and costs about a fifth of the
    batch's CPU time. Objects allocated meanwhile are examined at the next collection."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def enrich(texts: Sequence[str],
           langs: Sequence[str | None] | None = None) -> list[dict[str, Prediction]]:
    """Every task for every text, sharing one featurization (the hot path).

    ``langs``: a known language per text (e.g. from the source); ``None`` entries are detected.
    The ``language`` prediction always reports fastText's detection.
    """
    texts = list(texts)
    if not texts:
        return []
    with _no_cyclic_gc():
        return _enrich(texts, langs)


def _enrich(texts: list[str], langs: Sequence[str | None] | None) -> list[dict[str, Prediction]]:
    detected = _language_predictions(texts)
    model_langs = _model_langs(texts, langs, detected)
    results = _engine().run(LEARNED_TASKS, texts, model_langs)
    out: list[dict[str, Prediction]] = []
    keys = ("language",) + tuple(LEARNED_TASKS)
    columns = [detected] + [results[task] for task in LEARNED_TASKS]
    for preds, text, lang in zip(zip(*columns, strict=True), texts, model_langs, strict=True):
        row = dict(zip(keys, preds, strict=True))
        row["triage"] = as_prediction(triage(row, text, lang=lang))
        out.append(row)
    return out
