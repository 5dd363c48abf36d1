"""OpenAPI entries for the error responses routes share, each in the one error envelope."""

from typing import Any

from core.schemas import ErrorResponse

Responses = dict[int | str, dict[str, Any]]

NOT_FOUND: Responses = {404: {"model": ErrorResponse, "description": "Not found."}}
CONFLICT: Responses = {
    409: {"model": ErrorResponse, "description": "A unique value is already taken."}
}
UNAUTHORIZED: Responses = {
    401: {"model": ErrorResponse, "description": "No valid access token, or a disabled account."}
}
FORBIDDEN: Responses = {
    403: {"model": ErrorResponse, "description": "The caller lacks the permission this needs."}
}
TOO_MANY_REQUESTS: Responses = {
    429: {"model": ErrorResponse, "description": "Too many attempts; Retry-After says when."}
}
# What every protected route can answer before it does its own work.
PROTECTED: Responses = {**UNAUTHORIZED, **FORBIDDEN}
