"""The WhatsApp groups API client: errors, identifiers, models, caps, retries."""

from bot.whatsapp.client import WhatsAppClient
from bot.whatsapp.errors import (
    ApiError,
    AuthError,
    ConnectFailed,
    InstanceNotFound,
    InvalidGroupId,
    InvalidInput,
    InvalidNumber,
    InvalidResponse,
    NotConnected,
    NotEligible,
    NotFound,
    OutcomeUnknown,
    PaymentRequired,
    PilotError,
    RateLimited,
    TransportError,
    Unsupported,
    UpstreamError,
)
from bot.whatsapp.identifiers import PhoneNumber
from bot.whatsapp.models import Group, GroupSummary, InviteLink, Participant, SentMessage
from bot.whatsapp.retry import RetryPolicy

__all__ = [
    "ApiError",
    "AuthError",
    "ConnectFailed",
    "Group",
    "GroupSummary",
    "InstanceNotFound",
    "InvalidGroupId",
    "InvalidInput",
    "InvalidNumber",
    "InvalidResponse",
    "InviteLink",
    "NotConnected",
    "NotEligible",
    "NotFound",
    "OutcomeUnknown",
    "Participant",
    "PaymentRequired",
    "PhoneNumber",
    "PilotError",
    "RateLimited",
    "RetryPolicy",
    "SentMessage",
    "TransportError",
    "Unsupported",
    "UpstreamError",
    "WhatsAppClient",
]
