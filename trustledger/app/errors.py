"""One error base for every use case, with what each face needs to report it.

A face maps ``TrustledgerError`` once: the API to ``http_status``, the CLI to ``exit_code``
and a one-line message. Subclasses name the kind of failure, not the use case.

Exit codes: 1 is reserved for "verified and found tampered", 3 and 4 for check answers
(deny, unknown), so errors use 2 (the request cannot be done as asked) and 5 (a service
the request needs is unavailable).
"""

from __future__ import annotations


class TrustledgerError(Exception):
    """Base of every error a face should report as a message, not a traceback."""

    http_status: int = 500
    exit_code: int = 2

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message

    def to_json(self) -> dict[str, str | int]:
        return {"error": type(self).__name__, "message": self.message, "status": self.http_status}


class BadInput(TrustledgerError):
    """The request is malformed: a bad identifier, date, size or option combination."""

    http_status = 422
    exit_code = 2


class NotFound(TrustledgerError):
    """What was asked for does not exist: a subject, a rulebook, a ledger entry."""

    http_status = 404
    exit_code = 2


class Conflict(TrustledgerError):
    """The request clashes with the current state (already published, already decided)."""

    http_status = 409
    exit_code = 2


class Forbidden(TrustledgerError):
    """The caller may not do this."""

    http_status = 403
    exit_code = 2


class ConfigError(TrustledgerError):
    """The platform is misconfigured: the person key, the database URL, a settings value."""

    http_status = 500
    exit_code = 2


class Unavailable(TrustledgerError):
    """A service the request needs is not there (database down, no evaluation yet)."""

    http_status = 503
    exit_code = 5


# SQLite's result codes for the storage failing (an extended code such as
# SQLITE_IOERR_WRITE starts with its primary one)
_SQLITE_STORAGE = (["SQLITE", "FULL"], ["SQLITE", "IOERR"], ["SQLITE", "READONLY"])


def storage_failure(exc: BaseException) -> str | None:
    """The message for a failure of the storage under the database — a full disk, an I/O
    error, a read-only file system, a lost connection — raised by the driver below the
    application layer; None for anything else. Every write is one transaction, so such a
    failure loses only the transaction in flight, never what was stored: the message says
    so, for the operator to free space and run the command again."""
    import errno
    import sqlite3

    import psycopg

    detail: str | None = None
    if isinstance(exc, OSError) and exc.errno in (
        errno.ENOSPC,
        errno.EDQUOT,
        errno.EIO,
        errno.EROFS,
    ):
        detail = f"{exc.strerror or exc}" + (f" ({exc.filename})" if exc.filename else "")
    elif isinstance(exc, sqlite3.DatabaseError) and (
        getattr(exc, "sqlite_errorname", "").split("_")[:2] in _SQLITE_STORAGE
    ):
        detail = f"SQLite: {exc}"
    elif isinstance(exc, psycopg.errors.DiskFull | psycopg.errors.IoError):
        detail = f"PostgreSQL: {str(exc).strip()}"
    elif isinstance(exc, psycopg.OperationalError):
        detail = f"PostgreSQL connection: {str(exc).strip()}"
    if detail is None:
        return None
    return (
        f"storage failure: {detail}; the transaction in flight was rolled back and nothing "
        "stored before it is lost — free space or restore the storage, then run the "
        "command again"
    )
