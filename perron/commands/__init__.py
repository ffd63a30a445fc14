"""Command-line command groups that live in their own modules (registered by perron.cli)."""
