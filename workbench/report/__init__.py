"""The period report a supervisor or analyst hands on: risk tiers and their change, top rings, cases
opened and closed, alerts raised, as HTML or PDF.

:func:`make` is the one entry point of the workbench page and ``fapiao report``: it checks the
``make_report`` permission and records the report in the audit trail before it reads anything.
"""

from __future__ import annotations

from datetime import datetime

from graph.store import Store
from workbench import audit
from workbench.auth import User, require
from workbench.report.figures import Period, PeriodReport, build
from workbench.report.render import to_html

FORMATS = ("html", "pdf")


def make(store: Store, user: User, period: Period, fmt: str = "html", *,
         now: datetime | None = None) -> tuple[PeriodReport, bytes]:
    """The report of ``period`` as ``fmt`` (``html`` or ``pdf``) bytes, with its figures.

    Raises PermissionDenied unless ``user`` may ``make_report`` (supervisors, analysts); audited as
    ``report`` with the period and format.
    """
    require(user, "make_report")
    if fmt not in FORMATS:
        raise ValueError(f"unknown report format {fmt!r}; use one of {', '.join(FORMATS)}")
    audit.record(store, user, "report", f"period:{period.first}..{period.last}", fmt)
    report = build(store, period, made_by=user.label, now=now)
    document = to_html(report)
    if fmt == "pdf":
        from workbench.report.pdf import html_to_pdf

        return report, html_to_pdf(document)
    return report, document.encode("utf-8")
