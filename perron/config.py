"""One settings registry. Resolution order: command-line flag → ``PERRON_*`` environment
variable → config file (``./perron.toml``, or the file named by ``PERRON_CONFIG``) → default."""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import ConfigError


@dataclass(frozen=True)
class Setting:
    name: str
    default: Any
    help: str

    @property
    def env(self) -> str:
        return "PERRON_" + self.name.upper().replace(".", "_")


SETTINGS: tuple[Setting, ...] = (
    Setting("db", "perron.db", "The store: a SQLite file path or a postgresql:// URL."),
    Setting("alerts.smtp_host", "localhost", "SMTP server for alert e-mails."),
    Setting("alerts.smtp_port", 25, "SMTP port."),
    Setting("alerts.smtp_user", None, "SMTP user (none: no login)."),
    Setting("alerts.smtp_password", None, "SMTP password (prefer the environment variable)."),
    Setting("alerts.smtp_from", "perron@localhost", "Sender address of alert e-mails."),
    Setting("alerts.smtp_starttls", False, "Upgrade the SMTP connection with STARTTLS."),
    Setting("alerts.smtp_ssl", False, "Connect to the SMTP server over TLS (port 465)."),
    Setting("alerts.timeout", 10.0, "Seconds before an e-mail or webhook delivery times out."),
    Setting("alerts.max_attempts", 4, "Delivery attempts before an alert delivery is `failed`."),
    Setting("alerts.backoff", 1.0, "First retry delay in seconds (doubles, with jitter)."),
    Setting("places.max_bbox_km", 50.0,
            "A place bounding box counts for a site only if its diagonal is under this."),
    Setting("mastodon.token", None, "Mastodon access token (Preferences → Development → New "
            "application, scope read). Needed for user and list streams, and by instances that "
            "close public streams to anonymous clients."),
    Setting("reddit.token", None, "Reddit OAuth bearer token (https://www.reddit.com/prefs/apps, "
            "'script' app). Optional: without it perron reads the public JSON at a lower rate."),
    Setting("reddit.user_agent", "perron/0.1 (open-source social listening)",
            "User-Agent sent to Reddit; Reddit asks for a unique, descriptive one."),
    Setting("jetstream.endpoint", "wss://jetstream2.us-east.bsky.network",
            "Default Jetstream server for jetstream sources added without --endpoint."),
    Setting("import.workers", -1, "Processes that normalize and index while the main one "
            "writes: -1 = CPUs − 1 (at most 3) for files of 8 MB or more, 0 = none, N = N."),
    Setting("listen.batch_size", 500, "Events per write transaction while listening."),
    Setting("listen.flush_interval", 1.0, "Seconds before a partial batch is written anyway."),
    Setting("listen.queue_size", 10000, "Events buffered between the network and the store."),
)

_BY_NAME = {s.name: s for s in SETTINGS}


def config_file() -> Path | None:
    explicit = os.environ.get("PERRON_CONFIG")
    if explicit:
        p = Path(explicit)
        if not p.exists():
            raise ConfigError(f"PERRON_CONFIG names {p}, which does not exist",
                              hint="fix the path or unset PERRON_CONFIG")
        return p
    p = Path("perron.toml")
    return p if p.exists() else None


def _from_file(name: str) -> Any:
    path = config_file()
    if path is None:
        return None
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}", hint="fix the file") from None
    node: Any = data
    for part in name.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def get(name: str, flag: Any = None) -> Any:
    """The value of setting ``name``: ``flag`` if given, else env, else config file, else default."""
    setting = _BY_NAME.get(name)
    if setting is None:
        raise ConfigError(f"unknown setting {name!r}",
                          hint="known settings: " + ", ".join(sorted(_BY_NAME)))
    if flag is not None:
        return flag
    if setting.env in os.environ:
        raw = os.environ[setting.env]
        if isinstance(setting.default, bool):
            return raw.strip().lower() in ("1", "true", "yes", "on", "oui")
        return type(setting.default)(raw) if setting.default is not None else raw
    value = _from_file(name)
    return setting.default if value is None else value
