"""Tocsin as a Slack app (slack-bolt): incidents as colour-coded messages with buttons,
edited in place as they change; ``/alerts``, ``/rule`` and ``/silence``; the rule editor
as a modal. Requests arrive at ``POST /slack/events`` on Tocsin's HTTP server (signature
checked by bolt: a forged or stale request gets 401), or over Socket Mode when
``SLACK_APP_TOKEN`` is set. Outbound calls go to ``TOCSIN_SLACK_API_URL``."""

from __future__ import annotations

from bot.adapters.slack.platform import SlackPlatform

__all__ = ["SlackPlatform"]
