"""``fapiao alerts``: evaluate the alert rules, deliver e-mail and webhooks, read an inbox, edit rules and
subscriptions."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import click

from graph.core import vocab
from graph.core.errors import InvalidData
from workbench.cli.options import echo_json, json_option, store_option

if TYPE_CHECKING:
    from graph.store import Store


def _store(uri: str | None) -> Store:
    from graph import open_store

    return open_store(uri)


_USER = click.option("--user", "username", required=True, help="Your workbench user (you sign in with its password).")
_PASSWORD = click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")


@click.group("alerts")
def alerts_group() -> None:
    """Alerts (智能提醒): rules that tell people when something needs them.

    \b
    Rules (supervisors switch them and set thresholds: fapiao alerts rule):
      new_high        a taxpayer newly in the high tier (supervisors from the second run on; watchers)
      first_run       the first run: one summary of its high-risk taxpayers (supervisors)
      new_ring        a new ring touching a watched taxpayer or an open case (watchers; case owner, assignee)
      case_overdue    a case open longer than FAPIAO_CASE_DAYS (owner, assignee, supervisors)
      appeal_overdue  an appeal past its due date (supervisors, who recorded it)
      burst           a day of many or large invoices from a watched taxpayer (watchers)
      case_assigned   a case assigned to you
      appeal_filed    a new appeal (supervisors)
      verify_void     an API 查验 call for a void or red-letter invoice (supervisors)

    Every alert goes to the user's inbox (workbench page 提醒); with a subscription also by e-mail
    (FAPIAO_SMTP_HOST) and by signed webhook. Every alert and delivery attempt is audited. See docs/alerts.md.
    """


@alerts_group.command("run")
@click.option("--every", type=click.FloatRange(min=1), default=None, metavar="SECONDS",
              help="Keep running: evaluate and deliver every SECONDS until interrupted (a service).")
@click.option("--deliver/--no-deliver", default=True, show_default=True,
              help="Also send due e-mail and webhook deliveries (with retries and back-off).")
@store_option()
@json_option()
def alerts_run(every: float | None, deliver: bool, store_uri: str | None, as_json: bool) -> None:
    """Evaluate every enabled rule, raise what is new (never twice), and deliver.

    \b
    Examples:
      fapiao alerts run                      # once, e.g. from cron
      fapiao alerts run --every 60           # as a service next to the workbench and the API
    """
    from workbench import audit
    from workbench.alerts import background

    actor = audit.cli_actor()
    while True:
        with _store(store_uri) as store:
            raised, report = background.run_once(store, actor=actor, deliver=deliver)
        if as_json:
            echo_json({"raised": raised.by_rule(), "sent": report.sent, "retry": report.retry,
                       "failed": report.failed, "waiting": report.waiting})
        else:
            by_rule = ", ".join(f"{k} {v}" for k, v in sorted(raised.by_rule().items())) or "none"
            click.echo(f"alerts raised: {len(raised.alerts)} ({by_rule}); deliveries sent {report.sent}, "
                       f"to retry {report.retry}, failed {report.failed}, not yet due {report.waiting}")
        if every is None:
            return
        time.sleep(every)


@alerts_group.command("inbox")
@_USER
@click.option("--unread", is_flag=True, help="Only unread alerts.")
@click.option("--assigned", is_flag=True, help="Only alerts about cases assigned to you.")
@click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True, help="At most this many, newest first.")
@_PASSWORD
@store_option()
@json_option()
def alerts_inbox(username: str, unread: bool, assigned: bool, limit: int, password_stdin: bool,
                 store_uri: str | None, as_json: bool) -> None:
    """List your alerts, newest first (unread ones marked with *)."""
    from workbench import alerts
    from workbench.cli.cases import _sign_in

    with _store(store_uri) as store:
        user = _sign_in(store, username, password_stdin)
        found = alerts.inbox(store, user, unread=unread, assigned=assigned, limit=limit)
        unread_n = alerts.unread_count(store, user)
    if as_json:
        echo_json({"unread": unread_n, "alerts": [a.to_record() for a in found]})
        return
    click.echo(f"{unread_n} unread")
    for a in found:
        click.echo(f"{'*' if a.read_at is None else ' '} {a.created_at:%Y-%m-%d %H:%M} {a.alert_id} {a.title}")


@alerts_group.command("read")
@_USER
@click.argument("alert_ids", nargs=-1)
@click.option("--all", "all_", is_flag=True, help="Mark every unread alert read.")
@_PASSWORD
@store_option()
def alerts_read(username: str, alert_ids: tuple[str, ...], all_: bool, password_stdin: bool,
                store_uri: str | None) -> None:
    """Mark ALERT_IDS (or --all) of your inbox read."""
    from workbench import alerts
    from workbench.cli.cases import _sign_in

    if not alert_ids and not all_:
        raise InvalidData("name the alerts to mark read, or pass --all")
    with _store(store_uri) as store:
        user = _sign_in(store, username, password_stdin)
        n = alerts.mark_read(store, user, None if all_ else list(alert_ids))
    click.echo(f"marked {n} read")


@alerts_group.command("rules")
@store_option()
@json_option()
def alerts_rules(store_uri: str | None, as_json: bool) -> None:
    """Show every rule: on/off, who receives it, its thresholds."""
    from workbench import alerts

    with _store(store_uri) as store:
        current = alerts.rules(store)
    if as_json:
        echo_json({n: {"enabled": r.enabled, "roles": list(r.roles), "params": r.params} for n, r in current.items()})
        return
    for n, r in current.items():
        params = " ".join(f"{k}={v}" for k, v in r.params.items())
        click.echo(f"{n:<15} {'on ' if r.enabled else 'off'} roles={','.join(r.roles) or '-':<24} {params}  "
                   f"{vocab.zh(vocab.ALERT_RULES, n)}")


def _param(text: str) -> tuple[str, float]:
    key, sep, value = text.partition("=")
    try:
        if not sep:
            raise ValueError
        return key.strip(), float(value)
    except ValueError as e:
        raise click.BadParameter(f"use KEY=NUMBER, e.g. min_count=30, not {text!r}") from e


@alerts_group.command("rule")
@click.argument("name", type=click.Choice(tuple(vocab.ALERT_RULES)))
@click.option("--on/--off", "enabled", default=None, help="Switch the rule on or off.")
@click.option("--roles", default=None, metavar="ROLE,ROLE",
              help="Roles that receive every alert of the rule ('' = only watchers and case people).")
@click.option("--set", "params", multiple=True, metavar="KEY=NUMBER", help="A threshold, e.g. --set min_count=30.")
@_USER
@_PASSWORD
@store_option()
def alerts_rule(name: str, enabled: bool | None, roles: str | None, params: tuple[str, ...], username: str,
                password_stdin: bool, store_uri: str | None) -> None:
    """Change rule NAME (supervisors); audited with the old and new settings.

    \b
    Examples:
      fapiao alerts rule burst --set min_count=30 --set lookback_days=14 --user sue
      fapiao alerts rule new_high --roles supervisor,investigator --user sue
      fapiao alerts rule verify_void --off --user sue
    """
    from workbench import alerts
    from workbench.cli.cases import _sign_in

    role_list = None if roles is None else tuple(r.strip() for r in roles.split(",") if r.strip())
    with _store(store_uri) as store:
        user = _sign_in(store, username, password_stdin)
        r = alerts.set_rule(store, user, name, enabled=enabled, roles=role_list, params=dict(map(_param, params)))
    click.echo(f"{name}: {'on' if r.enabled else 'off'}, roles {','.join(r.roles) or '-'}, "
               + " ".join(f"{k}={v}" for k, v in r.params.items()))


@alerts_group.command("subscribe")
@_USER
@click.option("--watch", multiple=True, metavar="TAX_ID", help="Watch a taxpayer (repeat for several).")
@click.option("--unwatch", multiple=True, metavar="TAX_ID", help="Stop watching a taxpayer.")
@click.option("--mute", default=None, metavar="RULE,RULE", help="Rules you do not want ('' = none muted).")
@click.option("--email", default=None, help="Also send alerts to this address ('' = stop).")
@click.option("--webhook", default=None, metavar="URL", help="Also POST alerts to this URL, signed ('' = stop).")
@click.option("--new-secret", is_flag=True, help="Issue a new webhook secret (shown once).")
@_PASSWORD
@store_option()
def alerts_subscribe(username: str, watch: tuple[str, ...], unwatch: tuple[str, ...], mute: str | None,
                     email: str | None, webhook: str | None, new_secret: bool, password_stdin: bool,
                     store_uri: str | None) -> None:
    """Change your subscription: watched taxpayers, muted rules, e-mail and webhook.

    A new webhook URL gets a new HMAC secret, printed once: keep it with the receiver, which checks the
    X-Fapiao-Signature header with it (docs/alerts.md shows how).

    \b
    Examples:
      fapiao alerts subscribe --user ivan --watch 91440300MA5EQ00022 --email ivan@bureau.example
      fapiao alerts subscribe --user ivan --webhook https://hooks.bureau.example/fapiao
    """
    from workbench import alerts
    from workbench.cli.cases import _sign_in

    muted = None if mute is None else tuple(r.strip() for r in mute.split(",") if r.strip())
    with _store(store_uri) as store:
        user = _sign_in(store, username, password_stdin)
        sub, secret = alerts.subscribe(store, user, watch=watch, unwatch=unwatch, muted=muted, email=email,
                                       webhook_url=webhook, new_secret=new_secret)
    click.echo(f"{sub.username}: watching {len(sub.watch)}, muted {','.join(sub.muted) or '-'}, "
               f"e-mail {sub.email or '-'}, webhook {sub.webhook_url or '-'}")
    if secret:
        click.echo(f"webhook secret (shown once): {secret}")


@alerts_group.command("deliveries")
@click.option("--state", type=click.Choice(tuple(vocab.ALERT_DELIVERY_STATES)), default=None,
              help="Only deliveries in this state.")
@store_option()
@json_option()
def alerts_deliveries(state: str | None, store_uri: str | None, as_json: bool) -> None:
    """List e-mail and webhook deliveries with their attempts and last error (for the operator)."""
    from workbench.alerts import delivery

    with _store(store_uri) as store:
        found = [d for d in delivery.deliveries(store) if state is None or d.state == state]
    if as_json:
        echo_json([d.to_record() for d in found])
        return
    for d in found:
        click.echo(f"{d.state:<8} {d.channel:<8} {d.attempts} {d.alert_id} {d.target} {d.last_error}")
