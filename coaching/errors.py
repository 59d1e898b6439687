"""The one exception domain code raises; the socket and REST layers translate it."""

from typing import Any


class ServiceError(Exception):
    """A refused action: a stable machine-readable `code` and a human `message`.

    Codes: `not_found`, `forbidden`, `invalid_input` (with `field`),
    `invalid_transition`, `session_ended`, `already_claimed`.
    """

    def __init__(self, code: str, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"reason": self.code, "message": self.message}
        if self.field:
            data["field"] = self.field
        return data


def invalid(field: str, message: str) -> ServiceError:
    return ServiceError("invalid_input", message, field=field)


class RateLimited(ServiceError):
    """Too many requests of one kind: retry after `retry_after_ms`."""

    def __init__(self, message: str, *, retry_after_ms: int) -> None:
        super().__init__("rate_limited", message)
        self.retry_after_ms = retry_after_ms

    def as_dict(self) -> dict[str, Any]:
        return {**super().as_dict(), "retry_after_ms": self.retry_after_ms}
