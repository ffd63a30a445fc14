"""perron: open-source, self-hosted, French-first social listening."""

__version__ = "0.1.0"
