"""Model backends: the shipped linear models (default) or a local Hugging Face model directory.

``backend_for(task, lang, override)`` returns the backend to use: ``override`` is a directory
(e.g. from the setting ``PERRON_MODEL_SENTIMENT=/path/to/dir``). A directory holding
``<task>-<lang>.npz`` is loaded as a linear model; any other directory is treated as a Hugging Face
sequence-classification model (``config.json`` + weights), loaded with ``local_files_only=True``.
transformers and torch are optional and imported only then.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from perron.enrich.features import Featurizer
from perron.enrich.linear import LinearModel, ModelSet, load_model, probabilities
from perron.enrich.types import LABELS, Prediction, format_reason
from perron.errors import PerronError

MODELS = Path(__file__).parent / "models"
LEARNED_TASKS = ("sentiment", "offensive", "hate", "irony", "complaint", "claim")


class Backend(Protocol):
    task: str

    def predict(self, texts: Sequence[str]) -> list[Prediction]: ...


def load_lexicons(directory: Path = MODELS) -> dict[str, dict[str, float]]:
    import json

    out: dict[str, dict[str, float]] = {}
    for lang in ("en", "fr"):
        path = directory / f"lexicon-{lang}.json"
        if path.is_file():
            out[lang] = json.loads(path.read_text(encoding="utf-8"))
    return out


def predictions_from(model: LinearModel, ms: ModelSet, texts: Sequence[str],
                     lang: str) -> list[Prediction]:
    u = ms.featurizer.units(texts, [lang] * len(texts))
    raw, per_entry = ms.raw(u)
    col0 = ms.col0[model.name]
    probs = probabilities(model, raw[:, col0:col0 + model.columns])
    best = probs.argmax(axis=1)
    if model.columns == 1:
        cols = np.full(len(texts), col0)
        sign = np.where(best == 0, 1.0, -1.0)
    else:
        cols = col0 + best
        sign = np.ones(len(texts))
    reasons = ms.reasons(u, per_entry, cols, sign)
    name = f"perron-linear/{model.name}"
    out = []
    for i in range(len(texts)):
        scores = {lab: round(float(p), 4) for lab, p in zip(model.labels, probs[i], strict=True)}
        label = model.labels[int(best[i])]
        out.append(Prediction(label, scores[label], scores,
                              [format_reason(w, v) for w, v in reasons[i]], name, model.version))
    return out


class LinearBackend:
    """One shipped (or user-trained) linear model ``<task>-<lang>`` from ``directory``."""

    def __init__(self, task: str, lang: str, directory: Path | str = MODELS) -> None:
        directory = Path(directory)
        self.task = task
        self.lang = lang
        self.model = load_model(directory, f"{task}-{lang}")
        self.models = ModelSet(Featurizer(load_lexicons(directory) or load_lexicons()),
                               [self.model])

    def predict(self, texts: Sequence[str]) -> list[Prediction]:
        return predictions_from(self.model, self.models, texts, self.lang)


class TransformersBackend:
    """A local Hugging Face sequence-classification model directory the user already has."""

    def __init__(self, model_dir: Path | str, task: str = "sentiment",
                 batch_size: int = 32) -> None:
        self.task = task
        self.model_dir = Path(model_dir)
        self.batch_size = batch_size
        if not (self.model_dir / "config.json").is_file():
            raise PerronError(
                f"{self.model_dir} is not a Hugging Face model directory (no config.json)",
                hint="point the setting at a folder saved with save_pretrained(), holding "
                     "config.json, the weights and the tokenizer files")
        try:
            import transformers
        except ImportError as exc:
            raise PerronError(
                "a transformers model was configured but the transformers package is not "
                "installed",
                hint="pip install transformers torch, or unset the PERRON_MODEL_* setting to use "
                     "the built-in linear models") from exc
        try:
            self._tok = transformers.AutoTokenizer.from_pretrained(
                str(self.model_dir), local_files_only=True)
            self._model = transformers.AutoModelForSequenceClassification.from_pretrained(
                str(self.model_dir), local_files_only=True)
        except (OSError, ValueError) as exc:
            raise PerronError(f"cannot load the model in {self.model_dir}: {exc}",
                              hint="check that the folder is a complete local model") from exc
        self._model.eval()
        id2label = getattr(self._model.config, "id2label", {}) or {}
        self.labels = [_map_label(str(id2label.get(i, i)), task)
                       for i in range(self._model.config.num_labels)]

    def predict(self, texts: Sequence[str]) -> list[Prediction]:
        import torch

        out: list[Prediction] = []
        name = f"transformers/{self.model_dir.name}"
        for start in range(0, len(texts), self.batch_size):
            chunk = list(texts[start:start + self.batch_size])
            enc = self._tok(chunk, padding=True, truncation=True, max_length=128,
                            return_tensors="pt")
            with torch.no_grad():
                logits: Any = self._model(**enc).logits
            probs = torch.softmax(logits, dim=-1).numpy()
            for row in probs:
                scores: dict[str, float] = {}
                for lab, p in zip(self.labels, row.tolist(), strict=True):
                    scores[lab] = round(scores.get(lab, 0.0) + p, 4)
                label = max(scores, key=lambda k: scores[k])
                out.append(Prediction(label, scores[label], scores,
                                      ["transformer model: no word-level reasons"], name, "local"))
        return out


def _map_label(raw: str, task: str) -> str:
    """Map common Hugging Face label names onto perron's labels (else keep the raw name)."""
    low = raw.lower()
    wanted = LABELS.get(task, ())
    aliases = {"neg": "negative", "pos": "positive", "neu": "neutral", "label_0": wanted[0]
               if task == "sentiment" else low}
    low = aliases.get(low, low)
    if task == "sentiment" and low in ("label_1", "label_2"):
        return {"label_1": "neutral", "label_2": "positive"}[low]
    for lab in wanted:
        if low == lab or low.replace("-", "_") == lab or low.replace("non_", "not_") == lab:
            return lab
    return low


def backend_for(task: str, lang: str, override: str | None = None) -> Backend:
    """The backend for ``task`` in ``lang`` ("fr" or "en"); ``override`` is a model directory."""
    if task not in LEARNED_TASKS:
        raise PerronError(f"no model backend for task {task!r}",
                          hint=f"tasks with models: {', '.join(LEARNED_TASKS)}")
    if lang not in ("fr", "en"):
        raise PerronError(f"no model for language {lang!r}", hint="use 'fr' or 'en'")
    if override:
        path = Path(override).expanduser()
        if not path.is_dir():
            raise PerronError(f"model directory {path} does not exist",
                              hint="set PERRON_MODEL_<TASK> to an existing local folder")
        if (path / f"{task}-{lang}.npz").is_file():
            return LinearBackend(task, lang, path)
        return TransformersBackend(path, task)
    return _shipped(task, lang)


@lru_cache(maxsize=32)
def _shipped(task: str, lang: str) -> LinearBackend:
    return LinearBackend(task, lang)
