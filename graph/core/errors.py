"""The project's one exception tree. Every package raises these; backend errors are re-raised ``from e``."""

from __future__ import annotations

from dataclasses import dataclass, field


class FapiaoError(Exception):
    """Root of every error the project raises on purpose."""


class ConfigError(FapiaoError):
    """A setting, URI, mapping file or command-line option is wrong; the message says how to fix it."""


@dataclass(frozen=True)
class FieldError:
    """One problem with one field of one row. ``severity`` is ``error`` (reject) or ``warning`` (review)."""

    row: int
    field: str
    rule: str
    message: str
    severity: str = "error"


class InvalidData(FapiaoError):
    """Input data broke one or more rules; ``errors`` holds them per row and field."""

    def __init__(self, message: str, errors: list[FieldError] | None = None) -> None:
        super().__init__(message)
        self.errors: list[FieldError] = list(errors or [])


class StoreError(FapiaoError):
    """The graph store failed (connection, transaction, corruption)."""


@dataclass
class QueryError(StoreError):
    """A named query failed; ``query`` is the cypher/*.cypher name or the embedded statement name."""

    query: str
    detail: str = ""
    args: tuple[object, ...] = field(default=(), repr=False)

    def __post_init__(self) -> None:
        super().__init__(f"query {self.query!r} failed: {self.detail}")

    def __str__(self) -> str:
        return f"query {self.query!r} failed: {self.detail}"


class NotFound(FapiaoError):
    """A taxpayer, invoice, ring, case or record does not exist."""


class PermissionDenied(FapiaoError):
    """The signed-in user's role does not allow the action."""


class IntegrityError(FapiaoError):
    """A hash chain or export manifest does not verify; the message names what changed."""
