"""Delivering alerts by webhook and e-mail, with retries and back-off.

A webhook is a ``POST`` of the alert as JSON (the bytes of :func:`workbench.signing.canonical`) with:

- ``X-Fapiao-Timestamp``: Unix seconds when it was sent;
- ``X-Fapiao-Signature``: ``sha256=`` + hex HMAC-SHA256 of ``"<timestamp>." + body`` keyed by the user's
  webhook secret (``fapiao alerts subscribe --webhook URL`` shows it once);
- ``X-Fapiao-Signature-Ed25519``: ``<key fingerprint>:<base64 signature>`` of the body by the installation key,
  checkable with the public key from ``fapiao keys export`` and no shared secret;
- ``X-Fapiao-Alert`` / ``X-Fapiao-Delivery``: ids, so a receiver can drop a repeat.

Any 2xx answer counts as delivered. A refused connection, a timeout (``FAPIAO_ALERT_TIMEOUT``: a receiver that
hangs), or another status is retried after ``FAPIAO_ALERT_BACKOFF`` seconds, doubling each time, until
``FAPIAO_ALERT_RETRIES`` attempts; then the delivery is ``failed``. Every attempt's outcome is audited.
"""

from __future__ import annotations

import hashlib
import hmac
import smtplib
import ssl
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from email.message import EmailMessage

from graph.core import settings, vocab
from graph.core.notes import Note
from graph.store import Store, Writer
from workbench import audit, signing
from workbench.alerts import config
from workbench.alerts.model import ACTOR, DELIVERY_KIND, KIND, Alert, Delivery

Sender = Callable[[Alert, Delivery], None]


class DeliveryFailed(Exception):
    """One attempt did not go through (the reason is kept on the delivery and in the audit trail)."""


def sign_webhook(body: bytes, secret: str, timestamp: int) -> str:
    """``sha256=<hex>``: HMAC-SHA256 of ``"<timestamp>." + body`` keyed by ``secret``.

    Examples
    --------
    >>> sign_webhook(b'{}', "whsec_x", 1700000000)[:7]
    'sha256='
    """
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def check_webhook(body: bytes, headers: Mapping[str, str], secret: str, *, now: float | None = None,
                  tolerance: float = 300) -> str | None:
    """For receivers: None when the HMAC signature is right and the timestamp within ``tolerance`` seconds,
    else why not. ``headers`` are matched case-insensitively."""
    h = {k.lower(): v for k, v in headers.items()}
    try:
        ts = int(h.get("x-fapiao-timestamp", ""))
    except ValueError:
        return "no timestamp"
    if abs((time.time() if now is None else now) - ts) > tolerance:
        return "timestamp too old or in the future (replay?)"
    if not hmac.compare_digest(h.get("x-fapiao-signature", ""), sign_webhook(body, secret, ts)):
        return "signature does not match"
    return None


def _timeout() -> float:
    return settings.get_float("FAPIAO_ALERT_TIMEOUT")


def send_webhook(alert: Alert, delivery: Delivery, secret: str) -> None:
    """POST the signed alert to ``delivery.target``; raises DeliveryFailed unless it answers 2xx in time."""
    payload = alert.payload()
    body = signing.canonical(payload)
    ts = int(time.time())
    sig = signing.sign(payload)
    req = urllib.request.Request(delivery.target, data=body, method="POST", headers={
        "Content-Type": "application/json; charset=utf-8", "User-Agent": "fapiao-alerts/1",
        "X-Fapiao-Timestamp": str(ts), "X-Fapiao-Signature": sign_webhook(body, secret, ts),
        "X-Fapiao-Signature-Ed25519": f"{sig['key']}:{sig['sig']}",
        "X-Fapiao-Alert": alert.alert_id, "X-Fapiao-Delivery": delivery.delivery_id})
    try:
        with urllib.request.urlopen(req, timeout=_timeout()) as resp:
            status = resp.status
    except urllib.error.HTTPError as e:
        raise DeliveryFailed(f"HTTP {e.code}") from e
    except (urllib.error.URLError, OSError) as e:   # refused, unreachable, timed out
        reason = getattr(e, "reason", e)
        raise DeliveryFailed(f"{type(reason).__name__}: {reason}"[:300]) from e
    if not 200 <= status < 300:
        raise DeliveryFailed(f"HTTP {status}")


def email_message(alert: Alert, to: str) -> EmailMessage:
    """The alert as a plain-text e-mail, Chinese first."""
    msg = EmailMessage()
    msg["Subject"] = f"[发票工作台提醒] {alert.title}"[:250]
    msg["From"] = settings.get("FAPIAO_SMTP_FROM")
    msg["To"] = to
    msg["Message-ID"] = f"<{alert.alert_id}@fapiao>"
    zh, en = vocab.ALERT_RULES.get(alert.rule, (alert.rule, alert.rule))
    msg.set_content(
        f"{alert.title}\n\n{alert.detail}\n\n规则 / rule: {zh} / {en}\n对象 / subject: {alert.subject}\n"
        f"时间 / at: {alert.created_at:%Y-%m-%d %H:%M:%S %Z}\n提醒编号 / alert: {alert.alert_id}\n\n"
        "请登录工作台查看提醒箱。/ Open the workbench inbox for details.\n")
    return msg


def send_email(alert: Alert, delivery: Delivery) -> None:
    """Send the alert through FAPIAO_SMTP_HOST; raises DeliveryFailed when it is not set or refuses."""
    host = settings.get("FAPIAO_SMTP_HOST")
    if not host:
        raise DeliveryFailed("e-mail alerts are off: FAPIAO_SMTP_HOST is not set")
    try:
        with smtplib.SMTP(host, settings.get_int("FAPIAO_SMTP_PORT"), timeout=_timeout()) as smtp:
            if settings.get_bool("FAPIAO_SMTP_STARTTLS"):
                smtp.starttls(context=ssl.create_default_context())
            if settings.get("FAPIAO_SMTP_USER"):
                smtp.login(settings.get("FAPIAO_SMTP_USER"), settings.get("FAPIAO_SMTP_PASSWORD"))
            smtp.send_message(email_message(alert, delivery.target))
    except (smtplib.SMTPException, OSError) as e:
        raise DeliveryFailed(f"SMTP: {type(e).__name__}: {e}"[:300]) from e


@dataclass(frozen=True)
class Report:
    """One delivery pass: how many went out, will be retried, gave up; ``waiting`` are not yet due."""

    sent: int = 0
    retry: int = 0
    failed: int = 0
    waiting: int = 0


def backoff(attempts: int) -> timedelta:
    """Wait before the next attempt after ``attempts`` failed ones: FAPIAO_ALERT_BACKOFF × 2^(attempts−1)."""
    return timedelta(seconds=settings.get_float("FAPIAO_ALERT_BACKOFF") * 2 ** max(0, attempts - 1))


def pending(store: Store) -> list[Delivery]:
    """Deliveries not yet sent nor given up, oldest first."""
    out = [Delivery.from_record(r) for r in store.records(DELIVERY_KIND) if r.get("state") == "pending"]
    return sorted(out, key=lambda d: (d.next_at or datetime.min.replace(tzinfo=audit.TZ), d.delivery_id))


def deliver_due(store: Store, now: datetime | None = None, *, actor: str = ACTOR,
                senders: Mapping[str, Sender] | None = None) -> Report:
    """Attempt every pending delivery whose time has come; store the outcomes with their audit events.

    ``senders`` replaces the channel functions (tests); by default e-mail goes through SMTP and webhooks
    through :func:`send_webhook` with the user's current secret.
    """
    now = now or audit.now()
    subs = config.subscriptions(store)

    def webhook(alert: Alert, d: Delivery) -> None:
        sub = subs.get(d.user)
        if sub is None or not sub.webhook_secret:
            raise DeliveryFailed("the user has no webhook secret any more (webhook switched off)")
        send_webhook(alert, d, sub.webhook_secret)

    chosen: Mapping[str, Sender] = senders or {"email": send_email, "webhook": webhook}
    retries = settings.get_int("FAPIAO_ALERT_RETRIES")
    done: list[Delivery] = []
    entries: list[tuple[str, str, str, str, str]] = []
    waiting = 0
    for d in pending(store):
        if d.next_at is not None and d.next_at > now:
            waiting += 1
            continue
        rec = store.record(KIND, d.alert_id)
        if rec is None:
            continue
        alert = Alert.from_record(rec)
        try:
            chosen[d.channel](alert, d)
        except DeliveryFailed as e:
            tries = d.attempts + 1
            state = "failed" if tries >= retries else "pending"
            new = replace(d, attempts=tries, state=state, last_error=str(e),
                          next_at=None if state == "failed" else audit.now() + backoff(tries))
            action = "alert_deliver_failed" if state == "failed" else "alert_deliver_retry"
            detail = Note("delivery_attempt", {"channel": d.channel, "target": d.target[:150], "attempt": tries,
                                               "of": retries, "error": str(e)[:250]}).to_json()
        else:
            new = replace(d, attempts=d.attempts + 1, state="sent", sent_at=audit.now(), next_at=None, last_error="")
            action = "alert_deliver"
            detail = Note("delivery_attempt", {"channel": d.channel, "target": d.target[:150],
                                               "attempt": new.attempts}).to_json()
        done.append(new)
        entries.append((actor, "system", action, f"alert:{d.alert_id}", detail))   # bounded: a coded note
    if done:
        def write(w: Writer) -> None:
            for d in done:
                w.put_record(DELIVERY_KIND, d.delivery_id, d.to_record())

        audit.record_many(store, entries, change=write)
    return Report(sent=sum(d.state == "sent" for d in done), retry=sum(d.state == "pending" for d in done),
                  failed=sum(d.state == "failed" for d in done), waiting=waiting)


def deliveries(store: Store, alert_id: str | None = None) -> list[Delivery]:
    """Every delivery (of one alert when given)."""
    out = [Delivery.from_record(r) for r in store.records(DELIVERY_KIND)]
    return [d for d in out if alert_id is None or d.alert_id == alert_id]
