"""The command line, run in process with click's runner on a real SQLite store."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from perron.cli import main

from .synth import write_pages


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("PERRON_DB", str(tmp_path / "cli.db"))
    runner = CliRunner()

    def invoke(*args: str, code: int = 0) -> str:
        result = runner.invoke(main, list(args), catch_exceptions=False)
        assert result.exit_code == code, result.output
        return result.output

    return invoke


def test_import_search_stats_export(run, tmp_path: Path) -> None:
    f = write_pages(tmp_path / "p.jsonl", pages=3, broken_every=3)
    out = run("import", "--no-progress", str(f))
    assert "3 records read, 200 posts imported, 0 already present, 1 quarantined" in out
    out = run("import", "--no-progress", "--json", str(f))
    summary = json.loads(out.splitlines()[0])
    assert (summary["imported"], summary["present"], summary["quarantined"]) == (0, 200, 1)

    lines = run("search", "--json", "lang:fr").splitlines()
    rows = [json.loads(x) for x in lines]
    assert rows and all({"id", "source", "author_handle", "created_at", "text", "url"} <= r.keys()
                        for r in rows)
    assert len(rows) > 3
    assert len(run("search", "--json", "--limit", "3", "lang:fr").splitlines()) == 3
    table = run("search", "-n", "2", "retard")
    assert len(table.strip().splitlines()) == 3  # two rows + "(2 shown)"
    parsed = list(csv.DictReader(io.StringIO(run("search", "--csv", "lang:fr"))))
    assert len(parsed) == len(rows)

    stats = json.loads(run("stats", "--json"))
    assert stats["totals"]["posts"] == 200 and stats["source"] == {"twitter": 200}

    q = [json.loads(x) for x in run("quarantine", "list", "--json").splitlines()]
    assert q[0]["location"] == "line 3" and q[0]["format"] == "twitter-v2"
    assert "JSON" in q[0]["reason"] and q[0]["raw"].startswith('{"data"')

    out_csv = tmp_path / "out.csv"
    run("export", "--format", "csv", "-o", str(out_csv))
    exported = list(csv.DictReader(open(out_csv, encoding="utf-8")))
    assert len(exported) == 200 and exported[0]["author.username"].startswith("user")
    assert exported[0]["perron.id"] == "twitter:" + exported[0]["id"]
    out_pq = tmp_path / "out.parquet"
    run("export", "--format", "parquet", "-o", str(out_pq), "-q", "lang:fr")
    assert pq.read_table(out_pq).num_rows == len(rows)
    out_jsonl = tmp_path / "out.jsonl"
    run("export", "--format", "jsonl", "-o", str(out_jsonl))
    first = json.loads(out_jsonl.read_text().splitlines()[0])
    assert first["source"] == "twitter" and "raw" not in first


def test_monitor_commands(run, tmp_path: Path) -> None:
    run("import", "--no-progress", str(write_pages(tmp_path / "p.jsonl", pages=2)))
    out = run("monitor", "add", "trains", "train OR #grève")
    assert "stored posts match" in out
    listed = [json.loads(x) for x in run("monitor", "list", "--json").splitlines()]
    assert listed[0]["name"] == "trains" and listed[0]["posts"] > 0
    assert "trains: train OR #grève" in run("monitor", "show", "trains")
    run("monitor", "add", "trains", "train", code=4)
    run("monitor", "add", "--replace", "trains", "train")
    run("monitor", "remove", "trains")
    out = run("monitor", "remove", "trains", code=5)
    assert "no monitor named 'trains'" in out and "perron monitor list" in out


def test_query_errors_point_at_the_column(run, tmp_path: Path) -> None:
    run("import", "--no-progress", str(write_pages(tmp_path / "p.jsonl", pages=1)))
    out = run("search", "(grève OR train", code=2)
    assert "error:" in out and "^" in out and "hint:" in out


def test_missing_store_is_a_clear_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["search", "x", "--db", str(tmp_path / "none.db")])
    assert result.exit_code == 2
    assert "no perron store" in result.output and "perron import" in result.output


def test_every_command_has_help() -> None:
    runner = CliRunner()
    for args in (["--help"], ["import", "--help"], ["search", "--help"], ["quarantine", "--help"],
                 ["monitor", "add", "--help"], ["export", "--help"], ["stats", "--help"]):
        result = runner.invoke(main, args)
        assert result.exit_code == 0 and "Usage:" in result.output
