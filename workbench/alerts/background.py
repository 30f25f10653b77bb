"""Alerts evaluated in the background of the workbench server: a case assigned, an appeal filed or a case
past its due date reach people without anyone running a detection or ``fapiao alerts run``. Every
``FAPIAO_ALERTS_EVERY`` seconds the rules are evaluated (an alert is never raised twice) and due e-mail and
webhook deliveries are sent; a failing round is logged and the next one tries again."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from graph.core import settings
from graph.store import Store
from workbench.alerts.delivery import Report, deliver_due
from workbench.alerts.inbox import Raised, evaluate
from workbench.alerts.model import ACTOR

LOG = logging.getLogger(__name__)


def run_once(store: Store, *, actor: str = ACTOR, deliver: bool = True) -> tuple[Raised, Report]:
    """One round: evaluate every enabled rule and, with ``deliver``, send the deliveries that are due."""
    raised = evaluate(store, actor=actor)
    return raised, deliver_due(store, actor=actor) if deliver else Report()


def start(store: Callable[[], Store], every: float | None = None,
          stop: threading.Event | None = None) -> threading.Thread | None:
    """Run :func:`run_once` on ``store()`` at once and then every ``every`` seconds (default
    ``FAPIAO_ALERTS_EVERY``) in a daemon thread, until ``stop`` is set. None when the interval is 0 (off)."""
    seconds = settings.get_float("FAPIAO_ALERTS_EVERY") if every is None else every
    if seconds <= 0:
        return None
    halt = stop or threading.Event()

    def loop() -> None:
        while not halt.is_set():
            try:
                run_once(store())
            except Exception:   # a round must never stop the server; the next one tries again
                LOG.exception("alerts: background round failed")
            halt.wait(seconds)

    thread = threading.Thread(target=loop, name="fapiao-alerts", daemon=True)
    thread.start()
    return thread
