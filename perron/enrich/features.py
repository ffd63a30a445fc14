"""Shared featurization of short posts for every linear model (the enrichment hot path).

One pass over a batch of texts serves all tasks and both languages:

- word unigrams and bigrams on folded text (``perron.text.fold``: case, accents, ligatures never
  matter), French elisions split (``n'est`` → ``ne est``, ``l'État`` → ``etat``), English
  ``n't`` → ``not``, letters repeated 3+ times shortened (``trooop`` → ``troop``);
- negation scope: the 3 words after a negator (``not``, ``never``, ``ne``, ``pas``, ``jamais``,
  ``rien``, ``sans``…) get a negated unigram, so ``pas bon`` differs from ``bon``;
- hashtags kept whole and split on camel case (``#JeSuisFâché`` → ``je suis fâché``);
- character 2–5-grams inside each word (robust to spelling, inflection and elongation);
- emoji, emoticons and ``!``/``?`` runs as tokens; URLs and @mentions as placeholders;
- a few dense columns: lexicon positive / negative valence sums (negation-aware), shouting,
  ``!``, ``?``, length.

Features are hashed with CRC-32 into ``DIM`` buckets (deterministic everywhere, unlike Python's
``hash``). A post is a bag of *units* (a word with its char n-grams, a negated word, a bigram, a
special token); each unit owns a fixed list of buckets, and every unit remembers the token it came
from. Training builds the sparse matrix from units; at run time a model's score for a unit is
cached, so scoring is a gather and a sum, and the same numbers say which words drove a decision.
"""

from __future__ import annotations

import re
import zlib
from array import array
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from itertools import chain
from zlib import crc32 as _crc32

import numpy as np
from scipy import sparse

from perron.text import fold

DIM = 1 << 20
DENSE = ("lex_pos", "lex_neg", "shout", "exclaim", "question", "length")
N_DENSE = len(DENSE)  # buckets 0..N_DENSE-1 hold the dense columns
_CACHE_MAX = 200_000
_UNITS_MAX = 300_000  # units known at once; past it the next batch starts a fresh table

# The lookaheads on first characters (and the mention's lookbehind placed after its "@") only
# make the regex fail faster on ordinary letters; they match exactly what the plain forms match.
_URL = r"(?=[hwU])(?:(?:https?://|www\.)\S+|\bhttp\b|\bURL\b)"
_MENTION = r"@(?<![\w@]@)\w+"
_TAG = r"#[^\W_]\w*"
_WORD = r"[^\W_]+(?:['’][^\W_]+)*"
_EMOTICON = r"(?=[:;=<^])(?<!\w)(?:[:;=]-?(?:\)+|\(+|D\b|P\b|p\b|/(?!/)|\|)|<3+|\^\^|:'\()"
_EMOJI = "[\U0001F000-\U0001FAFF\u2600-\u27BF\u2B00-\u2BFF\u203C\u2049\u3030]"
_PUNCT = r"[!?¿¡]+|\.{3,}|…"
_TOKEN_RE = re.compile(
    f"(?P<url>{_URL})|(?P<mention>{_MENTION})|(?P<tag>{_TAG})|(?P<emo>{_EMOTICON})"
    f"|(?P<word>{_WORD})|(?P<emoji>{_EMOJI})|(?P<punct>{_PUNCT})"
)
_CAMEL_RE = re.compile(r"[A-ZÀ-ÖØ-Þ]?[a-zß-öø-ÿ]+|[A-ZÀ-ÖØ-Þ]+(?![a-zß-öø-ÿ])|\d+")
_ELONG_RE = re.compile(r"(.)\1{2,}")
_APOS_RE = re.compile(r"['’]")
_FR_ELISIONS = frozenset({"l", "d", "j", "m", "s", "t", "c", "qu", "jusqu", "lorsqu", "puisqu",
                          "quoiqu"})
NEGATORS = frozenset({
    "not", "no", "never", "nothing", "nobody", "none", "cannot", "nor", "without", "cant", "dont",
    "wont", "isnt", "doesnt", "didnt", "aint", "wasnt", "shouldnt", "couldnt", "wouldnt",
    "ne", "pas", "jamais", "rien", "aucun", "aucune", "sans", "ni",
})
_NEG_SCOPE = 3
_SHIFT = 40  # bigram cache key: (previous unit id + 2) << _SHIFT, plus the next unit id
_END = (1 << _SHIFT) - 1  # "next unit" of the end of a post


def bucket(feature: str) -> int:
    """The hashed column of a feature string (stable across processes and machines)."""
    return N_DENSE + zlib.crc32(feature.encode("utf-8")) % (DIM - N_DENSE)


@dataclass
class Units:
    """A featurized batch as units. Entries of doc ``d`` are ``ids[offsets[d]:offsets[d+1]]``."""

    ids: np.ndarray  # int64 unit ids
    offsets: np.ndarray  # int64, n + 1
    tok: np.ndarray  # int64 global token index per entry (for reasons)
    tok_offsets: np.ndarray  # int64, n + 1: tokens of doc d are tok_offsets[d]:tok_offsets[d+1]
    surfaces: list[str]  # global token index → surface form as written
    dense: np.ndarray  # (n, N_DENSE) float32
    scale: np.ndarray  # (n,) float32: 1 / sqrt(number of bucket entries)

    def __len__(self) -> int:
        return len(self.offsets) - 1


class Featurizer:
    """Turns texts into :class:`Units`. ``lexicons``: language → {folded word: valence}."""

    def __init__(self, lexicons: Mapping[str, Mapping[str, float]] | None = None,
                 keep: set[int] | None = None) -> None:
        """``keep``: the buckets some model uses (run time); bigrams outside it share one unit."""
        self.lexicons = {k: dict(v) for k, v in sorted((lexicons or {}).items())}
        self._lex_names = list(self.lexicons)
        self.keep = keep
        self._raw: dict[str, list[tuple[str, str, str]]] = {}
        self._records: dict[str, list] = {}
        self._pairs: dict[int, int] = {}
        self._grams: dict[str, int] = {}
        self._chars: dict[str, array[int]] = {}
        self._null = 0
        self.max_units = _UNITS_MAX
        self._forget_units()
        self.generation = 0  # bumped each time the unit table starts afresh (see units())

    def _forget_units(self) -> None:
        """Empty the unit table and every cache that holds unit ids."""
        self.unit_ids: dict[str | int, int] = {}  # word/special key, or a bigram's bucket
        self.unit_buckets: list[Sequence[int]] = [()]  # unit 0: an unused bigram (1 entry)
        self._unit_len: list[int] = [1]
        self._len_arr = np.zeros(0, dtype=np.float32)
        self._records.clear()
        self._pairs.clear()

    # -- tokens ---------------------------------------------------------------------------------
    def tokenize(self, text: str) -> list[tuple[str, str, str]]:
        """(kind, folded token, surface) triples. kinds: ``w`` word, ``s`` special, ``p`` punct."""
        out: list[tuple[str, str, str]] = []
        raw = self._raw
        for m in _TOKEN_RE.finditer(text):
            kind = m.lastgroup
            value = m.group()
            if kind == "word":
                got = raw.get(value)
                if got is None:
                    if len(raw) > _CACHE_MAX:
                        raw.clear()
                    got = raw[value] = [("w", tok, surf) for tok, surf in _word_tokens(value)]
                out.extend(got)
            elif kind == "tag":  # cached like words (a word never starts with "#")
                got = raw.get(value)
                if got is None:
                    if len(raw) > _CACHE_MAX:
                        raw.clear()
                    got = raw[value] = [("s", "#" + fold(value[1:]), value)] + [
                        ("w", tok, surf) for part in _CAMEL_RE.findall(value[1:])
                        for tok, surf in _word_tokens(part)]
                out.extend(got)
            elif kind == "url":
                out.append(("s", "<url>", value))
            elif kind == "mention":
                out.append(("s", "<user>", value))
            elif kind == "emo":
                out.append(("s", "<emo>" + value.lower().replace("-", ""), value))
            elif kind == "emoji":
                out.append(("s", value, value))
            else:
                p = "…" if value[0] in ".…" else "".join(sorted(set(value)))
                out.append(("p", p, value))
        return out

    # -- units ----------------------------------------------------------------------------------
    def _new_unit(self, key: str | int, buckets: Sequence[int]) -> int:
        got = len(self.unit_buckets)
        self.unit_ids[key] = got
        self.unit_buckets.append(buckets)
        self._unit_len.append(len(buckets))
        return got

    def _unit(self, key: str) -> int:
        got = self.unit_ids.get(key)
        if got is None:
            kind, body = key[0], key[2:]
            if kind in "wn":
                chars = self._chars.get(body)
                if chars is None:
                    if len(self._chars) > _CACHE_MAX:
                        self._chars.clear()
                    padded = f"<{body}>"
                    grams = set(map(padded.__getitem__, _gram_slices(len(padded))))
                    cache = self._grams
                    if len(cache) > _CACHE_MAX:
                        cache.clear()
                    out = list(map(cache.get, grams))
                    if None in out:
                        for i, g in enumerate(grams):
                            if out[i] is None:
                                out[i] = cache[g] = N_DENSE + _crc32(
                                    ("c:" + g).encode("utf-8")) % (DIM - N_DENSE)
                    chars = self._chars[body] = array("i", sorted(out))  # 4 bytes a bucket
                buckets: Sequence[int] = array("i", (bucket(key),)) + chars
            else:
                buckets = (bucket(key),)
            got = self._new_unit(key, buckets)
        return got

    def units(self, texts: Sequence[str], langs: Sequence[str | None] | None = None) -> Units:
        """Featurize a batch. ``langs`` picks the lexicon per text (None: all lexicons summed).

        Every new word and bigram bucket becomes a unit, so a long-running enricher sees its table
        grow with the vocabulary of what it reads; past ``max_units`` units the table starts
        afresh before the batch (``generation`` tells scorers to forget their unit scores), so
        memory stays bounded. The units of a batch stay valid until the next call."""
        if len(self.unit_buckets) > self.max_units:
            self._forget_units()
            self.generation += 1
        ids: list[int] = []
        offsets = [0]
        tok_offsets = [0]
        surfaces: list[str] = []
        dense = np.zeros((len(texts), N_DENSE), dtype=np.float32)
        lex_index = {lang: i for i, lang in enumerate(self._lex_names)}
        n_all = len(self._lex_names)
        records = self._records
        pairs = self._pairs
        unit_ids = self.unit_ids
        for d, text in enumerate(texts):
            tokens = self.tokenize(text or "")
            lang = langs[d] if langs is not None else None
            li = lex_index.get(lang, n_all) if lang is not None else n_all
            neg_left = 0
            prev = "<s>"
            prev_key = 1 << _SHIFT  # previous unit id -1: start of post
            pos_sum = neg_sum = 0.0
            caps = exclaim = quest = 0
            gid = len(surfaces)
            surfaces.extend([x[2] for x in tokens])
            for kind, t, surf in tokens:
                if kind == "w":
                    rec = records.get(t)
                    if rec is None:
                        rec = self._record(t)
                    cur_id = rec[0]
                    if neg_left:
                        if rec[1] < 0:
                            rec[1] = self._unit("n:" + t)
                        ids.append(rec[1])
                    else:
                        ids.append(cur_id)
                    val = rec[3][li]
                    if val:
                        if neg_left:
                            val = -0.74 * val
                        if val > 0:
                            pos_sum += val
                        else:
                            neg_sum -= val
                    if len(surf) > 2 and surf.isupper():
                        caps += 1
                    if rec[2]:
                        neg_left = _NEG_SCOPE
                    elif neg_left:
                        neg_left -= 1
                else:
                    key = "s:" + t
                    cur_id = unit_ids.get(key)
                    if cur_id is None:
                        cur_id = self._unit(key)
                    ids.append(cur_id)
                    if kind == "p":
                        neg_left = 0
                        exclaim += "!" in t
                        quest += "?" in t
                uid = pairs.get(prev_key + cur_id)
                ids.append(uid if uid is not None else self._pair(prev_key + cur_id, prev, t))
                gid += 1
                prev = t
                prev_key = (cur_id + 2) << _SHIFT
            if tokens:
                uid = pairs.get(prev_key + _END)
                ids.append(uid if uid is not None else self._pair(prev_key + _END, prev, "</s>"))
            offsets.append(len(ids))
            tok_offsets.append(gid)
            dense[d] = (pos_sum / 4.0, neg_sum / 4.0, min(caps, 5) / 5.0, min(exclaim, 3) / 3.0,
                        min(quest, 3) / 3.0, min(len(tokens), 60) / 60.0)
        ids_arr = np.asarray(ids, dtype=np.int64)
        off_arr = np.asarray(offsets, dtype=np.int64)
        tok_off = np.asarray(tok_offsets, dtype=np.int64)
        # entries per token: its unigram and the bigram ending on it, + the end bigram of a post
        per_tok = np.full(len(surfaces), 2, dtype=np.int64)
        per_tok[tok_off[1:][tok_off[1:] > tok_off[:-1]] - 1] += 1
        tok = np.repeat(np.arange(len(surfaces), dtype=np.int64), per_tok)
        if len(self._len_arr) < len(self._unit_len):
            self._len_arr = np.asarray(self._unit_len, dtype=np.float32)
        counts = np.zeros(len(texts), dtype=np.float32)
        nonempty = off_arr[1:] > off_arr[:-1]
        if len(ids_arr):
            counts[nonempty] = np.add.reduceat(self._len_arr[ids_arr], off_arr[:-1][nonempty])
        scale = np.where(counts > 0, 1.0 / np.sqrt(np.maximum(counts, 1.0)), 0.0)
        return Units(ids_arr, off_arr, tok, tok_off, surfaces, dense, scale.astype(np.float32))

    def _record(self, t: str) -> list:  # [unit id, negated unit id or -1, negator?, valences]
        """Per folded word: unit ids (plain, negated), negator flag, valence per lexicon + sum."""
        if len(self._records) > _CACHE_MAX:
            self._records.clear()
        vals = [self.lexicons[name].get(t, 0.0) for name in self._lex_names]
        rec = [self._unit("w:" + t), -1, t in NEGATORS, tuple(vals) + (sum(vals),)]
        self._records[t] = rec
        return rec

    def _pair(self, key: int, a: str, b: str) -> int:
        """Bigram unit, cached by ``key`` (the two tokens' unit ids; see ``_SHIFT``).

        A bigram has one bucket, so bigrams sharing a bucket share one unit; at run time a bigram
        whose bucket no model uses is the shared empty unit."""
        if len(self._pairs) > _CACHE_MAX:
            self._pairs.clear()
        col = N_DENSE + _crc32(f"b:{a} {b}".encode()) % (DIM - N_DENSE)  # bucket(name), inlined
        if self.keep is not None and col not in self.keep:
            uid = self._null
        else:
            got = self.unit_ids.get(col)
            uid = got if got is not None else self._new_unit(col, (col,))
        self._pairs[key] = uid
        return uid

    def unit_matrix(self, start: int = 0, stop: int | None = None) -> sparse.csr_matrix:
        """Units × DIM 0/1 matrix of the units ``start:stop`` (each row: the unit's buckets)."""
        rows = self.unit_buckets[start:stop]
        indptr = np.zeros(len(rows) + 1, dtype=np.int64)
        indptr[1:] = np.cumsum(np.asarray(self._unit_len[start:stop], dtype=np.int64)
                               if start > 0 else [len(r) for r in rows])
        indices = np.fromiter(chain.from_iterable(rows), dtype=np.int32, count=int(indptr[-1]))
        return sparse.csr_matrix((np.ones(len(indices), dtype=np.float32), indices, indptr),
                                 shape=(len(rows), DIM))

    def matrix(self, u: Units) -> sparse.csr_matrix:
        """The n × DIM sparse matrix of a batch (training and evaluation)."""
        n = len(u)
        doc = np.repeat(np.arange(n), np.diff(u.offsets))
        counts = sparse.csr_matrix((np.ones(len(u.ids), dtype=np.float32), (doc, u.ids)),
                                   shape=(n, len(self.unit_buckets)))
        X = sparse.diags(u.scale) @ (counts @ self.unit_matrix())
        dense = sparse.csr_matrix(u.dense, shape=(n, N_DENSE))
        dense.resize((n, DIM))
        return sparse.csr_matrix(X + dense, dtype=np.float32)


@lru_cache(maxsize=256)
def _gram_slices(length: int) -> tuple[slice, ...]:
    """Slices of the character 2- to 5-grams of a padded word of ``length`` characters."""
    return tuple(slice(i, i + n) for n in (2, 3, 4, 5) for i in range(length - n + 1))


def _word_tokens(value: str) -> list[tuple[str, str]]:
    """Folded tokens of one written word (elisions, ``n't``, elongations)."""
    if "'" not in value and "’" not in value:  # the common case, same result as below
        f = _ELONG_RE.sub(r"\1\1", fold(value))
        return [(f, value)] if f else []
    parts = _APOS_RE.split(value)
    folded = [_ELONG_RE.sub(r"\1\1", fold(p)) for p in parts]
    if len(parts) == 2 and folded[1] == "t" and folded[0].endswith("n"):  # don't, can't
        base = folded[0][:-1] or folded[0]
        return [({"ca": "can", "wo": "will"}.get(base, base), parts[0]), ("not", value)]
    out: list[tuple[str, str]] = []
    last = len(parts) - 1
    for i, (surf, f) in enumerate(zip(parts, folded, strict=True)):
        if i < last and f in _FR_ELISIONS:
            continue
        if i < last and f == "n":
            out.append(("ne", surf + "'"))
        elif f:
            out.append((f, surf))
    return out
