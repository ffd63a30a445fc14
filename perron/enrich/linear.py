"""The shipped linear models: file format, loading, and batch scoring with reasons.

A model is two files in ``perron/enrich/models/``: ``<task>-<lang>.npz`` (arrays ``idx`` the
hashed feature buckets it uses, ``w`` float16 weights ``(len(idx), columns)``, ``b`` float32
intercepts) and ``<task>-<lang>.json`` (name, version, labels, training data, licences, metrics).
Binary models have one column: the logit of ``labels[0]``. Three-class models have one
one-vs-rest column per label, normalised to probabilities like scikit-learn's liblinear.

:class:`ModelSet` scores many models at once over one shared featurization: each unit's
(word, bigram…) contribution to every column is computed once and cached, so a batch costs a
gather and a sum per post.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from scipy import sparse

from perron.enrich.features import DIM, Featurizer, Units
from perron.errors import PerronError

_ZIP_DATE = (2020, 1, 1, 0, 0, 0)


@dataclass
class LinearModel:
    name: str
    task: str
    lang: str
    labels: tuple[str, ...]
    idx: np.ndarray  # int64 buckets
    w: np.ndarray  # float32 (len(idx), columns)
    b: np.ndarray  # float32 (columns,)
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def version(self) -> str:
        return str(self.meta.get("version", "0"))

    @property
    def columns(self) -> int:
        return int(self.w.shape[1])


def save_model(directory: Path, model: LinearModel) -> None:
    """Write ``<name>.npz`` and ``<name>.json`` byte-for-byte deterministically."""
    directory.mkdir(parents=True, exist_ok=True)
    order = np.argsort(model.idx, kind="stable")
    arrays = {"idx": model.idx[order].astype(np.uint32), "w": model.w[order].astype(np.float16),
              "b": model.b.astype(np.float32)}
    with zipfile.ZipFile(directory / f"{model.name}.npz", "w", zipfile.ZIP_DEFLATED) as zf:
        for key, arr in arrays.items():
            buf = io.BytesIO()
            np.lib.format.write_array(buf, np.ascontiguousarray(arr), allow_pickle=False)
            info = zipfile.ZipInfo(f"{key}.npy", date_time=_ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, buf.getvalue())
    meta = dict(model.meta, name=model.name, task=model.task, lang=model.lang,
                labels=list(model.labels))
    (directory / f"{model.name}.json").write_text(
        json.dumps(meta, indent=2, ensure_ascii=False, sort_keys=True) + "\n", encoding="utf-8")


def load_model(directory: Path, name: str) -> LinearModel:
    npz_path = directory / f"{name}.npz"
    json_path = directory / f"{name}.json"
    if not npz_path.is_file() or not json_path.is_file():
        raise PerronError(f"model {name!r} not found in {directory}",
                          hint="expected <task>-<lang>.npz and .json written by "
                               "train/train_models.py")
    meta = json.loads(json_path.read_text(encoding="utf-8"))
    with np.load(npz_path, allow_pickle=False) as z:
        idx = z["idx"].astype(np.int64)
        w = z["w"].astype(np.float32)
        b = z["b"].astype(np.float32)
    return LinearModel(name, meta["task"], meta["lang"], tuple(meta["labels"]), idx, w, b, meta)


def probabilities(model: LinearModel, raw: np.ndarray) -> np.ndarray:
    """(n, len(labels)) probabilities from raw column scores."""
    if model.columns == 1:
        p = 1.0 / (1.0 + np.exp(-raw[:, 0]))
        return np.stack([p, 1.0 - p], axis=1)
    p = 1.0 / (1.0 + np.exp(-raw))
    return p / p.sum(axis=1, keepdims=True)


class ModelSet:
    """Several linear models scored together over one :class:`Featurizer`."""

    def __init__(self, featurizer: Featurizer, models: Sequence[LinearModel]) -> None:
        self.featurizer = featurizer
        self.models = list(models)
        self.col0: dict[str, int] = {}
        rows: list[np.ndarray] = []
        cols: list[np.ndarray] = []
        vals: list[np.ndarray] = []
        start = 0
        for m in self.models:
            self.col0[m.name] = start
            r = np.repeat(m.idx, m.columns)
            c = np.tile(np.arange(m.columns) + start, len(m.idx))
            rows.append(r)
            cols.append(c)
            vals.append(m.w.reshape(-1))
            start += m.columns
        self.n_cols = start
        self.W = sparse.csr_matrix(
            (np.concatenate(vals) if vals else np.zeros(0, np.float32),
             (np.concatenate(rows) if rows else np.zeros(0, np.int64),
              np.concatenate(cols) if cols else np.zeros(0, np.int64))),
            shape=(DIM, max(self.n_cols, 1)), dtype=np.float32)
        if featurizer.keep is None and len(featurizer.unit_buckets) <= 1:
            featurizer.keep = set(np.unique(np.concatenate(rows)).tolist()) if rows else set()
        self.bias = np.concatenate([m.b for m in self.models]) if self.models else np.zeros(1)
        self.dense_w = self.W[: len(featurizer_dense()), :].toarray()
        self._V_buf = np.zeros((0, max(self.n_cols, 1)), dtype=np.float32)
        self._n_scored = 0
        self._generation = featurizer.generation
        self.V = self._V_buf

    def _grow(self) -> None:
        """Score the units the featurizer created since the last call (``V`` grows by doubling;
        after the featurizer started a fresh unit table, every unit is scored again)."""
        n = len(self.featurizer.unit_buckets)
        if self.featurizer.generation != self._generation:
            self._generation = self.featurizer.generation
            self._n_scored = 0
        have = self._n_scored
        if n <= have:
            return
        new = (self.featurizer.unit_matrix(have, n) @ self.W).toarray().astype(np.float32)
        if n > len(self._V_buf):
            buf = np.zeros((max(n, 2 * len(self._V_buf), 1024), self._V_buf.shape[1]),
                           dtype=np.float32)
            buf[:have] = self._V_buf[:have]
            self._V_buf = buf
        self._V_buf[have:n] = new
        self._n_scored = n
        self.V = self._V_buf[:n]

    def raw(self, u: Units) -> tuple[np.ndarray, np.ndarray]:
        """(n, n_cols) raw scores and the per-entry unit scores ``V[ids]`` (for reasons)."""
        self._grow()
        n = len(u)
        per_entry = self.V[u.ids]
        sums = np.zeros((n, self.V.shape[1]), dtype=np.float32)
        if len(u.ids):
            nonempty = u.offsets[1:] > u.offsets[:-1]
            red = np.add.reduceat(per_entry, u.offsets[:-1][nonempty], axis=0)
            sums[nonempty] = red
        scores = sums * u.scale[:, None] + u.dense @ self.dense_w + self.bias
        return scores, per_entry

    def reasons(self, u: Units, per_entry: np.ndarray, col_per_doc: np.ndarray,
                sign_per_doc: np.ndarray, top: int = 3) -> list[list[tuple[str, float]]]:
        """Top words per post pushing toward its label: column ``col_per_doc`` × ``sign``.

        A word's push is the sum over its unigram, char n-grams and the bigram ending on it.
        """
        return self.reasons_many(u, per_entry, np.asarray(col_per_doc)[None, :],
                                 np.asarray(sign_per_doc, dtype=np.float64)[None, :], top,
                                 formatted=False)[0]

    def reasons_many(self, u: Units, per_entry: np.ndarray, cols: np.ndarray, signs: np.ndarray,
                     top: int = 3, formatted: bool = True) -> list[list[list[Any]]]:
        """:meth:`reasons` for several tasks at once: ``cols``/``signs`` are (tasks, n).

        Returns ``[task][doc]`` lists of ``« word » (+v.v)`` strings (``formatted``) or
        ``(word, value)`` pairs. One gather, one sort and one flat loop over the few candidates
        serve every task.
        """
        n = len(u)
        n_task = cols.shape[0]
        n_tok = len(u.surfaces)
        if n_tok == 0 or n == 0:
            return [[[] for _ in range(n)] for _ in range(n_task)]
        entry_doc = np.repeat(np.arange(n), np.diff(u.offsets))
        contrib = (per_entry[np.arange(len(u.ids))[None, :], cols[:, entry_doc]]
                   * (u.scale[None, :] * signs)[:, entry_doc])
        keys = (u.tok[None, :] + (np.arange(n_task) * n_tok)[:, None]).ravel()
        tok_sum = np.bincount(keys, weights=contrib.ravel(), minlength=n_task * n_tok)
        cand = np.flatnonzero(tok_sum > 0.005)  # only words that push toward the label
        cand_task, cand_tok = np.divmod(cand, n_tok)
        cand_doc = cand_task * n + (np.searchsorted(u.tok_offsets, cand_tok, side="right") - 1)
        cand_val = tok_sum[cand]
        order = _by_doc_then_value(cand_doc, cand_val)
        cand_tok, cand_doc, cand_val = cand_tok[order], cand_doc[order], cand_val[order]
        first = np.searchsorted(cand_doc, np.arange(n_task * n))
        ok = np.arange(len(cand_doc)) - first[cand_doc] <= top  # at most top + 1 looked at
        cand_tok, cand_doc, cand_val = cand_tok[ok], cand_doc[ok], cand_val[ok]
        surfaces = u.surfaces
        flat: list[list[Any]] = [[] for _ in range(n_task * n)]
        prev = -1
        got: list[Any] = []
        last: str | None = None
        url = ("http", "www.")
        for t, d, v in zip(cand_tok.tolist(), cand_doc.tolist(), cand_val.tolist(), strict=True):
            if d != prev:
                prev = d
                got = flat[d]
                last = None
            elif len(got) == top:
                continue
            w = surfaces[t]
            if w == last or w.startswith(url):
                continue
            got.append(f"« {w} » ({v:+.1f})" if formatted else (w, v))
            last = w
        return [flat[k * n:(k + 1) * n] for k in range(n_task)]


def _by_doc_then_value(doc: np.ndarray, val: np.ndarray) -> np.ndarray:
    """``np.lexsort((-val, doc))``: by doc, then value descending, ties in index order.

    One float sort of ``doc·S − val`` (S > twice the largest |value|) is several times faster;
    its order is checked exactly against the definition and lexsort is the fallback.
    """
    if len(doc) < 2:
        return np.arange(len(doc))
    span = 2.0 * float(np.abs(val).max()) + 1.0
    order = np.argsort(doc * span - val, kind="stable")
    d, v = doc[order], val[order]
    same = d[1:] == d[:-1]
    ok = (d[1:] > d[:-1]) | (same & ((v[1:] < v[:-1]) | ((v[1:] == v[:-1])
                                                          & (order[1:] > order[:-1]))))
    return order if bool(ok.all()) else np.lexsort((-val, doc))


def featurizer_dense() -> tuple[str, ...]:
    from perron.enrich.features import DENSE

    return DENSE
