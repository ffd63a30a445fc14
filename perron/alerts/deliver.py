"""Delivering alerts: e-mail (SMTP) and webhooks (JSON POST), with bounded retries and a log.

Every attempt sequence ends in one ``deliveries`` row: channel, recipient (webhook URLs are
redacted: they are secrets), status ``sent`` or ``failed``, attempts, last error, sent time.
Retries use exponential backoff (``backoff``, ``2·backoff``, ``4·backoff``…) up to
``max_attempts``; a webhook answering 4xx (other than 408/429) is not retried: it will not get
better. The alert itself is in the store before any delivery starts, so a dead channel never
loses an alert.
"""

from __future__ import annotations

import os
import smtplib
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any
from urllib.parse import urlsplit

from .. import config
from ..store import Store
from . import render
from .records import StoredAlert, log_delivery
from .rules import Channel

RETRY_STATUSES = {408, 425, 429, 500, 502, 503, 504}


def _setting(name: str, flag: Any, default: Any) -> Any:
    """flag → PERRON_<NAME> → perron.toml (when the setting is registered) → default."""
    if flag is not None:
        return flag
    if any(s.name == name for s in config.SETTINGS):
        value = config.get(name)
        return default if value is None else value
    env = "PERRON_" + name.upper().replace(".", "_")
    return os.environ.get(env, default)


def _bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on", "oui")
    return bool(value)


@dataclass
class DeliverySettings:
    """SMTP and retry settings. Resolved from ``PERRON_ALERTS_SMTP_HOST`` …, see :meth:`resolve`."""

    smtp_host: str = "localhost"
    smtp_port: int = 25
    smtp_user: str | None = None
    smtp_password: str | None = None
    smtp_from: str = "perron@localhost"
    smtp_starttls: bool = False
    smtp_ssl: bool = False
    timeout: float = 10.0
    max_attempts: int = 4
    backoff: float = 1.0
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False)

    @classmethod
    def resolve(cls, **flags: Any) -> DeliverySettings:
        d = cls()
        return cls(
            smtp_host=str(_setting("alerts.smtp_host", flags.get("smtp_host"), d.smtp_host)),
            smtp_port=int(_setting("alerts.smtp_port", flags.get("smtp_port"), d.smtp_port)),
            smtp_user=_setting("alerts.smtp_user", flags.get("smtp_user"), None),
            smtp_password=_setting("alerts.smtp_password", flags.get("smtp_password"), None),
            smtp_from=str(_setting("alerts.smtp_from", flags.get("smtp_from"), d.smtp_from)),
            smtp_starttls=_bool(_setting("alerts.smtp_starttls", flags.get("smtp_starttls"),
                                         False)),
            smtp_ssl=_bool(_setting("alerts.smtp_ssl", flags.get("smtp_ssl"), False)),
            timeout=float(_setting("alerts.timeout", flags.get("timeout"), d.timeout)),
            max_attempts=int(_setting("alerts.max_attempts", flags.get("max_attempts"),
                                      d.max_attempts)),
            backoff=float(_setting("alerts.backoff", flags.get("backoff"), d.backoff)),
        )


class DeliveryFailed(Exception):
    def __init__(self, message: str, retry: bool = True) -> None:
        super().__init__(message)
        self.retry = retry


def redact(url: str) -> str:
    """``https://hooks.slack.com/services/T0/B0/XYZ`` → ``https://hooks.slack.com/services/…``."""
    parts = urlsplit(url)
    first = parts.path.strip("/").split("/")[0] if parts.path.strip("/") else ""
    return f"{parts.scheme}://{parts.netloc}/" + (f"{first}/…" if first else "…")


def email_message(alert: StoredAlert, to: str, sender: str, lang: str) -> EmailMessage:
    msg = EmailMessage()
    msg["Subject"] = "[perron] " + alert.title
    msg["From"] = sender
    msg["To"] = to
    msg["Date"] = formatdate(localtime=False)
    msg["Message-ID"] = make_msgid(domain="perron.local")
    msg["X-Perron-Alert"] = str(alert.id)
    msg["X-Perron-Rule"] = alert.rule
    if alert.is_test:
        msg["X-Perron-Test"] = "yes"
    msg.set_content(render.text(alert, lang))
    msg.add_alternative(render.html_body(alert, lang), subtype="html")
    return msg


def send_email(alert: StoredAlert, to: str, s: DeliverySettings, lang: str) -> None:
    msg = email_message(alert, to, s.smtp_from, lang)
    try:
        if s.smtp_ssl:
            client: smtplib.SMTP = smtplib.SMTP_SSL(s.smtp_host, s.smtp_port, timeout=s.timeout,
                                                    context=ssl.create_default_context())
        else:
            client = smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=s.timeout)
        with client:
            if s.smtp_starttls and not s.smtp_ssl:
                client.starttls(context=ssl.create_default_context())
            if s.smtp_user:
                client.login(s.smtp_user, s.smtp_password or "")
            refused = client.send_message(msg)
        if refused:
            raise DeliveryFailed(f"recipient refused: {refused}", retry=False)
    except smtplib.SMTPRecipientsRefused as exc:
        raise DeliveryFailed(f"recipient refused: {exc.recipients}", retry=False) from exc
    except smtplib.SMTPAuthenticationError as exc:
        raise DeliveryFailed(f"SMTP authentication failed: {exc.smtp_code}", retry=False) from exc
    except (smtplib.SMTPException, OSError) as exc:
        raise DeliveryFailed(f"SMTP error: {exc}") from exc


def send_webhook(alert: StoredAlert, url: str, s: DeliverySettings, lang: str) -> None:
    import httpx

    payload = render.webhook_payload(alert, lang)
    try:
        with httpx.Client(timeout=s.timeout, follow_redirects=False) as client:
            r = client.post(url, json=payload, headers={"User-Agent": "perron-alerts"})
    except httpx.HTTPError as exc:
        raise DeliveryFailed(f"{type(exc).__name__}: {exc}") from exc
    if r.status_code >= 300:
        raise DeliveryFailed(f"HTTP {r.status_code}: {r.text[:200]}",
                             retry=r.status_code in RETRY_STATUSES or r.status_code >= 500)


@dataclass
class DeliveryResult:
    channel: str
    recipient: str
    status: str
    attempts: int
    last_error: str | None
    log_id: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"channel": self.channel, "recipient": self.recipient, "status": self.status,
                "attempts": self.attempts, "last_error": self.last_error}


def deliver(store: Store, alert: StoredAlert, channel: Channel, settings: DeliverySettings,
            lang: str = "fr") -> DeliveryResult:
    """Send ``alert`` through ``channel`` with retries, and log the outcome."""
    if channel.type == "email":
        recipient = channel.to or ""

        def send() -> None:
            send_email(alert, recipient, settings, lang)
    else:
        recipient = redact(channel.url or "")

        def send() -> None:
            send_webhook(alert, channel.url or "", settings, lang)
    attempts, error, sent_at = 0, None, None
    while attempts < max(1, settings.max_attempts):
        if attempts:
            settings.sleep(settings.backoff * 2 ** (attempts - 1))
        attempts += 1
        try:
            send()
        except DeliveryFailed as exc:
            error = str(exc)
            if not exc.retry:
                break
            continue
        error, sent_at = None, datetime.now(UTC)
        break
    status = "sent" if sent_at else "failed"
    log_id = log_delivery(store, alert.id, channel.type, recipient, status, attempts, error,
                          sent_at)
    return DeliveryResult(channel.type, recipient, status, attempts, error, log_id)
