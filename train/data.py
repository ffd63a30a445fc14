"""Loaders for the developer parts of ../shared/data used to train the enrichment models.

Only train / val / dev files are read; never a held-back split. Every loader returns
``(train, dev)`` as lists of ``(text, label)`` where label is one of the model's label names.
Splits of dev-only data are fixed-seed (``random.Random(SEED)``) so re-runs give the same models.
"""

from __future__ import annotations

import csv
import gzip
import random
import re
from collections import defaultdict
from pathlib import Path

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
SEED = 20261123
Rows = list[tuple[str, str]]


def _lines(path: Path) -> list[str]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as f:
        text = f.read()
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return lines


def _parallel(folder: Path, split: str, names: dict[str, str]) -> Rows:
    texts = _lines(folder / f"{split}_text.txt")
    labels = _lines(folder / f"{split}_labels.txt")
    assert len(texts) == len(labels), folder
    return [(t.strip(), names[lab.strip()]) for t, lab in zip(texts, labels, strict=True)]


def _tsv(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8", newline="") as f:
        header, *rows = [line.split("\t") for line in f.read().split("\n") if line]
    return [dict(zip(header, r, strict=False)) for r in rows]


def _norm(text: str) -> str:
    text = re.sub(r"https?://\S+|@\w+", " ", text.lower())
    return "".join(ch for ch in text if ch.isalnum())


def split(rows: Rows, dev_share: float = 0.2, groups: list[str] | None = None) -> tuple[Rows, Rows]:
    """Fixed-seed split stratified on label; rows sharing a group key stay on one side."""
    keys = groups if groups is not None else [_norm(t) for t, _ in rows]
    by_label: dict[str, list[str]] = defaultdict(list)
    first_label: dict[str, str] = {}
    for k, (_, lab) in zip(keys, rows, strict=True):
        if k not in first_label:
            first_label[k] = lab
            by_label[lab].append(k)
    rng = random.Random(SEED)
    dev_keys: set[str] = set()
    for lab in sorted(by_label):
        ks = sorted(by_label[lab])
        rng.shuffle(ks)
        dev_keys.update(ks[: round(len(ks) * dev_share)])
    train = [r for k, r in zip(keys, rows, strict=True) if k not in dev_keys]
    dev = [r for k, r in zip(keys, rows, strict=True) if k in dev_keys]
    return train, dev


SENT = {"0": "negative", "1": "neutral", "2": "positive"}


def sentiment_en() -> tuple[Rows, Rows]:
    base = DATA / "semeval2013-2016-sentiment" / "tweeteval_style"
    texts = _lines(base / "train_text.txt.gz")
    labels = _lines(base / "train_labels.txt")
    train = [(t.strip(), SENT[lab]) for t, lab in zip(texts, labels, strict=True)]
    return train, _parallel(DATA / "tweeteval" / "sentiment", "val", SENT)


def semeval_inner_split() -> tuple[list[int], list[int]]:
    """Positions (in tweeteval_style train) of the dataset's own 80/20 split, for tuning."""
    base = DATA / "semeval2013-2016-sentiment"
    rows = [int(x) for x in _lines(base / "tweeteval_style" / "train_rows.txt")]
    val = {int(x) for x in _lines(base / "splits" / "val_rows.txt")}
    tr = [i for i, r in enumerate(rows) if r not in val]
    va = [i for i, r in enumerate(rows) if r in val]
    return tr, va


UMSAB = ("arabic", "english", "french", "german", "hindi", "italian", "portuguese", "spanish")


def umsab(language: str) -> tuple[Rows, Rows]:
    folder = DATA / "xlm-t-umsab" / language
    return _parallel(folder, "train", SENT), _parallel(folder, "val", SENT)


def tweeteval(task: str, names: tuple[str, str]) -> tuple[Rows, Rows]:
    mapping = {"0": names[1], "1": names[0]}
    folder = DATA / "tweeteval" / task
    return _parallel(folder, "train", mapping), _parallel(folder, "val", mapping)


def _mlma_fr() -> list[dict[str, str]]:
    with open(DATA / "mlma-hate-speech" / "fr_dev.csv", encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def _cyber() -> dict[str, list[dict[str, str]]]:
    out: dict[str, list[dict[str, str]]] = {}
    for path in sorted((DATA / "cyberagressionado-v1-fr" / "scenarii").glob("*.csv")):
        with open(path, encoding="utf-8", newline="") as f:
            out[path.stem] = list(csv.DictReader(f))
    return out


def _family(stem: str) -> str:
    return re.sub(r"_(bis|third)$", "", stem)


def _cyber_split(rows_of: dict[str, list[dict[str, str]]]) -> tuple[set[str], set[str]]:
    """Scenario families: about a quarter go to our dev side (fixed seed), whole families."""
    families = sorted({_family(s) for s in rows_of})
    rng = random.Random(SEED)
    rng.shuffle(families)
    dev = set(families[: max(1, round(len(families) * 0.25))])
    return {s for s in rows_of if _family(s) not in dev}, {s for s in rows_of if _family(s) in dev}


def offensive_fr() -> tuple[Rows, Rows]:
    mlma = [(r["tweet"], "not_offensive" if r["sentiment"] == "normal" else "offensive")
            for r in _mlma_fr()]
    tr, dv = split(mlma)
    cyber = _cyber()
    tr_files, dv_files = _cyber_split(cyber)
    for files, out in ((tr_files, tr), (dv_files, dv)):
        for stem in sorted(files):
            for r in cyber[stem]:
                lab = "not_offensive" if r["VERBAL_ABUSE"].strip() == "none" else "offensive"
                out.append((r["TEXT"].strip(), lab))
    tr += [(t, "not_offensive") for t, _ in benign_fr(keep_negative=False)]
    return tr, dv


def hate_fr() -> tuple[Rows, Rows]:
    ftr = [(r["text"], "hate" if r["label"] == "1" else "not_hate")
           for r in _tsv(DATA / "ftr-french-racist-tweets" / "ftr_dev.tsv")]
    mlma = [(r["tweet"], "hate" if "hateful" in r["sentiment"].split("_") else "not_hate")
            for r in _mlma_fr()]
    tr1, dv1 = split(ftr)
    tr2, dv2 = split(mlma)
    benign = [(t, "not_hate") for t, _ in benign_fr(keep_negative=True)]
    return tr1 + tr2 + benign, dv1 + dv2


def irony_fr() -> tuple[Rows, Rows]:
    """CyberAgressionAdo HUMOR (laughing markers, irony, sarcasm) as a proxy for irony."""
    cyber = _cyber()
    tr_files, dv_files = _cyber_split(cyber)
    out: tuple[Rows, Rows] = ([], [])
    for files, rows in ((tr_files, out[0]), (dv_files, out[1])):
        for stem in sorted(files):
            for r in cyber[stem]:
                lab = "irony" if r["HUMOR"].strip() == "yes" else "not_irony"
                rows.append((r["TEXT"].strip(), lab))
    return out


def complaint_en() -> tuple[Rows, Rows]:
    rows = _tsv(DATA / "complaints-preotiuc2019" / "complaints_dev.tsv")
    data = [(r["text"], "complaint" if r["complaint"] == "1" else "not_complaint") for r in rows]
    # stratify on (domain, label) by splitting each domain separately
    by_domain: dict[str, Rows] = defaultdict(list)
    for r, item in zip(rows, data, strict=True):
        by_domain[r["domain"]].append(item)
    train: Rows = []
    dev: Rows = []
    for dom in sorted(by_domain):
        tr, dv = split(by_domain[dom])
        train += tr
        dev += dv
    return train, dev


def claim_en() -> tuple[Rows, Rows]:
    pheme = _tsv(DATA / "pheme-rumours" / "pheme_dev.tsv")
    rows = [(r["text"], "claim" if r["is_rumour"] == "1" else "not_claim") for r in pheme
            if r.get("in_twitter15") != "1"]
    t15 = _tsv(DATA / "twitter15-16-source-tweets" / "twitter15_source_tweets.tsv")
    rows += [(r["text"], "not_claim" if r["label"] == "non-rumor" else "claim") for r in t15]
    return split(rows)


def language_dev() -> list[tuple[str, str]]:
    """(text, iso code) pairs from UMSAB val files of 8 languages."""
    iso = {"arabic": "ar", "english": "en", "french": "fr", "german": "de", "hindi": "hi",
           "italian": "it", "portuguese": "pt", "spanish": "es"}
    out = []
    for lang in UMSAB:
        _, val = umsab(lang)
        out += [(t, iso[lang]) for t, _ in val]
    return out


def benign_fr(keep_negative: bool) -> Rows:
    """UMSAB French *train* tweets (politics, ecology, news) as ordinary-traffic negatives.

    The French hostility sets were collected by hate keywords, so their "not hostile" class is
    keyword-bearing; without ordinary posts the models call any unusual post hostile. These are
    weak labels (assumed not hateful; only neutral/positive ones assumed not offensive).
    """
    train, _ = umsab("french")
    return [(t, lab) for t, lab in train if keep_negative or lab != "negative"]


def benign_en(n: int = 3000) -> list[str]:
    """A fixed-seed sample of neutral SemEval tweets (train pool), as ordinary-traffic negatives."""
    train, _ = sentiment_en()
    neutral = [t for t, lab in train if lab == "neutral"]
    rng = random.Random(SEED)
    rng.shuffle(neutral)
    return neutral[:n]
