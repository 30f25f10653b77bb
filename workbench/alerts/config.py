"""Alert rules (supervisors) and per-user subscriptions: read, change, audit."""

from __future__ import annotations

import re
import secrets
from dataclasses import replace
from urllib.parse import urlsplit

from graph.core.errors import InvalidData, NotFound
from graph.core.notes import Note
from graph.store import Store
from workbench import audit
from workbench import users as accounts
from workbench.alerts.model import (
    DEFAULT_RULES,
    RULES,
    RULES_ID,
    RULES_KIND,
    SUBSCRIPTION_KIND,
    Rule,
    Subscription,
)
from workbench.auth import ROLES, User, require

_EMAIL_RE = re.compile(r"^[^@\s<>,;\"]{1,64}@[A-Za-z0-9.-]{1,190}\.[A-Za-z]{2,24}$|^[^@\s<>,;\"]{1,64}@localhost$")


def rules(store: Store) -> dict[str, Rule]:
    """Every rule with the supervisors' changes applied over :data:`DEFAULT_RULES`."""
    stored = store.record(RULES_KIND, RULES_ID) or {}
    out: dict[str, Rule] = {}
    for name, default in DEFAULT_RULES.items():
        got = stored.get(name) or {}
        out[name] = Rule(name, enabled=bool(got.get("enabled", default.enabled)),
                         roles=tuple(got.get("roles", default.roles)),
                         params={**default.params, **{k: v for k, v in (got.get("params") or {}).items()
                                                      if k in default.params}})
    return out


def set_rule(store: Store, user: User, name: str, *, enabled: bool | None = None,
             roles: tuple[str, ...] | None = None, params: dict[str, float] | None = None) -> Rule:
    """Change one rule (supervisors, ``edit_alert_rules``); audited as ``alert_rule`` with old → new.

    Parameters
    ----------
    name : one of the rule names (``new_high``, ``burst`` ...).
    enabled : switch the rule on or off (None: unchanged).
    roles : the roles that receive every alert of the rule (None: unchanged; () : nobody beyond watchers).
    params : thresholds to change; only the rule's own keys, numbers ≥ 0.
    """
    require(user, "edit_alert_rules")
    if name not in RULES:
        raise InvalidData(f"unknown alert rule {name!r}; rules: {', '.join(RULES)}")
    current = rules(store)[name]
    new_params = dict(current.params)
    for k, v in (params or {}).items():
        if k not in DEFAULT_RULES[name].params:
            known = ", ".join(DEFAULT_RULES[name].params) or "none"
            raise InvalidData(f"rule {name} has no setting {k!r} (settings: {known})")
        if not isinstance(v, int | float) or v < 0 or v != v:
            raise InvalidData(f"{name}.{k} must be a number ≥ 0, not {v!r}")
        default = DEFAULT_RULES[name].params[k]
        new_params[k] = int(v) if isinstance(default, int) and float(v).is_integer() else float(v)
    if roles is not None:
        unknown = sorted(set(roles) - set(ROLES))
        if unknown:
            raise InvalidData(f"unknown roles {', '.join(unknown)}; roles: {', '.join(ROLES)}")
    new = Rule(name, current.enabled if enabled is None else enabled,
               current.roles if roles is None else tuple(dict.fromkeys(roles)), new_params)
    stored = dict(store.record(RULES_KIND, RULES_ID) or {})
    stored[name] = {"enabled": new.enabled, "roles": list(new.roles), "params": new.params}
    audit.record(store, user, "alert_rule", f"alert_rule:{name}", Note("alert_rule_changed", {
                     **{f"{k}_before": v for k, v in _describe(current).items()}, **_describe(new)}),
                 change=lambda w: w.put_record(RULES_KIND, RULES_ID, stored))
    return new


def _describe(r: Rule) -> dict[str, str | list[str]]:
    return {"enabled": "on" if r.enabled else "off", "roles": list(r.roles),
            "params": [f"{k}={v}" for k, v in r.params.items()]}


def subscription(store: Store, username: str) -> Subscription:
    """The user's subscription (an empty one when never set)."""
    rec = store.record(SUBSCRIPTION_KIND, accounts.normalise(username))
    return Subscription.from_record(rec) if rec else Subscription(accounts.normalise(username))


def subscriptions(store: Store) -> dict[str, Subscription]:
    """Every stored subscription by user name."""
    return {s.username: s for s in map(Subscription.from_record, store.records(SUBSCRIPTION_KIND))}


def _check_url(url: str) -> str:
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidData(f"a webhook needs an http:// or https:// URL with a host, not {url[:80]!r}")
    if parts.username or parts.password:
        raise InvalidData("put no user name or password in the webhook URL; the payload is signed instead")
    return url.strip()


def subscribe(store: Store, actor: User, username: str | None = None, *, watch: tuple[str, ...] | None = None,
              unwatch: tuple[str, ...] = (), muted: tuple[str, ...] | None = None, email: str | None = None,
              webhook_url: str | None = None, new_secret: bool = False) -> tuple[Subscription, str | None]:
    """Change a subscription: one's own (``view_alerts``) or anyone's (``manage_users``).

    ``watch`` adds taxpayers (they must exist), ``unwatch`` removes them, ``muted`` replaces the muted rules,
    ``email`` / ``webhook_url`` set a channel ("" switches it off). A new webhook URL (or ``new_secret``) gets a
    new HMAC secret, returned once as the second value; it is kept in the store because every payload is
    signed with it. Audited as ``alert_subscription`` (never the secret).
    """
    require(actor, "view_alerts")
    name = accounts.normalise(username or actor.username)
    if name != actor.username:
        require(actor, "manage_users")
        if accounts.get_user(store, name) is None:
            raise NotFound(f"no user named {name!r}")
    sub = subscription(store, name)
    changes: list[str] = []
    if watch:
        missing = [t for t in watch if store.taxpayer(t) is None]
        if missing:
            raise NotFound(f"no taxpayer {', '.join(missing[:5])}")
        sub = replace(sub, watch=tuple(dict.fromkeys((*sub.watch, *watch))))
        changes.append(f"watch+{','.join(watch)}")
    if unwatch:
        sub = replace(sub, watch=tuple(t for t in sub.watch if t not in set(unwatch)))
        changes.append(f"watch-{','.join(unwatch)}")
    if muted is not None:
        unknown = sorted(set(muted) - set(RULES))
        if unknown:
            raise InvalidData(f"unknown alert rules {', '.join(unknown)}; rules: {', '.join(RULES)}")
        sub = replace(sub, muted=tuple(dict.fromkeys(muted)))
        changes.append(f"muted={','.join(sub.muted) or '-'}")
    if email is not None:
        if email and not _EMAIL_RE.match(email.strip()):
            raise InvalidData(f"not an e-mail address: {email[:80]!r}")
        sub = replace(sub, email=email.strip() or None)
        changes.append(f"email={sub.email or '-'}")
    secret: str | None = None
    if webhook_url is not None:
        url = _check_url(webhook_url) if webhook_url else None
        if url != sub.webhook_url:
            new_secret = url is not None
        sub = replace(sub, webhook_url=url, webhook_secret=sub.webhook_secret if url else None)
        changes.append(f"webhook={url or '-'}")
    if new_secret:
        if sub.webhook_url is None:
            raise InvalidData("set a webhook URL first")
        secret = "whsec_" + secrets.token_urlsafe(32)
        sub = replace(sub, webhook_secret=secret)
        changes.append("webhook secret renewed")
    if not changes:
        raise InvalidData("nothing to change")
    final = sub
    audit.record(store, actor, "alert_subscription", f"user:{name}", " ".join(changes),
                 change=lambda w: w.put_record(SUBSCRIPTION_KIND, name, final.to_record()))
    return final, secret
