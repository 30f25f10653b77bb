"""Every ``FAPIAO_*`` setting in one place: name, default, help. Read with :func:`get`.

Add a setting by appending a :class:`Setting` to ``SETTINGS``; ``docs/settings.md`` must describe it
(a test checks that every setting is documented).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from graph.core.errors import ConfigError


@dataclass(frozen=True)
class Setting:
    name: str
    default: str
    help: str


SETTINGS: tuple[Setting, ...] = (
    Setting("FAPIAO_STORE", "embedded:workspace",
            "Which graph store to use: `embedded:PATH` (a workspace folder, the default) or a Neo4j URI "
            "(`bolt://`, `neo4j://`, `neo4j+s://`, `bolt+s://`)."),
    Setting("FAPIAO_NEO4J_USER", "neo4j", "Neo4j user name (ignored when the server has auth off)."),
    Setting("FAPIAO_NEO4J_PASSWORD", "", "Neo4j password; empty means connect without auth."),
    Setting("FAPIAO_NEO4J_DATABASE", "neo4j", "Neo4j database name."),
    Setting("FAPIAO_NEO4J_BATCH", "5000", "Rows per `UNWIND $rows` batch when loading into Neo4j."),
    Setting("FAPIAO_NEO4J_PROCEDURES", "auto",
            "`auto` = use the fapiao.* read procedures when the Neo4j server has the matching jar installed "
            "(ego network, edge table); `off` = always the plain Cypher statements."),
    Setting("FAPIAO_REQUIRE_NEO4J", "0",
            "1 = tests that need a real Neo4j fail instead of skipping when Java/Maven are missing (CI sets it)."),
    Setting("FAPIAO_REQUIRE_BROWSER", "0",
            "1 = browser tests fail instead of skipping when Chromium/Playwright are missing (CI sets it)."),
    Setting("FAPIAO_NEO4J_PAGECACHE_MB", "192", "Page cache of the local Neo4j started by `make neo4j` and the tests."),
    Setting("FAPIAO_NEO4J_HEAP", "768m", "JVM heap (-Xmx) of the local Neo4j started by `make neo4j` and the tests."),
    Setting("FAPIAO_TIMEZONE", "Asia/Shanghai", "Time zone of issue dates given without an offset."),
    Setting("FAPIAO_DEMO", "0", "1 = demo mode: demo users exist and the sign-in page shows them."),
    Setting("FAPIAO_EMBEDDED_WAIT", "10",
            "Seconds the embedded store waits for a workspace another process has open before it gives up."),
    Setting("FAPIAO_EMBEDDED_LINGER", "2",
            "Idle seconds after which the embedded store closes its workspace so other processes can open it."),
    Setting("FAPIAO_EMBEDDED_MEMORY", "4GB", "DuckDB memory_limit of the embedded store (bigger loads spill to disk)."),
    Setting("FAPIAO_EMBEDDED_THREADS", "",
            "DuckDB threads of the embedded store; empty = DuckDB's default (one per core), except in `fapiao api`, "
            "which uses 1 (its statements are small)."),
    Setting("FAPIAO_TAX_TOLERANCE_FEN", "6",
            "Loader: how many fen the tax amount may differ from round(amount x rate) before `tax_mismatch`."),
    Setting("FAPIAO_KEY_DIR", "",
            "Folder of the installation's Ed25519 signing key (audit head, case files); empty = "
            "`~/.local/share/fapiao/keys`. Keep it outside the workspace, readable only by the service user."),
    Setting("FAPIAO_SESSION_MINUTES", "480", "Minutes a workbench sign-in lasts before the user must sign in again."),
    Setting("FAPIAO_SESSION_IDLE_MINUTES", "30",
            "Minutes without a request after which a workbench sign-in ends (idle timeout)."),
    Setting("FAPIAO_APPEAL_DAYS", "15", "Days within which a taxpayer's appeal must be answered; older open appeals show as overdue."),
    Setting("FAPIAO_CHROMIUM", "",
            "Chromium executable that prints period reports to PDF; empty = the first of chromium, chromium-browser, "
            "google-chrome on PATH."),
    Setting("FAPIAO_UPLOAD_MAX_MB", "200",
            "Largest file (MB) the workbench's Import page accepts; keep `server.maxUploadSize` in .streamlit/config.toml in step."),
    Setting("FAPIAO_EVIDENCE", "",
            "Folder where loaded files are kept as evidence (content-addressed by SHA-256); empty = "
            "`<workspace>/evidence` for the embedded store, `./evidence` next to a Neo4j store."),
    Setting("FAPIAO_OCR_MIN_CONFIDENCE", "0.80",
            "OCR: per-field confidence (0..1) below which a scanned invoice's field goes to the review queue."),
    Setting("FAPIAO_TIER_MEDIUM", "0.4", "Detection: risk score (0..1) from which a taxpayer is in the medium tier."),
    Setting("FAPIAO_TIER_HIGH", "0.7", "Detection: risk score (0..1) from which a taxpayer is in the high tier."),
    Setting("FAPIAO_CASE_DAYS", "30", "Days a case may stay open or under investigation before the `case_overdue` alert."),
    Setting("FAPIAO_SMTP_HOST", "", "SMTP server for e-mail alerts; empty = e-mail alerts are off (inbox and webhooks still work)."),
    Setting("FAPIAO_SMTP_PORT", "25", "Port of the SMTP server for e-mail alerts."),
    Setting("FAPIAO_SMTP_FROM", "fapiao@localhost", "Sender address of e-mail alerts."),
    Setting("FAPIAO_SMTP_USER", "", "SMTP user name (empty: no SMTP login)."),
    Setting("FAPIAO_SMTP_PASSWORD", "", "SMTP password (used with FAPIAO_SMTP_USER)."),
    Setting("FAPIAO_SMTP_STARTTLS", "0", "1 = upgrade the SMTP connection with STARTTLS before sending."),
    Setting("FAPIAO_ALERT_TIMEOUT", "5", "Seconds an alert delivery (webhook or SMTP) may take before it counts as failed and is retried."),
    Setting("FAPIAO_ALERT_RETRIES", "5", "Delivery attempts of one alert on one channel before it is marked failed."),
    Setting("FAPIAO_ALERT_BACKOFF", "30", "Seconds before the first retry of a failed delivery; each further retry waits twice as long."),
    Setting("FAPIAO_ALERTS_EVERY", "60",
            "Seconds between the workbench server's background alert rounds (evaluate the rules, send due "
            "deliveries); 0 = off (then run `fapiao alerts run --every` beside it)."),
    Setting("FAPIAO_API_HOST", "127.0.0.1", "Address `fapiao api` listens on (put a reverse proxy in front for others)."),
    Setting("FAPIAO_API_PORT", "8700", "Port `fapiao api` listens on."),
    Setting("FAPIAO_API_MAX_MB", "20", "Largest request body (MB) the HTTP API accepts; bigger gets 413."),
    Setting("FAPIAO_API_MAX_ROWS", "10000", "Most invoices in one `POST /invoices` batch; more gets 413."),
    Setting("FAPIAO_API_DETECT_ON_LOAD", "0",
            "1 = after a `POST /invoices` batch that stored invoices the API runs detection and the alert rules "
            "(one run at a time; batches during a run cause one more run)."),
    Setting("FAPIAO_API_RATE", "300", "Requests per second one API token may make (burst: twice that); more gets 429."),
)

_BY_NAME = {s.name: s for s in SETTINGS}


def get(name: str) -> str:
    """The value of setting ``name`` from the environment, or its default."""
    try:
        setting = _BY_NAME[name]
    except KeyError as e:
        raise ConfigError(f"unknown setting {name}; known: {', '.join(sorted(_BY_NAME))}") from e
    return os.environ.get(name, setting.default)


def get_int(name: str) -> int:
    raw = get(name)
    try:
        return int(raw)
    except ValueError as e:
        raise ConfigError(f"{name}={raw!r} is not a whole number") from e


def get_float(name: str) -> float:
    raw = get(name)
    try:
        return float(raw)
    except ValueError as e:
        raise ConfigError(f"{name}={raw!r} is not a number") from e


def get_bool(name: str) -> bool:
    return get(name).strip().lower() in {"1", "true", "yes", "on"}


def usable_cpus() -> int:
    """CPUs this process may run on (its affinity mask, e.g. a container's cpuset), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not on Linux
        return os.cpu_count() or 1
