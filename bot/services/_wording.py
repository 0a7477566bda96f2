"""One human sentence per failure family, naming the stable code and what to do.

The command layer (and later the scheduler's reports) never show a raw
exception: `explain` turns every error of `bot.whatsapp.errors` into a line an
admin can act on. Branching is on the exception class (itself chosen by
code), never on the API's text.
"""

from __future__ import annotations

from bot.whatsapp.errors import (
    ApiError,
    AuthError,
    ConnectFailed,
    InstanceNotFound,
    InvalidInput,
    InvalidResponse,
    NotConnected,
    NotEligible,
    NotFound,
    OutcomeUnknown,
    OutsideWindow,
    PaymentRequired,
    PilotError,
    RateLimited,
    TransportError,
    Unsupported,
    UpstreamError,
)

# Codes whose advice is more specific than their family's.
_CODE_SENTENCES: dict[str, str] = {
    "SUBSCRIPTION_REQUIRED_FOR_MEDIA": (
        "The Pilot Status plan does not include media ({code}): upgrade the plan, or send "
        "text or a template instead."
    ),
    "META_GROUP_INVITE_ONLY": (
        "This Meta number cannot add people to a group ({code}): send them the invite link "
        "instead (/invite <group> send <number…>)."
    ),
    "META_GROUP_PARTICIPANT_LIMIT": (
        "A group of this Meta number has at most 8 participants ({code})."
    ),
    "TEMPLATE_NOT_SENDABLE": (
        "The provider will not send that template ({code}): see /templates for its status."
    ),
}

_API_SENTENCES: list[tuple[type[ApiError], str]] = [
    (NotConnected, "The WhatsApp number is not connected ({code}): re-pair it, then retry."),
    (
        NotEligible,
        "This number cannot use groups ({code}): a Meta Cloud API number must be an approved "
        "Official Business Account with groups enabled.",
    ),
    (
        InstanceNotFound,
        "No WhatsApp number is linked to this API key ({code}): link one in the Pilot Status "
        "dashboard, or use the key of a linked number.",
    ),
    (
        AuthError,
        "The WhatsApp API refused our key ({code}): check that pilot.api_key is the "
        "number-scoped ps_ key of this number.",
    ),
    (
        NotFound,
        "The WhatsApp API does not know that {thing} ({code}): {hint}.",
    ),
    (RateLimited, "The WhatsApp API is rate limiting us ({code}): wait a minute, then retry."),
    (UpstreamError, "WhatsApp itself failed ({code}): retry in a moment."),
    (
        InvalidResponse,
        "The WhatsApp API gave an answer we could not read ({code}): retry, and see the log "
        "if it persists.",
    ),
    (Unsupported, "This number's WhatsApp engine does not support that ({code})."),
    (PaymentRequired, "The Pilot Status plan does not include this ({code}): upgrade it."),
    (
        OutsideWindow,
        "This Meta number can only send free-form text or media to a chat within 24 hours "
        "of its last message ({code}): send a template instead (/templates lists them).",
    ),
]

# What the API did not know: by its code when the code names it (a /pin of an
# unknown group is about the group, of an unknown message about the message),
# else by the operation.
_THINGS_BY_CODE = {
    "GROUP_NOT_FOUND": "group",
    "MESSAGE_NOT_FOUND": "message",
    "TEMPLATE_NOT_FOUND": "template",
}
_THINGS = {
    "pin": "message",
    "unpin": "message",
    "message_status": "message",
    "get_template": "template",
    "send": "group or template",
}
_NOT_FOUND_HINTS = {
    "group": "check the id, or list groups with /groups",
    "message": "check the message id (`last` means the last one the bot sent there)",
    "template": "check the id, or list templates with /templates",
    "group or template": "check the group (/groups) and the template (/templates)",
}


def explain(error: PilotError) -> str:
    """The sentence for `error`; every PilotError has one."""
    if isinstance(error, InvalidInput):
        return _capitalised(str(error)) + "."
    if isinstance(error, ConnectFailed):
        return (
            "Cannot reach the WhatsApp API: check the network and pilot.base_url, then retry. "
            "Nothing was changed."
        )
    if isinstance(error, OutcomeUnknown):
        return (
            f"No answer from the WhatsApp API during {error.operation.replace('_', ' ')}: "
            "it may or may not have happened. Check before retrying."
        )
    if isinstance(error, TransportError):  # pragma: no cover - no other subclasses today
        return "The WhatsApp API could not be reached."
    if isinstance(error, ApiError):
        if error.code in _CODE_SENTENCES:
            return _CODE_SENTENCES[error.code].format(code=error.code)
        for family, sentence in _API_SENTENCES:
            if isinstance(error, family):
                thing = _THINGS_BY_CODE.get(error.code) or _THINGS.get(error.operation, "group")
                hint = _NOT_FOUND_HINTS[thing]
                return sentence.format(code=error.code, thing=thing, hint=hint)
        return f"The WhatsApp API refused: {error.text} ({error.code})."
    return _capitalised(str(error))


def explain_unconfirmed_reset(read_error: PilotError, *, check: str) -> str:
    """An invite reset got no answer and reading the link back failed too.

    The reset may have happened, so the old link may be dead and the new one
    unknown; advice to retry would be wrong (a second reset kills the link the
    first one issued). `check` is the command that shows the current link.
    Shared by `/invite … reset` and the invite_reset job.
    """
    return (
        "No answer to the invite link reset, and reading the link afterwards failed too "
        f"({_cause(read_error)}). The reset may have happened: the old link may no longer "
        f"work. Do not reset again before checking: {check} shows the current link."
    )


def _cause(error: PilotError) -> str:
    """A few words naming a failure, without advice (the caller gives that)."""
    if isinstance(error, ApiError):
        return error.code
    if isinstance(error, ConnectFailed):
        return "the API could not be reached"
    if isinstance(error, OutcomeUnknown):
        return "no answer"
    return str(error)


def _capitalised(text: str) -> str:
    return text[:1].upper() + text[1:]
