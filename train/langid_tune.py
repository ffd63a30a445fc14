"""Tune the fr/en boost and the ``und`` threshold of perron.enrich.language on short posts.

Texts: UMSAB val files of 8 languages (ar, de, en, es, fr, hi, it, pt), each used whole and cut to
its first 1-5 words (fixed seed). Objective: correct − 2 × wrong (``und`` scores 0: a wrong
language costs more than an honest "unknown"). Writes models/language.json.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import data as D

from perron.enrich import language


def tune(models: Path) -> dict:
    rng = random.Random(D.SEED)
    items = D.language_dev()
    short = []
    for text, lang in items:
        words = text.split()
        n = rng.randint(1, 5)
        start = rng.randint(0, max(0, len(words) - n))
        short.append((" ".join(words[start:start + n]), lang))
    sets = {"full": items, "short": short}
    best = None
    saved = language.MODELS
    language.MODELS = models / "_defaults_only_"  # tune from DEFAULTS, not a previous result
    for fr in (1.0, 1.5, 2.0, 3.0):
        for en in (1.0, 1.5, 2.0):
            language.settings.cache_clear()
            language.DEFAULTS.update(boost={"fr": fr, "en": en})
            for thr in (0.0, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7):
                score = 0.0
                stats = {}
                for name, rows in sets.items():
                    got = language.detect([t for t, _ in rows], threshold=thr)
                    ok = sum(g == y for (g, _), (_, y) in zip(got, rows, strict=True))
                    und = sum(g == "und" for g, _ in got)
                    bad = len(rows) - ok - und
                    score += ok - 2 * bad
                    stats[name] = {"accuracy": round(ok / len(rows), 4),
                                   "und": round(und / len(rows), 4),
                                   "wrong": round(bad / len(rows), 4)}
                if best is None or score > best[0]:
                    best = (score, {"boost": {"fr": fr, "en": en}, "threshold": thr, "k": 5,
                                    "dev": stats})
    assert best is not None
    language.DEFAULTS.update(boost=best[1]["boost"])
    per_lang: dict[str, dict[str, float]] = {}
    for name, rows in sets.items():
        got = language.detect([t for t, _ in rows], threshold=best[1]["threshold"])
        for code in sorted({y for _, y in rows}):
            pairs = [(g, y) for (g, _), (_, y) in zip(got, rows, strict=True) if y == code]
            per_lang.setdefault(code, {})[name] = round(
                sum(g == y for g, y in pairs) / len(pairs), 4)
    best[1]["per_language_accuracy"] = per_lang
    language.MODELS = saved
    out = dict(best[1], model=language.MODEL_NAME,
               data="UMSAB val, 8 languages, whole and cut to 1-5 words")
    (models / "language.json").write_text(json.dumps(out, indent=2, sort_keys=True) + "\n")
    language.settings.cache_clear()
    print("language:", out)
    return {"metric": "accuracy (und counted wrong)", "dev": out["dev"], "goal": None,
            "data": out["data"], "settings": {"boost": out["boost"],
                                              "threshold": out["threshold"]},
            "per_language_accuracy": out["per_language_accuracy"]}
