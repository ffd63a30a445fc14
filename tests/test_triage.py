"""The USAF triage tree: one test per branch, plus wording, evidence and priority."""

from __future__ import annotations

from perron.enrich.triage import (
    Context,
    FactSheet,
    FalseClaim,
    TriageSettings,
    match_contradicted_fact,
    match_false_claim,
    triage,
)
from perron.enrich.types import Prediction


def sig(neg: float = 0.1, neu: float = 0.2, pos: float = 0.7, off: float = 0.1,
        hate: float = 0.05, irony: float = 0.1, complaint: float = 0.1,
        claim: float = 0.1) -> dict[str, Prediction]:
    def binary(task: str, p: float) -> Prediction:
        yes, no = {"offensive": ("offensive", "not_offensive"), "hate": ("hate", "not_hate"),
                   "irony": ("irony", "not_irony"), "complaint": ("complaint", "not_complaint"),
                   "claim": ("claim", "not_claim")}[task]
        label = yes if p >= 0.5 else no
        return Prediction(label, max(p, 1 - p), {yes: p, no: 1 - p}, [], "test", "0")

    sent = {"negative": neg, "neutral": neu, "positive": pos}
    top = max(sent, key=lambda k: sent[k])
    return {"sentiment": Prediction(top, sent[top], sent, [], "test", "0"),
            "offensive": binary("offensive", off), "hate": binary("hate", hate),
            "irony": binary("irony", irony), "complaint": binary("complaint", complaint),
            "claim": binary("claim", claim)}


NEG = {"neg": 0.82, "neu": 0.12, "pos": 0.06}


def test_q1_positive_is_concurrence() -> None:
    r = triage(sig(), "Merci pour votre aide, service au top !")
    assert r.outcome == "concurrence"
    assert [s.answer for s in r.path] == [True]
    assert r.priority == 0.0
    assert r.summary() == "Q1 oui (positif 0.70) ⇒ concurrence"


def test_q1_balanced_neutral_is_concurrence() -> None:
    r = triage(sig(neg=0.2, neu=0.7, pos=0.1), "La réunion publique aura lieu jeudi à 18 h.")
    assert r.outcome == "concurrence"
    assert "neutre 0.70" in r.path[0].evidence


def test_q2_troll_is_monitor_only() -> None:
    ctx = Context(author_hostile_posts=12, author_total_posts=15)
    r = triage(sig(**NEG), "Encore vous, toujours aussi mauvais", ctx)
    assert r.outcome == "monitor_only"
    assert [s.answer for s in r.path] == [False, True]
    assert "12/15" in r.path[1].evidence


def test_q2_not_troll_when_share_is_low() -> None:
    ctx = Context(author_hostile_posts=6, author_total_posts=100)
    r = triage(sig(**NEG), "Encore vous, toujours aussi mauvais", ctx)
    assert r.path[1].answer is False


def test_q3_rage_is_monitor_only() -> None:
    r = triage(sig(neg=0.9, neu=0.05, pos=0.05, off=0.85), "Bande d'incapables, honte à vous")
    assert r.outcome == "monitor_only"
    assert [s.answer for s in r.path] == [False, False, True]
    assert "injurieux 0.85" in r.path[2].evidence


def test_q3_satire_is_monitor_only() -> None:
    r = triage(sig(neg=0.6, neu=0.3, pos=0.1, irony=0.8), "Génial, encore une panne, j'adore")
    assert r.outcome == "monitor_only"
    assert "ironie 0.80" in r.path[2].evidence


def test_q4_false_claim_is_fix_the_facts_with_correction_and_sources() -> None:
    sheet = FactSheet(false_claims=[FalseClaim(
        claim="L'usine de Lyon va fermer en janvier",
        correction="l'usine de Lyon reste ouverte, 40 embauches prévues",
        sources=["https://example.org/communique"])])
    ctx = Context(facts=sheet, author_followers=20_000)
    r = triage(sig(neg=0.6, neu=0.35, pos=0.05, claim=0.8),
               "Apparemment l'usine de Lyon va fermer en janvier, c'est fini", ctx)
    assert r.outcome == "fix_the_facts"
    assert [s.answer for s in r.path] == [False, False, False, True]
    assert "reste ouverte" in r.path[3].evidence
    assert "https://example.org/communique" in r.path[3].evidence
    assert r.priority > 0


def test_q4_unrelated_claim_is_not_matched() -> None:
    sheet = FactSheet(false_claims=[FalseClaim("L'usine de Lyon va fermer en janvier", "non")])
    assert match_false_claim("Le concert de Lyon est annulé", sheet, 0.6) is None
    assert match_false_claim("l'usine de LYON fermer janvier", sheet, 0.6) is not None


def test_q4_post_contradicting_a_fact_by_negation_is_fix_the_facts() -> None:
    sheet = FactSheet(facts=["Le vaccin contre la grippe est gratuit pour les plus de 65 ans"])
    ctx = Context(facts=sheet)
    r = triage(sig(neg=0.5, neu=0.45, pos=0.05, claim=0.7),
               "Le vaccin contre la grippe n'est pas gratuit, même après 65 ans !", ctx)
    assert r.outcome == "fix_the_facts"
    assert "contredit le fait" in r.path[3].evidence and "négation" in r.path[3].evidence
    assert "gratuit pour les plus de 65 ans" in r.path[3].evidence
    # repeating the fact is agreement, not a contradiction
    same = triage(sig(neg=0.5, neu=0.45, pos=0.05, claim=0.7),
                  "Rappel : le vaccin contre la grippe est gratuit dès 65 ans", ctx)
    assert same.outcome != "fix_the_facts"


def test_q4_other_numbers_contradict_a_fact_english_negation_too() -> None:
    sheet = FactSheet(facts=["The Lyon factory closes in 2030", "Refunds are paid within 14 days"])
    hit = match_contradicted_fact("Heard the Lyon factory closes in 2026??", sheet, 0.6)
    assert hit is not None and hit[0] == "The Lyon factory closes in 2030"
    assert hit[2] == "2026 ≠ 2030"
    neg = match_contradicted_fact("Refunds aren't paid within days, forget it", sheet, 0.6)
    assert neg is not None and neg[2] == "negation"
    assert match_contradicted_fact("The Lyon factory closes in 2030", sheet, 0.6) is None
    assert match_contradicted_fact("Paris concert in 2026", sheet, 0.6) is None
    # a known false claim wins over a contradicted fact, and the claim model gates weak overlaps
    r = triage(sig(neg=0.5, neu=0.45, pos=0.05, claim=0.1), "Lyon closes 2026", Context(facts=sheet))
    assert r.outcome != "fix_the_facts"


def test_q5_complaint_is_restoration() -> None:
    r = triage(sig(neg=0.8, neu=0.15, pos=0.05, complaint=0.91),
               "Je suis fâché, ma commande n'est jamais arrivée")
    assert r.outcome == "restoration"
    assert r.summary() == ("Q1 non (négatif 0.80) → Q2 non → Q3 non → Q4 non → "
                           "Q5 oui (plainte 0.91) ⇒ restoration")


def test_otherwise_let_stand() -> None:
    r = triage(sig(neg=0.55, neu=0.4, pos=0.05), "Bof, pas convaincu par la nouvelle affiche")
    assert r.outcome == "let_stand"
    assert [s.answer for s in r.path] == [False, False, False, False, False]
    assert r.priority == 0.0


def test_english_wording_and_settings() -> None:
    r = triage(sig(neg=0.8, neu=0.15, pos=0.05, complaint=0.6), "My order never arrived",
               Context(settings=TriageSettings(complaint_min=0.7)), lang="en")
    assert r.outcome == "let_stand"
    assert r.path[0].question == "Q1 positive or balanced?"
    assert r.summary().startswith("Q1 no (negative 0.80)")


def test_priority_grows_with_reach() -> None:
    s = sig(neg=0.8, neu=0.15, pos=0.05, complaint=0.9)
    small = triage(s, "x", Context(author_followers=50))
    big = triage(s, "x", Context(author_followers=2_000_000))
    assert 0 < small.priority < big.priority <= 100
