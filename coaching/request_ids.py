"""A request id per REST request: taken from `X-Request-ID` (a proxy's) or made, sent
back in the response's `X-Request-ID`, and put on every log record made while the
request runs (`RequestIdFilter`), so one request's lines can be found together."""

import contextvars
import logging
import re
import uuid
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

_current: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)
# What a proxy's id may look like (it is logged): letters, digits and -_., up to 64.
_SAFE = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class RequestIdMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        given = request.headers.get("X-Request-ID", "")
        request_id = given if _SAFE.match(given) else uuid.uuid4().hex
        # Left set after the response: Django logs an error response (`log_response`)
        # after the middleware returns, in the same context; the next request sets its own.
        _current.set(request_id)
        response = self.get_response(request)
        response["X-Request-ID"] = request_id
        return response


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "request_id", None) is None:
            record.request_id = _current.get()
        return True
