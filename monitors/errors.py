"""Errors a person can act on. Their message is shown as-is in chat and in the API."""

from __future__ import annotations


class ActionError(ValueError):
    """Base: the request was understood but refused; nothing was changed.

    The message is a sentence: it ends with a full stop, added here when the text did
    not end with one, so every surface can show it or add to it as it stands."""

    status = 409

    def __init__(self, message: str) -> None:
        message = message.rstrip()
        super().__init__(message if message.endswith((".", "!", "?")) else f"{message}.")


class NotFound(ActionError):
    status = 404


class PermissionDenied(ActionError):
    status = 403


class Invalid(ActionError):
    status = 400
