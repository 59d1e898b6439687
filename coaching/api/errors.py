"""One JSON error shape for every REST error: `{"error": {"code", "message", "fields"?}}`."""

import logging
import math
from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views.defaults import page_not_found
from redis.exceptions import RedisError
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from coaching.errors import ServiceError
from coaching.outage import (
    UNAVAILABLE_MESSAGE,
    is_database_down,
    log_database_down,
    log_redis_down,
    retry_after_ms,
)

logger = logging.getLogger(__name__)

SERVICE_STATUS = {
    "not_found": status.HTTP_404_NOT_FOUND,
    "forbidden": status.HTTP_403_FORBIDDEN,
    "invalid_input": status.HTTP_400_BAD_REQUEST,
    "invalid_transition": status.HTTP_409_CONFLICT,
    "session_ended": status.HTTP_409_CONFLICT,
    "already_claimed": status.HTTP_409_CONFLICT,
    # Uploads (coaching/services/uploads.py): a chunk at another offset than the upload's.
    "offset_mismatch": status.HTTP_409_CONFLICT,
    "too_large": status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
    "unsupported_type": status.HTTP_415_UNSUPPORTED_MEDIA_TYPE,
    # The call's recording (coaching/services/recordings.py): not both consent; a gap.
    "consent_required": status.HTTP_403_FORBIDDEN,
    "chunk_out_of_order": status.HTTP_409_CONFLICT,
    # A chat line the database refused (logged where it happened).
    "internal_error": status.HTTP_500_INTERNAL_SERVER_ERROR,
}

DRF_CODES = {
    exceptions.NotAuthenticated: "not_authenticated",
    exceptions.AuthenticationFailed: "authentication_failed",
    exceptions.PermissionDenied: "forbidden",
    exceptions.NotFound: "not_found",
    exceptions.MethodNotAllowed: "method_not_allowed",
    exceptions.ParseError: "malformed_request",
    exceptions.UnsupportedMediaType: "unsupported_media_type",
    exceptions.Throttled: "rate_limited",
    exceptions.ValidationError: "invalid_input",
}


def error_body(code: str, message: str, fields: dict[str, Any] | None = None) -> dict:
    body: dict[str, Any] = {"code": code, "message": message}
    if fields:
        body["fields"] = fields
    return {"error": body}


def service_error_response(exc: ServiceError) -> Response:
    fields = {exc.field: [exc.message]} if exc.field else None
    return Response(
        error_body(exc.code, exc.message, fields),
        status=SERVICE_STATUS.get(exc.code, status.HTTP_400_BAD_REQUEST),
    )


def _first_message(detail: Any) -> str:
    if isinstance(detail, dict):
        for value in detail.values():
            return _first_message(value)
    if isinstance(detail, list) and detail:
        return _first_message(detail[0])
    return str(detail)


def unavailable_response() -> Response:
    """503 while the database is down: a retryable error, with when to retry."""
    response = Response(
        error_body("unavailable", UNAVAILABLE_MESSAGE), status=status.HTTP_503_SERVICE_UNAVAILABLE
    )
    response["Retry-After"] = str(math.ceil(retry_after_ms() / 1000))
    response._has_been_logged = True  # by log_database_down, throttled; not per request
    return response


def json_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """Django's 404 handler: under /api/ the API's JSON 404 (any path that matched no
    route, e.g. one with a newline in it), elsewhere the site's HTML page."""
    if request.path.startswith("/api/"):
        return JsonResponse(error_body("not_found", "Not found."), status=404)
    return page_not_found(request, exception)


def exception_handler(exc: Exception, context: dict) -> Response:
    if isinstance(exc, ServiceError):
        return service_error_response(exc)
    if is_database_down(exc):
        log_database_down(f"REST {context.get('view').__class__.__name__}", exc)
        return unavailable_response()
    if isinstance(exc, RedisError):  # a view reading shared state (a call's, presence)
        log_redis_down(f"REST {context.get('view').__class__.__name__}", exc)
        return unavailable_response()
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    response = drf_exception_handler(exc, context)
    if response is None:
        # A bug: logged with its traceback here, never shown to the client (even with DEBUG).
        logger.error("unhandled error in %s", context.get("view"), exc_info=exc)
        return Response(
            error_body("internal_error", "Something went wrong on our side."),
            status=status.HTTP_500_INTERNAL_SERVER_ERROR,
        )
    code = next((c for cls, c in DRF_CODES.items() if isinstance(exc, cls)), "error")
    if isinstance(exc, exceptions.ValidationError):
        detail = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
        message = f"Invalid input: {_first_message(detail)}"
        response.data = error_body(code, message, detail)
    else:
        response.data = error_body(code, _first_message(response.data.get("detail", exc)))
    return response
