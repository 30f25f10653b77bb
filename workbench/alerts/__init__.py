"""Alerts (智能提醒): rules that tell people when something needs them, delivered to an inbox per user and,
when the user subscribes, by e-mail (SMTP) and signed webhook. See docs/alerts.md.

- :mod:`.model`: the alert, delivery, rule and subscription records; the default rules;
- :mod:`.config`: rules (supervisors change them) and per-user subscriptions;
- :mod:`.engine`: the rule engine, store state → candidates;
- :mod:`.inbox`: raising alerts (deduplicated, audited) and the inbox (list, unread count, mark read);
- :mod:`.delivery`: webhook and e-mail delivery with retries and back-off.
"""

from workbench.alerts.config import rules, set_rule, subscribe, subscription
from workbench.alerts.delivery import Report, deliver_due
from workbench.alerts.inbox import Raised, evaluate, inbox, mark_read, notify, unread_count
from workbench.alerts.model import Alert, Delivery, Rule, Subscription

__all__ = ["Alert", "Delivery", "Raised", "Report", "Rule", "Subscription", "deliver_due", "evaluate", "inbox",
           "mark_read", "notify", "rules", "set_rule", "subscribe", "subscription", "unread_count"]
