"""Official metrics of each task, as the datasets define them (used by ``perron eval``).

TweetEval: sentiment = macro-averaged recall; offensive and hate = macro-F1; irony = F1 of the
irony class. Everything else: macro-F1. Gold labels may be names (``positive``) or the datasets'
integers (sentiment 0/1/2 = negative/neutral/positive; binary tasks 1 = the positive class).
"""

from __future__ import annotations

from collections.abc import Sequence

from sklearn.metrics import f1_score, recall_score

from .enrich.types import LABELS
from .errors import ConfigError

METRIC = {"sentiment": "macro-recall", "irony": "f1-irony"}


def metric_name(task: str) -> str:
    return METRIC.get(task, "macro-f1")


def normalize_gold(task: str, value: str) -> str:
    value = value.strip()
    labels = LABELS.get(task)
    if labels is None:
        return value
    if value in labels:
        return value
    if value.isdigit():
        k = int(value)
        if task == "sentiment" and k in (0, 1, 2):
            return labels[k]
        if len(labels) == 2 and k in (0, 1):
            return labels[0] if k == 1 else labels[1]
    aliases = {"non_irony": "not_irony", "not-offensive": "not_offensive", "none": "let_stand"}
    if aliases.get(value) in labels:
        return aliases[value]
    raise ConfigError(f"{value!r} is not a {task} label",
                      hint="labels: " + ", ".join(labels) + " (or the dataset's integers)")


def score(task: str, gold: Sequence[str], predicted: Sequence[str]) -> float:
    """The task's official metric, in percent."""
    if len(gold) != len(predicted):
        raise ConfigError(f"{len(gold)} gold labels for {len(predicted)} texts",
                          hint="the text and label files must have one line per item")
    if task == "sentiment":
        value = recall_score(gold, predicted, average="macro", labels=list(LABELS[task]),
                             zero_division=0)
    elif task == "irony":
        value = f1_score(gold, predicted, pos_label="irony", average="binary", zero_division=0)
    else:
        labels = sorted(set(gold) | set(predicted))
        value = f1_score(gold, predicted, average="macro", labels=labels, zero_division=0)
    return round(100 * float(value), 2)
