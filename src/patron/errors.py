"""The one error type of Patron: every failure a user can cause carries a status code.

Services and the analytics engine raise these; the API turns them into JSON in one place
(``patron.core.api``), the CLI prints them, and pages show them.
"""

from __future__ import annotations


class PatronError(Exception):
    """A failure with an HTTP status, a message for people and, where known, where it happened."""

    status = 400
    code = "bad_request"

    def __init__(self, message: str, *, field: str | None = None, details: list[dict] | None = None):
        super().__init__(message)
        self.message = message
        self.field = field
        self.details = details or []

    def as_dict(self) -> dict:
        """Return the JSON body the API sends for this error."""
        body: dict = {"error": self.code, "message": self.message}
        if self.field:
            body["field"] = self.field
        if self.details:
            body["details"] = self.details
        return body


class NotFound(PatronError):
    """The record does not exist or the user may not see it (both are a 404, by design)."""

    status = 404
    code = "not_found"


class Forbidden(PatronError):
    """The user sees the record but may not do this to it."""

    status = 403
    code = "forbidden"


class Conflict(PatronError):
    """The request clashes with the current state (a duplicate key, a record still in use)."""

    status = 409
    code = "conflict"


class Gone(PatronError):
    """The record existed but its data was removed on purpose (for example by a retention setting)."""

    status = 410
    code = "gone"


class Invalid(PatronError):
    """The payload or file is invalid; ``field`` or ``details`` say where."""

    status = 422
    code = "invalid"


class CannotFit(PatronError):
    """A statistical model did not converge, or the data cannot support it; no numbers are returned."""

    status = 400
    code = "cannot_fit"
