"""Incidents by email: one mail thread per incident and destination, HTML and plain
text, sent through the SMTP server under ``email:`` in the config."""

from __future__ import annotations

from bot.adapters.email.sender import EmailAdapter

__all__ = ["EmailAdapter"]
