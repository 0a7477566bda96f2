"""The one exception of the sandbox: an API failure with its status and code."""

from __future__ import annotations


class ApiError(Exception):
    """An API failure with its HTTP status and stable code."""

    def __init__(
        self, status: int, code: str, message: str, headers: tuple[tuple[str, str], ...] = ()
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers
