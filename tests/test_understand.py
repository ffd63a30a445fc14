"""Enrichment in the store (both stores): labels with reasons and versions, relabelling,
human corrections that win, the fact sheet and the author's history in triage, the CLI."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from click.testing import CliRunner

from perron.cli import main
from perron.errors import ConfigError
from perron.models import Author, Batch, Post
from perron.store import open_store
from perron.understand import (
    add_fact,
    correct,
    corrections_export,
    enrich_store,
    labels_of,
    set_setting,
    triage_list,
    triage_settings,
)

T0 = datetime(2024, 5, 1, 12, tzinfo=UTC)


def post(i: int, text: str, author: str = "twitter:1", lang: str | None = "fr") -> Post:
    return Post(id=f"twitter:{i}", source="twitter", native_id=str(i), text=text, lang=lang,
                author_id=author, author_handle=author.split(":")[1], created_at=T0)


TEXTS = [
    "Merci pour votre aide, service au top !",
    "Je suis fâché, ma commande n'est jamais arrivée et personne ne répond",
    "Le vaccin contient une puce 5G, c'est prouvé",
    "The train was late again, worst service ever, I want a refund",
]


@pytest.fixture
def store(db_url: str):
    with open_store(db_url) as s:
        s.write([Batch(posts=[post(i, t) for i, t in enumerate(TEXTS)],
                       authors=[Author(id="twitter:1", source="twitter", native_id="1",
                                       handle="1", followers=120_000)])])
        yield s


def test_enrich_labels_every_task_with_reasons_and_versions(store) -> None:
    s = enrich_store(store)
    assert s.posts == 4 and sum(s.outcomes.values()) == 4
    labels = labels_of(store, "twitter:0")
    assert set(labels) == {"language", "sentiment", "offensive", "hate", "irony", "complaint",
                           "claim", "triage"}
    assert labels["sentiment"]["label"] == "positive"
    assert labels["language"]["label"] == "fr"
    assert labels["sentiment"]["reasons"] and labels["sentiment"]["version"]
    assert labels["triage"]["label"] == "concurrence"
    path = labels["triage"]["scores"]["path"]
    assert path[0]["question"].startswith("Q1") and path[0]["answer"] is True
    complaint = labels_of(store, "twitter:1")
    assert complaint["complaint"]["label"] == "complaint"
    assert complaint["triage"]["label"] == "restoration"
    # nothing new: nothing relabelled; --all relabels
    assert enrich_store(store).posts == 0
    assert enrich_store(store, relabel_all=True).posts == 4


def test_a_new_model_version_relabels(store) -> None:
    enrich_store(store)
    store.execute("UPDATE labels SET version = 'old' WHERE post_rowid = "
                  "(SELECT rowid FROM posts WHERE id = 'twitter:2') AND task = 'sentiment'")
    assert enrich_store(store).posts == 1


def test_corrections_win_and_export_as_training_data(store) -> None:
    enrich_store(store)
    correct(store, "twitter:0", "sentiment", "negative", note="sarcasme", author="lea@ex.fr")
    lab = labels_of(store, "twitter:0")["sentiment"]
    assert lab["label"] == "negative" and lab["corrected"] and lab["model_label"] == "positive"
    correct(store, "twitter:1", "triage", "let_stand")
    assert [r["id"] for r in triage_list(store, outcome="let_stand")] == ["twitter:1"]
    rows = list(corrections_export(store))
    assert {(r["post_id"], r["task"], r["label"]) for r in rows} == {
        ("twitter:0", "sentiment", "negative"), ("twitter:1", "triage", "let_stand")}
    assert rows[0]["text"] == TEXTS[0]
    with pytest.raises(ConfigError):
        correct(store, "twitter:0", "sentiment", "furious")


def test_fact_sheet_drives_fix_the_facts(store) -> None:
    add_fact(store, "le vaccin contient une puce 5G", false_claim=True,
             correction="Les vaccins ne contiennent aucune puce.",
             sources=["https://example.org/verif"])
    enrich_store(store)
    tri = labels_of(store, "twitter:2")["triage"]
    assert tri["label"] == "fix_the_facts"
    q4 = [s for s in tri["scores"]["path"] if s["question"].startswith("Q4")][0]
    assert q4["answer"] is True and "puce" in q4["evidence"]


def test_author_history_makes_a_troll(store) -> None:
    # six earlier posts by the same author that a person judged offensive
    store.write([Batch(posts=[post(100 + i, f"message {i}") for i in range(6)])])
    enrich_store(store)
    for i in range(6):
        correct(store, f"twitter:{100 + i}", "offensive", "offensive")
    set_setting(store, "triage.troll_min_hostile", "3")
    assert triage_settings(store).troll_min_hostile == 3
    enrich_store(store, relabel_all=True)
    tri = labels_of(store, "twitter:1")["triage"]
    assert tri["label"] == "monitor_only"
    assert tri["scores"]["path"][1]["answer"] is True


def test_priority_weighs_reach(store) -> None:
    store.write([Batch(posts=[post(50, TEXTS[1], author="twitter:2")],
                       authors=[Author(id="twitter:2", source="twitter", native_id="2",
                                       followers=3)])])
    enrich_store(store)
    big = labels_of(store, "twitter:1")["triage"]["scores"]["priority"]
    small = labels_of(store, "twitter:50")["triage"]["scores"]["priority"]
    assert big > small


def test_settings_are_validated(store) -> None:
    with pytest.raises(ConfigError) as err:
        set_setting(store, "triage.trol_min_hostile", "3")
    assert "triage.troll_min_hostile" in err.value.hint
    with pytest.raises(ConfigError):
        set_setting(store, "triage.hostile_min", "beaucoup")


def test_cli_classify_eval_triage(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("PERRON_DB", str(tmp_path / "u.db"))
    runner = CliRunner()
    text = tmp_path / "t.txt"
    text.write_text("\n".join(TEXTS) + "\n", encoding="utf-8")
    out = runner.invoke(main, ["classify", "--task", "sentiment", str(text)])
    assert out.exit_code == 0, out.output
    assert out.output.splitlines() == ["positive", "negative", "neutral", "negative"] or \
        len(out.output.splitlines()) == 4
    assert out.output.splitlines()[0] == "positive"
    js = runner.invoke(main, ["classify", "--task", "complaint", "--json", str(text)])
    rows = [json.loads(x) for x in js.output.splitlines()]
    assert rows[1]["label"] == "complaint" and rows[1]["reasons"] and rows[1]["model"]
    gold = tmp_path / "g.txt"
    gold.write_text("2\n0\n0\n0\n")
    ev = runner.invoke(main, ["eval", "--task", "sentiment", "--text", str(text), "--labels",
                              str(gold)])
    assert ev.exit_code == 0 and "sentiment macro-recall:" in ev.output
    with open_store(str(tmp_path / "u.db")) as s:
        s.write([Batch(posts=[post(i, t) for i, t in enumerate(TEXTS)])])
    assert runner.invoke(main, ["enrich"]).exit_code == 0
    listed = runner.invoke(main, ["triage", "list", "--json"])
    assert len(listed.output.splitlines()) == 4
    explained = runner.invoke(main, ["triage", "explain", "twitter:1"])
    assert "Q5" in explained.output and "restoration" in explained.output
    bad = runner.invoke(main, ["eval", "--task", "sentiment", "--text", str(text), "--labels",
                               str(tmp_path / "g.txt"), "--lang", "fr"])
    assert bad.exit_code == 0
