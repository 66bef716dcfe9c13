"""Incidents as signed webhooks: a JSON POST per change, ``X-Tocsin-Signature`` over the
raw body, sent only to addresses the destination may reach."""

from __future__ import annotations

from bot.adapters.webhook.sender import WebhookAdapter

__all__ = ["WebhookAdapter"]
