"""Errors a person can act on. Their message is shown as-is in chat and in the API."""


class ActionError(ValueError):
    """Base: the request was understood but refused; nothing was changed."""

    status = 409


class NotFound(ActionError):
    status = 404


class PermissionDenied(ActionError):
    status = 403


class Invalid(ActionError):
    status = 400
