"""Domain errors and the handlers that turn every error into the one JSON envelope.

Services raise these; they never raise `HTTPException`. Starlette looks handlers up along the
class hierarchy, so a feature's `OrderNotFoundError(NotFoundError)` becomes a 404 with no extra
code.
"""

from collections.abc import Mapping
from typing import Any, ClassVar

import structlog
from fastapi import FastAPI, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from core.logging import get_request_id
from core.schemas import ErrorBody, ErrorDetail, ErrorResponse

logger = structlog.get_logger(__name__)


class AppError(Exception):
    status_code: ClassVar[int] = status.HTTP_400_BAD_REQUEST
    code: ClassVar[str] = "bad_request"
    message: ClassVar[str] = "The request could not be processed."

    def __init__(self, message: str | None = None, *, details: list[ErrorDetail] | None = None):
        self.detail = message or self.message
        self.details = details or []
        super().__init__(self.detail)


class NotFoundError(AppError):
    status_code = status.HTTP_404_NOT_FOUND
    code = "not_found"
    message = "The resource was not found."


class ConflictError(AppError):
    status_code = status.HTTP_409_CONFLICT
    code = "conflict"
    message = "The resource conflicts with an existing one."


class AuthenticationError(AppError):
    status_code = status.HTTP_401_UNAUTHORIZED
    code = "not_authenticated"
    message = "Authentication is required."


class PermissionDeniedError(AppError):
    status_code = status.HTTP_403_FORBIDDEN
    code = "permission_denied"
    message = "You do not have permission to do this."


class BusinessRuleError(AppError):
    status_code = status.HTTP_422_UNPROCESSABLE_CONTENT
    code = "business_rule_violated"
    message = "The request breaks a business rule."


class UnknownReferenceError(BusinessRuleError):
    code = "unknown_reference"
    message = "A referenced row does not exist."


class StillReferencedError(ConflictError):
    code = "still_referenced"
    message = "Other rows still reference this one."


class ServiceUnavailableError(AppError):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    code = "service_unavailable"
    message = "The service is temporarily unavailable."


class TooManyRequestsError(AppError):
    status_code = status.HTTP_429_TOO_MANY_REQUESTS
    code = "too_many_requests"
    message = "Too many attempts; try again later."

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"Too many attempts; try again in {retry_after} s.")
        self.retry_after = retry_after


# Codes for errors FastAPI and Starlette raise themselves (unknown route, wrong method, ...).
_HTTP_CODES = {
    400: "bad_request",
    401: "not_authenticated",
    403: "permission_denied",
    404: "not_found",
    405: "method_not_allowed",
    408: "request_timeout",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    429: "too_many_requests",
    503: "service_unavailable",
}


def error_response(
    *,
    status_code: int,
    code: str,
    message: str,
    details: list[ErrorDetail] | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    body = ErrorResponse(
        error=ErrorBody(
            code=code,
            message=message,
            details=details or [],
            request_id=get_request_id(),
        )
    )
    return JSONResponse(body.model_dump(mode="json"), status_code=status_code, headers=headers)


async def _app_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AppError)
    headers = None
    if isinstance(exc, AuthenticationError):
        headers = {"WWW-Authenticate": "Bearer"}
    elif isinstance(exc, ServiceUnavailableError):
        headers = {"Retry-After": str(request.app.state.settings.retry_after_seconds)}
    elif isinstance(exc, TooManyRequestsError):
        headers = {"Retry-After": str(exc.retry_after)}
    return error_response(
        status_code=exc.status_code,
        code=exc.code,
        message=exc.detail,
        details=exc.details,
        headers=headers,
    )


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    message = exc.detail if isinstance(exc.detail, str) else "The request could not be processed."
    return error_response(
        status_code=exc.status_code,
        code=_HTTP_CODES.get(exc.status_code, "http_error"),
        message=message,
        headers=exc.headers,
    )


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    details = [
        ErrorDetail(loc=list(error["loc"]), message=error["msg"], type=error["type"])
        for error in exc.errors()
    ]
    return error_response(
        status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
        code="validation_error",
        message="The request is not valid.",
        details=details,
    )


async def unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    """The 500 envelope for an exception nothing else answered; its traceback goes to the log,
    never to the client (core/middleware.py and core/database_errors.py call it)."""
    logger.exception("unhandled_exception", method=request.method, path=request.url.path)
    return error_response(
        status_code=status.HTTP_500_INTERNAL_SERVER_ERROR,
        code="internal_error",
        message="An unexpected error occurred.",
    )


def register_exception_handlers(app: FastAPI) -> None:
    handlers: dict[Any, Any] = {
        AppError: _app_error,
        StarletteHTTPException: _http_error,
        RequestValidationError: _validation_error,
    }
    for exc_class, handler in handlers.items():
        app.add_exception_handler(exc_class, handler)
