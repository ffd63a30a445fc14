"""The USAF Web Posting Response Assessment (v2, 2009) as explicit, testable code.

Q1 positive or balanced? → concurrence. Else Q2 troll (author dedicated to bashing)? →
monitor_only. Q3 rager (rant / rage / joke / satire)? → monitor_only. Q4 misguided (wrong facts)?
→ fix_the_facts, with the correction and sources. Q5 unhappy customer? → restoration.
Otherwise → let_stand. Each answer carries its evidence; a person confirms.

Fact matching (Q4): the post and each known false claim are reduced to folded content words
(``perron.text.words``, stop words and words of 2 letters or fewer dropped). The post matches a
false claim when at least ``fact_overlap`` (default 0.6) of the claim's content words occur in
the post and at least 2 do. Only posts the claim model flags (or that match strongly: overlap
≥ 0.8) are checked.

A post also answers Q4 *yes* when it **contradicts a fact** of the sheet: it speaks of the same
thing (the same overlap rule, numbers left out) and either flips its polarity (one of the two is
negated — ne, pas, jamais, aucun, sans, not, no, never, n't… — and the other is not) or gives
other numbers (the fact says 2024, the post says 2026, none in common). The evidence names the
fact, which is the correction.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from functools import lru_cache

from perron.enrich.types import Prediction
from perron.text import words

_STOP = frozenset("""le la les un une des du de et ou est sont a au aux en dans sur pour par pas
ne que qui quoi ce cet cette ces il elle ils elles on nous vous je tu se sa son ses leur leurs
plus tres avec sans mais donc car the an and or is are was were be to of in on at for by with
not this that these those it its they we you he she his her their our has have had will would
can could do does did from as""".split())

QUESTIONS = {
    "fr": ("Q1 positif ou équilibré ?", "Q2 troll ?", "Q3 coup de gueule ou satire ?",
           "Q4 faits erronés ?", "Q5 client mécontent ?"),
    "en": ("Q1 positive or balanced?", "Q2 troll?", "Q3 rager (rant, rage, joke, satire)?",
           "Q4 misguided (wrong facts)?", "Q5 unhappy customer?"),
}
_YES = {"fr": ("oui", "non"), "en": ("yes", "no")}
_WORDS = {
    "fr": {"negative": "négatif", "positive": "positif", "neutral": "neutre", "complaint":
           "plainte", "offensive": "injurieux", "hate": "haine", "irony": "ironie",
           "claim": "affirmation", "hostile": "messages hostiles", "false": "fausse affirmation",
           "contradicts": "contredit le fait", "negation": "négation inversée"},
    "en": {"negative": "negative", "positive": "positive", "neutral": "neutral", "complaint":
           "complaint", "offensive": "offensive", "hate": "hate", "irony": "irony",
           "claim": "claim", "hostile": "hostile posts", "false": "false claim",
           "contradicts": "contradicts the fact", "negation": "negation flipped"},
}


@dataclass
class TriageSettings:
    """Per-workspace thresholds."""

    positive_min: float = 0.5  # Q1: positive probability to count as positive
    balanced_max_negative: float = 0.35  # Q1: neutral post with negative prob under this
    troll_min_hostile: int = 5  # Q2: hostile posts by the author in the workspace...
    troll_min_share: float = 0.5  # ...and hostile share of the author's posts
    hostile_min: float = 0.5  # offensive or hate probability that makes a post hostile
    rage_negative_min: float = 0.7  # Q3: strongly negative AND offensive ≥ hostile_min
    irony_min: float = 0.6  # Q3: joke / satire
    claim_min: float = 0.5  # Q4: posts worth checking against the fact sheet
    fact_overlap: float = 0.6
    complaint_min: float = 0.5  # Q5


@dataclass
class FalseClaim:
    claim: str
    correction: str
    sources: list[str] = field(default_factory=list)


@dataclass
class FactSheet:
    facts: list[str] = field(default_factory=list)
    false_claims: list[FalseClaim] = field(default_factory=list)


@dataclass
class Context:
    author_hostile_posts: int = 0
    author_total_posts: int = 0
    author_followers: int | None = None
    facts: FactSheet = field(default_factory=FactSheet)
    settings: TriageSettings = field(default_factory=TriageSettings)


@dataclass
class Step:
    question: str
    answer: bool
    evidence: str


@dataclass
class TriageResult:
    outcome: str
    path: list[Step]
    priority: float
    reasons: list[str]
    lang: str = "fr"

    def summary(self) -> str:
        yes, no = _YES.get(self.lang, _YES["en"])
        parts = []
        for s in self.path:
            text = f"{s.question.split()[0]} {yes if s.answer else no}"
            if s.evidence:
                text += f" ({s.evidence})"
            parts.append(text)
        return " → ".join(parts) + f" ⇒ {self.outcome}"


def content_words(text: str) -> set[str]:
    return {w for w in words(text) if len(w) > 2 and w not in _STOP}


def _overlap(statement: AbstractSet[str], post: AbstractSet[str], min_overlap: float) -> float | None:
    """The share of ``statement``'s content words found in ``post`` when the post speaks of the
    same thing (at least ``min_overlap`` of them, and at least 2), else None."""
    if not statement:
        return None
    hit = len(statement & post)
    share = hit / len(statement)
    return share if hit >= min(2, len(statement)) and share >= min_overlap else None


_NEGATION = frozenset("ne pas jamais aucun aucune rien sans non not no never none nobody nothing "
                      "without".split())


def _negated(tokens: list[str]) -> bool:
    return any(t in _NEGATION or (t == "t" and i and tokens[i - 1].endswith("n"))  # isn't, don't
               for i, t in enumerate(tokens))


def _numbers(tokens: list[str]) -> set[str]:
    return {t for t in tokens if any(c.isdigit() for c in t)}


@lru_cache(maxsize=4096)
def _entry(text: str) -> tuple[frozenset[str], frozenset[str], bool]:
    """A fact-sheet entry, read once (every triaged post is checked against the whole sheet):
    its content words, its numbers, and whether it is negated."""
    tokens = words(text)
    return frozenset(content_words(text)), frozenset(_numbers(tokens)), _negated(tokens)


def match_false_claim(text: str, sheet: FactSheet, min_overlap: float) -> tuple[FalseClaim, float] | None:
    post = content_words(text)
    best: tuple[FalseClaim, float] | None = None
    for fc in sheet.false_claims:
        share = _overlap(_entry(fc.claim)[0], post, min_overlap)
        if share is not None and (best is None or share > best[1]):
            best = (fc, share)
    return best


def match_contradicted_fact(text: str, sheet: FactSheet,
                            min_overlap: float) -> tuple[str, float, str] | None:
    """``(fact, overlap, why)`` for the fact the post contradicts best, or None. See the module
    docstring for the rule; ``why`` is "negation" or "NUMBERS ≠ NUMBERS"."""
    tokens = words(text)
    nums = _numbers(tokens)
    negated = _negated(tokens)
    post = content_words(text) - nums
    best: tuple[str, float, str] | None = None
    for fact in sheet.facts:
        fwords, fnums, fnegated = _entry(fact)
        share = _overlap(fwords - fnums, post, min_overlap)
        if share is None or (best is not None and share <= best[1]):
            continue
        if negated != fnegated:
            best = (fact, share, "negation")
        elif fnums and nums and not fnums & nums:
            best = (fact, share, f"{', '.join(sorted(nums))} ≠ {', '.join(sorted(fnums))}")
    return best


def _p(signals: Mapping[str, Prediction], task: str, label: str) -> float:
    pred = signals.get(task)
    return float(pred.scores.get(label, 0.0)) if pred is not None else 0.0


def triage(signals: Mapping[str, Prediction], text: str, context: Context | None = None,
           lang: str = "fr") -> TriageResult:
    """Walk the decision tree. ``signals``: task → Prediction (sentiment, offensive, hate…)."""
    ctx = context or Context()
    st = ctx.settings
    lang = lang if lang in QUESTIONS else "en"
    q = QUESTIONS[lang]
    w = _WORDS[lang]
    path: list[Step] = []
    pos = _p(signals, "sentiment", "positive")
    neg = _p(signals, "sentiment", "negative")
    neu = _p(signals, "sentiment", "neutral")
    off = _p(signals, "offensive", "offensive")
    hate = _p(signals, "hate", "hate")
    hostile = max(off, hate)
    irony = _p(signals, "irony", "irony")
    complaint = _p(signals, "complaint", "complaint")
    claim = _p(signals, "claim", "claim")
    reach = math.log10(1 + ctx.author_followers) if ctx.author_followers else 0.0

    def done(outcome: str, urgency: float, reasons: list[str]) -> TriageResult:
        priority = 0.0 if outcome in ("concurrence", "let_stand") else min(
            100.0, 100.0 * (0.55 * urgency + 0.45 * min(reach / 6.0, 1.0)))
        if outcome == "monitor_only":
            priority *= 0.5
        return TriageResult(outcome, path, round(priority, 1), reasons, lang)

    # A post repeating a known false claim is neither balanced nor factual: it cannot pass Q1.
    found = None
    if ctx.facts.false_claims:
        found = match_false_claim(text, ctx.facts, st.fact_overlap)
        if found is not None and claim < st.claim_min and found[1] < 0.8:
            found = None
    contradicted = None
    if found is None and ctx.facts.facts:
        contradicted = match_contradicted_fact(text, ctx.facts, st.fact_overlap)
        if contradicted is not None and claim < st.claim_min and contradicted[1] < 0.8:
            contradicted = None
    # Q1
    balanced = (neu >= max(pos, neg) and neg < st.balanced_max_negative
                and hostile < st.hostile_min)
    q1 = (((pos >= st.positive_min and hostile < st.hostile_min) or balanced)
          and found is None and contradicted is None)
    top = "positive" if pos >= max(neg, neu) else ("negative" if neg >= neu else "neutral")
    evidence = f"{w[top]} {max(pos, neg, neu):.2f}"
    if found is not None:
        evidence += f"; {w['false']}"
    elif contradicted is not None:
        evidence += f"; {w['contradicts']}"
    path.append(Step(q[0], q1, evidence))
    if q1:
        return done("concurrence", 0.0, [path[-1].evidence])
    # Q2
    total = ctx.author_total_posts
    share = ctx.author_hostile_posts / total if total else 0.0
    q2 = ctx.author_hostile_posts >= st.troll_min_hostile and share >= st.troll_min_share
    path.append(Step(q[1], q2, f"{ctx.author_hostile_posts}/{total} {w['hostile']}"
                     if total else ""))
    if q2:
        return done("monitor_only", hostile, [path[-1].evidence])
    # Q3
    rage = (hate >= st.hostile_min) or (off >= st.hostile_min and neg >= st.rage_negative_min)
    joke = irony >= st.irony_min
    ev = []
    if rage:
        ev.append(f"{w['offensive'] if off >= hate else w['hate']} {hostile:.2f}")
    if joke:
        ev.append(f"{w['irony']} {irony:.2f}")
    path.append(Step(q[2], rage or joke, ", ".join(ev)))
    if rage or joke:
        return done("monitor_only", hostile, ev)
    # Q4
    if found is not None:
        fc, share = found
        src = (" ; " + ", ".join(fc.sources)) if fc.sources else ""
        evidence = f"{w['false']} « {fc.claim} » {share:.0%} → {fc.correction}{src}"
        path.append(Step(q[3], True, evidence))
        return done("fix_the_facts", max(claim, 0.6), [evidence])
    if contradicted is not None:
        fact, share, why = contradicted
        why = w["negation"] if why == "negation" else why
        evidence = f"{w['contradicts']} « {fact} » {share:.0%} ({why})"
        path.append(Step(q[3], True, evidence))
        return done("fix_the_facts", max(claim, 0.6), [evidence])
    path.append(Step(q[3], False, f"{w['claim']} {claim:.2f}" if claim >= st.claim_min else ""))
    # Q5
    q5 = complaint >= st.complaint_min
    path.append(Step(q[4], q5, f"{w['complaint']} {complaint:.2f}" if q5 else ""))
    if q5:
        return done("restoration", max(complaint, neg), [path[-1].evidence])
    return done("let_stand", 0.0, [])


def as_prediction(result: TriageResult) -> Prediction:
    return Prediction(result.outcome, round(result.priority / 100.0, 4),
                      {result.outcome: round(result.priority / 100.0, 4)},
                      [result.summary()], "perron-triage/usaf-v2", "1.0.0")
