"""Everything the WhatsApp groups client can raise.

The tree (catch the widest class that means the same thing to you)::

    PilotError
    ├── InvalidInput                  bad input caught before any request
    │   ├── InvalidNumber             a phone number that is not a possible number
    │   └── InvalidGroupId            not a `…@g.us` group id
    ├── TransportError                no usable HTTP answer
    │   ├── ConnectFailed             the request never reached the server
    │   └── OutcomeUnknown            it may have reached it (read timeout, dropped
    │                                 connection): never resend a write blindly
    └── ApiError                      the API answered with an error (status, code, text)
        ├── NotEligible               META_GROUPS_NOT_ELIGIBLE
        ├── NotConnected              WHATSAPP_INSTANCE_NOT_CONNECTED
        ├── InstanceNotFound          LINKED_WHATSAPP_INSTANCE_NOT_FOUND
        ├── AuthError                 401, 403, *_SCOPE_NOT_ALLOWED
        ├── NotFound                  404
        ├── RateLimited               429 (retry_after when the server said)
        ├── UpstreamError             WHATSAPP_UPSTREAM_ERROR, any 5xx
        ├── InvalidResponse           WHATSAPP_INVALID_JSON, a body we cannot parse
        ├── Unsupported               NOT_SUPPORTED_*, META_GROUP_*, 501
        ├── OutsideWindow             META_OUTSIDE_24H_WINDOW (free-form on Meta)
        └── PaymentRequired           402 (SUBSCRIPTION_REQUIRED_FOR_MEDIA)

An unknown code still raises `ApiError` (or the class its HTTP status implies),
carrying the code as given. Context is keyword-only; no secret is ever stored
on an exception, so str() and repr() are safe to log.
"""

from __future__ import annotations


class PilotError(Exception):
    """Base of every error raised by the WhatsApp groups client."""


class InvalidInput(PilotError, ValueError):
    """Input rejected before any request was made."""

    def __init__(self, message: str, *, value: str) -> None:
        super().__init__(message)
        self.value = value


class InvalidNumber(InvalidInput):
    """A token that is not a possible phone number."""


class InvalidGroupId(InvalidInput):
    """A string that is not a WhatsApp group id (`…@g.us`)."""


class TransportError(PilotError):
    """No usable HTTP answer: network failure or timeout."""

    def __init__(self, message: str, *, operation: str) -> None:
        super().__init__(message)
        self.operation = operation


class ConnectFailed(TransportError):
    """The request surely never reached the server (connect error or timeout)."""


class OutcomeUnknown(TransportError):
    """The request may have been carried out; the answer was lost."""


class ApiError(PilotError):
    """The API answered with an error status."""

    def __init__(
        self,
        text: str,
        *,
        status: int,
        code: str,
        operation: str,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(f"{text} ({code}, HTTP {status})")
        self.text = text
        self.status = status
        self.code = code
        self.operation = operation
        # Seconds the server asked us to wait (Retry-After), when it said.
        self.retry_after = retry_after

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(status={self.status!r}, code={self.code!r}, "
            f"text={self.text!r}, operation={self.operation!r})"
        )


class NotEligible(ApiError):
    """The Meta number is not an eligible Official Business Account."""


class NotConnected(ApiError):
    """The WhatsApp session is not open."""


class InstanceNotFound(ApiError):
    """No WhatsApp instance is linked to the API key."""


class AuthError(ApiError):
    """The API key is missing, wrong, or of the wrong scope."""


class NotFound(ApiError):
    """The group, message or path does not exist."""


class RateLimited(ApiError):
    """Too many requests."""


class UpstreamError(ApiError):
    """The WhatsApp engine behind the API failed (or any 5xx)."""


class InvalidResponse(ApiError):
    """Invalid JSON on either side, or an answer we cannot read."""


class Unsupported(ApiError):
    """The operation is not available on this kind of number or engine."""


class OutsideWindow(ApiError):
    """A Meta number sent free-form content outside the chat's 24 h window."""


class PaymentRequired(ApiError):
    """The plan does not include this feature."""


CODE_FAMILIES: dict[str, type[ApiError]] = {
    "META_GROUPS_NOT_ELIGIBLE": NotEligible,
    "WHATSAPP_INSTANCE_NOT_CONNECTED": NotConnected,
    "LINKED_WHATSAPP_INSTANCE_NOT_FOUND": InstanceNotFound,
    "TENANT_SCOPE_NOT_ALLOWED": AuthError,
    "NUMBER_SCOPE_NOT_ALLOWED": AuthError,
    "WHATSAPP_UPSTREAM_ERROR": UpstreamError,
    "WHATSAPP_INVALID_JSON": InvalidResponse,
    "SUBSCRIPTION_REQUIRED_FOR_MEDIA": PaymentRequired,
    "META_OUTSIDE_24H_WINDOW": OutsideWindow,
    "META_GROUP_INVITE_ONLY": Unsupported,
    "META_GROUP_PARTICIPANT_LIMIT": Unsupported,
}


def family_for(status: int, code: str) -> type[ApiError]:
    """The exception class for an error answer: by code first, then by status."""
    if code in CODE_FAMILIES:
        return CODE_FAMILIES[code]
    if code.startswith("NOT_SUPPORTED") or status == 501:
        return Unsupported
    if code.endswith("_SCOPE_NOT_ALLOWED") or status in (401, 403):
        return AuthError
    if status == 402:
        return PaymentRequired
    if status == 404:
        return NotFound
    if status == 429:
        return RateLimited
    if status >= 500:
        return UpstreamError
    return ApiError
