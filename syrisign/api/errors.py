"""Errors answered as JSON, and their OpenAPI descriptions."""
from __future__ import annotations

from typing import Any

from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field


# -- errors ---------------------------------------------------------------------------------------
class ApiError(Exception):
    """An error answered as JSON ``{"error", "message", "status"}``; the message says what to change."""

    def __init__(self, status: int, code: str, message: str, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.retry_after = status, code, message, retry_after

    def response(self) -> JSONResponse:
        headers = {"Retry-After": str(self.retry_after)} if self.retry_after else None
        return JSONResponse({"error": self.code, "message": self.message, "status": self.status},
                            status_code=self.status, headers=headers)


class ErrorBody(BaseModel):
    error: str = Field(description="machine-readable code, e.g. text_too_long, busy, not_ready")
    message: str = Field(description="what happened and what to change, one line")
    status: int


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorBody, "description": "the body is not JSON"},
    413: {"model": ErrorBody, "description": "text or request body too long"},
    422: {"model": ErrorBody, "description": "invalid request, or nothing in the text can be signed"},
    429: {"model": ErrorBody, "description": "too many jobs waiting; retry after Retry-After seconds"},
    503: {"model": ErrorBody, "description": "still loading, method not trained, or timed out"},
}


