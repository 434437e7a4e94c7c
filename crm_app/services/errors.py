"""Errors a user can cause. Each carries a message fit to show them as it is."""

from __future__ import annotations


class ServiceError(Exception):
    """Base for errors the UI shows and the API turns into a 4xx."""

    http_status = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class PermissionDenied(ServiceError):
    http_status = 403


class NotAuthenticated(ServiceError):
    http_status = 401


class NotFound(ServiceError):
    http_status = 404


class InvalidInput(ServiceError):
    http_status = 422


class Conflict(ServiceError):
    http_status = 409


class RateLimited(ServiceError):
    http_status = 429
