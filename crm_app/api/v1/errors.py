"""One JSON error shape for `/api/v1`: `{"error": {"code", "message", "fields"}}`.

Service errors keep the status their class names (`crm_app/services/errors.py`); request
validation is 422 `invalid_input`; anything unexpected is logged and answered 500 with no
detail. Routes outside `/api/v1` keep the answers they had.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from crm_app.services.errors import ServiceError

PREFIX = "/api/v1"
log = logging.getLogger(__name__)

_CODES = {
    400: "bad_request",
    401: "not_authenticated",
    403: "permission_denied",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    415: "unsupported_media_type",
    422: "invalid_input",
    429: "rate_limited",
    500: "server_error",
}


def error_response(
    status: int, message: str, fields: list[dict[str, Any]] | None = None
) -> JSONResponse:
    body = {
        "error": {
            "code": _CODES.get(status, "bad_request" if status < 500 else "server_error"),
            "message": message,
            "fields": fields or [],
        }
    }
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(body, status_code=status, headers=headers)


def _in_v1(request: Request) -> bool:
    return request.url.path.startswith(PREFIX + "/") or request.url.path == PREFIX


def install_error_handlers(api: FastAPI) -> None:
    """Answer `/api/v1` errors in the one shape; leave other routes' handlers as they were."""
    before = dict(api.exception_handlers)

    def fallback(kind: type, request: Request, error: Exception) -> Any:
        handler = before.get(kind)
        if handler is None:
            raise error
        return handler(request, error)

    @api.exception_handler(ServiceError)
    async def _service_error(request: Request, error: ServiceError) -> Any:
        if not _in_v1(request):
            return await fallback(ServiceError, request, error)
        return error_response(error.http_status, error.message)

    @api.exception_handler(RequestValidationError)
    async def _invalid(request: Request, error: RequestValidationError) -> Any:
        if not _in_v1(request):
            from fastapi.exception_handlers import request_validation_exception_handler

            return await request_validation_exception_handler(request, error)
        fields = [
            {
                "location": [str(part) for part in item.get("loc", ())],
                "message": str(item.get("msg", ""))[:300],
            }
            for item in error.errors()[:20]
        ]
        return error_response(422, "Some fields are missing or not valid.", fields)

    @api.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, error: StarletteHTTPException) -> Any:
        if not _in_v1(request):
            from fastapi.exception_handlers import http_exception_handler

            return await http_exception_handler(request, error)
        message = error.detail if isinstance(error.detail, str) else "Request refused."
        response = error_response(error.status_code, message)
        response.headers.update(error.headers or {})
        return response

    @api.exception_handler(Exception)
    async def _unexpected(request: Request, error: Exception) -> Any:
        log.exception("api error", extra={"path": request.url.path})
        return error_response(500, "Something went wrong on our side; it has been logged.")
