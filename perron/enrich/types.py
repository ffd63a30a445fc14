"""Shared result types and label sets of the enrichment layer."""

from __future__ import annotations

from dataclasses import dataclass, field

TASKS = ("language", "sentiment", "offensive", "hate", "irony", "complaint", "claim", "triage")
LABELS: dict[str, tuple[str, ...]] = {
    "sentiment": ("negative", "neutral", "positive"),
    "offensive": ("offensive", "not_offensive"),
    "hate": ("hate", "not_hate"),
    "irony": ("irony", "not_irony"),
    "complaint": ("complaint", "not_complaint"),
    "claim": ("claim", "not_claim"),
    "triage": ("concurrence", "monitor_only", "fix_the_facts", "restoration", "let_stand"),
}


@dataclass(slots=True)
class Prediction:
    label: str
    score: float
    scores: dict[str, float]
    reasons: list[str] = field(default_factory=list)
    model: str = ""
    version: str = ""


def format_reason(word: str, value: float) -> str:
    """``« nul » (+1.8)``: a word and how much it pushed toward the label (logit units)."""
    return f"« {word} » ({value:+.1f})"
