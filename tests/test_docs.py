"""Docs generated from code must be current, and every setting documented."""

from perron.config import SETTINGS
from perron.docgen import ROOT, cli_reference, render_readme


def test_readme_settings_table_is_current() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert render_readme(readme) == readme, "run `python -m perron.docgen`"
    for s in SETTINGS:
        assert f"`{s.name}`" in readme and s.help


def test_cli_reference_is_current() -> None:
    assert (ROOT / "docs" / "cli.md").read_text(encoding="utf-8") == cli_reference() + "\n", \
        "run `python -m perron.docgen`"
